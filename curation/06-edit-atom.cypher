// 06 修改原子 Edit an atom's title or text
//
// 作用：修改一条原子的标题和/或正文。只改正文时把 title 设为 null，只改标题时把 text 设为 null。
//       正文开头的【文档标题 · 小节】请保留，它让原子单独读也明白。换行写 \n。
//       改过的原子以后不会被导入覆盖：来源再变时，新内容暂存待审（02 可见）。
// What: changes the title and/or text ($title or $text null = keep it). Keep the leading
//       【document · section】 prefix, write line breaks as \n. The atom is re-embedded and
//       reaches search within 60 seconds. Ingest never overwrites it afterwards: a changed
//       source waits in pending_text for review (02). A snapshot of the atom before the change
//       is kept.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param id => 'atom-0123456789abcdef'
// :param title => null
// :param text => '【文档标题 · 小节】修改后的正文。'
// :param curator => '你的名字'
OPTIONAL MATCH (a:Atom {id: $id})
CALL apoc.util.validate(a IS NULL, 'No atom with id %s / 找不到这条原子', [$id])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
CALL apoc.util.validate(trim(coalesce($title, '')) = '' AND trim(coalesce($text, '')) = '',
                        'Set a new title or text / 请设置新的 title 或 text', [])
CREATE (v:AtomVersion)-[:VERSION_OF]->(a)
SET v = a {atom_id: a.id, .version, .title, .text, .type, .status, .visibility, .team, .owner,
           changed_at: datetime(), changed_by: $curator, reason: 'edit'}
SET a.title = CASE WHEN trim(coalesce($title, '')) = '' THEN a.title ELSE $title END,
    a.text = CASE WHEN trim(coalesce($text, '')) = '' THEN a.text ELSE $text END,
    a.embedding = null, a.curated_at = datetime(), a.curated_by = $curator,
    a.version = a.version + 1, a.updated_at = datetime(), a.updated_by = $curator
RETURN a.id AS 编号, a.title AS 标题, a.text AS 正文, a.version AS 版本, a.curated_by AS 修改人
