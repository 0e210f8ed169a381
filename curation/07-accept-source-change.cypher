// 07 接受来源修改 Accept a held-back source change
//
// 作用：来源文件改了、而这条原子曾被人工修改过时，导入不会覆盖它，新内容暂存在 pending_text（02 可见）。
//       本查询用来源的新标题/正文替换当前内容，并清除「来源已变」标记。
//       若该段已从来源删除（没有 pending_text），请改用 05 废弃或 08 保留。
// What: replaces the title/text with the held-back source version (pending_title/pending_text)
//       and clears review 'source_changed'. The atom is re-embedded and reaches search within
//       60 seconds. A snapshot of the atom before the change is kept. If the section was
//       removed from its source (no pending_text), use 05 deprecate or 08 keep instead.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param id => 'atom-0123456789abcdef'
// :param curator => '你的名字'
OPTIONAL MATCH (a:Atom {id: $id})
CALL apoc.util.validate(a IS NULL, 'No atom with id %s / 找不到这条原子', [$id])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
CALL apoc.util.validate(a.pending_text IS NULL,
                        'Atom %s has no held-back source change / 这条原子没有暂存的来源修改', [$id])
CREATE (v:AtomVersion)-[:VERSION_OF]->(a)
SET v = a {atom_id: a.id, .version, .title, .text, .type, .status, .visibility, .team, .owner,
           changed_at: datetime(), changed_by: $curator, reason: 'accept_source'}
SET a.title = coalesce(a.pending_title, a.title), a.text = a.pending_text,
    a.content_hash = coalesce(a.pending_hash, a.content_hash),
    a.pending_title = null, a.pending_text = null, a.pending_hash = null, a.pending_at = null,
    a.review = null, a.review_note = null,
    // The atom matches its source again: later source changes flow in without review.
    a.embedding = null, a.curated_at = null, a.curated_by = null,
    a.version = a.version + 1, a.updated_at = datetime(), a.updated_by = $curator
RETURN a.id AS 编号, a.title AS 标题, a.text AS 正文, a.version AS 版本
