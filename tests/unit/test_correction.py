import pytest

from speech.correction import PinyinCorrector, similarity

pytestmark = pytest.mark.unit

VOCABULARY = ["宁德时代", "热失控", "光伏逆变器", "焊装线", "热蔓延", "节拍", "宁德", "合规"]


@pytest.fixture
def corrector():
    common = {"今天", "公司", "时代", "问题", "方案", "客户"}
    return PinyinCorrector(VOCABULARY, is_common_word=common.__contains__)


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("如何向您得时代解释热室控防护方案", "如何向宁德时代解释热失控防护方案"),
        ("光浮腻变起海外项目", "光伏逆变器海外项目"),
        ("汽车汉装线客户", "汽车焊装线客户"),
    ],
)
def test_sound_alikes_become_terms(corrector, heard, expected):
    result = corrector.correct(heard)
    assert result.text == expected
    assert all(c.heard != c.term for c in result.changes)


def test_changes_say_what_was_heard(corrector):
    result = corrector.correct("您得时代的热室控")
    assert [(c.heard, c.term, c.start) for c in result.changes] == [
        ("您得时代", "宁德时代", 0),
        ("热室控", "热失控", 5),
    ]


def test_ordinary_speech_is_left_alone(corrector):
    for text in (
        "今天公司开会讨论客户的问题",
        "甚至出现交易几乎停滞的情况",
        "一二线城市虽然也处于调整中",
    ):
        assert corrector.correct(text).text == text


def test_two_character_terms_need_an_exact_sound(corrector):
    assert corrector.correct("节拍").text == "节拍"
    assert corrector.correct("结拍").text == "节拍"  # jie pai = jie pai
    assert corrector.correct("借钱").text == "借钱"  # jie qian: another word


def test_similarity_allows_known_confusions_only():
    assert similarity("您得", "宁德") == pytest.approx((0.75 + 1.0) / 2)  # nin/ning
    assert similarity("热室控", "热失控") == 1.0
    assert similarity("大海", "宁德") == 0.0
