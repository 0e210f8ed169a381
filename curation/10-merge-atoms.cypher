// 10 合并重复原子 Merge two duplicate atoms
//
// 作用：把 drop_id 那条合并进 keep_id 那条：保留 keep 的标题、正文、状态和来源；drop 的实体链接、
//       反馈、引用、历史都转到 keep 上；drop 的作者记入 keep 的贡献者（贡献度不丢）。
//       合并前两条都存为历史版本（26 可查）。drop 的编号从此不再存在。
// What: merges atom $drop_id into atom $keep_id (apoc.refactor.mergeNodes): keep's properties
//       and source stay, drop's MENTIONS, feedback, citations, history and duplicate links move
//       to keep (DUPLICATE_OF between the two is removed), drop's owner and contributors join
//       keep's contributors. Both are snapshotted first.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param keep_id => 'atom-0123456789abcdef'
// :param drop_id => 'atom-fedcba9876543210'
// :param curator => '你的名字'
OPTIONAL MATCH (keep:Atom {id: $keep_id})
OPTIONAL MATCH (drop:Atom {id: $drop_id})
CALL apoc.util.validate(keep IS NULL OR drop IS NULL,
                        'No atom with id %s or %s / 找不到原子', [$keep_id, $drop_id])
CALL apoc.util.validate(keep = drop, 'keep_id and drop_id are the same atom / 两个编号相同', [])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
CREATE (vk:AtomVersion)-[:VERSION_OF]->(keep)
SET vk = keep {atom_id: keep.id, .version, .title, .text, .type, .status, .visibility, .team,
               .owner, changed_at: datetime(), changed_by: $curator, reason: 'merge'}
CREATE (vd:AtomVersion)-[:VERSION_OF]->(drop)
SET vd = drop {atom_id: drop.id, .version, .title, .text, .type, .status, .visibility, .team,
               .owner, changed_at: datetime(), changed_by: $curator, reason: 'merge'}
WITH keep, drop,
     reduce(people = [], p IN coalesce(keep.contributors, []) + [drop.owner]
                              + coalesce(drop.contributors, []) |
            CASE WHEN p IS NULL OR trim(p) = '' OR p = keep.owner OR p IN people THEN people
                 ELSE people + p END) AS contributors
// The kept atom cites its own source only (one FROM per atom), and none of drop's
// properties may leak onto it: mergeNodes writes a missing property from the second node.
OPTIONAL MATCH (drop)-[source:FROM]->(:Document)
DELETE source
WITH DISTINCT keep, drop, contributors
SET drop = {}
WITH keep, drop, contributors
CALL apoc.refactor.mergeNodes([keep, drop], {properties: 'discard', mergeRels: true})
YIELD node
OPTIONAL MATCH (node)-[loop:DUPLICATE_OF]->(node)
DELETE loop
WITH DISTINCT node, contributors
SET node.contributors = contributors,
    node.version = node.version + 1, node.updated_at = datetime(), node.updated_by = $curator
RETURN node.id AS 保留编号, node.title AS 标题, node.status AS 状态, node.version AS 版本,
       node.contributors AS 贡献者,
       COUNT { (node)-[:MENTIONS]->() } AS 实体链接数,
       COUNT { (:Feedback)-[:ABOUT]->(node) } AS 反馈数
