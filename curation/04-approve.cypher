// 04 审核通过 Approve an atom
//
// 作用：把一条原子标记为已审核（approved），记下审核人和时间；「久未核实」「反馈差」的标记随之清除
//       （「来源已变」不清除，请用 07/08 处理）。改动前的样子存为历史版本（26 可查、27 可恢复）。
// What: sets status 'approved', verified_at/verified_by, clears review 'stale' or 'disputed'
//       (not 'source_changed': use 07/08). A snapshot of the atom before the change is kept.
//       Search shows the change within 60 seconds.
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
           changed_at: datetime(), changed_by: $curator, reason: 'approve'}
WITH a, a.review IN ['stale', 'disputed'] AS resolved
SET a.status = 'approved', a.verified_at = datetime(), a.verified_by = $curator,
    a.review = CASE WHEN resolved THEN null ELSE a.review END,
    a.review_note = CASE WHEN resolved THEN null ELSE a.review_note END,
    a.version = a.version + 1, a.updated_at = datetime(), a.updated_by = $curator
RETURN a.id AS 编号, a.title AS 标题, a.status AS 状态, a.version AS 版本,
       a.verified_by AS 审核人, a.review AS 待审原因
