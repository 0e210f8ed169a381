// 14 合并重复实体 Merge two duplicate entities
//
// 作用：把 drop_id 实体合并进 keep_id 实体（例如 customer:宁德新能源 并入 customer:宁德时代）：
//       保留 keep 的编号、名称和种类；drop 的名称和别名都成为 keep 的别名；提到 drop 的原子、
//       drop 的关系都转到 keep 上。以后导入时，链接器会把这些名字都认作 keep。
// What: merges entity $drop_id into $keep_id (apoc.refactor.mergeNodes): keep's id, name and
//       kind stay, drop's name and aliases become keep's aliases, MENTIONS and relations move
//       to keep (self-relations from the merge are removed). The linker then recognises every
//       name as keep.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param keep_id => 'customer:宁德时代'
// :param drop_id => 'customer:宁德新能源'
// :param curator => '你的名字'
OPTIONAL MATCH (keep:Entity {id: $keep_id})
OPTIONAL MATCH (drop:Entity {id: $drop_id})
CALL apoc.util.validate(keep IS NULL OR drop IS NULL,
                        'No entity with id %s or %s / 找不到实体', [$keep_id, $drop_id])
CALL apoc.util.validate(keep = drop, 'keep_id and drop_id are the same entity / 两个编号相同', [])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
WITH keep, drop,
     reduce(names = [], n IN coalesce(keep.aliases, []) + [drop.name]
                             + coalesce(drop.aliases, []) |
            CASE WHEN n IS NULL OR n = keep.name OR n IN names THEN names ELSE names + n END)
       AS aliases,
     coalesce(keep.description, drop.description) AS description
// Only keep's kind label and properties survive: mergeNodes unites labels and writes a
// property missing on keep from drop.
CALL apoc.create.removeLabels(drop, [label IN labels(drop) WHERE label <> 'Entity'])
YIELD node AS stripped
SET stripped = {}
WITH keep, stripped, aliases, description
CALL apoc.refactor.mergeNodes([keep, stripped], {properties: 'discard', mergeRels: true})
YIELD node
OPTIONAL MATCH (node)-[loop]->(node)
DELETE loop
WITH DISTINCT node, aliases, description
SET node.aliases = aliases, node.description = description,
    node.updated_at = datetime(), node.updated_by = $curator
WITH node
OPTIONAL MATCH (candidate:EntityCandidate) WHERE candidate.name IN node.aliases
DETACH DELETE candidate
WITH DISTINCT node
RETURN node.id AS 编号, node.name AS 名称, node.kind AS 种类, node.aliases AS 别名,
       COUNT { (node)<-[:MENTIONS]-(:Atom) } AS 提到它的原子数,
       COUNT { (node)-[]-(:Entity) } AS 关系数
