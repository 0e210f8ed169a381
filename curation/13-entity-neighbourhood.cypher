// 13 实体关系图 An entity's neighbourhood (graph view)
//
// 作用：以图的方式显示一个实体的邻居：相关实体（行业、地区、产品、术语…）、提到它的原子和文档，
//       对客户还显示同行业其他客户的成功案例。搜索正是沿着这些关系找到相关原子的。
// What: entity $entity_id with its related entities, the atoms that mention it and the
//       documents about it, and for a customer the case atoms of other customers in its
//       industry, drawn as a graph: the paths graph retrieval walks.
//
// 参数 Parameters（去掉行首的 // 运行 / run without the leading //):
// :param entity_id => 'customer:宁德时代'
CALL () {
  MATCH p = (e:Entity {id: $entity_id})-[]-(other)
  WHERE other:Entity OR other:Atom OR other:Document
  RETURN p LIMIT 100
  UNION
  MATCH p = (e:Entity {id: $entity_id})-[:IN_INDUSTRY]->(:Industry)<-[:IN_INDUSTRY]-(:Customer)
            <-[:MENTIONS]-(:Atom {type: 'case'})
  RETURN p LIMIT 25
}
RETURN p
