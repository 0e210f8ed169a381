// 09 疑似重复 Near-duplicate atoms
//
// 作用：导入时发现的近似重复原子对（字符 3-gram 相似度 ≥ 0.8），相似度高的在前。
//       决定保留哪条（通常是已审核或写得更好的那条）后用 10 合并。
// What: atom pairs that ingest found nearly identical (DUPLICATE_OF), most similar first.
//       Decide which one to keep (usually the approved or better written one), then 10 merge.
//
// 参数 Parameters: 无 none
MATCH (a:Atom)-[r:DUPLICATE_OF]->(b:Atom)
WHERE a.status <> 'deprecated' AND b.status <> 'deprecated'
OPTIONAL MATCH (a)-[:FROM]->(da:Document)
OPTIONAL MATCH (b)-[:FROM]->(db:Document)
RETURN round(r.similarity, 2) AS 相似度,
       a.id AS 编号A, a.status AS 状态A, a.title AS 标题A, da.path AS 来源A,
       b.id AS 编号B, b.status AS 状态B, b.title AS 标题B, db.path AS 来源B
ORDER BY 相似度 DESC, 编号A
LIMIT 100
