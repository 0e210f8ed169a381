// 23 反馈差的原子 Disputed atoms (poor feedback)
//
// 作用：销售反馈差的原子：「没用」+「丢单」至少 $min_bad 次，且多于「有用」+「赢单」。
//       只计上次核实之后的反馈（审核通过后重新计数）。看「最近评论」判断：修改（06）、废弃（05），
//       或确认无误后审核通过（04）。24 可把它们全部标记出来。
// What: atoms whose feedback since their last verification has not_helpful + deal_lost >=
//       $min_bad and more than helpful + deal_won, with the counts and the latest comments.
//       Then 06 edit, 05 deprecate, or 04 approve if it is right after all. 24 flags them.
//
// 参数 Parameters（去掉行首的 // 运行，值可改 / run without the leading //, change the value):
// :param min_bad => 2
MATCH (f:Feedback)-[:ABOUT]->(a:Atom)
WHERE a.status <> 'deprecated' AND (a.verified_at IS NULL OR f.created_at > a.verified_at)
WITH a, f ORDER BY f.created_at DESC
WITH a,
     count(CASE f.kind WHEN 'helpful' THEN 1 END) AS helpful,
     count(CASE f.kind WHEN 'not_helpful' THEN 1 END) AS not_helpful,
     count(CASE f.kind WHEN 'used_in_deal' THEN 1 END) AS used_in_deal,
     count(CASE f.kind WHEN 'deal_won' THEN 1 END) AS deal_won,
     count(CASE f.kind WHEN 'deal_lost' THEN 1 END) AS deal_lost,
     collect(f.comment)[..3] AS comments
WHERE not_helpful + deal_lost >= $min_bad AND not_helpful + deal_lost > helpful + deal_won
RETURN a.id AS 编号, a.title AS 标题, a.status AS 状态,
       not_helpful AS 没用, deal_lost AS 丢单, helpful AS 有用, deal_won AS 赢单,
       used_in_deal AS 用于商机, comments AS 最近评论, a.review AS 待审原因
ORDER BY 没用 + 丢单 - 有用 - 赢单 DESC, 编号
LIMIT 200
