// 17 未知实体候选 Unknown entity candidates from ingest
//
// 作用：导入时在正文里反复出现、但还不是任何实体名称或别名的词（多为英文缩写、专有名词），出现多的在前。
//       是术语就用 18 建为术语；是已有实体的另一种叫法就用 15 加为别名；都不是就忽略。
// What: name-like words ingest found often in atom texts that no entity carries, most
//       frequent first. A term: 18. Another name of an existing entity: 15 add alias. Else ignore.
//
// 参数 Parameters: 无 none
MATCH (c:EntityCandidate)
RETURN c.name AS 候选词, c.count AS 出现次数, c.examples[..3] AS 例句,
       date(c.first_seen) AS 首次发现, date(c.last_seen) AS 最近发现
ORDER BY 出现次数 DESC, 候选词
LIMIT 50
