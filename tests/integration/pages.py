"""What the page and server-process tests share: Debian's Chromium (`make browser`), the real
server started in its own process against the test Neo4j, and pages at phone or desk size that
keep a screenshot in test-output/ and fail on script errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "test-output"
STARTUP_S = 120
SERVER_COMMAND = (sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory")
# Nothing in the background reaches for the network.
BROWSER_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SIZES = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "desk": {"viewport": {"width": 1280, "height": 900}},
}


def require_chromium() -> Path:
    """Debian's Chromium; a test without it fails in CI and is skipped elsewhere."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run `make browser` (Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(settings) -> dict[str, str]:
    """This environment less any SalesKG/Neo4j settings of the shell, pointed at the test
    instance and this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKG_", "NEO4J_"))}
    env.update(
        SKG_HOME=str(ROOT / ".skg"),
        NEO4J_PASSWORD=settings.password(),
        SKG_NEO4J_BOLT_PORT=str(settings.neo4j_bolt_port),
        SKG_NEO4J_HTTP_PORT=str(settings.neo4j_http_port),
        SKG_NEO4J_HOME=str(settings.neo4j_home_path),
        SKG_INDEX_DIR=str(settings.index_path),
        PYTHONPATH=str(ROOT),
    )
    return env


@dataclass
class Server:
    url: str
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(
    url: str, process: subprocess.Popen, log: Path, startup_s: float = STARTUP_S
) -> None:
    """Up (/livez) and then ready (/readyz: Neo4j, index and models loaded)."""
    deadline = time.monotonic() + startup_s
    for probe in ("/livez", "/readyz"):
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited ({process.returncode}):\n{log.read_text()}")
            try:
                if httpx.get(url + probe, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{probe} not OK within {startup_s} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.25)


def stop(process: subprocess.Popen, timeout_s: float = 15) -> None:
    """Terminate a server process, killing it when it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def server_process(
    settings,
    workdir: Path,
    request: pytest.FixtureRequest,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """The real server in its own process, as an operator runs it, started in ``workdir`` (an
    empty folder, so the repository's .env is not read) with ``env`` on top of
    ``server_env``; its log's tail is printed when a test that used it failed."""
    port = free_port()
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SERVER_COMMAND, "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env={**server_env(settings), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        running = Server(f"http://127.0.0.1:{port}", log)
        wait_ready(running.url, process, log)
        failed_before = request.session.testsfailed
        yield running
        if request.session.testsfailed > failed_before:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            reporter.write_line(f"\n---- server log: {log} ----\n{running.log_tail()}")
    finally:
        stop(process)


@contextmanager
def chromium_browser(chromium: Path, *extra_args: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=[*BROWSER_ARGS, *extra_args]
        )
        yield browser
        browser.close()


@contextmanager
def page_at(
    browser: Browser,
    url: str,
    shot: Path,
    size: Literal["phone", "desk"],
    timeout_ms: float = 15_000,
) -> Iterator[Page]:
    """A page at phone or desk size; its full-page screenshot is saved at the end, pass or
    fail, and uncaught script errors fail the test."""
    context = browser.new_context(locale="zh-CN", **SIZES[size])  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    try:
        page.goto(url)
        yield page
        assert not script_errors, f"script errors on the page: {script_errors} (see {shot})"
    finally:
        OUTPUT.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
