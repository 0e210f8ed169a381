"""Every Cypher statement SalesKG runs, as named, parameterised constants.

Never build Cypher by formatting user input into it. The only interpolated values are labels
and relationship types taken from the ``EntityKind`` and ``RelationType`` enums (Cypher cannot
take them as parameters), and the index names and dimensions in ``schema.py``.
"""

from kg.models import EntityKind, RelationType

# -- documents -------------------------------------------------------------------------------
DOCUMENT_STATES = """
UNWIND $ids AS id
MATCH (d:Document {id: id})
OPTIONAL MATCH (a:Atom)-[:FROM]->(d)
RETURN d.id AS id, d.content_hash AS content_hash, d.link_hash AS link_hash,
       coalesce(d.removed, false) AS removed,
       collect([a.id, a.content_hash]) AS atoms
"""

UPSERT_DOCUMENTS = """
UNWIND $docs AS doc
MERGE (d:Document {id: doc.id})
ON CREATE SET d.created_at = datetime()
SET d.path = doc.path, d.collection = doc.collection, d.title = doc.title,
    d.kind = doc.kind, d.content_hash = doc.content_hash, d.link_hash = doc.link_hash,
    d.metadata = doc.metadata, d.ingested_at = datetime(), d.removed = false
WITH d, doc
OPTIONAL MATCH (d)-[r:ABOUT]->()
DELETE r
WITH DISTINCT d, doc
UNWIND doc.about AS entity_id
MATCH (e:Entity {id: entity_id})
MERGE (d)-[:ABOUT]->(e)
"""

DELETE_ATOMS = """
UNWIND $ids AS id
MATCH (a:Atom {id: id})
DETACH DELETE a
"""

UPSERT_ATOMS = """
UNWIND $atoms AS atom
MATCH (d:Document {id: atom.document_id})
MERGE (a:Atom {id: atom.id})
ON CREATE SET a.created_at = datetime(), a.version = 0
SET a.type = atom.type, a.title = atom.title, a.text = atom.text,
    a.section = atom.section, a.span_start = atom.start, a.span_end = atom.end,
    a.status = atom.status, a.visibility = atom.visibility, a.team = atom.team,
    a.owner = atom.owner, a.contributors = atom.contributors,
    a.content_hash = atom.content_hash, a.version = a.version + 1,
    a.updated_at = datetime(), a.embedding = null
MERGE (a)-[:FROM]->(d)
"""

# Rewrites an atom's MENTIONS edges to exactly the given entities.
SET_MENTIONS = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})
OPTIONAL MATCH (a)-[m:MENTIONS]->()
DELETE m
WITH DISTINCT a, row
UNWIND row.entities AS entity_id
MATCH (e:Entity {id: entity_id})
MERGE (a)-[:MENTIONS]->(e)
"""

COLLECTION_DOCUMENTS = """
MATCH (d:Document {collection: $collection})
WHERE NOT coalesce(d.removed, false)
RETURN d.id AS id, d.path AS path
"""

DELETE_DOCUMENTS = """
UNWIND $ids AS id
MATCH (d:Document {id: id})
OPTIONAL MATCH (a:Atom)-[:FROM]->(d)
WITH d, collect(a) AS atoms
FOREACH (a IN atoms | DETACH DELETE a)
DETACH DELETE d
RETURN sum(size(atoms)) AS atoms
"""

DEPRECATE_DOCUMENTS = """
UNWIND $ids AS id
MATCH (d:Document {id: id})
SET d.removed = true, d.removed_at = datetime()
WITH d
OPTIONAL MATCH (a:Atom)-[:FROM]->(d)
SET a.status = 'deprecated', a.updated_at = datetime()
RETURN count(a) AS atoms
"""

# -- entities --------------------------------------------------------------------------------
_UPSERT_ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {id: row.id})
ON CREATE SET e.created_at = datetime(), e.aliases = []
SET e:%s, e.name = row.name, e.kind = row.kind,
    e.aliases = reduce(acc = coalesce(e.aliases, []), alias IN row.aliases |
                       CASE WHEN alias IN acc THEN acc ELSE acc + alias END),
    e.description = coalesce(row.description, e.description)
"""
UPSERT_ENTITIES: dict[EntityKind, str] = {k: _UPSERT_ENTITIES % k.value for k in EntityKind}

_UPSERT_RELATIONS = """
UNWIND $rows AS row
MATCH (a:Entity {id: row.source}), (b:Entity {id: row.target})
MERGE (a)-[r:%s]->(b)
SET r.name = row.name
"""
UPSERT_RELATIONS: dict[RelationType, str] = {
    t: _UPSERT_RELATIONS % t.value for t in RelationType if t is not RelationType.RELATED
}
UPSERT_RELATIONS[RelationType.RELATED] = """
UNWIND $rows AS row
MATCH (a:Entity {id: row.source}), (b:Entity {id: row.target})
MERGE (a)-[r:RELATED {name: row.name}]->(b)
"""

ENTITY_DICTIONARY = """
MATCH (e:Entity)
RETURN e.id AS id, e.name AS name, coalesce(e.aliases, []) AS aliases, e.kind AS kind
"""

SAVE_CANDIDATES = """
UNWIND $rows AS row
MERGE (c:EntityCandidate {name: row.name})
ON CREATE SET c.first_seen = datetime()
SET c.count = row.count, c.examples = row.examples, c.last_seen = datetime()
"""

# Candidates a curator has since made into entities (or aliases) are no longer unknown.
PRUNE_CANDIDATES = """
MATCH (c:EntityCandidate)
WHERE EXISTS { MATCH (e:Entity) WHERE e.name = c.name OR c.name IN e.aliases }
DETACH DELETE c
"""

# -- duplicates ------------------------------------------------------------------------------
ATOM_TEXTS = """
MATCH (a:Atom)-[:FROM]->(d:Document)
RETURN a.id AS id, d.id AS document_id, a.text AS text
"""

LINK_DUPLICATES = """
UNWIND $pairs AS pair
MATCH (a:Atom {id: pair.duplicate}), (b:Atom {id: pair.original})
MERGE (a)-[r:DUPLICATE_OF]->(b)
SET r.similarity = pair.similarity, r.detected_at = datetime()
"""

# -- embeddings and reads --------------------------------------------------------------------
ATOMS_NEEDING_EMBEDDING = """
MATCH (a:Atom) WHERE a.embedding IS NULL
RETURN a.id AS id, a.title AS title, a.text AS text
"""

SET_EMBEDDINGS = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})
CALL db.create.setNodeVectorProperty(a, 'embedding', row.embedding)
"""

# Deprecated atoms keep their vectors in the graph but leave the search index.
ALL_EMBEDDINGS = """
MATCH (a:Atom) WHERE a.embedding IS NOT NULL AND a.status <> 'deprecated'
RETURN a.id AS id, a.version AS version, a.embedding AS embedding
ORDER BY a.id
"""

ATOMS_BY_ID = """
UNWIND $ids AS id
MATCH (a:Atom {id: id})-[:FROM]->(d:Document)
OPTIONAL MATCH (a)-[:MENTIONS]->(e:Entity)
RETURN a.id AS id, a.type AS type, a.title AS title, a.text AS text,
       a.section AS section, a.span_start AS start, a.span_end AS end,
       a.status AS status, a.visibility AS visibility, a.team AS team, a.owner AS owner,
       coalesce(a.contributors, []) AS contributors, a.version AS version,
       a.content_hash AS content_hash, a.created_at AS created_at, a.updated_at AS updated_at,
       collect(e.id) AS entities,
       d.id AS document_id, d.title AS document_title, d.path AS document_path
"""

# -- the snapshot retrieval keeps in memory -----------------------------------------------------
SNAPSHOT_ATOMS = """
MATCH (a:Atom)
RETURN a.id AS id, a.title AS title, a.text AS text, a.type AS type, a.status AS status,
       a.visibility AS visibility, a.team AS team, a.owner AS owner
"""

SNAPSHOT_ENTITIES = """
MATCH (e:Entity)
RETURN e.id AS id, e.name AS name, e.kind AS kind, coalesce(e.aliases, []) AS aliases
"""

SNAPSHOT_RELATIONS = """
MATCH (a:Entity)-[r]->(b:Entity)
RETURN a.id AS source, coalesce(r.name, type(r)) AS name, b.id AS target
"""

SNAPSHOT_MENTIONS = "MATCH (a:Atom)-[:MENTIONS]->(e:Entity) RETURN a.id AS atom, e.id AS entity"

COUNTS = """
CALL () { MATCH (a:Atom) RETURN count(a) AS atoms }
CALL () { MATCH (d:Document) RETURN count(d) AS documents }
CALL () { MATCH (e:Entity) RETURN count(e) AS entities }
CALL () { MATCH (:Entity)-[r]->(:Entity) RETURN count(r) AS relations }
CALL () { MATCH (:Atom)-[m:MENTIONS]->() RETURN count(m) AS mentions }
RETURN atoms, documents, entities, relations, mentions
"""

COMPONENTS = "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition"

APOC_VERSION = "RETURN apoc.version() AS version"

SHOW_INDEXES = "SHOW INDEXES YIELD name, type, state, options RETURN name, type, state, options"
