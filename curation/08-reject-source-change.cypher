// 08 保留现有内容 Keep the curated text (reject a source change)
//
// 作用：不接受来源的修改（或该段已从来源删除但仍要保留）：丢弃暂存的来源新内容，保留当前标题和正文，
//       清除「来源已变」标记。
// What: discards the held-back source version (pending_*), keeps the current title and text and
//       clears review 'source_changed'. Also for an atom whose section left its source but
//       should stay. A snapshot of the atom before the change is kept.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param id => 'atom-0123456789abcdef'
// :param curator => '你的名字'
OPTIONAL MATCH (a:Atom {id: $id})
CALL apoc.util.validate(a IS NULL, 'No atom with id %s / 找不到这条原子', [$id])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
CALL apoc.util.validate(coalesce(a.review, '') <> 'source_changed',
                        'Atom %s is not flagged source_changed / 这条原子没有「来源已变」标记', [$id])
CREATE (v:AtomVersion)-[:VERSION_OF]->(a)
SET v = a {atom_id: a.id, .version, .title, .text, .type, .status, .visibility, .team, .owner,
           changed_at: datetime(), changed_by: $curator, reason: 'reject_source'}
SET a.content_hash = coalesce(a.pending_hash, a.content_hash),
    a.pending_title = null, a.pending_text = null, a.pending_hash = null, a.pending_at = null,
    a.review = null, a.review_note = null,
    a.version = a.version + 1, a.updated_at = datetime(), a.updated_by = $curator
RETURN a.id AS 编号, a.title AS 标题, a.text AS 正文, a.version AS 版本
