import httpx
import pytest

from retrieval.answers.answer import Answer, AnswerPoint, AnswerSection, Citation
from retrieval.answers.polish import OpenAICompatiblePolisher

pytestmark = pytest.mark.unit

ANSWER = Answer(
    question="如何解释热失控防护？",
    sections=[
        AnswerSection(
            heading="核心要点", points=[AnswerPoint(text="隔热垫阻断热蔓延。", citations=[1])]
        )
    ],
    citations=[
        Citation(
            number=1,
            atom_id="a",
            atom_title="t",
            document_title="d",
            document_path="p",
            section="s",
        )
    ],
)


def _polisher(handler) -> OpenAICompatiblePolisher:
    return OpenAICompatiblePolisher(
        "http://llm.local/v1", "m", "k", transport=httpx.MockTransport(handler)
    )


def _reply(text: str):
    return lambda request: httpx.Response(200, json={"choices": [{"message": {"content": text}}]})


def test_polished_text_is_used_when_it_keeps_the_citations():
    assert (
        _polisher(_reply("先讲隔热垫如何阻断热蔓延[1]。")).polish(ANSWER)
        == "先讲隔热垫如何阻断热蔓延[1]。"
    )


@pytest.mark.parametrize(
    "handler",
    [
        lambda request: httpx.Response(500, text="boom"),
        lambda request: httpx.Response(200, json={"unexpected": True}),
        _reply("没有引用的改写。"),
        _reply("编造了引用[7]。"),
    ],
)
def test_any_failure_keeps_the_structured_answer(handler):
    assert _polisher(handler).polish(ANSWER) is None


def test_timeouts_keep_the_structured_answer():
    def slow(request):
        raise httpx.ReadTimeout("too slow", request=request)

    assert _polisher(slow).polish(ANSWER) is None
