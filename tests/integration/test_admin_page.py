"""The knowledge managers' page (/app/admin) in headless Chromium against the real server
process, and the review endpoint behind it (GET /v1/review): dropped files become an ingest
job followed to its report (failures and warnings included), a declined question appears as a
knowledge gap, a flagged atom is listed with a link that opens it in Neo4j Browser, and keys
without the scopes get a plain Chinese refusal. Screenshots land in test-output/."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES
from tests.cypher import cypher
from tests.integration.pages import OUTPUT, chromium_browser, page_at, server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOB_MS = 90_000  # an upload's ingest and index sync on a cold CPU
TEAM = "华东大客户部"
NEW_WORD = "白泽巡检"  # only the dropped file says it
DECLINED = "火星基地的量子咖啡机滤网多久更换一次？"

GOOD_DOC = f"""---
标题: 白泽电网巡检项目复盘
客户: 白泽电网
---
## 背景
{NEW_WORD}：白泽电网的变电站巡检机器人项目，客户关心夜间红外识别的误报率。

## 教训
现场试点要先和运维班组对齐告警阈值，否则误报会让客户失去信心。
"""
APPROVED_DOC = """---
标题: 白泽电网报价备忘
状态: 已审核
---
## 报价
巡检机器人按站点数报价，三站起步。
"""


# ---- The server, the data and the keys ------------------------------------------------------


@pytest.fixture(scope="module")
def ingested(store, embedder, settings):
    """The samples in the graph and the index (not wiped first: see test_rep_page.py)."""
    report = ingest_paths([SAMPLES], store)
    assert report.failures == []
    sync_index(store, embedder, settings.index_path)
    return report


@pytest.fixture(scope="module")
def keys(ingested, store) -> dict[str, str]:
    make = ApiKeys(store).create
    return {
        "admin": make("知识运营主管", ["admin", "ingest"])[1],
        "team_admin": make("华东运营", ["admin"], team=TEAM)[1],
        "ingest": make("华东知识运营", ["ingest"], team=TEAM)[1],
        "search": make("crm-只读", ["search"])[1],
        "asker": make("rep", ["search", "ask"])[1],
    }


@pytest.fixture(scope="module")
def server(ingested, settings, tmp_path_factory, request) -> Iterator[str]:
    """The real server in its own process, started in an empty folder (no .env)."""
    with server_process(settings, tmp_path_factory.mktemp("admin-server"), request) as running:
        yield running.url


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with chromium_browser(chromium) as launched:
        yield launched


def desk(browser: Browser, url: str, shot: Path):
    """The page on a desk-sized window; screenshot at the end, script errors fail the test."""
    return page_at(browser, url, shot, "desk")


def admin_url(server: str, key: str) -> str:
    return f"{server}/app/admin#key={quote(key, safe='')}"


def drop(page: Page, files: dict[str, bytes]) -> None:
    """Drop files on the drop zone, as a person dragging them from a folder does."""
    page.get_by_test_id("drop-zone").evaluate(
        """(zone, files) => {
          const transfer = new DataTransfer();
          for (const [name, data] of Object.entries(files)) {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name));
          }
          for (const type of ['dragenter', 'dragover', 'drop']) {
            zone.dispatchEvent(new DragEvent(type, {
              bubbles: true, cancelable: true, dataTransfer: transfer}));
          }
        }""",
        {name: base64.b64encode(data).decode() for name, data in files.items()},
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---- The page -----------------------------------------------------------------------------------


def test_a_dropped_file_becomes_a_job_followed_to_its_report(browser, server, keys, store):
    shot = OUTPUT / "admin-upload.png"
    with desk(browser, admin_url(server, keys["admin"]), shot) as page:
        assert "key=" not in page.url, f"the key stays in the address bar: {page.url}"
        expect(page.get_by_test_id("refusal")).to_be_hidden()
        page.get_by_test_id("collection-input").fill("白泽资料")
        drop(page, {"baize-review.md": GOOD_DOC.encode(), "broken.json": b'{"records": ['})
        state = page.get_by_test_id("job-state")
        expect(state, f"the job did not finish (see {shot})").to_have_text(
            "导入完成", timeout=JOB_MS
        )
        report = page.get_by_test_id("job-report")
        expect(report.get_by_test_id("job-summary")).to_contain_text("知识条目新增 2")
        failures = report.get_by_test_id("job-failures")
        expect(failures, f"the bad file is not reported (see {shot})").to_contain_text(
            "broken.json"
        )
        expect(page.get_by_test_id("job-steps").locator("li.done")).to_have_count(3)
        expect(page.get_by_test_id("jobs")).to_contain_text("baize-review.md")
    rows = cypher(
        store, "MATCH (a:Atom)-[:FROM]->(d:Document {collection: '白泽资料'}) RETURN a.text AS text"
    )
    assert any(NEW_WORD in r["text"] for r in rows), "the dropped file's atoms are in the graph"


def test_an_ingest_key_uploads_sees_warnings_and_is_told_gaps_are_for_admins(browser, server, keys):
    shot = OUTPUT / "admin-ingest-key.png"
    with desk(browser, admin_url(server, keys["ingest"]), shot) as page:
        expect(page.get_by_test_id("gaps-refusal")).to_contain_text("只有管理员密钥（admin 权限）")
        expect(page.get_by_test_id("review-refusal")).to_be_visible()
        expect(page.get_by_test_id("gaps")).to_be_hidden()
        drop(page, {"baize-pricing.md": APPROVED_DOC.encode()})
        expect(page.get_by_test_id("job-state")).to_have_text("导入完成", timeout=JOB_MS)
        warnings = page.get_by_test_id("job-warnings")
        expect(warnings, f"the approval warning is not shown (see {shot})").to_contain_text("草稿")


def test_a_declined_question_appears_as_a_knowledge_gap(browser, server, keys):
    answer = httpx.post(
        f"{server}/v1/ask", json={"question": DECLINED}, headers=auth(keys["asker"]), timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"]["answered"] is False, "the question must find no answer"
    shot = OUTPUT / "admin-gaps.png"
    deadline = time.monotonic() + 10  # the answer is recorded after the response is sent
    while time.monotonic() < deadline:
        gaps = httpx.get(f"{server}/v1/gaps", headers=auth(keys["admin"])).json()
        if any(g["question"] == DECLINED for g in gaps["items"]):
            break
        time.sleep(0.2)
    with desk(browser, admin_url(server, keys["admin"]), shot) as page:
        gap = page.get_by_test_id("gap").filter(has_text=DECLINED)
        expect(gap, f"the declined question is not listed (see {shot})").to_have_count(1)


def test_a_flagged_atom_is_listed_with_a_link_that_opens_it_in_neo4j_browser(
    browser, server, keys, store, settings
):
    [row] = cypher(
        store,
        "MATCH (a:Atom {visibility: 'public'})-[:FROM]->(:Document {path: $path}) "
        "WITH a ORDER BY a.span_start LIMIT 1 "
        "SET a.review = 'disputed', a.review_note = '负面反馈 3 次（测试）' "
        "RETURN a.id AS id, a.title AS title",
        path="cases/catl-thermal-runaway.md",
    )
    shot = OUTPUT / "admin-review.png"
    try:
        with desk(browser, admin_url(server, keys["admin"]), shot) as page:
            item = page.locator(f"[data-testid=review-item][data-atom-id='{row['id']}']")
            expect(item, f"the flagged atom is not listed (see {shot})").to_be_visible()
            expect(item).to_contain_text("反馈差")
            expect(item).to_contain_text("负面反馈 3 次")
            link = item.get_by_test_id("browser-link")
            href = link.get_attribute("href") or ""
            parts = urlsplit(href)
            assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
                f"http://127.0.0.1:{settings.neo4j_http_port}/browser/"
            )
            query = parse_qs(parts.query)
            assert query["dbms"] == [f"neo4j://neo4j@127.0.0.1:{settings.neo4j_bolt_port}"]
            assert query["cmd"] == ["edit"]
            assert f"MATCH (a:Atom {{id: '{row['id']}'}})" in query["arg"][0]

            # The link opens Browser, logged in to this graph, with the atom's query ready.
            with page.context.expect_page() as opened:
                link.click()
            neo4j = opened.value
            try:
                neo4j.locator("input[type=password]").fill(settings.password())
                neo4j.locator("button[data-testid=connect]").click()
                connected = neo4j.get_by_text("You are connected as user")
                expect(connected).to_be_visible(timeout=30_000)
                editor = neo4j.locator(".monaco-editor").first
                expect(editor).to_contain_text(row["id"])
                editor.click()
                neo4j.keyboard.press("Control+Enter")
                overview = neo4j.get_by_text("Atom (1)", exact=True)  # the graph it drew
                expect(overview, "the atom's query did not run").to_be_visible(timeout=30_000)
            finally:
                neo4j.screenshot(path=str(OUTPUT / "admin-review-browser.png"))
    finally:
        cypher(store, "MATCH (a:Atom {id: $id}) REMOVE a.review, a.review_note", id=row["id"])


def test_a_search_only_key_gets_a_plain_chinese_refusal(browser, server, keys):
    shot = OUTPUT / "admin-refused.png"
    with desk(browser, admin_url(server, keys["search"]), shot) as page:
        refusal = page.get_by_test_id("refusal")
        expect(refusal, f"no refusal (see {shot})").to_contain_text(
            "该密钥没有 ingest 或 admin 权限"
        )
        expect(page.get_by_test_id("upload-section")).to_be_hidden()
        expect(page.get_by_test_id("gaps-section")).to_be_hidden()
        expect(page.get_by_test_id("review-section")).to_be_hidden()


def test_without_a_key_the_page_asks_for_one(browser, server, keys):
    shot = OUTPUT / "admin-no-key.png"
    with desk(browser, f"{server}/app/admin", shot) as page:
        expect(page.get_by_test_id("refusal")).to_contain_text("输入访问密钥")
        expect(page.get_by_test_id("settings-panel")).to_be_visible()
        page.get_by_test_id("key-input").fill(keys["admin"])
        page.get_by_test_id("key-save").click()
        expect(page.get_by_test_id("refusal")).to_be_hidden()
        expect(page.get_by_test_id("review-section")).to_be_visible()


# ---- GET /v1/review ---------------------------------------------------------------------------


def test_review_is_for_admin_keys_and_shows_only_what_the_key_may_see(server, keys, store):
    [row] = cypher(
        store,
        "MATCH (a:Atom {visibility: 'public', status: 'draft'}) WHERE a.review IS NULL "
        "WITH a ORDER BY a.id LIMIT 3 "
        "RETURN collect(a {.id, .type, .created_at}) AS atoms",
    )
    hidden, broken, old = row["atoms"]
    cypher(
        store,
        "MATCH (a:Atom {id: $hidden}) "
        "SET a.visibility = 'team', a.team = $team, a.review = 'stale', a.review_note = 'old' "
        "WITH a MATCH (b:Atom {id: $broken}) SET b.type = 'bogus' "
        "WITH b MATCH (c:Atom {id: $old}) SET c.created_at = datetime() - duration({days: 300})",
        hidden=hidden["id"],
        broken=broken["id"],
        old=old["id"],
        team=TEAM,
    )
    try:
        for key in ("search", "ingest", "asker"):
            response = httpx.get(f"{server}/v1/review", headers=auth(keys[key]))
            assert response.status_code == 403 and response.json()["code"] == "forbidden"
        assert httpx.get(f"{server}/v1/review").status_code == 401

        def items(key: str, kind: str, **params: object) -> dict[str, dict]:
            seen, offset = {}, 0
            while offset is not None:
                page = httpx.get(
                    f"{server}/v1/review",
                    params={"kind": kind, "offset": offset, "limit": 7, **params},
                    headers=auth(keys[key]),
                ).json()
                assert page["kind"] == kind and page["total"] >= len(page["items"])
                seen |= {item["id"]: item for item in page["items"]}
                offset = page["next_offset"]
            assert len(seen) == page["total"], "pages add up to the total"
            return seen

        # Team knowledge is listed for its team's admin key only, and counted for no other.
        assert hidden["id"] not in items("admin", "flagged")
        assert items("team_admin", "flagged")[hidden["id"]]["review_label"] == "久未核实"
        invalid = items("admin", "invalid")[broken["id"]]
        assert invalid["problems"] == ["类型无效 type=bogus"]
        assert invalid["type_label"] == "未知类型"
        stale = items("admin", "stale", days=200)
        assert list(stale) == [old["id"]] and stale[old["id"]]["unverified_days"] == 300
        assert "cmd=edit" in stale[old["id"]]["browser_url"]
        response = httpx.get(
            f"{server}/v1/review", params={"kind": "nope"}, headers=auth(keys["admin"])
        )
        assert response.status_code == 422
    finally:
        cypher(
            store,
            "MATCH (a:Atom {id: $hidden}) "
            "SET a.visibility = 'public', a.team = null REMOVE a.review, a.review_note "
            "WITH a MATCH (b:Atom {id: $broken}) SET b.type = $type "
            "WITH b MATCH (c:Atom {id: $old}) SET c.created_at = $created",
            hidden=hidden["id"],
            broken=broken["id"],
            type=broken["type"],
            old=old["id"],
            created=old["created_at"],
        )
