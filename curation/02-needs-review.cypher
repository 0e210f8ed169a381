// 02 待处理 Atoms needing review
//
// 作用：列出被标记为需要人工处理的原子（review 不为空）和原因。来源已变（source_changed）的，
//       「来源新正文」一栏是导入暂存、尚未生效的新内容，和「当前正文」并排对照。
// What: atoms flagged for a curator (review IS NOT NULL) with the reason. For source_changed
//       the held-back new text from the source (pending_text) is shown next to the current text.
//       Then: 07 accept the source / 08 keep yours (source_changed), 04 approve (stale,
//       disputed), 06 edit, or 05 deprecate.
//
// 参数 Parameters: 无 none
MATCH (a:Atom)-[:FROM]->(d:Document)
WHERE a.review IS NOT NULL AND a.status <> 'deprecated'
RETURN a.id AS 编号,
       CASE a.review
         WHEN 'source_changed' THEN '来源已变 source_changed'
         WHEN 'disputed' THEN '反馈差 disputed'
         WHEN 'stale' THEN '久未核实 stale'
         ELSE a.review
       END AS 原因,
       a.review_note AS 说明, a.title AS 标题, a.text AS 当前正文,
       CASE WHEN a.review = 'source_changed'
            THEN coalesce(a.pending_text, '（该段已从来源文件删除 removed from the source）')
       END AS 来源新正文,
       a.pending_title AS 来源新标题, d.path AS 来源文件, a.curated_by AS 上次修改人,
       date(a.curated_at) AS 上次修改日期, a.status AS 状态
ORDER BY CASE a.review WHEN 'source_changed' THEN 0 WHEN 'disputed' THEN 1 ELSE 2 END,
         a.updated_at DESC, a.id
LIMIT 200
