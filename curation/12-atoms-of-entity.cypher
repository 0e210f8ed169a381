// 12 某实体的原子 Atoms about one entity
//
// 作用：提到某个实体（例如一个客户）的全部原子和来源，按类型排列。编号用 11 查。
// What: every atom that mentions entity $entity_id (find ids with 11), with its source.
//
// 参数 Parameters（去掉行首的 // 运行 / run without the leading //):
// :param entity_id => 'customer:宁德时代'
MATCH (a:Atom)-[:MENTIONS]->(:Entity {id: $entity_id})
OPTIONAL MATCH (a)-[:FROM]->(d:Document)
RETURN a.id AS 编号, a.type AS 类型, a.status AS 状态, a.title AS 标题,
       left(a.text, 80) AS 摘要, d.path AS 来源文件
ORDER BY 类型, 标题
LIMIT 200
