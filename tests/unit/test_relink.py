"""Links of atoms people changed follow their text (kg.relink), on made-up entities."""

import pytest

from kg.dictionary import EntityDictionary
from kg.models import AtomLinks, DictionaryEntry
from kg.relink import link_hash, plan_relinks

pytestmark = pytest.mark.unit

ENTRIES = [
    DictionaryEntry("customer:比亚迪", "比亚迪", ["BYD"], "Customer"),
    DictionaryEntry("customer:宁德时代", "宁德时代", ["CATL"], "Customer"),
    DictionaryEntry("term:热失控", "热失控", [], "Term"),
    DictionaryEntry("term:气凝胶", "气凝胶", [], "Term"),
]
TITLE = "案例 · 方案"
BEFORE = "比亚迪的热失控防护方案。"


def atom(text, *, automatic=(), by_hand=(), declared=(), hash_=None):
    return AtomLinks(
        id="atom-1",
        title=TITLE,
        text=text,
        link_hash=hash_,
        automatic=frozenset(automatic),
        linked=frozenset(automatic) | frozenset(by_hand),
        declared=frozenset(declared),
    )


def test_an_edit_links_the_names_it_adds_and_unlinks_the_names_it_removed():
    edited = atom(
        "宁德时代用气凝胶隔热。", automatic={"customer:比亚迪", "term:热失控"}, hash_="old"
    )
    [plan] = plan_relinks([edited], EntityDictionary(ENTRIES), {"atom-1": [TITLE, BEFORE]})
    assert plan.add == ["customer:宁德时代", "term:气凝胶"]
    assert plan.remove == ["customer:比亚迪", "term:热失控"]


def test_declared_entities_and_links_made_by_hand_stay():
    edited = atom(
        "宁德时代的方案。",
        automatic={"customer:比亚迪", "term:热失控"},
        by_hand={"term:气凝胶"},
        declared={"customer:比亚迪"},
    )
    [plan] = plan_relinks([edited], EntityDictionary(ENTRIES), {"atom-1": [TITLE, BEFORE]})
    assert plan.add == ["customer:宁德时代"]
    assert plan.remove == ["term:热失控"], "the document is about 比亚迪; 气凝胶 was linked by hand"


def test_an_entity_named_in_another_way_is_not_unlinked():
    edited = atom("BYD 的热失控防护方案。", automatic={"customer:比亚迪", "term:热失控"})
    [plan] = plan_relinks([edited], EntityDictionary(ENTRIES), {"atom-1": [TITLE, BEFORE]})
    assert plan.add == [] and plan.remove == []


def test_without_the_earlier_text_links_are_only_added():
    edited = atom("宁德时代的方案。", automatic={"customer:比亚迪"})
    [plan] = plan_relinks([edited], EntityDictionary(ENTRIES), {})
    assert plan.add == ["customer:宁德时代"] and plan.remove == []


def test_a_new_alias_links_an_unchanged_atom_once():
    text = "紫金盾方案已在两家客户落地。"
    entries = [*ENTRIES[:3], DictionaryEntry("term:气凝胶", "气凝胶", ["紫金盾"], "Term")]
    before = EntityDictionary(ENTRIES)
    linked = atom(text, hash_=link_hash(before, TITLE, text))
    assert plan_relinks([linked], before, {"atom-1": [TITLE, text]}) == []

    after = EntityDictionary(entries)
    [plan] = plan_relinks([linked], after, {"atom-1": [TITLE, text]})
    assert plan.add == ["term:气凝胶"] and plan.remove == []
    relinked = atom(text, automatic={"term:气凝胶"}, hash_=plan.link_hash)
    assert plan_relinks([relinked], after, {"atom-1": [TITLE, text]}) == []


def test_a_link_removed_by_hand_stays_removed_while_text_and_vocabulary_stand():
    text = "宁德时代的方案。"
    dictionary = EntityDictionary(ENTRIES)
    unlinked = atom(text, hash_=link_hash(dictionary, TITLE, text))  # the curator deleted it
    assert plan_relinks([unlinked], dictionary, {"atom-1": [TITLE, text]}) == []
