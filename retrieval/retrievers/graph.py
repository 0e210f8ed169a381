"""Graph retrieval: atoms reached from the entities a question names, with the path that got there.

A snapshot of the graph's entity layer (names, relations, which atoms mention what) is taken at
index sync and kept in memory, so a search costs no round trip to Neo4j. From each recognised
entity: atoms that mention it (hop 0), atoms that mention a related entity such as the
customer's industry or a term's related term (hop 1), and, through an industry, cases of similar
customers (hop 2).
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.dictionary import EntityDictionary, normalize
from kg.errors import IndexNotReadyError
from kg.models import DictionaryEntry
from retrieval.query import Query
from retrieval.retrievers.base import Hit

if TYPE_CHECKING:
    from retrieval.visibility import EntityScope

HOP_WEIGHT = (1.0, 0.5, 0.25)
MAX_NEIGHBOURS = 25
MAX_ATOMS_PER_ENTITY = 300
SNAPSHOT_FILE = "graph.json"
# An atom's metadata in a snapshot: what filters and access rules read of it.
META_FIELDS = ("type", "status", "visibility", "team", "owner")
META_KEYS = frozenset(META_FIELDS)


@dataclass
class GraphSnapshot:
    """Entities, their relations and mentions; enough to walk from a question to atoms."""

    names: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    neighbours: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    mentions: dict[str, list[str]] = field(default_factory=dict)
    atoms: dict[str, dict[str, str]] = field(default_factory=dict)
    priors: dict[str, float] = field(default_factory=dict)  # feedback (retrieval/feedback.py)
    # Provenance, for who may see which name (retrieval/visibility.py): each atom's document;
    # the documents about or declaring each entity, with the aliases they give it; the
    # documents stating each relation ("source\x1fname\x1ftarget").
    documents: dict[str, str] = field(default_factory=dict)
    backing: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    relation_sources: dict[str, list[str]] = field(default_factory=dict)
    _document_atoms: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)
    _surfaces: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)
    _by_atom: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)
    _dictionary: tuple[dict[str, str], EntityDictionary] | None = field(
        default=None, repr=False, compare=False
    )

    def atom_entities(self) -> dict[str, list[str]]:
        """The entities each atom mentions (the inverse of ``mentions``, built once and kept
        up to date by ``with_atoms``)."""
        if self._by_atom is None:
            by_atom: dict[str, list[str]] = defaultdict(list)
            for entity_id, atom_ids in self.mentions.items():
                for atom_id in atom_ids:
                    by_atom[atom_id].append(entity_id)
            self._by_atom = dict(by_atom)
        return self._by_atom

    def named(self, surface: str) -> list[str]:
        """The entities a name or alias (any case or width) stands for (an index built once)."""
        if self._surfaces is None:
            by_surface: dict[str, list[str]] = defaultdict(list)
            for entity_id, name in self.names.items():
                for form in {
                    normalize(name),
                    *(normalize(a) for a in self.aliases.get(entity_id, [])),
                }:
                    by_surface[form].append(entity_id)
            self._surfaces = dict(by_surface)
        return self._surfaces.get(normalize(surface), [])

    def document_atoms(self, document_id: str) -> list[str]:
        """The atoms of a document (the inverse of ``documents``, built once)."""
        if self._document_atoms is None:
            by_document: dict[str, list[str]] = defaultdict(list)
            for atom_id, doc in self.documents.items():
                by_document[doc].append(atom_id)
            self._document_atoms = dict(by_document)
        return self._document_atoms.get(document_id, [])

    @classmethod
    def build(
        cls,
        entities: Iterable[DictionaryEntry],
        relations: Iterable[tuple[str, str, str]],
        mentions: Iterable[tuple[str, str]],
        atoms: dict[str, dict[str, str]],
        *,
        documents: dict[str, str] | None = None,
        backing: Iterable[tuple[str, str, list[str]]] = (),
        relation_sources: dict[tuple[str, str, str], list[str]] | None = None,
    ) -> GraphSnapshot:
        """From entities, (source, name, target) and (atom id, entity id) rows, and each atom's
        ``type``, ``status``, ``visibility``, ``team`` and ``owner`` (for filters); with
        provenance: each atom's document, (entity, document, aliases it gives) rows and the
        documents stating each relation."""
        snapshot = cls(atoms=dict(atoms), documents=dict(documents or {}))
        for entity_id, document_id, aliases in backing:
            snapshot.backing.setdefault(entity_id, {})[document_id] = list(aliases)
        snapshot.relation_sources = {
            relation_key(*key): list(docs) for key, docs in (relation_sources or {}).items() if docs
        }
        for entity in entities:
            snapshot.names[entity.id] = entity.name
            snapshot.kinds[entity.id] = entity.kind
            if entity.aliases:
                snapshot.aliases[entity.id] = list(entity.aliases)
        adjacency: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for source, name, target in relations:
            adjacency[source].append((target, name))
            adjacency[target].append((source, name))
        snapshot.neighbours = dict(adjacency)
        by_entity: dict[str, list[str]] = defaultdict(list)
        for atom_id, entity_id in mentions:
            by_entity[entity_id].append(atom_id)
        # In id order, so that a snapshot maintained by deltas walks as a rebuilt one does
        # (a walk takes the first MAX_ATOMS_PER_ENTITY atoms of an entity).
        snapshot.mentions = {e: sorted(set(atoms)) for e, atoms in by_entity.items()}
        return snapshot

    def with_atoms(
        self,
        atoms: dict[str, dict[str, str] | None],
        mentions: dict[str, list[str]],
        documents: dict[str, str],
        priors: dict[str, float],
    ) -> GraphSnapshot:
        """A new snapshot with these atoms' metadata (None: the atom left the index), their
        mentions (entity ids), documents and feedback priors replaced; the entity layer is
        shared with this one, which is left as it is."""
        changed = set(atoms)
        new = GraphSnapshot(
            names=self.names,
            kinds=self.kinds,
            aliases=self.aliases,
            neighbours=self.neighbours,
            mentions=dict(self.mentions),
            atoms=dict(self.atoms),
            priors={a: p for a, p in self.priors.items() if a not in changed},
            documents=dict(self.documents),
            backing=self.backing,
            relation_sources=self.relation_sources,
        )
        new._surfaces = self._surfaces
        new._dictionary = self._dictionary
        by_atom = dict(self.atom_entities())
        touched: set[str] = set()
        for atom_id, meta in atoms.items():
            touched.update(by_atom.pop(atom_id, []))
            if meta is None:
                new.atoms.pop(atom_id, None)
                new.documents.pop(atom_id, None)
                continue
            new.atoms[atom_id] = meta
            new.documents[atom_id] = documents.get(atom_id, "")
            if mentions.get(atom_id):
                by_atom[atom_id] = list(mentions[atom_id])
                touched.update(mentions[atom_id])
        new._by_atom = by_atom
        for atom_id, prior in priors.items():
            if atom_id in new.atoms:
                new.priors[atom_id] = prior
        for entity_id in touched:
            kept = [a for a in self.mentions.get(entity_id, []) if a not in changed]
            added = [
                a for a in changed if atoms[a] is not None and entity_id in mentions.get(a, [])
            ]
            merged = sorted(set(kept + added))
            if merged:
                new.mentions[entity_id] = merged
            else:
                new.mentions.pop(entity_id, None)
        return new

    def with_entity_layer(self, layer: GraphSnapshot) -> GraphSnapshot:
        """A new snapshot with ``layer``'s entities, relations and provenance and this one's
        atoms."""
        new = GraphSnapshot(
            names=layer.names,
            kinds=layer.kinds,
            aliases=layer.aliases,
            neighbours=layer.neighbours,
            mentions=self.mentions,
            atoms=self.atoms,
            priors=self.priors,
            documents=self.documents,
            backing=layer.backing,
            relation_sources=layer.relation_sources,
        )
        new._by_atom = self._by_atom
        return new

    def dictionary(self) -> EntityDictionary:
        """The entity vocabulary, for recognising entities in questions (built once; shared by
        the generations that share this entity layer)."""
        if self._dictionary is None or self._dictionary[0] is not self.names:
            built = EntityDictionary(
                DictionaryEntry(i, name, self.aliases.get(i, []), self.kinds.get(i, ""))
                for i, name in self.names.items()
            )
            self._dictionary = (self.names, built)
        return self._dictionary[1]

    def save(self, directory: Path) -> None:
        data = {
            "names": self.names,
            "kinds": self.kinds,
            "aliases": self.aliases,
            "neighbours": self.neighbours,
            "mentions": self.mentions,
            "atoms": self.atoms,
            "priors": self.priors,
            "documents": self.documents,
            "backing": self.backing,
            "relation_sources": self.relation_sources,
        }
        (directory / SNAPSHOT_FILE).write_text(json.dumps(data, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> GraphSnapshot:
        # Atoms share one dict per distinct metadata, made while parsing, and one string per
        # document: a million atoms' own copies took 0.4 GB.
        metas: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}

        def shared(obj: dict[str, Any]) -> dict[str, Any]:
            return metas.setdefault(tuple(obj.items()), obj) if obj.keys() == META_KEYS else obj

        try:
            data = json.loads((directory / SNAPSHOT_FILE).read_text(), object_hook=shared)
        except (FileNotFoundError, json.JSONDecodeError) as exc:
            raise IndexNotReadyError(
                f"No graph snapshot in {directory} ({exc}). Run `skg index sync`."
            ) from exc
        data["neighbours"] = {k: [tuple(p) for p in v] for k, v in data["neighbours"].items()}
        documents: dict[str, str] = {}
        data["documents"] = {a: documents.setdefault(d, d) for a, d in data["documents"].items()}
        return cls(**data)


def relation_key(source: str, name: str, target: str) -> str:
    return f"{source}\x1f{name}\x1f{target}"


class GraphRetriever:
    name = "graph"

    def __init__(self, snapshot: GraphSnapshot) -> None:
        self._g = snapshot
        self._by_atom = snapshot.atom_entities()  # an atom's degree: how many it mentions

    def walk(
        self, entity_ids: list[str], scope: EntityScope | None = None
    ) -> dict[str, tuple[float, list[str]]]:
        """Every reachable atom's score and best-scoring path; an atom reached from several
        recognised entities adds up their scores (it is about more of the question). With a
        ``scope``, walks only through entities and relations that caller may see. (Tuples, not
        objects: a walk reaches thousands of atoms on a large graph.)"""
        best: dict[str, tuple[float, list[str]]] = {}
        total: dict[str, float] = defaultdict(float)
        atoms = self._g.atoms
        for entity_id in entity_ids:
            reached: dict[str, tuple[float, list[str]]] = {}
            for hop, node, path in self._expand(entity_id, scope):
                score = HOP_WEIGHT[hop]
                for atom_id in self._g.mentions.get(node, [])[:MAX_ATOMS_PER_ENTITY]:
                    if hop == 2 and atoms.get(atom_id, {}).get("type") != "case":
                        continue
                    got = reached.get(atom_id)
                    if got is None or got[0] < score:
                        reached[atom_id] = (score, path)
            for atom_id, hit in reached.items():
                total[atom_id] += hit[0]
                got = best.get(atom_id)
                if got is None or got[0] < hit[0]:
                    best[atom_id] = hit
        return {a: (total[a], hit[1]) for a, hit in best.items()}

    def _expand(
        self, entity_id: str, scope: EntityScope | None
    ) -> Iterable[tuple[int, str, list[str]]]:
        name = self._g.names.get(entity_id, entity_id)
        yield 0, entity_id, [name]
        for neighbour, _ in self._neighbours(entity_id, scope):
            neighbour_name = self._g.names.get(neighbour, neighbour)
            yield 1, neighbour, [name, neighbour_name]
            if self._g.kinds.get(neighbour) == "Industry":
                for peer, _ in self._neighbours(neighbour, scope):
                    if peer != entity_id and self._g.kinds.get(peer) == "Customer":
                        yield 2, peer, [name, neighbour_name, self._g.names.get(peer, peer)]

    def _neighbours(self, entity_id: str, scope: EntityScope | None) -> list[tuple[str, str]]:
        neighbours = self._g.neighbours.get(entity_id, [])
        if scope is not None:
            neighbours = [(n, r) for n, r in neighbours if scope.relation(entity_id, r, n)]
        return neighbours[:MAX_NEIGHBOURS]

    def search(self, query: Query, top_k: int) -> list[Hit]:
        walked = self.walk([e.id for e in query.entities], query.scope)
        # Among equal scores, an atom about fewer things is more specifically about these.
        degree = self._by_atom
        ranked = heapq.nsmallest(
            top_k,
            walked.items(),
            key=lambda h: (-h[1][0], len(degree.get(h[0], ())), h[0]),
        )
        return [Hit(atom_id, score, self.name, tuple(path)) for atom_id, (score, path) in ranked]
