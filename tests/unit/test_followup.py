"""Follow-up questions read against the previous turn (retrieval/answers/followup.py), with a small
dictionary standing in for the graph's; how an answer shows the reading; and how a streamed
answer ends when something fails after the stream started (api/streaming.py)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from api.errors import SERVER_SIDE_DETAIL
from api.streaming import pieces, sse
from kg.errors import BadQueryError, GraphUnavailableError
from retrieval.answers.answer import Answer, AnswerPoint, AnswerSection, Citation
from retrieval.answers.followup import FollowUpReader, Mention, Reading, subject_of

pytestmark = pytest.mark.unit

NAMES = {
    "宁德时代": [("customer:宁德时代", "Customer")],
    "CATL": [("customer:宁德时代", "Customer")],
    "比亚迪": [("customer:比亚迪", "Customer")],
    "吉利": [("customer:吉利汽车", "Customer")],
    "天衡": [("customer:天衡储能科技", "Customer")],
    "粤能新能源": [("customer:粤能新能源", "Customer")],
    "储能": [("industry:储能", "Industry")],
    "动力电池": [("industry:动力电池", "Industry")],
    "工程机械": [("industry:工程机械", "Industry")],
    "焊装线": [("industry:焊装线", "Industry"), ("term:焊装线", "Term")],
    "热失控": [("term:热失控", "Term")],
    "热扩散试验": [("term:热扩散试验", "Term")],
    "BMS": [("term:BMS", "Term")],
    "锐驰科技": [("competitor:锐驰科技", "Competitor")],
}
INDUSTRIES = {"customer:宁德时代": "动力电池", "customer:比亚迪": "新能源汽车"}


def mentions(text: str) -> list[Mention]:
    """Longest names first, never overlapping, in order of appearance."""
    found: list[tuple[int, Mention]] = []
    taken: set[int] = set()
    for surface in sorted(NAMES, key=len, reverse=True):
        start = text.find(surface)
        while start >= 0:
            span = set(range(start, start + len(surface)))
            if not span & taken:
                taken |= span
                found += [(start, Mention(i, kind, surface)) for i, kind in NAMES[surface]]
            start = text.find(surface, start + 1)
    return [m for _, m in sorted(found, key=lambda f: f[0])]


@pytest.fixture
def reader() -> FollowUpReader:
    return FollowUpReader(mentions, INDUSTRIES.get)


def chain(reader: FollowUpReader, *questions: str) -> list[str]:
    return [r.text for r in reader.thread(questions)]


def test_a_first_question_is_read_as_asked(reader):
    reading = reader.read("宁德时代的热失控方案怎么讲？", None)
    assert reading == Reading(
        "宁德时代的热失控方案怎么讲？", "宁德时代的热失控方案怎么讲？", "宁德时代的热失控方案"
    )


def test_a_new_customer_alone_asks_the_previous_question_about_it(reader):
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "那比亚迪呢？")
    assert texts[1] == "比亚迪的热失控方案怎么讲？"
    # Without the cue words, a bare name still swaps; an alias swaps like the name.
    assert chain(reader, "比亚迪的热失控方案怎么讲？", "CATL怎么说")[1] == (
        "宁德时代的热失控方案怎么讲？".replace("宁德时代", "CATL")
    )


def test_a_pronoun_keeps_customer_and_topic_and_asks_as_before(reader):
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "它的成本呢？")
    assert texts[1] == "宁德时代的热失控方案的成本怎么讲？"


def test_an_industry_takes_the_customers_place(reader):
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "换成储能行业怎么说")
    assert texts[1] == "储能行业的热失控方案怎么讲？"
    # and back: a customer takes the industry's place, 行业 included
    texts = chain(reader, "储能行业的热失控方案怎么讲？", "那比亚迪呢？")
    assert texts[1] == "比亚迪的热失控方案怎么讲？"


def test_three_turns_chain_without_piling_up_aspects(reader):
    texts = chain(
        reader, "宁德时代的热失控方案怎么讲？", "它的成本呢？", "交付周期呢？", "那比亚迪呢？"
    )
    assert texts[1:] == [
        "宁德时代的热失控方案的成本怎么讲？",
        "宁德时代的热失控方案的交付周期怎么讲？",
        "比亚迪的热失控方案的交付周期怎么讲？",
    ]


def test_ellipsis_attaches_to_the_subject(reader):
    texts = chain(
        reader, "如何向宁德时代解释热失控防护方案？", "有没有类似案例？", "客户嫌贵怎么办？"
    )
    assert texts[1] == "宁德时代热失控防护方案有没有类似案例？"
    # The reading of turn 2 is kept for turn 3, whose subject has not changed.
    assert texts[2] == "宁德时代热失控防护方案，客户嫌贵怎么办？"


def test_this_customer_and_this_industry_name_what_they_refer_to(reader):
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "这个客户最关注什么？")
    assert texts[1] == "宁德时代最关注什么？"
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "这个行业还有哪些客户？")
    assert texts[1] == "动力电池行业还有哪些客户？"


def test_a_new_topic_keeps_the_customer(reader):
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "BMS预警怎么讲？")
    assert texts[1] == "宁德时代的BMS预警怎么讲？"


def test_a_new_customer_with_a_topic_of_its_own_starts_afresh(reader):
    readings = reader.thread(["宁德时代的热失控方案怎么讲？", "吉利焊装线的质量监测有什么案例？"])
    assert readings[1].text == "吉利焊装线的质量监测有什么案例？"
    assert not readings[1].followup
    # ...unless a cue says it continues: the subject, about the new customer.
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "那比亚迪的成本呢？")
    assert texts[1] == "比亚迪的热失控方案的成本怎么讲？"


def test_a_definition_of_its_own_term_stands_alone(reader):
    readings = reader.thread(["宁德时代的热失控方案怎么讲？", "什么是热扩散试验？"])
    assert readings[1].text == "什么是热扩散试验？" and not readings[1].followup
    # A swap of the term itself is still a follow-up of a definition.
    texts = chain(reader, "什么是热失控？", "那热扩散试验呢？")
    assert texts[1] == "什么是热扩散试验？"


def test_a_long_question_without_names_or_cues_stands_alone(reader):
    question = "公司今年的销售激励政策和提成比例是怎么规定的？"
    readings = reader.thread(["宁德时代的热失控方案怎么讲？", question])
    assert readings[1].text == question and not readings[1].followup


def test_a_question_that_asks_for_itself_keeps_its_own_asking(reader):
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "它的成本是多少？")
    assert texts[1] == "宁德时代的热失控方案的成本是多少？"


def test_other_is_no_pronoun_and_this_month_is_no_thing(reader):
    texts = chain(reader, "宁德时代的热失控方案怎么讲？", "其它方案呢？")
    assert "其它" in texts[1] and texts[1].startswith("宁德时代的热失控方案")
    assert "这个月" in chain(reader, "宁德时代的热失控方案怎么讲？", "这个月能签吗？")[1]


def test_what_cannot_be_read_falls_back_to_the_question(reader):
    previous = Reading("问", "宁德时代" + "很长的问题" * 90, "宁德时代" + "很长" * 250)
    reading = reader.read("它的成本呢？", previous)
    assert reading.text == "它的成本呢？" and not reading.followup
    assert reader.read("  ", previous) == Reading("", "", "")


def test_the_subject_is_the_question_without_its_asking():
    said = "如何向宁德时代解释热失控防护方案？"
    assert subject_of(said, mentions(said)) == "宁德时代热失控防护方案"
    assert subject_of("什么是热扩散试验？", mentions("什么是热扩散试验？")) == "热扩散试验"
    assert subject_of("怎么讲？", []) == "怎么讲"


def test_an_answer_to_a_follow_up_says_how_it_was_read():
    answer = Answer(
        question="那比亚迪呢？",
        rewritten="比亚迪的热失控方案怎么讲？",
        intent="howto",
        entities=["比亚迪", "热失控"],
        sections=[
            AnswerSection(heading="推荐话术", points=[AnswerPoint(text="先讲数据", citations=[1])])
        ],
        citations=[
            Citation(
                number=1,
                atom_id="atom-1",
                atom_title="比亚迪案例 · 推荐话术",
                document_title="比亚迪案例",
                document_path="cases/byd.md",
                section="推荐话术",
            )
        ],
    )
    understood = (
        "理解：比亚迪的热失控方案怎么讲（承接上一问）；怎么做/怎么讲；识别到 比亚迪、热失控"
    )
    assert understood in answer.to_text()
    chat = answer.to_chat()
    assert chat.startswith(understood)
    assert "【推荐话术】\n- 先讲数据 [1]" in chat
    assert chat.endswith("参考资料：\n[1] 比亚迪案例 · 推荐话术 — 比亚迪案例 · 推荐话术")
    # A stream sends the same text in parts.
    assert "".join(answer.chat_parts()).rstrip() == chat


def test_a_customer_named_with_its_industry_is_one_name(reader):
    texts = chain(reader, "粤能新能源的储能电站消防方案怎么讲？", "那天衡储能呢？")
    assert texts[1] == "天衡储能的储能电站消防方案怎么讲？"


def test_a_name_of_two_kinds_is_taken_for_the_topic(reader):
    # 焊装线 is an industry and a term: a new industry replaces the customer, not the topic.
    texts = chain(reader, "吉利的焊装线质量监测怎么讲？", "那工程机械行业呢？")
    assert texts[1] == "工程机械行业的焊装线质量监测怎么讲？"


def test_a_topic_without_a_cue_keeps_the_customer_and_drops_the_old_topic(reader):
    texts = chain(reader, "比亚迪的BMS云端预警怎么讲？", "热扩散试验怎么讲？")
    assert texts[1] == "比亚迪的热扩散试验怎么讲？"
    # With a cue, a topic swaps in place.
    assert chain(reader, "比亚迪的热失控方案怎么讲？", "那热扩散试验呢？")[1] == (
        "比亚迪的热扩散试验方案怎么讲？"
    )


@pytest.mark.parametrize("own", ["它花了多久？", "它贵不贵？"])
def test_a_follow_up_that_asks_is_not_given_the_previous_asking(reader, own):
    text = chain(reader, "宁德时代的热失控方案怎么讲？", own)[1]
    assert not text.endswith("怎么讲？") and text.startswith("宁德时代的热失控方案")


# -- streamed answers ----------------------------------------------------------------------------
class Note(BaseModel):
    text: str


def _frames(error: Exception) -> list[tuple[str, dict]]:
    def events():
        yield "understanding", Note(text="理解：…")
        raise error

    out = []
    for block in "".join(sse(events())).strip().split("\n\n"):
        name, data = block.split("\n")
        out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_a_failure_mid_stream_ends_it_with_an_error_event_in_the_one_shape():
    frames = _frames(GraphUnavailableError("Neo4j at bolt://10.20.30.40:7687 is unreachable"))
    assert [name for name, _ in frames] == ["understanding", "error"]
    error = frames[-1][1]
    assert set(error) == {"code", "message", "message_en", "detail", "request_id"}
    assert error["code"] == "graph_unavailable" and error["detail"] == SERVER_SIDE_DETAIL
    assert "10.20.30.40" not in json.dumps(error)  # the cause goes to the log only
    said = _frames(BadQueryError("问题过长"))[-1][1]
    assert said["code"] == "bad_query" and said["detail"] == "问题过长"


def test_polished_prose_is_sent_in_pieces_that_never_cut_a_citation():
    text = "先讲热扩散试验数据，再讲定向排气设计与成组效率[1]，最后谈价格[12]。"
    parts = pieces(text)
    assert "".join(parts) == text and "[1]" in parts and "[12]" in parts
    assert all(len(p) <= 12 for p in parts)
