"""The reps' page's brief view (客户简报) in a real headless Chromium against the real server
process: the form, the sections the stage calls for with citation chips that open their
sources, the fallback note for an unknown customer, and a CRM's deep link. Screenshots land in
test-output/ (`make browser` installs Debian's Chromium; nothing is downloaded)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import ROOT, SAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "test-output"
STARTUP_S = 120
SERVER_COMMAND = (sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run `make browser` (Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def api_key(store, embedder, settings) -> str:
    """The samples in the graph and the index (not wiped first: what earlier modules loaded
    is not embedded again), and a rep's key."""
    assert ingest_paths([SAMPLES], store).failures == []
    sync_index(store, embedder, settings.index_path)
    return ApiKeys(store).create("brief-page-test", ["ask"])[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(api_key, settings, tmp_path_factory) -> Iterator[str]:
    """The real server in its own process, started in an empty folder (no .env read)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKG_", "NEO4J_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        SKG_HOME=str(ROOT / ".skg"),
        NEO4J_PASSWORD=settings.password(),
        SKG_NEO4J_BOLT_PORT=str(settings.neo4j_bolt_port),
        SKG_NEO4J_HTTP_PORT=str(settings.neo4j_http_port),
        SKG_NEO4J_HOME=str(settings.neo4j_home_path),
        SKG_INDEX_DIR=str(settings.index_path),
    )
    port = _free_port()
    workdir = tmp_path_factory.mktemp("brief-server")
    log = workdir / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SERVER_COMMAND, "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited ({process.returncode}):\n{log.read_text()}")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"not ready within {STARTUP_S} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"],
        )  # fmt: skip
        yield browser
        browser.close()


@contextmanager
def phone(browser: Browser, url: str, shot: Path) -> Iterator[Page]:
    """A phone-sized page; its screenshot is saved pass or fail; script errors fail the test."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True, locale="zh-CN",
    )  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(url)
        yield page
        assert not errors, f"script errors on the page: {errors} (see {shot})"
    finally:
        OUTPUT.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()


def _headings(page: Page) -> list[str]:
    return page.locator("[data-testid=brief-section] > h2").all_inner_texts()


def test_the_brief_view_composes_a_cited_brief(browser, server, api_key):
    shot = OUTPUT / "brief-page.png"
    with phone(browser, f"{server}/app/?key={quote(api_key, safe='')}", shot) as page:
        expect(page.get_by_test_id("brief-view")).to_be_hidden()
        page.get_by_test_id("tab-brief").click()
        expect(page.get_by_test_id("brief-view")).to_be_visible()
        expect(page.get_by_test_id("question-input")).to_be_hidden()

        page.get_by_test_id("brief-customer").fill("CATL")
        page.get_by_test_id("brief-stage").select_option("商务谈判")
        page.locator(".brief-more summary").click()
        page.get_by_test_id("brief-competitors").fill("锐驰科技")
        page.get_by_test_id("brief-submit").click()

        result = page.get_by_test_id("brief")
        expect(result, f"no brief (see {shot})").to_be_visible()
        expect(page.get_by_test_id("brief-title")).to_have_text(
            "客户简报：宁德时代 · 商务谈判 · 动力电池"
        )
        headings = _headings(page)
        assert headings[0] == "常见异议与应对" and "竞品对比" in headings, headings
        expect(page.get_by_test_id("brief-error")).to_be_hidden()
        chips = page.get_by_test_id("brief-chip")
        assert chips.count() >= 6, f"points cite nothing (see {shot})"
        assert page.get_by_test_id("brief-citation").count() == chips.count()

        # A chip opens its source, and the atom behind it.
        chips.nth(2).click()
        third = page.locator("[data-testid=brief-citation][data-cite='3']")
        expect(third).to_have_attribute("open", "")
        atom = third.get_by_test_id("brief-atom")
        expect(atom, f"the atom did not open (see {shot})").to_be_visible()
        expect(atom.locator(".atom-text")).not_to_be_empty()

        # Back to questions: the question view is as it was.
        page.get_by_test_id("tab-ask").click()
        expect(page.get_by_test_id("question-input")).to_be_visible()
        expect(page.get_by_test_id("brief-view")).to_be_hidden()


def test_an_unknown_customer_is_said_to_fall_back(browser, server, api_key):
    shot = OUTPUT / "brief-page-unknown.png"
    with phone(browser, f"{server}/app/#key={quote(api_key, safe='')}", shot) as page:
        page.get_by_test_id("tab-brief").click()
        page.get_by_test_id("brief-customer").fill("远景能源")
        page.get_by_test_id("brief-stage").select_option("线索")
        page.locator(".brief-more summary").click()
        page.get_by_test_id("brief-industry").fill("储能")
        page.get_by_test_id("brief-customer").press("Enter")
        note = page.get_by_test_id("brief-note")
        expect(note, f"no fallback note (see {shot})").to_contain_text("远景能源")
        expect(note).to_contain_text("储能")
        assert _headings(page)[0] == "开场与破冰话术"
        for section in page.get_by_test_id("brief-section").all():
            points, empty = section.locator("li").count(), section.get_by_test_id("brief-empty")
            assert points or "暂无" in empty.inner_text(), "an empty section says so"


def test_a_crm_link_opens_the_brief_filled_in(browser, server, api_key):
    shot = OUTPUT / "brief-page-link.png"
    link = (
        f"{server}/app/?view=brief&customer={quote('比亚迪')}&stage={quote('需求确认')}"
        f"&key={quote(api_key, safe='')}"
    )
    with phone(browser, link, shot) as page:
        assert "key=" not in page.url, f"the key stays in the address bar: {page.url}"
        expect(page.get_by_test_id("brief"), f"no brief (see {shot})").to_be_visible()
        assert _headings(page)[0] == "客户关注点与痛点"
        expect(page.get_by_test_id("brief-customer")).to_have_value("比亚迪")


def test_without_a_key_the_brief_view_asks_for_one(browser, server):
    shot = OUTPUT / "brief-page-no-key.png"
    with phone(browser, f"{server}/app/", shot) as page:
        page.get_by_test_id("tab-brief").click()
        page.get_by_test_id("brief-customer").fill("宁德时代")
        page.get_by_test_id("brief-submit").click()
        expect(page.get_by_test_id("brief-error")).to_contain_text("访问密钥")
        expect(page.get_by_test_id("settings-panel")).to_be_visible()
        expect(page.get_by_test_id("brief")).to_have_count(0)
