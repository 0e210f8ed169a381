// 19 孤立原子 Atoms that mention no entity
//
// 作用：没有链接到任何实体的原子（未废弃的）。它们只能靠文字被搜到，图检索找不到；
//       用 16 手工链接，或用 15/18 补上链接器不认识的名字。
// What: atoms (not deprecated) that mention no entity: graph retrieval never reaches them.
//       Link them by hand (16) or teach the linker the missing names (15, 18).
//
// 参数 Parameters: 无 none
MATCH (a:Atom)
WHERE a.status <> 'deprecated' AND NOT (a)-[:MENTIONS]->(:Entity)
OPTIONAL MATCH (a)-[:FROM]->(d:Document)
RETURN a.id AS 编号, a.type AS 类型, a.status AS 状态, a.title AS 标题,
       left(a.text, 80) AS 摘要, d.path AS 来源文件
ORDER BY 来源文件, 标题
LIMIT 200
