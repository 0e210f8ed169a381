// 16 链接实体 Link an entity to an atom
//
// 作用：手工加一条「原子提到实体」的链接（链接器漏掉的）。手工链接在以后的导入中保留。
// What: adds (atom)-[:MENTIONS]->(entity) by hand, marked with who made it (m.by, m.at) so
//       that relinking at ingest keeps it.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param id => 'atom-0123456789abcdef'
// :param entity_id => 'customer:宁德时代'
// :param curator => '你的名字'
OPTIONAL MATCH (a:Atom {id: $id})
OPTIONAL MATCH (e:Entity {id: $entity_id})
CALL apoc.util.validate(a IS NULL, 'No atom with id %s / 找不到这条原子', [$id])
CALL apoc.util.validate(e IS NULL, 'No entity with id %s / 找不到实体', [$entity_id])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
MERGE (a)-[m:MENTIONS]->(e)
SET m.by = $curator, m.at = datetime(), a.updated_at = datetime()  // the change feed
RETURN a.id AS 编号, a.title AS 标题, e.id AS 实体, e.name AS 实体名称,
       COLLECT { MATCH (a)-[:MENTIONS]->(x:Entity) RETURN x.name } AS 该原子提到的全部实体
