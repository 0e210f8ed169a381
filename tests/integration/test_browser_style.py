"""curation/style.grass in the real Neo4j Browser (served by the test Neo4j on its HTTP port),
in headless Chromium, as docs/curation.md tells knowledge managers to load it: drop the file
on Browser, run a query, and read the captions Browser drew. Screenshot:
test-output/browser-style.png."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect, sync_playwright

from ingest.pipeline import ingest_paths
from tests.conftest import ROOT, SAMPLES
from tests.cypher import cypher
from tests.integration.pages import OUTPUT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STYLE = ROOT / "curation" / "style.grass"
CUSTOMER = "customer:宁德时代"


@pytest.fixture(scope="module")
def shown(store) -> dict[str, str]:
    """A case atom about 宁德时代, its caption, its document's title and the customer's name
    (the samples are ingested if an earlier module has not; no index is needed)."""
    report = ingest_paths([SAMPLES], store)
    assert report.failures == []
    rows = cypher(
        store,
        "MATCH (a:Atom {type: 'case', visibility: 'public'})-[:MENTIONS]->(e:Entity {id: $e}), "
        "      (a)-[:FROM]->(d:Document) "
        "RETURN a.id AS id, a.caption AS caption, a.section AS section, d.title AS document, "
        "       e.name AS name ORDER BY a.id LIMIT 1",
        e=CUSTOMER,
    )
    assert rows, "a sample case mentions 宁德时代"
    return rows[0].data()


def test_the_style_captions_atoms_entities_and_documents_readably(settings, chromium, shown):
    # Ingest gave the atom its caption: its type in Chinese and its section.
    assert shown["caption"] == f"成功案例 {shown['section']}"
    query = (
        f"MATCH (a:Atom {{id: '{shown['id']}'}})-[m:MENTIONS]->(e:Entity {{id: '{CUSTOMER}'}}), "
        "(a)-[f:FROM]->(d:Document) RETURN a, m, e, f, d"
    )
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        try:
            page.goto(
                f"http://127.0.0.1:{settings.neo4j_http_port}/browser/"
                f"?dbms=neo4j://neo4j@127.0.0.1:{settings.neo4j_bolt_port}"
            )
            page.locator("input[type=password]").fill(settings.password())
            page.locator("button[data-testid=connect]").click()
            expect(page.get_by_text("You are connected as user")).to_be_visible(timeout=30_000)

            # Drag the file onto Browser (docs/curation.md): it loads it and shows `:style`.
            page.evaluate(
                """(data) => {
                  const text = new TextDecoder().decode(
                    Uint8Array.from(atob(data), c => c.charCodeAt(0)));
                  const transfer = new DataTransfer();
                  transfer.items.add(new File([text], 'style.grass'));
                  const target = document.querySelector('.filedrop');
                  for (const type of ['dragenter', 'dragover', 'drop']) {
                    target.dispatchEvent(new DragEvent(type, {
                      bubbles: true, cancelable: true, dataTransfer: transfer}));
                  }
                }""",
                base64.b64encode(STYLE.read_bytes()).decode(),
            )
            expect(page.get_by_text("node.Atom").first).to_be_visible(timeout=15_000)

            editor = page.locator(".monaco-editor").first
            editor.click()
            page.keyboard.type(query)
            page.keyboard.press("Escape")  # close the editor's suggestions first
            page.keyboard.press("Control+Enter")
            graph = page.locator("svg g.node").first
            expect(graph, "no graph was drawn").to_be_visible(timeout=30_000)
            page.wait_for_timeout(2_000)  # let the layout settle for the screenshot

            # Browser draws a caption as lines of whole words (shortened with … when long).
            captions = [t.strip() for t in page.locator("svg g.node text").all_text_contents()]
            drawn = " ".join(captions)
            assert shown["caption"] in drawn, f"the atom's type and section: {captions}"
            assert shown["name"] in captions, f"the customer is not captioned by name: {captions}"
            assert shown["document"][:3] in drawn, f"the document's title is missing: {captions}"
            fills = {
                (circle.get_attribute("fill") or "").upper()
                for circle in page.locator("svg g.node circle").all()
            }
            assert {"#4C8EDA", "#F16667", "#D9C8AE"} <= fills, f"colours per label: {fills}"
        finally:
            page.screenshot(path=str(OUTPUT / "browser-style.png"))
            browser.close()


def test_captions_missing_or_out_of_date_are_filled_in_at_start_up(store, shown):
    """What every process start does (``ensure_schema``): captions of atoms written before
    captions existed, or whose title or type a curator changed in Browser."""
    before = cypher(store, "MATCH (a:Atom {id: $id}) RETURN a.title AS title", id=shown["id"])
    title = before[0]["title"]
    try:
        cypher(
            store,
            "MATCH (a:Atom {id: $id}) SET a.title = '新标题 · 竞品对比', a.type = 'competitor' "
            "WITH a MATCH (b:Atom) WHERE b.id <> a.id WITH b LIMIT 3 REMOVE b.caption",
            id=shown["id"],
        )
        assert store.caption_atoms() == 4
        [row] = cypher(store, "MATCH (a:Atom {id: $id}) RETURN a.caption AS c", id=shown["id"])
        assert row["c"] == "竞品 竞品对比"
        assert (
            cypher(store, "MATCH (a:Atom) WHERE a.caption IS NULL RETURN count(a) AS n")[0]["n"]
            == 0
        )
        assert store.caption_atoms() == 0, "nothing is written once captions are right"
    finally:
        cypher(
            store,
            "MATCH (a:Atom {id: $id}) SET a.title = $title, a.type = 'case'",
            id=shown["id"],
            title=title,
        )
        store.caption_atoms()
