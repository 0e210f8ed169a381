// 02 待处理 Atoms needing review
//
// 作用：列出被标记为需要人工处理的原子（review 不为空）和原因，以及字段缺失或无效的原子
//       （例如手工改坏的可见范围 visibility；检索按「仅负责人可见」或下线处理，直到修好）。
//       来源已变（source_changed）的，「来源新正文」一栏是导入暂存、尚未生效的新内容，
//       和「当前正文」并排对照。
// What: atoms flagged for a curator (review IS NOT NULL) with the reason, and atoms whose
//       fields are missing or invalid (e.g. a visibility broken by hand: search treats such an
//       atom as private to its owner, or leaves it out, until it is fixed). For
//       source_changed the held-back new text from the source (pending_text) is shown next to
//       the current text. Then: 07 accept the source / 08 keep yours (source_changed), 04
//       approve (stale, disputed), 06 edit, or 05 deprecate, and fix invalid fields by SET.
//
// 参数 Parameters: 无 none
CALL () {
  MATCH (a:Atom)-[:FROM]->(d:Document)
  WHERE a.review IS NOT NULL AND a.status <> 'deprecated'
  RETURN a, d,
         CASE a.review
           WHEN 'source_changed' THEN '来源已变 source_changed'
           WHEN 'disputed' THEN '反馈差 disputed'
           WHEN 'stale' THEN '久未核实 stale'
           ELSE a.review
         END AS 原因,
         a.review_note AS 说明,
         CASE a.review WHEN 'source_changed' THEN 1 WHEN 'disputed' THEN 2 ELSE 3 END AS rank
  UNION
  MATCH (a:Atom)
  OPTIONAL MATCH (a)-[:FROM]->(d:Document)
  WITH a, d, [problem IN [
         CASE WHEN NOT coalesce(a.visibility IN ['public', 'team', 'private'], false)
              THEN '可见范围无效 visibility=' + coalesce(toString(a.visibility), 'null') END,
         CASE WHEN NOT coalesce(a.status IN ['draft', 'approved', 'deprecated'], false)
              THEN '状态无效 status=' + coalesce(toString(a.status), 'null') END,
         CASE WHEN NOT coalesce(a.type IN ['case', 'lesson', 'term', 'talk_track', 'objection',
                                           'pain_point', 'solution_point', 'competitor', 'fact',
                                           'field_note'], false)
              THEN '类型无效 type=' + coalesce(toString(a.type), 'null') END,
         CASE WHEN a.title IS NULL OR a.text IS NULL THEN '缺少标题或正文 title/text missing' END,
         CASE WHEN coalesce(a.visibility = 'team', false) AND a.team IS NULL
              THEN '团队可见但没有团队 team missing' END,
         CASE WHEN coalesce(a.visibility = 'private', false) AND a.owner IS NULL
              THEN '个人可见但没有负责人 owner missing' END,
         CASE WHEN d IS NULL THEN '没有来源文档 no source document' END
       ] WHERE problem IS NOT NULL] AS problems
  WHERE size(problems) > 0
  RETURN a, d, '字段无效 invalid' AS 原因,
         reduce(s = '', p IN problems | s + CASE WHEN s = '' THEN '' ELSE '；' END + p) AS 说明,
         0 AS rank
}
RETURN a.id AS 编号, 原因, 说明, a.title AS 标题, a.text AS 当前正文,
       CASE WHEN a.review = 'source_changed'
            THEN coalesce(a.pending_text, '（该段已从来源文件删除 removed from the source）')
       END AS 来源新正文,
       a.pending_title AS 来源新标题, d.path AS 来源文件, a.curated_by AS 上次修改人,
       date(a.curated_at) AS 上次修改日期, a.status AS 状态
ORDER BY rank, a.updated_at DESC, a.id
LIMIT 200
