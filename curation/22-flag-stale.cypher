// 22 标记久未核实 Flag stale atoms for review
//
// 作用：把 21 列出的原子标记为「久未核实」（review = 'stale'），之后在 02 待处理里出现。
//       已有其他待处理标记的不改。审核通过（04）后标记自动清除。
// What: sets review = 'stale' on the atoms 21 lists that carry no review flag yet, so that
//       they appear in 02. Approving (04) clears it. Flags change no content: no snapshot.
//
// 参数 Parameters（去掉行首的 // 运行，值可改 / run without the leading //, change the value):
// :param days => 180
WITH datetime() - duration({days: $days}) AS cutoff
MATCH (a:Atom)
WHERE a.status <> 'deprecated' AND a.review IS NULL
  AND (a.verified_at < cutoff OR (a.verified_at IS NULL AND a.created_at < cutoff))
SET a.review = 'stale',
    a.review_note = '超过 ' + toString($days) + ' 天未核实 (not verified for more than '
                    + toString($days) + ' days)'
RETURN count(a) AS 新标记数, collect(a.id)[..20] AS 部分编号
