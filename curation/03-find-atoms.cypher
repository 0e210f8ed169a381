// 03 查找原子 Find atoms by keyword
//
// 作用：按关键词（标题或正文包含，区分大小写）或编号查找原子，得到它的编号以便后续操作。
// What: atoms whose title or text contains $keyword (case-sensitive), or whose id is $keyword.
//
// 参数 Parameters（去掉行首的 // 运行 / run without the leading //):
// :param keyword => '热失控'
MATCH (a:Atom)-[:FROM]->(d:Document)
WHERE a.id = $keyword OR a.title CONTAINS $keyword OR a.text CONTAINS $keyword
RETURN a.id AS 编号, a.type AS 类型, a.status AS 状态, a.title AS 标题,
       left(a.text, 80) AS 摘要, d.path AS 来源文件, a.review AS 待审原因
ORDER BY a.status, a.title
LIMIT 100
