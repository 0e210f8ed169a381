"""OpenAI-compatible chat completions, through the official `openai` Python client, against
the real server in its own process (uvicorn, as `skg serve` runs it), the real graph and
models: models listed, answers cited [n] with references and the `saleskg` field, streaming
that sends the same text, follow-ups read from the earlier messages, the right status codes,
and nothing of another team's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES
from tests.integration.pages import Server, server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "宁德时代的热失控方案怎么讲？"
TEAM = "华东大客户部"
SECRET = "玄鸟条款"  # a word only the team's document holds
TEAM_DOC = f"""---
标题: 宁德时代热失控项目内部谈判底线
客户: 宁德时代
可见范围: 团队
团队: {TEAM}
---
## 报价底线
{SECRET}：宁德时代热失控防护方案的报价底线为标准价的八五折，低于此价格需要大区总监审批。

## 谈判顺序
{SECRET}：先讲热扩散试验数据和定向排气设计，再谈价格，不要主动让步。
"""


@pytest.fixture(scope="module")
def loaded(store, embedder, settings, tmp_path_factory):
    """The samples and the team's document (not wiped: nothing unchanged is embedded again)."""
    folder = tmp_path_factory.mktemp("chat") / "团队资料"
    folder.mkdir()
    (folder / "floor.md").write_text(TEAM_DOC, encoding="utf-8")
    assert ingest_paths([SAMPLES, folder], store).failures == []
    sync_index(store, embedder, settings.index_path)
    return store


@pytest.fixture(scope="module")
def keys(loaded) -> dict[str, str]:
    make = ApiKeys(loaded).create
    return {
        "outsider": make("chat-华南", ["search", "ask"], team="华南渠道部")[1],
        "insider": make("chat-华东", ["ask"], team=TEAM)[1],
        "search_only": make("chat-只读", ["search"])[1],
    }


@pytest.fixture(scope="module")
def server(loaded, settings, tmp_path_factory, request) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("chat-server")
    # The ranking stays put between requests.
    with server_process(settings, workdir, request, {"SKG_INDEX_REFRESH_SECONDS": "0"}) as running:
        yield running


def client(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60)


def ask(server, key, *messages: str, stream: bool = False):
    """The conversation as alternating user and assistant messages (the last one the user's)."""
    chat = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": text}
        for i, text in enumerate(messages)
    ]
    return client(server, key).chat.completions.create(
        model="saleskg", messages=chat, stream=stream
    )


def streamed(server, key, *messages: str) -> tuple[str, dict]:
    """The streamed text, and the `saleskg` field of the last chunk."""
    text, extension, finish = "", None, None
    for chunk in ask(server, key, *messages, stream=True):
        assert chunk.object == "chat.completion.chunk" and chunk.model == "saleskg"
        choice = chunk.choices[0]
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
        extension = (chunk.model_extra or {}).get("saleskg", extension)
    assert finish == "stop" and extension is not None
    return text, extension


def test_the_model_is_listed(server, keys):
    models = client(server, keys["outsider"]).models.list()
    assert [m.id for m in models.data] == ["saleskg"]
    assert client(server, keys["outsider"]).models.retrieve("saleskg").id == "saleskg"
    with pytest.raises(openai.NotFoundError):
        client(server, keys["outsider"]).models.retrieve("gpt-4o")


def test_an_answer_is_cited_with_references_and_the_structured_answer(server, keys):
    completion = ask(server, keys["outsider"], QUESTION)
    assert completion.object == "chat.completion" and completion.model == "saleskg"
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    extension = completion.model_extra["saleskg"]
    assert extension["answered"] is True and extension["answer_id"].startswith("ans-")
    numbers = [c["number"] for c in extension["citations"]]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers
    assert content.startswith("理解：")
    body, references = content.split("参考资料：\n")
    assert "[1]" in body and "【" in body
    assert [line.split("]")[0] + "]" for line in references.splitlines()] == [
        f"[{n}]" for n in numbers
    ]
    assert extension["citations"][0]["atom_title"] in references
    # Feedback takes the answer id like any answer's.
    feedback = httpx.post(
        f"{server.url}/v1/feedback",
        json={"kind": "helpful", "answer_id": extension["answer_id"]},
        headers={"Authorization": f"Bearer {keys['outsider']}"},
        timeout=30,
    )
    assert feedback.status_code == 201, feedback.text


def test_streaming_sends_the_same_answer(server, keys):
    whole = ask(server, keys["outsider"], QUESTION)
    text, extension = streamed(server, keys["outsider"], QUESTION)
    assert text == whole.choices[0].message.content
    assert extension["citations"] == whole.model_extra["saleskg"]["citations"]


def test_earlier_messages_make_a_follow_up(server, keys):
    first = ask(server, keys["outsider"], QUESTION).choices[0].message.content
    completion = ask(server, keys["outsider"], QUESTION, first, "那比亚迪呢？")
    extension = completion.model_extra["saleskg"]
    assert extension["understood_as"] == "比亚迪的热失控方案怎么讲？"
    content = completion.choices[0].message.content
    assert content.startswith("理解：比亚迪的热失控方案怎么讲（承接上一问）")
    spelled = ask(server, keys["outsider"], "比亚迪的热失控方案怎么讲？").model_extra["saleskg"]
    assert [c["atom_id"] for c in extension["citations"]][:5] == [
        c["atom_id"] for c in spelled["citations"]
    ][:5]
    text, streamed_extension = streamed(server, keys["outsider"], QUESTION, first, "那比亚迪呢？")
    assert text == content and streamed_extension["understood_as"] == extension["understood_as"]


def test_a_declined_question_says_so_with_leads(server, keys):
    completion = ask(server, keys["outsider"], "今天天气怎么样？")
    extension = completion.model_extra["saleskg"]
    assert extension["answered"] is False and extension["citations"] == []
    assert "没有这个问题的可靠答案" in completion.choices[0].message.content


def test_keys_scopes_and_requests_get_the_right_status(server, keys):
    with pytest.raises(openai.AuthenticationError):
        ask(server, "skg_00000000_" + "x" * 43, QUESTION)
    with pytest.raises(openai.PermissionDeniedError):
        ask(server, keys["search_only"], QUESTION)
    model = client(server, keys["outsider"])
    with pytest.raises(openai.NotFoundError):
        model.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.UnprocessableEntityError):
        model.chat.completions.create(model="saleskg", messages=[])
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        ask(server, keys["outsider"], QUESTION, "好的")  # the last message is the assistant's
    assert refused.value.body["code"] == "bad_query"  # our error shape, OpenAI's statuses
    # Options of other models are accepted and ignored.
    other = model.chat.completions.create(
        model="saleskg",
        messages=[{"role": "system", "content": "简短回答"}, {"role": "user", "content": QUESTION}],
        temperature=0.3,
        max_tokens=200,
    )
    assert other.model_extra["saleskg"]["answered"] is True


def test_another_teams_knowledge_never_reaches_a_chat(server, keys):
    question = "宁德时代热失控方案的报价底线是多少？"
    for key, sees in ((keys["outsider"], False), (keys["insider"], True)):
        whole = ask(server, key, question)
        text, extension = streamed(server, key, QUESTION, "好的", "报价底线呢？")
        said = whole.choices[0].message.content + whole.model_dump_json() + text + str(extension)
        assert (SECRET in said) is sees, key
