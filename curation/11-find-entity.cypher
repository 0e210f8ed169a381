// 11 查找实体 Find an entity
//
// 作用：按名称或别名（包含即可）查找实体（客户、行业、产品、竞品、术语…），看它的编号、别名、说明、
//       相关实体和被多少原子提到。后续操作（14 合并、15 加别名、16 链接）都用这里的编号。
// What: entities whose name or an alias contains $name (or whose id is $name): id, kind,
//       aliases, description, related entities and how many atoms mention it.
//
// 参数 Parameters（去掉行首的 // 运行 / run without the leading //):
// :param name => '宁德'
MATCH (e:Entity)
WHERE e.id = $name OR e.name CONTAINS $name
   OR any(alias IN coalesce(e.aliases, []) WHERE alias CONTAINS $name)
RETURN e.id AS 编号, e.kind AS 种类, e.name AS 名称, coalesce(e.aliases, []) AS 别名,
       e.description AS 说明,
       COLLECT { MATCH (e)-[r]-(other:Entity)
                 RETURN coalesce(r.name, type(r)) + ' ' + other.name LIMIT 10 } AS 相关实体,
       COUNT { (e)<-[:MENTIONS]-(:Atom) } AS 提到它的原子数
ORDER BY e.name = $name DESC, 提到它的原子数 DESC, 编号
LIMIT 50
