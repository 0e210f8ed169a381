import pytest

from ingest.dedup import near_duplicates
from kg.dictionary import EntityDictionary, unknown_candidates
from kg.models import DictionaryEntry

pytestmark = pytest.mark.unit


@pytest.fixture
def dictionary():
    return EntityDictionary(
        [
            DictionaryEntry("customer:宁德时代", "宁德时代", ["CATL", "宁德"], "Customer"),
            DictionaryEntry("term:热失控", "热失控", ["Thermal Runaway", "TR"], "Term"),
            DictionaryEntry("term:BMS", "BMS", ["电池管理系统"], "Term"),
            DictionaryEntry("industry:动力电池", "动力电池", [], "Industry"),
        ]
    )


def test_names_and_aliases_link_to_the_same_entity(dictionary):
    for text in ("宁德时代问热失控", "CATL那边问热失控", "宁德的电池安全负责人", "ｃａｔｌ 的需求"):
        assert "customer:宁德时代" in dictionary.entity_ids(text), text


def test_longest_match_wins_and_each_entity_is_listed_once(dictionary):
    found = dictionary.find("宁德时代的热失控和宁德时代的BMS")
    assert [surface for _, _, surface, _ in found] == ["宁德时代", "热失控", "宁德时代", "bms"]
    assert dictionary.entity_ids("宁德时代的热失控和宁德时代的BMS") == [
        "customer:宁德时代",
        "term:热失控",
        "term:BMS",
    ]


def test_ascii_aliases_must_stand_alone(dictionary):
    assert dictionary.entity_ids("CTRL键和STRONG信号") == []
    assert dictionary.entity_ids("TR风险") == ["term:热失控"]


def test_fingerprint_changes_with_an_alias():
    base = [DictionaryEntry("customer:宁德时代", "宁德时代", ["CATL"], "Customer")]
    more = [DictionaryEntry("customer:宁德时代", "宁德时代", ["CATL", "宁德"], "Customer")]
    assert EntityDictionary(base).fingerprint == EntityDictionary(base).fingerprint
    assert EntityDictionary(base).fingerprint != EntityDictionary(more).fingerprint


def test_unknown_candidates_are_frequent_name_like_words(dictionary):
    texts = [f"第{i}次拜访，客户提到麒麟电池和CTP技术，也问了宁德时代的BMS。" for i in range(4)] + [
        "只出现一次的LFP"
    ]
    candidates = {word: count for word, count, _ in unknown_candidates(texts, dictionary)}
    assert candidates.get("CTP") == 4
    assert "BMS" not in candidates and "宁德时代" not in candidates
    assert "LFP" not in candidates


def test_near_duplicates_across_documents_only():
    text = "【A】宁德时代项目中1.2mm气凝胶隔热垫成组效率损失仅0.6%，可复用CTP结构的侧板间隙。"
    copy = "【B】宁德时代项目中，1.2mm气凝胶隔热垫成组效率损失仅0.6%，可复用CTP结构侧板间隙。"
    other = "【C】医院影像科机房湿度超过70%时，CT球管故障率明显上升。"
    everything = [("a1", "d1", text), ("a2", "d2", copy), ("a3", "d3", other), ("a4", "d1", copy)]
    pairs = near_duplicates([("a2", "d2", copy)], everything)
    assert [(d, o) for d, o, _ in pairs] == [("a2", "a1"), ("a4", "a2")]
    assert all(s >= 0.8 for _, _, s in pairs)


def test_the_fingerprint_covers_the_matching_rules(monkeypatch):
    entries = [DictionaryEntry("customer:宁德时代", "宁德时代", ["CATL"], "Customer")]
    before = EntityDictionary(entries).fingerprint
    assert EntityDictionary(entries).fingerprint == before
    monkeypatch.setattr("kg.dictionary.LINK_RULES", "another")
    assert EntityDictionary(entries).fingerprint != before  # documents are linked again
