// 01 审阅新草稿 Review new drafts
//
// 作用：列出最近 $days 天内入库或改动过的草稿（status = 'draft'），最新的在前，附来源文件和待审原因。
// What: draft atoms written or changed in the last $days days, newest first, with their source
//       file and review flag. Copy an 编号 (id) into 04 approve, 05 deprecate or 06 edit.
//
// 参数 Parameters（去掉行首的 // 运行，值可改 / run without the leading //, change the value):
// :param days => 7
MATCH (a:Atom {status: 'draft'})-[:FROM]->(d:Document)
WHERE a.updated_at >= datetime() - duration({days: $days})
RETURN a.id AS 编号, a.type AS 类型, a.title AS 标题, left(a.text, 80) AS 摘要,
       d.path AS 来源文件, a.review AS 待审原因, date(a.updated_at) AS 更新日期,
       a.updated_by AS 更新人
ORDER BY a.updated_at DESC, a.id
LIMIT 200
