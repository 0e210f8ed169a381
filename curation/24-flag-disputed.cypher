// 24 标记反馈差 Flag disputed atoms for review
//
// 作用：把 23 列出的原子标记为「反馈差」（review = 'disputed'），之后在 02 待处理里出现。
//       「久未核实」会被它替换；「来源已变」的不改。审核通过（04）后标记自动清除。
// What: sets review = 'disputed' (with the counts in review_note) on the atoms 23 lists,
//       unless they are flagged source_changed. Approving (04) clears it. No snapshot.
//
// 参数 Parameters（去掉行首的 // 运行，值可改 / run without the leading //, change the value):
// :param min_bad => 2
MATCH (f:Feedback)-[:ABOUT]->(a:Atom)
WHERE a.status <> 'deprecated' AND (a.verified_at IS NULL OR f.created_at > a.verified_at)
  AND (a.review IS NULL OR a.review IN ['stale', 'disputed'])
WITH a,
     count(CASE WHEN f.kind IN ['helpful', 'deal_won'] THEN 1 END) AS good,
     count(CASE WHEN f.kind IN ['not_helpful', 'deal_lost'] THEN 1 END) AS bad
WHERE bad >= $min_bad AND bad > good
SET a.review = 'disputed',
    a.review_note = '负面反馈 ' + toString(bad) + ' 次，正面 ' + toString(good) + ' 次 ('
                    + toString(bad) + ' not helpful or lost, ' + toString(good)
                    + ' helpful or won)'
RETURN count(a) AS 标记数, collect(a.id)[..20] AS 部分编号
