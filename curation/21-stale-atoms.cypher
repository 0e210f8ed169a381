// 21 久未核实 Stale atoms
//
// 作用：超过 $days 天没有人核实（审核通过）的原子；从未核实的，按创建时间算。已废弃的不列。
//       内容仍然正确就用 04 审核通过（重新计时）；过时了就 06 修改或 05 废弃。22 可把它们全部标记出来。
// What: atoms (not deprecated) last verified more than $days days ago, or never verified and
//       created more than $days days ago, oldest first. Still right: 04 approve (restarts the
//       clock). Outdated: 06 edit or 05 deprecate. 22 flags them all for review.
//
// 参数 Parameters（去掉行首的 // 运行，值可改 / run without the leading //, change the value):
// :param days => 180
WITH datetime() - duration({days: $days}) AS cutoff
MATCH (a:Atom)
WHERE a.status <> 'deprecated'
  AND (a.verified_at < cutoff OR (a.verified_at IS NULL AND a.created_at < cutoff))
OPTIONAL MATCH (a)-[:FROM]->(d:Document)
RETURN a.id AS 编号, a.type AS 类型, a.status AS 状态, a.title AS 标题,
       date(a.verified_at) AS 最后核实, a.verified_by AS 核实人, date(a.created_at) AS 创建日期,
       duration.inDays(coalesce(a.verified_at, a.created_at), datetime()).days AS 未核实天数,
       a.review AS 待审原因, d.path AS 来源文件
ORDER BY 未核实天数 DESC, 编号
LIMIT 200
