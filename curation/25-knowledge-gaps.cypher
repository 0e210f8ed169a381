// 25 没找到答案的问题 Questions that found nothing
//
// 作用：最近 $days 天里销售问过、却一条原子都没找到的问题（知识缺口），问得多的在前。
//       请相关专家补写材料后导入，或检查是否缺了别名（15）。
// What: questions of the last $days days whose answer cited no atom (knowledge gaps), most
//       frequent first. Ask the experts for the missing material, or check for a missing
//       alias (15).
//
// 参数 Parameters（去掉行首的 // 运行，值可改 / run without the leading //, change the value):
// :param days => 30
MATCH (q:Answer)
WHERE q.created_at >= datetime() - duration({days: $days}) AND NOT (q)-[:CITES]->()
  AND trim(coalesce(q.question, '')) <> ''
WITH trim(q.question) AS question, count(*) AS times, max(q.created_at) AS last,
     collect(DISTINCT q.team) AS teams, collect(DISTINCT q.channel) AS channels
RETURN question AS 问题, times AS 次数, date(last) AS 最近一次, teams AS 团队, channels AS 渠道
ORDER BY 次数 DESC, last DESC
LIMIT 100
