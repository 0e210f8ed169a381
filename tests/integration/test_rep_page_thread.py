"""The reps' page as a conversation, in headless Chromium against the real server process: a
two-turn thread whose answers stream in as they are composed (the follow-up sent with its
conversation id and read with the first question), 新对话 starting afresh, and one plain
message when the key is missing or refused. Screenshots land in test-output/."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.integration import test_rep_page as rep
from tests.integration.pages import OUTPUT
from tests.integration.test_rep_page import QUESTION, _page_url, phone

# The page test's fixtures: one Chromium, one server process and the samples, as there.
spoken_wav, browser = rep.spoken_wav, rep.browser
ingested, api_key, server = rep.ingested, rep.api_key, rep.server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FOLLOW_UP = "那比亚迪呢？"
READ_AS = "如何向比亚迪解释热失控防护方案"  # QUESTION, about 比亚迪
NO_KEY = "还没有访问密钥：请向管理员索取密钥链接，用手机打开链接即可使用。"
BAD_KEY = "访问密钥无效或已停用：请向管理员索取新的密钥链接。"
# Records, in order, the parts of an answer as they enter the page.
WATCH = """
window.__seen = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType !== 1) continue;
      for (const el of [node, ...node.querySelectorAll("[data-testid]")]) {
        if (el.dataset.testid) window.__seen.push(el.dataset.testid);
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


def _ask(page: Page, question: str) -> dict:
    """Ask by typing; the request the page sent (its headers and body) and the response's."""
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as answered:
        page.get_by_test_id("question-input").fill(question)
        page.get_by_test_id("question-input").press("Enter")
    response = answered.value
    return {
        "accept": response.request.headers.get("accept", ""),
        "body": json.loads(response.request.post_data or "{}"),
        "content_type": response.headers.get("content-type", ""),
    }


def _done(page: Page, turn: int, shot) -> None:
    answer = page.get_by_test_id("turn").nth(turn).get_by_test_id("answer")
    expect(answer, f"turn {turn + 1} did not finish (see {shot})").to_have_attribute(
        "data-state", "done", timeout=30_000
    )
    expect(page.get_by_test_id("error"), f"an error is shown (see {shot})").to_be_hidden()


def test_a_two_turn_thread_streams_and_follows_up(browser, server, api_key):
    shot = OUTPUT / "rep-page-thread.png"
    with phone(browser, _page_url(server, api_key), shot) as page:
        page.add_init_script(WATCH)
        page.reload()

        first = _ask(page, QUESTION)
        _done(page, 0, shot)
        assert first["accept"] == "text/event-stream"
        assert first["content_type"].startswith("text/event-stream")
        assert "conversation_id" not in first["body"]
        turn = page.get_by_test_id("turn").first
        expect(turn.get_by_test_id("turn-question")).to_have_text(QUESTION)
        answer = turn.get_by_test_id("answer")
        events = answer.get_attribute("data-events").split()
        assert events[0] == "understanding" and events[-1] == "done", events
        assert "section" in events and events.index("citations") > events.index("section")
        # The page put each part in as its event came: how it was read, then the sections,
        # then (once done) the feedback buttons.
        seen = page.evaluate("window.__seen")
        order = [seen.index(t) for t in ("understood", "answer-section", "feedback-helpful")]
        assert order == sorted(order), seen

        second = _ask(page, FOLLOW_UP)
        _done(page, 1, shot)
        conversation = second["body"].get("conversation_id", "")
        assert conversation.startswith("conv-"), second["body"]
        expect(page.get_by_test_id("turn")).to_have_count(2)
        later = page.get_by_test_id("turn").nth(1)
        expect(later.get_by_test_id("turn-question")).to_have_text(FOLLOW_UP)
        expect(later.get_by_test_id("understood")).to_contain_text(f"{READ_AS}（承接上一问）")
        # The first answer stays, and a citation chip opens the citation of its own answer.
        expect(
            page.get_by_test_id("turn").first.get_by_test_id("answer-section").first
        ).to_be_visible()
        later.locator("[data-testid=answer-section] .cite-chip").first.click()
        expect(later.get_by_test_id("atom-detail").first).to_be_visible()
        expect(page.get_by_test_id("turn").first.get_by_test_id("atom-detail")).to_have_count(0)
        page.screenshot(path=str(shot), full_page=True)

        # 新对话: an empty thread, and the same words are no longer a follow-up.
        page.get_by_test_id("new-conversation").click()
        expect(page.get_by_test_id("turn")).to_have_count(0)
        third = _ask(page, FOLLOW_UP)
        _done(page, 0, shot)
        assert "conversation_id" not in third["body"]
        expect(page.get_by_test_id("understood")).not_to_contain_text("承接上一问")


def _said(page: Page) -> str:
    return page.evaluate("document.body.innerText")


def test_a_missing_or_refused_key_is_said_once_in_plain_words(browser, server):
    shot = OUTPUT / "rep-page-key-message.png"
    with phone(browser, server.url + "/app/", shot) as page:
        page.get_by_test_id("question-input").fill(QUESTION)
        page.get_by_test_id("ask-button").click()
        expect(page.get_by_test_id("error")).to_have_text(NO_KEY)
        expect(page.get_by_test_id("settings-panel")).to_be_visible()
        said = _said(page)
        assert said.count(NO_KEY) == 1, said
        assert "Authorization" not in said and "Bearer" not in said, said
        expect(page.get_by_test_id("turn")).to_have_count(0)
        page.screenshot(path=str(shot), full_page=True)

    with phone(browser, f"{server.url}/app/#key=skg_00000000_{'x' * 43}", shot) as page:
        page.get_by_test_id("question-input").fill(QUESTION)
        page.get_by_test_id("ask-button").click()
        expect(page.get_by_test_id("error")).to_have_text(BAD_KEY)
        said = _said(page)
        assert said.count(BAD_KEY) == 1 and "Authorization" not in said, said
