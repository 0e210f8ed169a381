"""`skg mcp` as agents use it, through the official MCP SDK's own clients: over stdio (the
client starts `skg mcp` with a key) and over streamable HTTP (`skg mcp --http`, a key per
request), on the real Neo4j with the samples and one team-only document ingested.

Two teams' keys: the team's atom and its customer are found by one and "not found" for the
other; a key without the scope gets a tool error; HTTP without a valid key is 401."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from api.keys import ApiKeys
from ingest.pipeline import ingest_paths
from retrieval.index.sync import sync_index
from tests.conftest import SAMPLES
from tests.cypher import cypher
from tests.integration import pages

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SKG = Path(sys.executable).parent / "skg"
TEAM_A, TEAM_B = "华东大客户部", "华南渠道部"
SECRET = "朱雀条款"  # only the team document says it
CUSTOMER = "澜沧储能"  # a customer only the team document names
QUESTION = "如何向宁德时代解释热失控防护方案？"
STARTUP_S = 180  # the server loads the embedding and speech models first
TOOLS = {"search", "ask", "get_atom", "find_entities", "get_entity"}

TEAM_DOC = f"""---
标题: {CUSTOMER}储能柜项目内部打法
客户: {CUSTOMER}
可见范围: 团队
团队: {TEAM_A}
---
## 报价策略
{SECRET}：{CUSTOMER}储能柜项目的报价底线为标准价的九折，低于此价需大区总监审批。
先讲热失控防护试验数据和簇级气体探测，再谈价格。
"""


# ---- Data, keys and the server's environment -------------------------------------------------


@pytest.fixture(scope="module")
def ingested(store, embedder, settings, tmp_path_factory):
    """The samples and the team document, in the graph and the index (not wiped first: the
    samples of earlier modules are not embedded again)."""
    folder = tmp_path_factory.mktemp("mcp") / "团队资料"
    folder.mkdir()
    (folder / "lancang.md").write_text(TEAM_DOC, encoding="utf-8")
    report = ingest_paths([SAMPLES, folder], store)
    assert report.failures == []
    sync_index(store, embedder, settings.index_path)
    rows = cypher(store, "MATCH (a:Atom) WHERE a.text CONTAINS $s RETURN a.id AS id", s=SECRET)
    assert len(rows) == 1, "the team document makes one atom"
    return rows[0]["id"]


@pytest.fixture(scope="module")
def keys(ingested, store) -> dict[str, str]:
    make = ApiKeys(store).create
    return {
        "a": make("mcp-华东", ["search", "ask"], team=TEAM_A)[1],
        "b": make("mcp-华南", ["search", "ask"], team=TEAM_B)[1],
        "search_only": make("mcp-只读", ["search"], team=TEAM_A)[1],
        "ingest_only": make("mcp-导入", ["ingest"], team=TEAM_A)[1],
    }


def server_env(settings, **extra: str) -> dict[str, str]:
    """The page tests' server environment (tests/integration/pages.py) without background
    refresh (the test process syncs the index)."""
    return {**pages.server_env(settings), "SKG_INDEX_REFRESH_SECONDS": "0", **extra}


# ---- The SDK's clients ------------------------------------------------------------------------


@asynccontextmanager
async def stdio_session(settings, key: str, workdir: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=str(SKG), args=["mcp"], env=server_env(settings, SKG_API_KEY=key), cwd=workdir
    )
    with (workdir / "stderr.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=STARTUP_S) as session,
        ):
            await session.initialize()
            yield session


@asynccontextmanager
async def http_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write, read_timeout_seconds=120) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured result; fails on a tool error."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}: {result.content}"
    assert result.structured_content is not None
    return result.structured_content


async def tool_error(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """The API error body a failing tool call carries."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should fail: {result.structured_content}"
    text = result.content[0].text
    return json.loads(text[text.index("{") :])


# ---- What one team sees and the other does not ---------------------------------------------


async def sees_team_knowledge(session: ClientSession, team_atom: str) -> None:
    """Checks for team A's key: its atom, its customer, and a cited answer."""
    tools = await session.list_tools()
    assert {t.name for t in tools.tools} == TOOLS
    assert all(t.output_schema for t in tools.tools), "results are structured JSON"
    for tool in tools.tools:  # English, with Chinese examples
        assert re.search(r"[A-Za-z]{4,}", tool.description or ""), tool.name
        assert re.search(r"[\u4e00-\u9fff]", tool.description or ""), tool.name

    page = await call(session, "search", query=SECRET, top_k=5)
    assert team_atom in [h["atom"]["id"] for h in page["hits"]]
    hit = next(h for h in page["hits"] if h["atom"]["id"] == team_atom)
    assert hit["atom"]["visibility"] == "team" and hit["citation"]["document_title"]
    assert {"answered", "confidence", "total"} <= set(page)

    atom = await call(session, "get_atom", atom_id=team_atom)
    assert SECRET in atom["atom"]["text"] and atom["atom"]["team"] == TEAM_A

    found = await call(session, "find_entities", q=CUSTOMER[:2])
    assert f"customer:{CUSTOMER}" in [e["id"] for e in found["items"]]
    entity = await call(session, "get_entity", entity_id=f"customer:{CUSTOMER}")
    assert team_atom in [a["id"] for a in entity["atoms"]]

    answer = await call(session, "ask", question=QUESTION)
    assert answer["answer_id"].startswith("ans-") and "宁德时代" in answer["text"]
    assert answer["answer"]["answered"] is True and 0 < answer["answer"]["confidence"] <= 1
    cited = answer["answer"]["citations"]
    assert cited and all(c["atom_id"] and c["document_title"] for c in cited)
    numbers = {n for s in answer["answer"]["sections"] for p in s["points"] for n in p["citations"]}
    assert numbers <= {c["number"] for c in cited}


async def does_not_see_team_knowledge(session: ClientSession, team_atom: str) -> None:
    """Checks for team B's key: A's atom and customer do not exist for it."""
    page = await call(session, "search", query=SECRET, top_k=50)
    assert team_atom not in [h["atom"]["id"] for h in page["hits"]]
    assert all(SECRET not in h["atom"]["text"] for h in page["hits"])
    error = await tool_error(session, "get_atom", atom_id=team_atom)
    assert error["code"] == "not_found" and error["request_id"]
    found = await call(session, "find_entities", q=CUSTOMER[:2])
    assert found["items"] == [] and found["total"] == 0
    error = await tool_error(session, "get_entity", entity_id=f"customer:{CUSTOMER}")
    assert error["code"] == "not_found"
    answer = await call(session, "ask", question=f"{CUSTOMER}的报价底线是多少？")
    everything = json.dumps(answer, ensure_ascii=False)
    assert SECRET not in everything and team_atom not in everything


# ---- stdio ------------------------------------------------------------------------------------


def test_stdio_team_key_sees_its_team_knowledge_and_gets_cited_answers(
    settings, ingested, keys, tmp_path
):
    async def run() -> None:
        async with stdio_session(settings, keys["a"], tmp_path) as session:
            await sees_team_knowledge(session, ingested)

    anyio.run(run)


def test_stdio_other_team_key_finds_nothing_of_it(settings, ingested, keys, tmp_path):
    async def run() -> None:
        async with stdio_session(settings, keys["b"], tmp_path) as session:
            await does_not_see_team_knowledge(session, ingested)

    anyio.run(run)


def test_stdio_refuses_to_start_without_a_valid_key(settings, keys, tmp_path):
    for extra in ({}, {"SKG_API_KEY": keys["a"][:-3] + "xyz"}):
        done = subprocess.run(
            [str(SKG), "mcp"],
            env=server_env(settings, **extra),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        assert "SKG_API_KEY" in done.stderr if not extra else "API 密钥无效" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


# ---- streamable HTTP --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(settings, ingested, keys, tmp_path_factory) -> Iterator[str]:
    port = pages.free_port()
    workdir = tmp_path_factory.mktemp("mcp-http")
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(SKG), "mcp", "--http", "--port", str(port)],
            cwd=workdir,
            env=server_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:  # up once it answers at all (401: no key)
            if process.poll() is not None:
                pytest.fail(f"skg mcp --http exited ({process.returncode}):\n{log.read_text()}")
            try:
                httpx.post(url, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"not up within {STARTUP_S} s:\n{log.read_text()[-4000:]}")
                time.sleep(0.5)
        yield url
    finally:
        pages.stop(process)


def test_http_without_a_valid_key_is_401(http_server, keys):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer " + keys["a"][:-3] + "xyz"}, {"Authorization": "x"}):
        response = httpx.post(http_server, json=initialize, headers={**headers, **auth})
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["code"] == "unauthorized"


def test_http_keys_of_two_teams(http_server, ingested, keys):
    async def run() -> None:
        async with http_session(http_server, keys["a"]) as session:
            await sees_team_knowledge(session, ingested)
        async with http_session(http_server, keys["b"]) as session:
            await does_not_see_team_knowledge(session, ingested)

    anyio.run(run)


def test_http_a_key_without_the_scope_gets_a_tool_error(http_server, ingested, keys):
    async def run() -> None:
        async with http_session(http_server, keys["search_only"]) as session:
            assert (await call(session, "search", query=QUESTION))["hits"]
            error = await tool_error(session, "ask", question=QUESTION)
            assert error["code"] == "forbidden" and "ask" in error["detail"]
        async with http_session(http_server, keys["ingest_only"]) as session:
            for tool, arguments in (
                ("search", {"query": QUESTION}),
                ("get_atom", {"atom_id": ingested}),
                ("find_entities", {"q": "宁德"}),
            ):
                error = await tool_error(session, tool, **arguments)
                assert error["code"] == "forbidden", tool

    anyio.run(run)
