"""What of the graph's entity layer a caller may see: names, aliases and relations.

An entity is shown to a caller only when something the caller may see backs it: an atom that
mentions it, or an atom of a document about it or declaring it. An alias counts only when a
document the caller may see gives it (aliases no document gives, a curator's, follow their
entity); a relation only when both its ends are shown and, when documents state it, one of
them is visible. So a team's customer, its nicknames and its relations never reach another
team's keys: not as a recognised entity, not on a graph path, not in a transcript. The same
rule in Cypher serves the entity endpoints (``kg.queries``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kg.dictionary import normalize
from retrieval.retrievers.graph import GraphSnapshot, relation_key

Allow = Callable[[Mapping[str, str]], bool]


class EntityScope:
    """One caller's view of a snapshot's entities; answers are memoised for one request."""

    def __init__(self, snapshot: GraphSnapshot, allow: Allow) -> None:
        self._g = snapshot
        self._allow = allow
        self._entities: dict[str, bool] = {}
        self._documents: dict[str, bool] = {}

    def entity(self, entity_id: str) -> bool:
        if entity_id not in self._entities:
            atoms = self._g.atoms
            self._entities[entity_id] = any(
                a in atoms and self._allow(atoms[a]) for a in self._g.mentions.get(entity_id, [])
            ) or any(self.document(d) for d in self._g.backing.get(entity_id, {}))
        return self._entities[entity_id]

    def alias(self, entity_id: str, surface: str) -> bool:
        """Whether ``surface`` (a name or alias, in any case or width) may name the entity."""
        if not self.entity(entity_id):
            return False
        key = normalize(surface)
        if key == normalize(self._g.names.get(entity_id, "")):
            return True
        stating = [
            d
            for d, aliases in self._g.backing.get(entity_id, {}).items()
            if any(normalize(a) == key for a in aliases)
        ]
        return not stating or any(self.document(d) for d in stating)

    def surface(self, text: str) -> bool:
        """Whether a word may be shown: it names no entity, or names one the caller may see by
        that name or alias (a corrected transcript must not bring in a hidden name)."""
        named = self._g.named(text)
        return not named or any(self.alias(entity_id, text) for entity_id in named)

    def relation(self, source: str, name: str, target: str) -> bool:
        if not (self.entity(source) and self.entity(target)):
            return False
        sources = self._g.relation_sources.get(
            relation_key(source, name, target)
        ) or self._g.relation_sources.get(relation_key(target, name, source))
        return not sources or any(self.document(d) for d in sources)

    def document(self, document_id: str) -> bool:
        if document_id not in self._documents:
            atoms = self._g.atoms
            self._documents[document_id] = any(
                self._allow(atoms[a]) for a in self._g.document_atoms(document_id) if a in atoms
            )
        return self._documents[document_id]
