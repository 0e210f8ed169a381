// 05 废弃 Deprecate an atom
//
// 作用：把一条原子标记为已废弃（deprecated）：它离开搜索，但留在图里，可随时用 27 恢复。
//       待处理标记（review）一并清除。改动前的样子存为历史版本。
// What: sets status 'deprecated' (the atom leaves search but stays in the graph, 27 restores
//       it) and clears its review flag. A snapshot of the atom before the change is kept.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param id => 'atom-0123456789abcdef'
// :param curator => '你的名字'
OPTIONAL MATCH (a:Atom {id: $id})
CALL apoc.util.validate(a IS NULL, 'No atom with id %s / 找不到这条原子', [$id])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
CREATE (v:AtomVersion)-[:VERSION_OF]->(a)
SET v = a {atom_id: a.id, .version, .title, .text, .type, .status, .visibility, .team, .owner,
           changed_at: datetime(), changed_by: $curator, reason: 'deprecate'}
SET a.status = 'deprecated', a.review = null, a.review_note = null,
    a.version = a.version + 1, a.updated_at = datetime(), a.updated_by = $curator
RETURN a.id AS 编号, a.title AS 标题, a.status AS 状态, a.version AS 版本
