"""Every Cypher statement SalesKG runs, as named, parameterised constants.

Never build Cypher by formatting user input into it. The only interpolated values are labels
and relationship types taken from the ``EntityKind`` and ``RelationType`` enums (Cypher cannot
take them as parameters), the index names and dimensions in ``schema.py``, and fixed
expressions written here (``_epoch_millis``).
"""

from kg.models import ATOM_TYPE_LABELS_ZH, EntityKind, RelationType

# -- access ----------------------------------------------------------------------------------
# Whether the caller ($team, $user; either may be null) may see the atom `a`:
# ``kg.access.Viewer.can_see`` in Cypher, strictly true or false (never null). Public; team
# for its own team; anything else, missing or unknown visibility included, for its owner only.
VISIBLE_ATOM = """(coalesce(a.visibility = 'public', false)
  OR (coalesce(a.visibility = 'team', false) AND coalesce(a.team = $team, false))
  OR (NOT coalesce(a.visibility IN ['public', 'team'], false)
      AND coalesce(a.owner = $user, false)))"""

# -- documents -------------------------------------------------------------------------------
DOCUMENT_STATES = """
UNWIND $ids AS id
MATCH (d:Document {id: id})
OPTIONAL MATCH (a:Atom)-[:FROM]->(d)
RETURN d.id AS id, d.content_hash AS content_hash, d.link_hash AS link_hash,
       coalesce(d.removed, false) AS removed, d.namespace AS namespace,
       d.source_hash AS source_hash,
       coalesce(d.derived, true) AS derived,
       collect([a.id, a.content_hash]) AS atoms,
       collect(CASE WHEN a.curated_at IS NOT NULL THEN a.id END) AS curated,
       collect({visibility: a.visibility, team: a.team, owner: a.owner}) AS access
"""

# Documents of a batch a writer ($team, $user) may not change: another namespace's, or ones
# holding atoms the writer may not see (a colleague's private notes under the same name).
# Checked in the writing transaction itself; the operator ($trusted) changes anything.
FORBIDDEN_DOCUMENTS = (
    """
UNWIND $docs AS doc
MATCH (d:Document {id: doc.id})
WHERE coalesce(d.namespace, '') <> coalesce(doc.namespace, '')
   OR (NOT $trusted AND EXISTS { MATCH (a:Atom)-[:FROM]->(d) WHERE NOT """
    + VISIBLE_ATOM
    + """ })
RETURN d.id AS id, d.path AS path
"""
)

# Atom ids a batch would take over from another document (never: ids derive from documents).
FOREIGN_ATOMS = """
UNWIND $atoms AS atom
MATCH (a:Atom {id: atom.id})-[:FROM]->(d:Document)
WHERE d.id <> atom.document_id
RETURN a.id AS id
"""

# Ingest overwrites or deletes an atom: its earlier state is kept as an AtomVersion.
VERSION_BEFORE_OVERWRITE = """
UNWIND $atoms AS atom
MATCH (a:Atom {id: atom.id}) WHERE a.content_hash <> atom.content_hash
CREATE (v:AtomVersion {atom_id: a.id, version: a.version, title: a.title, text: a.text,
                       type: a.type, status: a.status, visibility: a.visibility, team: a.team,
                       owner: a.owner, changed_at: datetime(), changed_by: $by,
                       reason: 'source_update'})
CREATE (v)-[:VERSION_OF]->(a)
"""

VERSION_BEFORE_DELETE = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})-[:FROM]->(:Document {id: row.document_id})
CREATE (:AtomVersion {atom_id: a.id, version: a.version, title: a.title, text: a.text,
                      type: a.type, status: a.status, visibility: a.visibility, team: a.team,
                      owner: a.owner, changed_at: datetime(), changed_by: $by,
                      reason: 'source_removed'})
"""

UPSERT_DOCUMENTS = """
UNWIND $docs AS doc
MERGE (d:Document {id: doc.id})
ON CREATE SET d.created_at = datetime(), d.namespace = doc.namespace
SET d.path = doc.path, d.collection = doc.collection, d.title = doc.title,
    d.kind = doc.kind, d.content_hash = doc.content_hash, d.link_hash = doc.link_hash,
    d.source_hash = doc.source_hash,
    d.metadata = doc.metadata, d.ingested_at = datetime(), d.removed = false,
    d.derived = false, d.writing = null
WITH d, doc
OPTIONAL MATCH (d)-[r:ABOUT]->()
DELETE r
WITH DISTINCT d, doc
UNWIND doc.about AS entity_id
MATCH (e:Entity {id: entity_id})
MERGE (d)-[:ABOUT]->(e)
SET e.updated_at = datetime()
"""

DELETE_ATOMS = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})-[:FROM]->(:Document {id: row.document_id})
DETACH DELETE a
"""


# -- Neo4j Browser captions (curation/style.grass; see also SET_ATOM_CAPTIONS) ----------------
def atom_caption(type_expr: str, title_expr: str) -> str:
    """Cypher for an atom's caption in Neo4j Browser (``caption``, shown by
    curation/style.grass): its type in Chinese and the short part of its title (the section
    heading, or the term), e.g. ``成功案例 成果``. The labels are kg.models' constants."""
    labels = " ".join(f"WHEN '{t.value}' THEN '{zh}'" for t, zh in ATOM_TYPE_LABELS_ZH.items())
    short = f"last(split(coalesce(toStringOrNull({title_expr}), ''), ' · '))"
    return (
        f"trim(coalesce(CASE toStringOrNull({type_expr}) {labels} END, '') + ' ' + "
        f"[s IN [{short}] | CASE WHEN size(s) > 10 THEN left(s, 9) + '…' ELSE s END][0])"
    )


_ATOM_CAPTION_OF_ROW = atom_caption("atom.type", "atom.title")

_UPSERT_ATOMS = """
UNWIND $atoms AS atom
MATCH (d:Document {id: atom.document_id})
MERGE (a:%s {id: atom.id})
ON CREATE SET a.created_at = datetime(), a.version = 0
SET a.type = atom.type, a.title = atom.title, a.text = atom.text,
    a.caption = %s,
    a.section = atom.section, a.span_start = atom.start, a.span_end = atom.end,
    // A curator's deprecation stands when the source changes; ingest's own (file removed) not.
    a.status = CASE WHEN a.status = 'deprecated' AND coalesce(a.updated_by, 'ingest') <> 'ingest'
                    THEN a.status ELSE atom.status END,
    a.visibility = atom.visibility, a.team = atom.team,
    a.owner = atom.owner, a.contributors = atom.contributors,
    a.content_hash = atom.content_hash, a.version = a.version + 1,
    a.updated_at = datetime(), a.updated_by = 'ingest', a.embedding = null
MERGE (a)-[:FROM]->(d)
"""
UPSERT_ATOMS = _UPSERT_ATOMS % ("Atom", _ATOM_CAPTION_OF_ROW)

# A large document's new atoms are written in batches as :StagedAtom, which nothing reads,
# and become :Atom together in the transaction that commits the document: readers see all
# of them or none. An interrupted write leaves staged atoms, cleared by the next attempt.
STAGE_ATOMS = _UPSERT_ATOMS % ("StagedAtom", _ATOM_CAPTION_OF_ROW)

CLEAR_STAGED = """
MATCH (s:StagedAtom)-[:FROM]->(:Document {id: $id})
WITH s LIMIT $limit
DETACH DELETE s
RETURN count(*) AS cleared
"""

CLEAR_STAGED_OF_DOCUMENTS = """
UNWIND $ids AS id
MATCH (s:StagedAtom)-[:FROM]->(:Document {id: id})
DETACH DELETE s
"""

COMMIT_STAGED = """
MATCH (s:StagedAtom)-[:FROM]->(d:Document {id: $id})
REMOVE s:StagedAtom
SET s:Atom, s.updated_at = datetime()  // the change feed sees them when readers first can
RETURN count(s) AS committed
"""

# A large document while its batches are written: its hash is not yet the new one, so an
# interrupted write is redone by the next run.
BEGIN_LARGE_DOCUMENT = """
MERGE (d:Document {id: $doc.id})
ON CREATE SET d.created_at = datetime(), d.namespace = $doc.namespace, d.path = $doc.path,
              d.collection = $doc.collection, d.title = $doc.title, d.kind = $doc.kind
SET d.writing = true
"""

# Atoms a curator merged away or deleted: their snapshots remain, the atoms do not.
RETIRED_ATOMS = """
MATCH (v:AtomVersion) WHERE v.reason IN ['merge', 'delete']
  AND NOT EXISTS { MATCH (:Atom {id: v.atom_id}) }
RETURN collect(DISTINCT v.atom_id) AS ids
"""

# A changed source of an atom a curator edited: kept aside for review, never written over it.
HOLD_ATOMS = """
UNWIND $atoms AS atom
MATCH (a:Atom {id: atom.id})
SET a.pending_title = atom.title, a.pending_text = atom.text, a.pending_hash = atom.content_hash,
    a.pending_at = datetime(), a.review = 'source_changed',
    a.review_note = '来源文件已更新，等待审核 (the source changed after a curator edit)'
"""

FLAG_SOURCE_REMOVED = """
UNWIND $ids AS id
MATCH (a:Atom {id: id})
SET a.review = 'source_changed',
    a.review_note = '该段已从来源文件删除，请决定保留或废弃 (removed from its source)'
"""

# Rewrites an atom's MENTIONS edges to exactly the given entities.
_SET_MENTIONS = """
UNWIND $rows AS row
MATCH (a:%s {id: row.id})
OPTIONAL MATCH (a)-[m:MENTIONS]->()
WHERE m.by IS NULL  // links a curator made (m.by = who) survive relinking
DELETE m
WITH DISTINCT a, row
SET a.updated_at = datetime()
WITH a, row
UNWIND row.entities AS entity_id
MATCH (e:Entity {id: entity_id})
MERGE (a)-[:MENTIONS]->(e)
"""
SET_MENTIONS = _SET_MENTIONS % "Atom"
SET_STAGED_MENTIONS = _SET_MENTIONS % "StagedAtom"

COLLECTION_DOCUMENTS = """
MATCH (d:Document {collection: $collection})
WHERE NOT coalesce(d.removed, false)
  AND coalesce(d.namespace, '') = coalesce($namespace, '')
RETURN d.id AS id, d.path AS path
"""

DELETE_DOCUMENTS = """
UNWIND $ids AS id
MATCH (d:Document {id: id})
OPTIONAL MATCH (a:Atom)-[:FROM]->(d)
WITH d, collect(a) AS atoms
FOREACH (a IN atoms |
  CREATE (:AtomVersion {atom_id: a.id, version: a.version, title: a.title, text: a.text,
                        type: a.type, status: a.status, visibility: a.visibility, team: a.team,
                        owner: a.owner, changed_at: datetime(), changed_by: $by,
                        reason: 'source_removed'})
  DETACH DELETE a)
DETACH DELETE d
RETURN sum(size(atoms)) AS atoms
"""

DEPRECATE_DOCUMENTS = """
UNWIND $ids AS id
MATCH (d:Document {id: id})
SET d.removed = true, d.removed_at = datetime()
WITH d
OPTIONAL MATCH (a:Atom)-[:FROM]->(d)
SET a.status = 'deprecated', a.updated_at = datetime(), a.updated_by = 'ingest'
RETURN count(a) AS atoms
"""

# Everything derived from these documents' atoms (near-duplicate links, entity candidates) is
# in the graph: until then a rerun recomputes it, even for documents whose hash is unchanged.
# The source key of documents whose content did not change (so the next run skips the file
# without parsing it).
SET_SOURCE_HASHES = """
UNWIND $rows AS row
MATCH (d:Document {id: row.id})
SET d.source_hash = row.source_hash
"""

MARK_DERIVED = """
UNWIND $ids AS id
MATCH (d:Document {id: id})
SET d.derived = true
"""

UNDERIVED_DOCUMENTS = """
MATCH (d:Document) WHERE d.derived = false
RETURN d.id AS id, d.path AS path
"""

# -- entities --------------------------------------------------------------------------------
_UPSERT_ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {id: row.id})
ON CREATE SET e.created_at = datetime(), e.aliases = []
SET e:%s, e.name = row.name, e.kind = row.kind,
    e.aliases = reduce(acc = coalesce(e.aliases, []), alias IN row.aliases |
                       CASE WHEN alias IN acc THEN acc ELSE acc + alias END),
    e.description = coalesce(e.description, row.description), e.updated_at = datetime()
"""
UPSERT_ENTITIES: dict[EntityKind, str] = {k: _UPSERT_ENTITIES % k.value for k in EntityKind}

# `sources`: the documents that state the relation (who may see it, ``VISIBLE_RELATION``).
_RELATION_SOURCES = """
SET r.sources = reduce(acc = coalesce(r.sources, []), doc IN row.documents |
                       CASE WHEN doc IN acc THEN acc ELSE acc + doc END),
    a.updated_at = datetime()
"""
_UPSERT_RELATIONS = (
    """
UNWIND $rows AS row
MATCH (a:Entity {id: row.source}), (b:Entity {id: row.target})
MERGE (a)-[r:%s]->(b)
SET r.name = row.name
"""
    + _RELATION_SOURCES
)
UPSERT_RELATIONS: dict[RelationType, str] = {
    t: _UPSERT_RELATIONS % t.value for t in RelationType if t is not RelationType.RELATED
}
UPSERT_RELATIONS[RelationType.RELATED] = (
    """
UNWIND $rows AS row
MATCH (a:Entity {id: row.source}), (b:Entity {id: row.target})
MERGE (a)-[r:RELATED {name: row.name}]->(b)
"""
    + _RELATION_SOURCES
)

# What each written document says about the entities it names (their aliases and
# description): an alias or a description is shown only to callers who may see a document
# that states it (curators' own aliases, stated by no document, follow their entity).
SET_DECLARES = """
UNWIND $docs AS doc
MATCH (d:Document {id: doc.id})
OPTIONAL MATCH (d)-[old:DECLARES]->()
DELETE old
WITH DISTINCT d, doc
UNWIND doc.declares AS declared
MATCH (e:Entity {id: declared.id})
MERGE (d)-[r:DECLARES]->(e)
SET r.aliases = declared.aliases, r.description = declared.description,
    e.updated_at = datetime()
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
RETURN a.id AS id, d.id AS document_id, a.text AS text, d.kind AS kind
"""

LINK_DUPLICATES = """
UNWIND $pairs AS pair
MATCH (a:Atom {id: pair.duplicate}), (b:Atom {id: pair.original})
MERGE (a)-[r:DUPLICATE_OF]->(b)
SET r.similarity = pair.similarity, r.detected_at = datetime()
"""

# -- embeddings and reads --------------------------------------------------------------------
# Every vector records the encoder that made it (`embedding_model`; vectors from before it was
# recorded are PyTorch fp32's, $legacy): an atom whose vector another encoder made is embedded
# again, and only vectors of the current encoder enter the index, so they never mix.
ATOMS_NEEDING_EMBEDDING = """
MATCH (a:Atom)
WHERE a.embedding IS NULL OR coalesce(a.embedding_model, $legacy) <> $model
RETURN a.id AS id, a.title AS title, a.text AS text
"""

SET_EMBEDDINGS = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})
CALL db.create.setNodeVectorProperty(a, 'embedding', row.embedding)
SET a.embedding_model = $model, a.updated_at = datetime()  // every replica reads this vector
"""

# Deprecated atoms keep their vectors in the graph but leave the search index.
# Read in pages by id (the unique constraint's index orders them): one statement for all of a
# million atoms' vectors would hold them all in the server's heap and the driver's memory.
EMBEDDINGS_PAGE = """
MATCH (a:Atom)
WHERE a.id > $after AND a.embedding IS NOT NULL AND a.status <> 'deprecated'
  AND coalesce(a.embedding_model, $legacy) = $model
RETURN a.id AS id, a.version AS version, a.embedding AS embedding
ORDER BY a.id
LIMIT $limit
"""


def _epoch_millis(value: str) -> str:
    """A date-time property as epoch milliseconds, null when it is none (e.g. a hand edit's
    string): the driver's date-time objects cost 1.5 ms per search to build."""
    return (
        f"CASE WHEN {value} IS :: ZONED DATETIME THEN {value}.epochMillis "
        f"WHEN {value} IS :: LOCAL DATETIME "
        f"THEN datetime({{datetime: {value}, timezone: 'UTC'}}).epochMillis END"
    )


ATOMS_BY_ID = f"""
UNWIND $ids AS id
MATCH (a:Atom {{id: id}})-[:FROM]->(d:Document)
OPTIONAL MATCH (a)-[:MENTIONS]->(e:Entity)
RETURN a.id AS id, a.type AS type, a.title AS title, a.text AS text,
       a.section AS section, a.span_start AS start, a.span_end AS end,
       a.status AS status, a.visibility AS visibility, a.team AS team, a.owner AS owner,
       coalesce(a.contributors, []) AS contributors, a.version AS version,
       a.content_hash AS content_hash,
       {_epoch_millis("a.created_at")} AS created_at,
       {_epoch_millis("a.updated_at")} AS updated_at,
       collect(e.id) AS entities,
       d.id AS document_id, d.title AS document_title, d.path AS document_path
"""

# -- the snapshot retrieval keeps in memory -----------------------------------------------------
# Votes on answers count per question (retrieval/feedback.py); votes on atoms count for the atom.
FEEDBACK_EVENTS = """
MATCH (f:Feedback)-[:ON]->(ans:Answer), (f)-[:ABOUT]->(a:Atom)
RETURN ans.question AS question, a.id AS atom, f.kind AS kind,
       coalesce(f.user, f.key_id) AS voter
"""

# Feedback is counted in distinct voters (a user, else a key) per kind: one person's repeated
# clicks are one vote.
_ATOM_ROWS = """
OPTIONAL MATCH (f:Feedback)-[:ABOUT]->(a) WHERE NOT (f)-[:ON]->(:Answer)
WITH a, f.kind AS kind, count(DISTINCT coalesce(f.user, f.key_id)) AS voters
WITH a, collect(CASE WHEN kind IS NOT NULL THEN [kind, voters] END) AS feedback
RETURN a.id AS id, a.title AS title, a.text AS text, a.type AS type, a.status AS status,
       a.visibility AS visibility, a.team AS team, a.owner AS owner, a.version AS version,
       feedback, head([(a)-[:FROM]->(d:Document) | d.id]) AS document_id
"""
SNAPSHOT_ATOMS = "MATCH (a:Atom)" + _ATOM_ROWS

# Atoms people changed, whose links ingest no longer maintains (kg/relink.py): edited ones
# always (a new alias may name them), others touched by people once per version.
_ATOMS_TO_RELINK = """
MATCH (a:Atom)
WHERE (a.curated_at IS NOT NULL
       OR (coalesce(a.updated_by, 'ingest') <> 'ingest'
           AND coalesce(a.linked_version, -1) <> a.version))%s
OPTIONAL MATCH (a)-[m:MENTIONS]->(e:Entity)
WITH a, collect(CASE WHEN m.by IS NULL THEN e.id END) AS automatic, collect(e.id) AS linked
OPTIONAL MATCH (a)-[:FROM]->(:Document)-[:ABOUT]->(d:Entity)
RETURN a.id AS id, a.title AS title, a.text AS text, a.link_hash AS link_hash, automatic,
       linked, collect(DISTINCT d.id) AS declared
"""
ATOMS_TO_RELINK = _ATOMS_TO_RELINK % ""
# The same among the atoms a change-feed sync reads (retrieval/index/update.py).
ATOMS_TO_RELINK_AMONG = _ATOMS_TO_RELINK % "\n  AND a.id IN $ids"

# Links made here carry no `by`: they follow the text. A curator's links (`by` set) stay.
RELINK_ATOMS = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})
SET a.link_hash = row.link_hash, a.linked_version = a.version
FOREACH (_ IN CASE WHEN size(row.add) + size(row.remove) > 0 THEN [1] ELSE [] END |
  SET a.updated_at = datetime())
WITH a, row
CALL (a, row) {
  UNWIND row.add AS entity_id
  MATCH (e:Entity {id: entity_id})
  MERGE (a)-[:MENTIONS]->(e)
}
CALL (a, row) {
  MATCH (a)-[m:MENTIONS]->(e:Entity)
  WHERE e.id IN row.remove AND m.by IS NULL
  DELETE m
}
"""

# A text edited in Neo4j outside the curators' queries (no version bump): record the text as
# last indexed, bump the version, and have it re-embedded.
RECORD_OUTSIDE_EDITS = """
UNWIND $rows AS row
MATCH (a:Atom {id: row.id})
CREATE (v:AtomVersion {atom_id: a.id, version: a.version, title: row.title, text: row.text,
                       type: a.type, status: a.status, visibility: a.visibility, team: a.team,
                       owner: a.owner, changed_at: datetime(), changed_by: $by, reason: 'edit'})
CREATE (v)-[:VERSION_OF]->(a)
SET a.version = a.version + 1, a.updated_at = datetime(), a.updated_by = $by,
    a.curated_at = datetime(), a.curated_by = $by, a.embedding = null
"""

# Atoms unverified for too long (never approved, or approved long ago) wait for review.
FLAG_STALE = """
MATCH (a:Atom)
WHERE a.status <> 'deprecated' AND a.review IS NULL
  AND coalesce(a.verified_at, a.created_at) < datetime() - duration({days: $days})
SET a.review = 'stale', a.review_note = '超过 ' + toString($days) + ' 天未复核 (unverified)'
RETURN count(a) AS flagged
"""

# Changes anywhere that matters to search: atoms, entities and aliases, links, feedback.
# Computed in the server (APOC), so a check costs one round trip and a 32-character answer.
GRAPH_FINGERPRINT = """
CALL () {
  // A digest per atom, then one of the digests: collecting the atoms' texts themselves passed
  // the transaction memory limit (512 MiB) at a million atoms.
  MATCH (a:Atom) WITH a ORDER BY a.id
  RETURN apoc.util.md5(collect(apoc.util.md5([a.id + '|' + toString(a.version) + '|' + a.title
         + '|' + a.text + '|' + a.status + '|' + a.visibility + '|' + coalesce(a.team, '') + '|'
         + coalesce(a.owner, '')]))) AS atoms
}
CALL () {
  MATCH (e:Entity) WITH e ORDER BY e.id
  RETURN apoc.util.md5(collect(e.id + '|' + e.name + '|'
         + apoc.text.join(coalesce(e.aliases, []), ','))) AS entities
}
CALL () { MATCH (:Atom)-[m:MENTIONS]->() RETURN count(m) AS mentions }
CALL () { MATCH (:Entity)-[r]->(:Entity) RETURN count(r) AS relations }
CALL () { MATCH (f:Feedback) RETURN count(f) AS feedback }
RETURN atoms + entities + '|' + toString(mentions) + '|' + toString(relations) + '|'
       + toString(feedback) AS fingerprint
"""

# -- the change feed (issue 15) -----------------------------------------------------------------
# Every writer of what search reads stamps `updated_at` on the atoms and entities it changes
# (ingest, the API, the curation queries); both are range-indexed (kg/schema.py). A check reads
# counts from Neo4j's count store and the newest stamps through the indexes: milliseconds at
# any size. `recent` counts the atoms stamped in the last $lag_s seconds, so a transaction that
# stamped its atoms before an earlier check and committed after it still changes the token.
# A hand edit that stamps nothing is caught by the periodic full check (GRAPH_FINGERPRINT).
CHANGE_TOKEN = """
CALL () { MATCH (a:Atom) RETURN count(a) AS atoms }
CALL () { MATCH (:Atom)-[m:MENTIONS]->() RETURN count(m) AS mentions }
CALL () { MATCH (e:Entity) RETURN count(e) AS entities }
CALL () { MATCH (:Entity)-[r]->() RETURN count(r) AS relations }
CALL () { MATCH (:Document)-[r:DECLARES]->() RETURN count(r) AS declares }
CALL () { MATCH (:Document)-[r:ABOUT]->() RETURN count(r) AS about }
CALL () { MATCH (f:Feedback) RETURN count(f) AS feedback }
OPTIONAL CALL () {
  MATCH (a:Atom) WHERE a.updated_at >= datetime({epochMillis: 0})
  RETURN a.updated_at AS atom_at ORDER BY a.updated_at DESC LIMIT 1
}
OPTIONAL CALL () {
  MATCH (e:Entity) WHERE e.updated_at >= datetime({epochMillis: 0})
  RETURN e.updated_at AS entity_at ORDER BY e.updated_at DESC LIMIT 1
}
CALL () {
  MATCH (a:Atom) WHERE a.updated_at >= datetime() - duration({seconds: $lag_s})
  RETURN count(a) AS recent
}
RETURN atoms, mentions, entities, relations, declares, about, feedback, recent,
       atom_at.epochMillis AS atom_ms, entity_at.epochMillis AS entity_ms
"""

# Atoms stamped since $since_ms (epoch ms), with their stamps: what a sync may have to read.
# One record of two lists: a record per atom cost the driver 15 times as long (2.4 s for the
# 100k atoms of a bulk write still in the window; docs/benchmarks.md, Scale).
ATOM_STAMPS_SINCE = """
MATCH (a:Atom) WHERE a.updated_at >= datetime({epochMillis: $since_ms})
RETURN collect(a.id) AS ids, collect(a.updated_at.epochMillis) AS ms
"""

# Changed atoms as the snapshot holds them, with their vector of $model (null when it has
# none, or another encoder's) and the entities they mention.
CHANGED_ATOMS = (
    "UNWIND $ids AS id MATCH (a:Atom {id: id})"
    + _ATOM_ROWS.rstrip()
    + f""",
       {_epoch_millis("a.updated_at")} AS ms,
       CASE WHEN a.embedding IS NOT NULL AND coalesce(a.embedding_model, $legacy) = $model
            THEN a.embedding END AS embedding,
       [(a)-[:MENTIONS]->(e:Entity) | e.id] AS mentions
"""
)

ATOMS_NEEDING_EMBEDDING_AMONG = """
UNWIND $ids AS id
MATCH (a:Atom {id: id})
WHERE a.embedding IS NULL OR coalesce(a.embedding_model, $legacy) <> $model
RETURN a.id AS id, a.title AS title, a.text AS text
"""

ATOM_IDS = "MATCH (a:Atom) RETURN collect(a.id) AS ids"

# Votes on atoms (not on answers), per atom: the ranking priors (retrieval/feedback.py).
ATOM_FEEDBACK = """
MATCH (f:Feedback)-[:ABOUT]->(a:Atom)
WHERE f.kind IS NOT NULL AND NOT (f)-[:ON]->(:Answer)
WITH a, f.kind AS kind, count(DISTINCT coalesce(f.user, f.key_id)) AS voters
RETURN a.id AS id, collect([kind, voters]) AS feedback
"""

SNAPSHOT_ENTITIES = """
MATCH (e:Entity)
RETURN e.id AS id, e.name AS name, e.kind AS kind, coalesce(e.aliases, []) AS aliases
"""

SNAPSHOT_RELATIONS = """
MATCH (a:Entity)-[r]->(b:Entity)
RETURN a.id AS source, coalesce(r.name, type(r)) AS name, b.id AS target,
       coalesce(r.sources, []) AS sources
"""

# Documents about or declaring each entity, with the aliases they give it (provenance).
SNAPSHOT_BACKING = """
MATCH (d:Document)-[r:ABOUT|DECLARES]->(e:Entity)
RETURN e.id AS entity, d.id AS document, collect(r.aliases) AS aliases
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

PING = "RETURN 1 AS ok"

# -- reading one atom or one entity with its neighbourhood (the API's detail views) ------------
ATOM_NEIGHBOURHOOD = """
MATCH (a:Atom {id: $id})
OPTIONAL MATCH (a)-[:DUPLICATE_OF]-(d:Atom)
WITH a, collect(DISTINCT {id: d.id, visibility: d.visibility, team: d.team, owner: d.owner})
     AS duplicates
OPTIONAL MATCH (f:Feedback)-[:ABOUT]->(a)
RETURN duplicates, collect(f.kind) AS feedback
"""


# An entity, relation, alias or description is shown to a caller ($team, $user) only when an
# atom or a document the caller may see backs it (an atom mentioning the entity, or an atom of
# a document about it, declaring it or stating the relation): a team's names never reach
# other teams. Counts count only what the caller may see.
def _visible_entity(var: str) -> str:
    """The entity bound to ``var`` (a fixed identifier, never user input) is backed."""
    return (
        f"(EXISTS {{ MATCH (a:Atom)-[:MENTIONS]->({var}) WHERE {VISIBLE_ATOM} }}"
        f" OR EXISTS {{ MATCH (a:Atom)-[:FROM]->(:Document)-[:ABOUT|DECLARES]->({var})"
        f" WHERE {VISIBLE_ATOM} }})"
    )


VISIBLE_ALIASES = (
    """[alias IN coalesce(e.aliases, []) WHERE
      NOT EXISTS { MATCH (:Document)-[r:DECLARES]->(e) WHERE alias IN r.aliases }
      OR EXISTS { MATCH (a:Atom)-[:FROM]->(:Document)-[r:DECLARES]->(e)
                  WHERE alias IN r.aliases AND """
    + VISIBLE_ATOM
    + " }]"
)

VISIBLE_RELATION = (
    """(coalesce(size(r.sources), 0) = 0
      OR EXISTS { MATCH (a:Atom)-[:FROM]->(d:Document) WHERE d.id IN r.sources AND """
    + VISIBLE_ATOM
    + " })"
)

ENTITY = (
    """
MATCH (e:Entity {id: $id})
WHERE """
    + _visible_entity("e")
    + """
RETURN e.id AS id, e.name AS name, e.kind AS kind, """
    + VISIBLE_ALIASES
    + """ AS aliases,
       coalesce(
         head([(a:Atom)-[:FROM]->(:Document)-[r:DECLARES]->(e)
               WHERE r.description IS NOT NULL AND """
    + VISIBLE_ATOM
    + """ | r.description]),
         CASE WHEN EXISTS { MATCH (:Document)-[r:DECLARES]->(e) WHERE r.description IS NOT NULL }
              THEN null ELSE e.description END) AS description
"""
)

ENTITY_RELATIONS = (
    """
MATCH (e:Entity {id: $id})-[r]-(other:Entity)
WHERE """
    + _visible_entity("other")
    + " AND "
    + VISIBLE_RELATION
    + """
RETURN type(r) AS type, coalesce(r.name, type(r)) AS name, startNode(r) = e AS outgoing,
       other.id AS id, other.name AS other_name, other.kind AS kind
ORDER BY kind, other_name
LIMIT $limit
"""
)

# Visibility fields come back with the ids: the caller filters before paging and counting.
ENTITY_ATOMS = """
MATCH (a:Atom)-[:MENTIONS]->(:Entity {id: $id})
WHERE a.status IN $statuses
RETURN a.id AS id, a.visibility AS visibility, a.team AS team, a.owner AS owner
ORDER BY a.updated_at DESC, a.id
"""

_MATCHING_ENTITIES = (
    """
MATCH (e:Entity)
WHERE ($kind IS NULL OR e.kind = $kind)
  AND """
    + _visible_entity("e")
    + """
WITH e, """
    + VISIBLE_ALIASES
    + """ AS aliases
WHERE $q IS NULL OR e.name CONTAINS $q OR any(alias IN aliases WHERE alias CONTAINS $q)
"""
)

FIND_ENTITIES = (
    _MATCHING_ENTITIES
    + """
RETURN e.id AS id, e.name AS name, e.kind AS kind, aliases,
       COUNT { MATCH (a:Atom)-[:MENTIONS]->(e) WHERE """
    + VISIBLE_ATOM
    + """ } AS mentions
ORDER BY mentions DESC, e.id
SKIP $offset LIMIT $limit
"""
)

COUNT_ENTITIES = _MATCHING_ENTITIES + "RETURN count(e) AS total"

# -- API keys (only a hash of the secret is stored) ------------------------------------------
CREATE_API_KEY = """
CREATE (k:ApiKey {id: $id, name: $name, hash: $hash, scopes: $scopes, team: $team,
                  user: $user, created_at: datetime(), revoked_at: null})
RETURN k.id AS id
"""

API_KEY = """
MATCH (k:ApiKey {id: $id})
RETURN k.id AS id, k.name AS name, k.hash AS hash, k.scopes AS scopes, k.team AS team,
       k.user AS user, k.created_at AS created_at, k.revoked_at AS revoked_at,
       k.last_used_at AS last_used_at
"""

LIST_API_KEYS = """
MATCH (k:ApiKey)
RETURN k.id AS id, k.name AS name, k.hash AS hash, k.scopes AS scopes, k.team AS team,
       k.user AS user, k.created_at AS created_at, k.revoked_at AS revoked_at,
       k.last_used_at AS last_used_at
ORDER BY k.created_at
"""

REVOKE_API_KEY = """
MATCH (k:ApiKey {id: $id}) WHERE k.revoked_at IS NULL
SET k.revoked_at = datetime()
RETURN k.id AS id
"""

TOUCH_API_KEY = "MATCH (k:ApiKey {id: $id}) SET k.last_used_at = datetime()"

# -- answers and feedback (the flywheel's raw events) -----------------------------------------
RECORD_ANSWER = """
CREATE (ans:Answer {id: $id, question: $question, intent: $intent, key_id: $key_id,
                    team: $team, user: $user, channel: $channel, created_at: datetime(),
                    answered: $answered, confidence: $confidence, leads: $leads})
WITH ans
UNWIND $citations AS cited
MATCH (a:Atom {id: cited.atom_id})
CREATE (ans)-[:CITES {rank: cited.rank}]->(a)
"""

ANSWER = """
MATCH (ans:Answer {id: $id})
OPTIONAL MATCH (ans)-[:CITES]->(a:Atom)
RETURN ans.id AS id, ans.key_id AS key_id, ans.team AS team, ans.user AS user,
       collect(a.id) AS atoms
"""

RECORD_FEEDBACK = """
CREATE (f:Feedback {id: $id, kind: $kind, comment: $comment, deal: $deal, key_id: $key_id,
                    team: $team, user: $user, created_at: datetime()})
WITH f
OPTIONAL MATCH (ans:Answer {id: $answer_id})
FOREACH (_ IN CASE WHEN ans IS NULL THEN [] ELSE [1] END | CREATE (f)-[:ON]->(ans))
WITH DISTINCT f
CALL (f) {
  UNWIND $atom_ids AS atom_id
  MATCH (a:Atom {id: atom_id})
  CREATE (f)-[:ABOUT]->(a)
}
RETURN f.id AS id, toString(f.created_at) AS created_at
"""

# -- knowledge gaps ------------------------------------------------------------------------------
# Questions the knowledge held no reliable answer for (declined, or citing nothing), since
# $since, grouped by the question as asked (trimmed, lower-cased), most asked first.
_GAPS = """
MATCH (q:Answer)
WHERE q.created_at >= $since
  AND (q.answered = false OR NOT (q)-[:CITES]->())
  AND trim(coalesce(q.question, '')) <> ''
WITH toLower(trim(q.question)) AS key, q
WITH key, count(q) AS times, max(q.created_at) AS last, min(q.confidence) AS lowest,
     collect(DISTINCT q.team) AS teams, collect(DISTINCT q.channel) AS channels,
     head(collect(trim(q.question))) AS question
"""
GAPS = (
    _GAPS
    + """RETURN question, times, toString(last) AS last_asked, lowest AS confidence,
       [t IN teams WHERE t IS NOT NULL] AS teams, channels
ORDER BY times DESC, last DESC, question
SKIP $offset LIMIT $limit
"""
)
COUNT_GAPS = _GAPS + "RETURN count(key) AS total"

# -- ingest jobs ----------------------------------------------------------------------------
CREATE_JOB = """
CREATE (j:IngestJob {id: $id, state: 'queued', key_id: $key_id, team: $team,
                     collection: $collection, files: $files, worker: $worker,
                     options: $options, size: $size, created_at: datetime()})
"""

UPDATE_JOB = """
MATCH (j:IngestJob {id: $id})
SET j.state = $state, j.report = $report, j.error = $error,
    j.started_at = CASE WHEN $state = 'running' THEN datetime() ELSE j.started_at END,
    j.finished_at = CASE WHEN $state IN ['succeeded', 'failed'] THEN datetime()
                         ELSE j.finished_at END
"""

_JOB_FIELDS = """
RETURN j.id AS id, j.state AS state, j.key_id AS key_id, j.team AS team,
       j.collection AS collection, j.files AS files, j.report AS report, j.error AS error,
       toString(j.created_at) AS created_at, toString(j.started_at) AS started_at,
       toString(j.finished_at) AS finished_at
"""

JOB = "MATCH (j:IngestJob {id: $id})" + _JOB_FIELDS

LIST_JOBS = (
    "MATCH (j:IngestJob) WHERE $key_id IS NULL OR j.key_id = $key_id"
    + _JOB_FIELDS
    + "ORDER BY created_at DESC SKIP $offset LIMIT $limit"
)

COUNT_JOBS = (
    "MATCH (j:IngestJob) WHERE $key_id IS NULL OR j.key_id = $key_id RETURN count(j) AS total"
)

UNFINISHED_JOBS = """
MATCH (j:IngestJob) WHERE j.state IN ['queued', 'running']
RETURN j.id AS id, j.worker AS worker, j.files AS files, j.options AS options,
       coalesce(j.size, 0) AS size
"""

# A job of a server process that is gone passes to this one, once: the write lock taken by
# the first SET makes a second worker's claim read the new owner (Neo4j's documented pattern).
CLAIM_JOB = """
MATCH (j:IngestJob {id: $id})
SET j._lock = true
WITH j, (j.worker = $previous AND j.state IN ['queued', 'running']) AS mine
SET j.worker = CASE WHEN mine THEN $worker ELSE j.worker END,
    j.state = CASE WHEN mine THEN 'queued' ELSE j.state END,
    j.resumed_at = CASE WHEN mine THEN datetime() ELSE j.resumed_at END
REMOVE j._lock
WITH j, mine WHERE mine
RETURN j.id AS id
"""

# A job whose uploads are gone can never finish: say so, not "running" forever.
ABANDON_JOB = """
MATCH (j:IngestJob {id: $id})
SET j.state = 'failed', j.error = $error, j.finished_at = datetime()
"""

# -- reports ---------------------------------------------------------------------------------
# Whose knowledge is used (kg/contributions.py): per person (owner or contributor, once per
# atom; atoms with neither go to $unattributed), their atoms, the answers citing them and the
# feedback on them since $since (a datetime, or null), among the atoms of $team (or all).
# Answers and feedback events are counted once per person, however many of their atoms each
# touched.
CONTRIBUTIONS = """
MATCH (a:Atom)
WHERE $team IS NULL OR a.team = $team
WITH a, [p IN [a.owner] + coalesce(a.contributors, []) WHERE trim(p) <> '' | trim(p)] AS people
UNWIND CASE WHEN people = [] THEN [$unattributed] ELSE people END AS person
WITH DISTINCT person, a
WITH person, collect(a) AS atoms
CALL (atoms) {
  UNWIND atoms AS a
  MATCH (ans:Answer)-[c:CITES]->(a)
  WHERE $since IS NULL OR ans.created_at >= $since
  RETURN count(c) AS citations, count(DISTINCT ans) AS answers
}
CALL (atoms) {
  UNWIND atoms AS a
  MATCH (f:Feedback)-[:ABOUT]->(a)
  WHERE $since IS NULL OR f.created_at >= $since
  WITH DISTINCT f
  // One voter's repeated clicks on the same answer (or atom) count once.
  WITH DISTINCT f.kind AS kind, coalesce(f.user, f.key_id, f.id) AS voter,
       coalesce(head([(f)-[:ON]->(ans:Answer) | ans.id]),
                head([(f)-[:ABOUT]->(x:Atom) | x.id])) AS target
  RETURN count(CASE kind WHEN 'helpful' THEN 1 END) AS helpful,
         count(CASE kind WHEN 'not_helpful' THEN 1 END) AS not_helpful,
         count(CASE kind WHEN 'used_in_deal' THEN 1 END) AS used_in_deal,
         count(CASE kind WHEN 'deal_won' THEN 1 END) AS deal_won,
         count(CASE kind WHEN 'deal_lost' THEN 1 END) AS deal_lost
}
RETURN person,
       size([a IN atoms WHERE a.status <> 'deprecated']) AS atoms,
       size([a IN atoms WHERE a.status = 'approved']) AS approved,
       citations, answers, helpful, not_helpful, used_in_deal, deal_won, deal_lost
"""

# -- review: atoms a knowledge manager should look at (GET /v1/review, the admin page) -----------
# The same lists as curation/02 and curation/21, paged, as one caller ($team, $user) may see
# them (VISIBLE_ATOM): flagged for review, unverified for $days days, or with missing or
# invalid fields. Every text column is read with toStringOrNull: a hand edit that left a list
# or a number there must not break the page. Each page query has its count (COUNT_REVIEW_*).
_REVIEW_ROW = """
OPTIONAL MATCH (a)-[:FROM]->(d:Document)
RETURN a.id AS id, toStringOrNull(a.type) AS type, toStringOrNull(a.title) AS title,
       toStringOrNull(a.status) AS status, toStringOrNull(a.review) AS review,
       toStringOrNull(a.review_note) AS note, problems, days,
       toStringOrNull(d.title) AS document_title, toStringOrNull(d.path) AS document_path,
       toString(a.updated_at) AS updated_at
"""

_FLAGGED = (
    "MATCH (a:Atom)\nWHERE a.review IS NOT NULL AND a.status <> 'deprecated' AND "
    + VISIBLE_ATOM
    + "\n"
)
REVIEW_FLAGGED = (
    _FLAGGED
    + """WITH a,
     CASE a.review WHEN 'source_changed' THEN 1 WHEN 'disputed' THEN 2 ELSE 3 END AS rank
ORDER BY rank, a.updated_at DESC, a.id
SKIP $offset LIMIT $limit
WITH a, [] AS problems, null AS days"""
    + _REVIEW_ROW
)
COUNT_REVIEW_FLAGGED = _FLAGGED + "RETURN count(a) AS total"

_STALE = (
    """WITH datetime() - duration({days: $days}) AS cutoff
MATCH (a:Atom)
WHERE a.status <> 'deprecated'
  AND (a.verified_at < cutoff OR (a.verified_at IS NULL AND a.created_at < cutoff))
  AND """
    + VISIBLE_ATOM
    + "\n"
)
REVIEW_STALE = (
    _STALE
    + """WITH a, duration.inDays(coalesce(a.verified_at, a.created_at), datetime()).days AS days
ORDER BY days DESC, a.id
SKIP $offset LIMIT $limit
WITH a, [] AS problems, days"""
    + _REVIEW_ROW
)
COUNT_REVIEW_STALE = _STALE + "RETURN count(a) AS total"

# The valid values come from kg.models ($types, $statuses, $visibilities).
_INVALID = (
    "MATCH (a:Atom)\nWHERE "
    + VISIBLE_ATOM
    + """
WITH a, [problem IN [
       CASE WHEN NOT coalesce(a.visibility IN $visibilities, false)
            THEN '可见范围无效 visibility=' + coalesce(toStringOrNull(a.visibility), 'null') END,
       CASE WHEN NOT coalesce(a.status IN $statuses, false)
            THEN '状态无效 status=' + coalesce(toStringOrNull(a.status), 'null') END,
       CASE WHEN NOT coalesce(a.type IN $types, false)
            THEN '类型无效 type=' + coalesce(toStringOrNull(a.type), 'null') END,
       CASE WHEN toStringOrNull(a.title) IS NULL OR toStringOrNull(a.text) IS NULL
            THEN '缺少标题或正文 title/text missing' END,
       CASE WHEN coalesce(a.visibility = 'team', false) AND a.team IS NULL
            THEN '团队可见但没有团队 team missing' END,
       CASE WHEN coalesce(a.visibility = 'private', false) AND a.owner IS NULL
            THEN '个人可见但没有负责人 owner missing' END,
       CASE WHEN NOT EXISTS { (a)-[:FROM]->(:Document) }
            THEN '没有来源文档 no source document' END
     ] WHERE problem IS NOT NULL] AS problems
WHERE size(problems) > 0
"""
)
REVIEW_INVALID = (
    _INVALID
    + """WITH a, problems ORDER BY a.id
SKIP $offset LIMIT $limit
WITH a, problems, null AS days"""
    + _REVIEW_ROW
)
COUNT_REVIEW_INVALID = _INVALID + "RETURN count(a) AS total"

# -- Neo4j Browser captions (curation/style.grass) ------------------------------------------------
# Ingest writes an atom's caption with the atom (atom_caption, above UPSERT_ATOMS); this fills
# it in where it is missing or out of date (atoms from before it existed, a title or type
# changed in Browser). Idempotent and cheap once done: it writes only what differs.
SET_ATOM_CAPTIONS = (
    "MATCH (a:Atom)\nWITH a, "
    + atom_caption("a.type", "a.title")
    + """ AS caption
WHERE coalesce(a.caption <> caption, true)
SET a.caption = caption
RETURN count(a) AS captioned
"""
)

# -- briefs and pushes (issue 17) ---------------------------------------------------------------
# Push rules: the first start writes the defaults, once (`PushRuleSet` remembers it, so rules
# an admin deleted stay deleted); PUT /v1/push-rules replaces the whole set.
SEED_PUSH_RULES = """
MERGE (s:PushRuleSet {id: 'rules'})
ON CREATE SET s.seeded = false
SET s._lock = true
WITH s, s.seeded AS seeded
REMOVE s._lock
SET s.seeded = true
WITH s, seeded WHERE NOT seeded
UNWIND range(0, size($rules) - 1) AS i
WITH s, i, $rules[i] AS rule
MERGE (r:PushRule {id: rule.id})
ON CREATE SET r += rule, r.position = i, r.updated_at = datetime()
RETURN count(r) AS seeded
"""

PUSH_RULES = """
MATCH (r:PushRule)
RETURN r {.id, .name, .kind, .enabled, .events, .phrases, .metric, .direction, .threshold,
          .section} AS rule
ORDER BY r.position, r.id
"""

REPLACE_PUSH_RULES = """
MERGE (s:PushRuleSet {id: 'rules'})
SET s.seeded = true, s.updated_at = datetime(), s.updated_by = $by
WITH s
OPTIONAL MATCH (old:PushRule)
DETACH DELETE old
WITH DISTINCT s
UNWIND range(0, size($rules) - 1) AS i
CREATE (r:PushRule)
SET r += $rules[i], r.position = i, r.updated_at = datetime()
RETURN count(r) AS written
"""

# An opportunity's history as events arrive, keyed by the caller's namespace and the CRM's id
# (two teams' "OPP-1" are two opportunities). The write lock is taken before anything is read,
# so two events for one opportunity see each other's competitors and metrics. A metric without
# its value (a note that names one) records nothing for it: a list property cannot hold null.
RECORD_OPPORTUNITY = """
MERGE (o:Opportunity {key: $key})
ON CREATE SET o.id = $id, o.namespace = $namespace, o.competitors = [], o.metric_names = [],
              o.metric_values = [], o.created_at = datetime()
SET o._lock = true
WITH o, coalesce(o.competitors, []) AS competitors, o.stage AS stage,
     coalesce(o.metric_names, []) AS names, coalesce(o.metric_values, []) AS values
WITH o, competitors, stage, names, values,
     [i IN range(0, size(names) - 1) WHERE names[i] = $metric | values[i]][0] AS previous
SET o.customer = $customer, o.stage = coalesce($stage, stage), o.updated_at = datetime(),
    o.competitors = competitors + [c IN $competitors WHERE NOT c IN competitors],
    o.metric_names = CASE WHEN $metric IS NULL OR $value IS NULL OR $metric IN names THEN names
                          ELSE names + $metric END,
    o.metric_values = CASE WHEN $metric IS NULL OR $value IS NULL THEN values
                           WHEN $metric IN names
                             THEN [i IN range(0, size(names) - 1) |
                                   CASE WHEN names[i] = $metric THEN $value ELSE values[i] END]
                           ELSE values + $value END
REMOVE o._lock
RETURN competitors, stage, previous
"""

PUSH_BY_DEDUP_KEY = "MATCH (p:Push {dedup_key: $dedup_key}) RETURN p.id AS id"

# Pushes a rep received in the last $seconds (their rate limit).
RECENT_PUSHES = """
MATCH (p:Push {namespace: $namespace, rep: $rep})
WHERE p.created_at > datetime() - duration({seconds: $seconds})
RETURN count(p) AS n
"""

CREATE_PUSH = """
CREATE (p:Push {id: $id, dedup_key: $dedup_key, namespace: $namespace, key_id: $key_id,
                opportunity_id: $opportunity_id, customer: $customer, rep: $rep,
                rule_id: $rule_id, rule_name: $rule_name, reason: $reason,
                reason_generic: $reason_generic, reason_entities: $reason_entities,
                customer_entities: $customer_entities, section: $section,
                atom_ids: $atom_ids, payload: $payload,
                state: 'pending', attempts: 0, next_attempt_at: datetime(),
                created_at: datetime()})
"""

# The worker takes due pushes (pending, or sending under a lease that ran out: its worker
# died mid-delivery) under a lease of its own; the lock taken before the state is read again
# makes a second worker's claim see the first's (the CLAIM_JOB pattern).
CLAIM_PUSHES = """
MATCH (p:Push)
WHERE p.state IN ['pending', 'sending'] AND p.next_attempt_at <= datetime()
  AND (p.lease_until IS NULL OR p.lease_until < datetime())
WITH p ORDER BY p.next_attempt_at LIMIT $limit
SET p._lock = true
WITH p WHERE p.state IN ['pending', 'sending']
  AND (p.lease_until IS NULL OR p.lease_until < datetime())
SET p.state = 'sending', p.worker = $worker, p.attempts = coalesce(p.attempts, 0) + 1,
    p.lease_until = datetime() + duration({milliseconds: toInteger($lease_ms)})
REMOVE p._lock
RETURN p.id AS id, p.payload AS payload, p.attempts AS attempts
"""

# Only the worker holding the lease records the outcome.
FINISH_PUSH = """
MATCH (p:Push {id: $id, worker: $worker, state: 'sending'})
SET p.state = $state, p.last_status = $status, p.last_error = $error, p.lease_until = null,
    p.next_attempt_at = CASE WHEN $retry_ms IS NULL THEN p.next_attempt_at
                        ELSE datetime() + duration({milliseconds: toInteger($retry_ms)}) END,
    p.delivered_at = CASE WHEN $state = 'delivered' THEN datetime() ELSE p.delivered_at END
RETURN p.id AS id
"""

_LISTED_PUSHES = """
MATCH (p:Push)
WHERE ($namespace IS NULL OR p.namespace = $namespace)
  AND ($opportunity_id IS NULL OR p.opportunity_id = $opportunity_id)
  AND ($state IS NULL OR p.state = $state)
"""

LIST_PUSHES = (
    _LISTED_PUSHES
    + """
RETURN p {.id, .opportunity_id, .customer, .rep, .rule_id, .rule_name, .reason,
          .reason_generic, .reason_entities, .customer_entities, .section, .atom_ids,
          .payload, .state, .attempts, .last_status, .last_error,
          created_at: toString(p.created_at), delivered_at: toString(p.delivered_at)} AS push
ORDER BY p.created_at DESC, p.id SKIP $offset LIMIT $limit
"""
)

COUNT_PUSHES = _LISTED_PUSHES + "RETURN count(p) AS total"

# -- conversations (issue 16: follow-up questions) ------------------------------------------
# A conversation belongs to the API key that started it ($key_id): every read and write
# matches on it, so another key's conversation is as absent as a missing one. Turns are
# numbered in the conversation; the counter on the conversation serialises concurrent turns.
CONVERSATION_LAST_TURN = """
MATCH (c:Conversation {id: $id, key_id: $key_id})
OPTIONAL MATCH (c)-[:HAS_TURN]->(t:Turn)
WITH c, t ORDER BY t.n DESC LIMIT 1
RETURN c.id AS id, t.n AS n, t.question AS question, t.resolved AS resolved,
       t.subject AS subject
"""

# A turn's properties (``n`` given by the statement).
_TURN = """(t:Turn {n: %s, question: $question, resolved: $resolved, subject: $subject,
                 followup: $followup, intent: $intent, answer_id: $answer_id,
                 answered: $answered, channel: $channel, created_at: datetime()})"""

# A new conversation and its first turn in one statement (one round trip per question).
START_CONVERSATION = f"""
CREATE (c:Conversation {{id: $id, key_id: $key_id, team: $team, user: $user,
                        created_at: datetime(), updated_at: datetime(), turns: 1}})
CREATE (c)-[:HAS_TURN]->{_TURN % "1"}
RETURN t.n AS n
"""

ADD_TURN = f"""
MATCH (c:Conversation {{id: $id, key_id: $key_id}})
SET c.turns = coalesce(c.turns, 0) + 1, c.updated_at = datetime()
CREATE (c)-[:HAS_TURN]->{_TURN % "c.turns"}
RETURN t.n AS n
"""

CONVERSATION_TURNS = """
MATCH (c:Conversation {id: $id, key_id: $key_id})
OPTIONAL MATCH (c)-[:HAS_TURN]->(t:Turn)
WITH c, t ORDER BY t.n
WITH c, collect(t)[..$limit] AS turns
RETURN c.id AS id, toString(c.created_at) AS created_at, toString(c.updated_at) AS updated_at,
       [t IN turns | t {.n, .question, .resolved, .followup, .intent, .answer_id, .answered,
                        .channel, created_at: toString(t.created_at)}] AS turns
"""

# Conversations untouched for $days days go, with their turns, a bounded batch at a time.
DELETE_OLD_CONVERSATIONS = """
MATCH (c:Conversation) WHERE c.updated_at < datetime() - duration({days: $days})
WITH c LIMIT $limit
CALL (c) {
  OPTIONAL MATCH (c)-[:HAS_TURN]->(t:Turn)
  DETACH DELETE t
}
DETACH DELETE c
RETURN count(c) AS deleted
"""
