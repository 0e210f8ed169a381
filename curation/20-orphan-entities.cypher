// 20 孤立实体 Entities nothing mentions or relates to
//
// 作用：没有任何原子提到、没有文档以它为主题、也和其他实体没有关系的实体。
//       多半是重复或拼写变体：用 14 并入正确的实体；否则可以不管。
// What: entities no atom mentions, no document is about and no other entity relates to:
//       usually a duplicate or a spelling variant (14 merge it into the right one).
//
// 参数 Parameters: 无 none
MATCH (e:Entity)
WHERE NOT (e)<-[:MENTIONS]-(:Atom) AND NOT (e)<-[:ABOUT]-(:Document)
  AND NOT (e)-[]-(:Entity)
RETURN e.id AS 编号, e.kind AS 种类, e.name AS 名称, coalesce(e.aliases, []) AS 别名,
       e.description AS 说明
ORDER BY 种类, 名称
LIMIT 200
