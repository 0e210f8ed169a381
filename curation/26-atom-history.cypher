// 26 原子历史 An atom's history
//
// 作用：一条原子的全部历史版本（每次修改、审核、废弃、合并、恢复之前的样子），最新的在前，
//       第一行是当前内容。「操作」是那次改动做了什么；恢复某个版本用 27。
//       已删除的原子也能查到（最后一行是删除前的样子）；合并进来的原子的历史也在这里。
// What: the atom's current state, then its snapshots (AtomVersion: how it was before each
//       change, with the change's reason, who and when), newest first. Also works for a
//       deleted atom, and shows the history of atoms merged into it. Restore one with 27.
//
// 参数 Parameters（去掉行首的 // 运行 / run without the leading //):
// :param id => 'atom-0123456789abcdef'
CALL () {
  MATCH (a:Atom {id: $id})
  RETURN a.id AS atom_id, a.version AS version, '（当前 current）' AS reason,
         a.updated_by AS who, a.updated_at AS at, a.status AS status, a.title AS title,
         a.text AS text
  UNION ALL
  MATCH (v:AtomVersion)
  WHERE v.atom_id = $id OR (v)-[:VERSION_OF]->(:Atom {id: $id})
  RETURN v.atom_id AS atom_id, v.version AS version, v.reason AS reason,
         v.changed_by AS who, v.changed_at AS at, v.status AS status, v.title AS title,
         v.text AS text
}
RETURN atom_id AS 原子编号, version AS 版本, reason AS 操作, who AS 操作人,
       left(toString(at), 19) AS 时间, status AS 状态, title AS 标题, text AS 正文
ORDER BY at DESC, version DESC
