"""Entity links of atoms that people changed: the links that come from the text follow it.

Ingest links the atoms it writes (the document's declared entities plus every name the text
contains) and relinks them when the vocabulary changes. It never writes an atom a curator
edited, so those atoms are relinked here, at each index sync:

- an entity the current title or text names (by name or alias) is linked;
- an automatic link to an entity the earlier text named and the new one no longer does is
  dropped, unless the atom's document is about that entity;
- links a curator made by hand (``MENTIONS.by``) are never touched.

Each atom remembers what it was last linked against (``link_hash``: the vocabulary and the
text), so an unchanged atom costs nothing and a link a curator removed by hand stays removed
until the text or the vocabulary changes again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from kg.dictionary import EntityDictionary
from kg.models import AtomLinks, Relink


def link_hash(dictionary: EntityDictionary, title: str, text: str) -> str:
    key = f"{dictionary.fingerprint}\x1f{title}\x1f{text}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def plan_relinks(
    atoms: Iterable[AtomLinks],
    dictionary: EntityDictionary,
    earlier_texts: Mapping[str, Sequence[str]],
) -> list[Relink]:
    """What to change for atoms whose text or vocabulary moved since they were last linked.

    ``earlier_texts`` holds each atom's (title, text) as the index last saw it; without it
    (a first sync) links are only added.
    """
    plans = []
    for atom in atoms:
        current = link_hash(dictionary, atom.title, atom.text)
        if atom.link_hash == current:
            continue
        named = set(dictionary.entity_ids(f"{atom.title}\n{atom.text}"))
        earlier = earlier_texts.get(atom.id)
        named_before = (
            set(dictionary.entity_ids(f"{earlier[0]}\n{earlier[1]}"))
            if earlier and list(earlier) != [atom.title, atom.text]
            else set()
        )
        add = sorted(named - atom.linked)
        remove = sorted((named_before - named - atom.declared) & atom.automatic)
        plans.append(Relink(atom.id, add, remove, current))
    return plans
