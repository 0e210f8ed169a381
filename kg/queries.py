"""Every Cypher statement SalesKG runs, as named, parameterised constants.

Never build Cypher by formatting user input into it; index names and dimensions in ``schema.py``
are the only interpolated values, and they come from code, not from requests.
"""

UPSERT_DOCUMENT = """
MERGE (d:Document {id: $doc.id})
SET d.path = $doc.path, d.title = $doc.title, d.kind = $doc.kind,
    d.content_hash = $doc.content_hash, d.ingested_at = datetime()
"""

DOCUMENT_HASH = "MATCH (d:Document {id: $id}) RETURN d.content_hash AS content_hash"

# Atoms of a document that are no longer produced by its current text.
DELETE_STALE_ATOMS = """
MATCH (a:Atom)-[:FROM]->(:Document {id: $doc_id})
WHERE NOT a.id IN $keep_ids
DETACH DELETE a
RETURN count(*) AS removed
"""

UPSERT_ATOMS = """
UNWIND $atoms AS atom
MATCH (d:Document {id: atom.document_id})
MERGE (a:Atom {id: atom.id})
ON CREATE SET a.created_at = datetime(), a.version = 1
ON MATCH SET a.version = CASE WHEN a.content_hash = atom.content_hash
                              THEN a.version ELSE a.version + 1 END
WITH a, d, atom, a.content_hash = atom.content_hash AS unchanged
SET a.type = atom.type, a.title = atom.title, a.text = atom.text,
    a.section = atom.section, a.span_start = atom.start, a.span_end = atom.end,
    a.status = atom.status, a.visibility = atom.visibility,
    a.content_hash = atom.content_hash,
    a.updated_at = CASE WHEN unchanged THEN a.updated_at ELSE datetime() END,
    a.embedding = CASE WHEN unchanged THEN a.embedding ELSE null END
MERGE (a)-[:FROM]->(d)
"""

ATOMS_NEEDING_EMBEDDING = """
MATCH (a:Atom) WHERE a.embedding IS NULL
RETURN a.id AS id, a.title AS title, a.text AS text
"""

SET_EMBEDDINGS = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})
CALL db.create.setNodeVectorProperty(a, 'embedding', row.embedding)
"""

ALL_EMBEDDINGS = """
MATCH (a:Atom) WHERE a.embedding IS NOT NULL
RETURN a.id AS id, a.version AS version, a.embedding AS embedding
ORDER BY a.id
"""

ATOMS_BY_ID = """
UNWIND $ids AS id
MATCH (a:Atom {id: id})-[:FROM]->(d:Document)
RETURN a.id AS id, a.type AS type, a.title AS title, a.text AS text,
       a.section AS section, a.span_start AS start, a.span_end AS end,
       a.status AS status, a.visibility AS visibility, a.version AS version,
       a.content_hash AS content_hash, a.updated_at AS updated_at,
       d.id AS document_id, d.title AS document_title, d.path AS document_path
"""

COUNTS = """
CALL () { MATCH (a:Atom) RETURN count(a) AS atoms }
CALL () { MATCH (d:Document) RETURN count(d) AS documents }
RETURN atoms, documents
"""

COMPONENTS = "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition"

APOC_VERSION = "RETURN apoc.version() AS version"

SHOW_INDEXES = "SHOW INDEXES YIELD name, type, state, options RETURN name, type, state, options"
