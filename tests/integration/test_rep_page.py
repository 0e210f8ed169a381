"""The reps' page (/app/) in a real headless Chromium against the real server process: a typed,
a spoken (hold to talk) and an uploaded question, the cited answer, an expanded atom, feedback,
and the key prompt. Screenshots land in test-output/ (run `make browser` for Chromium)."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import EVAL_DATA, SAMPLES
from tests.cypher import cypher
from tests.integration.pages import OUTPUT, Server, chromium_browser, page_at, server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "如何向宁德时代解释热失控防护方案？"
SPOKEN = EVAL_DATA / "speech_zh" / "questions" / "q01.wav"  # the same question, spoken
UPLOADED = EVAL_DATA / "speech_zh" / "questions" / "q02.wav"  # 光伏逆变器海外项目的合同审批…
ANSWER_MS = 60_000  # a spoken question on a cold CPU: decoding, Whisper, retrieval
HOLD_MS = 5_000  # 0.3 s of silence, the 3.2 s question, then silence (see spoken_wav)


# ---- The server, the data and a key ------------------------------------------------------


@pytest.fixture(scope="module")
def ingested(store, embedder, settings):
    """The samples in the graph and the index, whatever earlier modules left there. Not wiped
    first: the run starts from an empty graph (the ``store`` fixture), and after a module that
    loaded the samples already, nothing is re-embedded (a minute or more on CPU)."""
    report = ingest_paths([SAMPLES], store)
    assert report.failures == []
    sync_index(store, embedder, settings.index_path)
    return report


@pytest.fixture(scope="module")
def api_key(ingested, store) -> str:
    _, key = ApiKeys(store).create("rep-page-test", ["search", "ask"])
    return key


@pytest.fixture(scope="module")
def server(ingested, settings, tmp_path_factory, request) -> Iterator[Server]:
    """The real server in its own process, as an operator runs it; started in an empty folder
    so the repository's .env is not read."""
    with server_process(settings, tmp_path_factory.mktemp("server"), request) as running:
        yield running


# ---- The browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory) -> Path:
    """The spoken question with silence around it, as 16-bit PCM (what Chromium's fake
    microphone plays, in a loop): a 5 s press then holds the whole question."""
    with wave.open(str(SPOKEN)) as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    assert params.sampwidth == 2, "Chromium's fake capture wants 16-bit PCM"
    silence = b"\0" * params.sampwidth * params.nchannels
    path = tmp_path_factory.mktemp("audio") / "question.wav"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(silence * int(0.3 * params.framerate))
        out.writeframes(frames)
        out.writeframes(silence * int(4.0 * params.framerate))
    return path


@pytest.fixture(scope="module")
def browser(chromium: Path, spoken_wav: Path) -> Iterator[Browser]:
    with chromium_browser(
        chromium,
        "--use-fake-ui-for-media-stream",  # grant the microphone without asking
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={spoken_wav}",
    ) as launched:
        yield launched


def phone(browser: Browser, url: str, shot: Path):
    """A page at phone size; its full-page screenshot is saved at the end, pass or fail, and
    uncaught script errors fail the test."""
    return page_at(browser, url, shot, "phone")


def _page_url(server: Server, key: str, mark: str = "?") -> str:
    """The page with the key in the query (?key=) or, kept from the server, the fragment (#)."""
    return f"{server.url}/app/{mark}key={quote(key, safe='')}"


def _feedback_count(store) -> int:
    return cypher(store, "MATCH (f:Feedback) RETURN count(f) AS n")[0]["n"]


def _expect_answer(page: Page, shot: Path, timeout: float = 15_000) -> None:
    answer = page.get_by_test_id("answer")
    expect(answer, f"no answer (see {shot})").to_be_visible(timeout=timeout)
    sections = page.get_by_test_id("answer-section")
    expect(sections.first, f"the answer has no sections (see {shot})").to_be_visible()
    expect(page.get_by_test_id("citation").first, f"no citations (see {shot})").to_be_visible()
    expect(page.get_by_test_id("error"), f"an error is shown (see {shot})").to_be_hidden()


# ---- The cases ----------------------------------------------------------------------------


def test_typed_question_answer_atom_and_feedback(browser, server, api_key, store):
    shot = OUTPUT / "rep-page-typed.png"
    with phone(browser, _page_url(server, api_key), shot) as page:
        assert "key=" not in page.url, f"the key stays in the address bar: {page.url}"
        stored = page.evaluate("localStorage.getItem('skg_api_key')")
        assert stored == api_key, "the key from ?key= was not kept"
        expect(page.get_by_test_id("settings-panel")).to_be_hidden()

        page.get_by_test_id("question-input").fill(QUESTION)
        page.get_by_test_id("question-input").press("Enter")
        _expect_answer(page, shot)
        expect(page.get_by_test_id("answer")).to_contain_text("宁德时代")
        assert page.locator(".cite-chip").count() >= 1, f"points cite nothing (see {shot})"

        # A citation chip opens its atom: full text, source, entities, its own feedback.
        page.locator("[data-testid=answer-section] .cite-chip").first.click()
        first = page.get_by_test_id("citation").first
        detail = first.get_by_test_id("atom-detail")
        expect(detail, f"the atom did not open (see {shot})").to_be_visible()
        expect(detail.locator(".atom-text")).not_to_be_empty()
        expect(detail).to_contain_text("来源")
        atom_id = first.get_attribute("data-atom-id")
        assert atom_id

        before = _feedback_count(store)
        page.get_by_test_id("feedback-helpful").click()
        expect(page.get_by_test_id("feedback-status")).to_have_text("感谢反馈")
        expect(page.get_by_test_id("feedback-helpful")).to_be_disabled()
        expect(page.get_by_test_id("feedback-not-helpful")).to_be_disabled()
        detail.get_by_test_id("atom-feedback-used-in-deal").click()
        expect(detail.get_by_test_id("atom-feedback-status")).to_have_text("感谢反馈")
        assert _feedback_count(store) == before + 2, f"feedback did not land (see {shot})"

        # The answer's 👍 counts for every atom it cited; the atom's own button for it alone.
        atom = httpx.get(
            f"{server.url}/v1/atoms/{quote(atom_id, safe='')}",
            headers={"Authorization": f"Bearer {api_key}"},
        ).json()
        assert atom["feedback"]["helpful"] >= 1 and atom["feedback"]["used_in_deal"] >= 1


def test_hold_to_talk_records_and_answers(browser, server, api_key):
    shot = OUTPUT / "rep-page-voice.png"
    with phone(browser, _page_url(server, api_key), shot) as page:
        talk = page.get_by_test_id("talk-button")
        status = page.get_by_test_id("voice-status")
        expect(talk).to_be_enabled()
        box = talk.bounding_box()
        assert box
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

        # A tap is not a question.
        page.mouse.down()
        page.mouse.up()
        expect(status).to_have_text("说话时间太短")

        page.mouse.down()
        expect(status).to_contain_text("正在录音")
        page.wait_for_timeout(HOLD_MS)
        page.mouse.up()
        transcript = page.get_by_test_id("transcript")
        expect(transcript, f"no transcript (see {shot})").to_be_visible(timeout=ANSWER_MS)
        expect(transcript, f"the recording was misheard (see {shot})").to_contain_text("热失控")
        _expect_answer(page, shot)
        expect(page.get_by_test_id("question-input")).not_to_have_value("")
        expect(status).to_be_empty()


def test_uploaded_recording_is_answered(browser, server, api_key):
    shot = OUTPUT / "rep-page-upload.png"
    with phone(browser, _page_url(server, api_key, mark="#"), shot) as page:
        assert "key=" not in page.url, f"the key stays in the address bar: {page.url}"
        page.get_by_test_id("upload-input").set_input_files(UPLOADED)
        transcript = page.get_by_test_id("transcript")
        expect(transcript, f"no transcript (see {shot})").to_be_visible(timeout=ANSWER_MS)
        expect(transcript).to_contain_text("光伏逆变器")
        _expect_answer(page, shot)


def test_without_a_key_the_page_asks_for_one(browser, server, api_key):
    shot = OUTPUT / "rep-page-key-entered.png"
    prompt_shot = OUTPUT / "rep-page-no-key.png"
    with phone(browser, server.url + "/", shot) as page:
        assert page.url.endswith("/app/"), f"/ does not lead to the page: {page.url}"
        page.get_by_test_id("question-input").fill(QUESTION)
        page.get_by_test_id("ask-button").click()
        error = page.get_by_test_id("error")
        expect(error, f"no prompt for the key (see {prompt_shot})").to_contain_text("访问密钥")
        page.screenshot(path=str(prompt_shot), full_page=True)
        expect(page.get_by_test_id("settings-panel")).to_be_visible()
        expect(page.get_by_test_id("answer")).to_have_count(0)

        # Pasting the key in the panel is enough to ask again.
        page.get_by_test_id("key-input").fill(api_key)
        page.get_by_test_id("key-save").click()
        expect(page.get_by_test_id("settings-panel")).to_be_hidden()
        page.get_by_test_id("ask-button").click()
        _expect_answer(page, shot)
