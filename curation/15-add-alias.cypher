// 15 添加别名 Add an alias to an entity
//
// 作用：给实体加一个别名（例如给 宁德时代 加 CATL）。别名是教链接器认名字的办法：问题里出现这个别名时
//       立即能认出该实体；原子正文里的别名在下次导入（skg ingest）时自动链接。重复添加无害。
//       如果「同名的其他实体」一栏不为空，说明这个名字已属于别的实体，请考虑用 14 合并。
// What: adds $alias to entity $entity_id's aliases (once). Questions that use the alias
//       recognise the entity, atoms are relinked by the next ingest. A non-empty
//       「同名的其他实体」 column means another entity already carries the name: consider 14 merge.
//
// 参数 Parameters（去掉行首的 // 运行，换成你的值 / run without the leading //, use your values):
// :param entity_id => 'customer:宁德时代'
// :param alias => '宁德新能源'
// :param curator => '你的名字'
OPTIONAL MATCH (e:Entity {id: $entity_id})
CALL apoc.util.validate(e IS NULL, 'No entity with id %s / 找不到实体', [$entity_id])
CALL apoc.util.validate(trim(coalesce($alias, '')) = '', 'Set an alias / 请设置 alias', [])
CALL apoc.util.validate(trim(coalesce($curator, '')) = '',
                        'Set your name first / 请先设置 :param curator', [])
WITH e, trim($alias) AS alias
SET e.aliases = CASE WHEN alias = e.name OR alias IN coalesce(e.aliases, [])
                     THEN coalesce(e.aliases, []) ELSE coalesce(e.aliases, []) + alias END,
    e.updated_at = datetime(), e.updated_by = $curator
WITH e, alias
OPTIONAL MATCH (candidate:EntityCandidate {name: alias})
DETACH DELETE candidate
WITH DISTINCT e, alias
RETURN e.id AS 编号, e.name AS 名称, e.aliases AS 别名,
       COLLECT { MATCH (other:Entity)
                 WHERE other <> e AND (other.name = alias OR alias IN coalesce(other.aliases, []))
                 RETURN other.id } AS 同名的其他实体
