// 18 候选词建为术语 Make a candidate a term
//
// 作用：把一个候选词（17）建成术语实体（编号 term:<名称>），可附一句通俗解释（回答里会用到）。
//       若已有实体叫这个名字（或以它为别名），查询会报错，请改用 15 加别名。
//       下次导入时，提到它的原子会自动链接。
// What: creates (or updates) entity term:$name with labels Entity:Term, kind 'Term' and an
//       optional plain-words $description, and removes the candidate. Refused when another
//       entity already has this name or alias (use 15 then). The next ingest links atoms to it.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param name => 'ASIL'
// :param description => '汽车安全完整性等级（ISO 26262），D 级要求最高。'
// :param curator => '你的名字'
WITH trim(coalesce($name, '')) AS name
CALL apoc.util.validate(name = '', 'Set a name / 请设置 name', [])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
CALL apoc.util.validate(
  EXISTS { MATCH (other:Entity)
           WHERE other.id <> 'term:' + name
             AND (other.name = name OR name IN coalesce(other.aliases, [])) },
  'Another entity is already called %s: add an alias instead (15) / 已有同名实体，请用 15', [name])
MERGE (t:Entity {id: 'term:' + name})
ON CREATE SET t.created_at = datetime(), t.aliases = []
SET t:Term, t.name = name, t.kind = 'Term', t.aliases = coalesce(t.aliases, []),
    t.description = coalesce($description, t.description),
    t.updated_at = datetime(), t.updated_by = $curator
WITH t
OPTIONAL MATCH (candidate:EntityCandidate {name: t.name})
DETACH DELETE candidate
WITH DISTINCT t
RETURN t.id AS 编号, t.name AS 名称, t.kind AS 种类, t.description AS 说明
