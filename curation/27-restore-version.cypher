// 27 恢复历史版本 Restore a version
//
// 作用：把原子恢复成历史里（26）某个版本的样子：标题、正文、类型、状态、可见范围、团队、负责人。
//       恢复本身也是一次改动：恢复前的样子同样存为历史，版本号继续增加。
//       已删除的原子不能在此恢复（26 里能看到删除前的正文）。
// What: sets the atom back to its snapshot $version from 26 (title, text, type, status,
//       visibility, team, owner). Restoring is itself a change: the state before it is
//       snapshotted and the version goes up. A deleted atom cannot be restored here.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param id => 'atom-0123456789abcdef'
// :param version => 1
// :param curator => '你的名字'
OPTIONAL MATCH (a:Atom {id: $id})
CALL apoc.util.validate(a IS NULL, 'No atom with id %s (deleted atoms cannot be restored) / 找不到这条原子', [$id])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
OPTIONAL MATCH (old:AtomVersion {atom_id: $id, version: $version})
WITH a, old ORDER BY old.changed_at DESC LIMIT 1
CALL apoc.util.validate(old IS NULL, 'Atom %s has no version %s in its history (see 26) / 没有这个版本',
                        [$id, $version])
CREATE (v:AtomVersion)-[:VERSION_OF]->(a)
SET v = a {atom_id: a.id, .version, .title, .text, .type, .status, .visibility, .team, .owner,
           changed_at: datetime(), changed_by: $curator, reason: 'restore'}
WITH a, old, old.title <> a.title OR old.text <> a.text AS content_changed
SET a.title = old.title, a.text = old.text, a.type = old.type, a.status = old.status,
    a.visibility = old.visibility, a.team = old.team, a.owner = old.owner,
    a.version = a.version + 1, a.updated_at = datetime(), a.updated_by = $curator
FOREACH (_ IN CASE WHEN content_changed THEN [1] ELSE [] END |
  SET a.embedding = null, a.curated_at = datetime(), a.curated_by = $curator)
RETURN a.id AS 编号, a.title AS 标题, a.text AS 正文, a.status AS 状态, a.version AS 版本,
       old.version AS 恢复自版本
