// 25 没找到答案的问题 Questions that found nothing
//
// 作用：最近 $days 天里销售问过、知识库却没有可靠答案的问题（知识缺口：回答被判定为
//       "没有可靠答案"，或一条原子都没引用），问得多的在前，附最低置信度和当时给出的线索。
//       请相关专家补写材料后导入，或检查是否缺了别名（15）。同一数据：GET /v1/gaps、
//       skg report gaps。
// What: questions of the last $days days for which the knowledge held no reliable answer (the
//       answer declined, or cited no atom), most frequent first, with the lowest confidence
//       and the leads shown instead. Ask the experts for the missing material, or check for a
//       missing alias (15). The same list: GET /v1/gaps, skg report gaps.
//
// 参数 Parameters（去掉行首的 // 运行，值可改 / run without the leading //, change the value):
// :param days => 30
MATCH (q:Answer)
WHERE q.created_at >= datetime() - duration({days: $days})
  AND (q.answered = false OR NOT (q)-[:CITES]->())
  AND trim(coalesce(q.question, '')) <> ''
WITH toLower(trim(q.question)) AS key, q
WITH key, count(*) AS times, max(q.created_at) AS last, min(q.confidence) AS lowest,
     head(collect(trim(q.question))) AS question,
     collect(DISTINCT q.team) AS teams, collect(DISTINCT q.channel) AS channels,
     [l IN reduce(acc = [], q2 IN collect(q) | acc + coalesce(q2.leads, [])) | l][0..3] AS leads
RETURN question AS 问题, times AS 次数, date(last) AS 最近一次, lowest AS 最低置信度,
       teams AS 团队, channels AS 渠道, leads AS 当时的线索
ORDER BY 次数 DESC, last DESC
LIMIT 100
