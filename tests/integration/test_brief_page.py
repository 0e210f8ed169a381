"""The reps' page's brief view (客户简报) in a real headless Chromium against the real server
process: the form, the sections the stage calls for with citation chips that open their
sources, the fallback note for an unknown customer, and a CRM's deep link. Screenshots land in
test-output/ (`make browser` installs Debian's Chromium; nothing is downloaded)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES
from tests.integration.pages import OUTPUT, chromium_browser, page_at, server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def api_key(store, embedder, settings) -> str:
    """The samples in the graph and the index (not wiped first: what earlier modules loaded
    is not embedded again), and a rep's key."""
    assert ingest_paths([SAMPLES], store).failures == []
    sync_index(store, embedder, settings.index_path)
    return ApiKeys(store).create("brief-page-test", ["ask"])[1]


@pytest.fixture(scope="module")
def server(api_key, settings, tmp_path_factory, request) -> Iterator[str]:
    """The real server in its own process, started in an empty folder (no .env read)."""
    with server_process(settings, tmp_path_factory.mktemp("brief-server"), request) as running:
        yield running.url


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with chromium_browser(chromium) as launched:
        yield launched


def phone(browser: Browser, url: str, shot: Path):
    """A phone-sized page; its screenshot is saved pass or fail; script errors fail the test."""
    return page_at(browser, url, shot, "phone", timeout_ms=20_000)


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
