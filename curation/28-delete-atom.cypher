// 28 删除原子 Delete an atom
//
// 作用：彻底删除一条原子及其所有关系（实体链接、反馈、引用）。删除前的样子存为历史（26 仍可查看），
//       但无法恢复。一般请用 05 废弃（可恢复）；只有内容错误或不该存在时才删除。
//       注意：若来源文件仍有这一段，且来源以后改动，下次导入会重新生成它。
// What: DETACH DELETEs the atom. A snapshot (atom_id only, reason 'delete') keeps what it said
//       (26 shows it) but it cannot be restored: prefer 05 deprecate. While its section is
//       still in the source file, an ingest of a changed source writes it again.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param id => 'atom-0123456789abcdef'
// :param curator => '你的名字'
OPTIONAL MATCH (a:Atom {id: $id})
CALL apoc.util.validate(a IS NULL, 'No atom with id %s / 找不到这条原子', [$id])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
CREATE (v:AtomVersion)
SET v = a {atom_id: a.id, .version, .title, .text, .type, .status, .visibility, .team, .owner,
           changed_at: datetime(), changed_by: $curator, reason: 'delete'}
DETACH DELETE a
RETURN v.atom_id AS 已删除编号, v.title AS 标题, v.version AS 最后版本
