"""The project-managed local Neo4j 5.26 Community server.

Neo4j is not packaged for Debian or PyPI, so ``resolve`` lets Maven fetch the server, Browser and
APOC jars from Maven Central into a shared distribution folder; each instance (the demo's, the
tests') has its own home with ``conf/``, ``data/``, ``logs/`` and ``run/``. The JVM is started
directly on ``org.neo4j.server.CommunityEntryPoint`` with the flags of Neo4j's own launcher.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from kg.errors import (
    JavaNotFoundError,
    Neo4jServerError,
    PortInUseError,
    ServerStartTimeout,
)

logger = logging.getLogger(__name__)

NEO4J_VERSION = "5.26.19"
SUPPORTED_JAVA = (17, 21)
JAVA_CANDIDATES = (
    "/usr/lib/jvm/java-17-openjdk-amd64",
    "/usr/lib/jvm/java-21-openjdk-amd64",
)
# The flags of Neo4j 5.26's own launcher; without the --add-opens ones vector index builds stall.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-XX:+ExitOnOutOfMemoryError",
    "-Dfile.encoding=UTF-8",
)
RESOLVED_MARKER = ".resolved"
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class ServerConfig:
    """Where a local Neo4j instance lives and how it runs."""

    dist_dir: Path
    home_dir: Path
    bolt_port: int = 7687
    http_port: int = 7474
    listen_address: str = "127.0.0.1"
    advertised_address: str = "localhost"
    heap: str = "1g"
    pagecache: str = "512m"
    tx_memory: str = "512m"
    java_home: Path | None = None
    start_timeout_s: float = 180.0
    stop_timeout_s: float = 120.0


@dataclass(frozen=True)
class ServerStatus:
    """What ``skg neo4j status`` reports."""

    running: bool
    pid: int | None
    bolt_uri: str
    browser_url: str
    home_dir: Path
    log_path: Path
    resolved: bool


class LocalNeo4jServer:
    """Resolve, configure, start and stop one local Neo4j instance."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.home = config.home_dir.resolve()
        self.dist = config.dist_dir.resolve()

    # -- paths -------------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.home / "run" / "skg-neo4j.pid"

    @property
    def log_path(self) -> Path:
        return self.home / "logs" / "console.log"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.config.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}/browser/"

    def is_resolved(self) -> bool:
        marker = self.dist / RESOLVED_MARKER
        return marker.exists() and marker.read_text().strip() == NEO4J_VERSION

    # -- resolve -----------------------------------------------------------------------------
    def resolve(self) -> bool:
        """Fetch the jars with Maven unless already done; return True when work was done."""
        if self.is_resolved():
            return False
        mvn = shutil.which("mvn")
        if mvn is None:
            raise Neo4jServerError(
                "Maven (mvn) is not installed; it resolves Neo4j from Maven Central. "
                "Install it with `apt-get install maven`."
            )
        pom = resources.files("kg.server").joinpath("pom.xml")
        staging = self.dist.with_name(self.dist.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with resources.as_file(pom) as pom_path:
            shutil.copy(pom_path, staging / "pom.xml")
        logger.info("resolving Neo4j %s with Maven into %s", NEO4J_VERSION, self.dist)
        proc = subprocess.run(
            [mvn, "-B", "-q", "-f", str(staging / "pom.xml"), "package", f"-Dneo4j.dist={staging}"],
            capture_output=True,
            text=True,
            env={**os.environ, "JAVA_HOME": str(self.java_home())},
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise Neo4jServerError(f"Maven could not resolve Neo4j {NEO4J_VERSION}:\n{tail}")
        shutil.rmtree(staging / "target", ignore_errors=True)
        (staging / RESOLVED_MARKER).write_text(NEO4J_VERSION + "\n")
        shutil.rmtree(self.dist, ignore_errors=True)
        staging.rename(self.dist)
        return True

    # -- java --------------------------------------------------------------------------------
    def java_home(self) -> Path:
        """Find a Java 17 or 21 runtime (Neo4j 5.26 supports no other)."""
        candidates = [self.config.java_home] if self.config.java_home else []
        if os.environ.get("JAVA_HOME"):
            candidates.append(Path(os.environ["JAVA_HOME"]))
        candidates += [Path(p) for p in JAVA_CANDIDATES]
        found = []
        for home in candidates:
            java = home / "bin" / "java"
            if not java.exists():
                continue
            major = _java_major(java)
            found.append(f"{java} ({major})")
            if major in SUPPORTED_JAVA:
                return home
        raise JavaNotFoundError(
            "Neo4j 5.26 needs Java 17 or 21, and none was found"
            + (f" (seen: {', '.join(found)})" if found else "")
            + ". Install it with `apt-get install openjdk-17-jre-headless` "
            "or set SKG_JAVA_HOME to its folder."
        )

    # -- configure ---------------------------------------------------------------------------
    def write_config(self) -> None:
        for sub in ("conf", "data", "logs", "run", "import"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        template = Template(resources.files("kg.server").joinpath("neo4j.conf").read_text())
        c = self.config
        text = template.substitute(
            home=self.home,
            dist=self.dist,
            listen_address=c.listen_address,
            advertised_address=c.advertised_address,
            bolt_port=c.bolt_port,
            http_port=c.http_port,
            pagecache=c.pagecache,
            tx_memory=c.tx_memory,
        )
        (self.home / "conf" / "neo4j.conf").write_text(text)

    def has_initial_password(self) -> bool:
        return (self.home / "data" / "dbms" / "auth.ini").exists() or (
            self.home / "data" / "databases" / "system"
        ).exists()

    def set_initial_password(self, password: str) -> None:
        """Set the password before the very first start (no-op afterwards)."""
        if self.has_initial_password():
            return
        if len(password) < 8:
            raise Neo4jServerError("NEO4J_PASSWORD must have at least 8 characters.")
        proc = subprocess.run(
            [
                str(self.java_home() / "bin" / "java"),
                "-cp",
                f"{self.dist}/lib/*",
                f"-Dbasedir={self.home}",
                "org.neo4j.server.startup.Neo4jAdminCommand",
                "dbms",
                "set-initial-password",
                "--require-password-change=false",
                "--",  # a generated password may start with "-"
                password,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "NEO4J_CONF": str(self.home / "conf")},
        )
        if proc.returncode != 0:
            raise Neo4jServerError(f"Could not set the initial password:\n{proc.stderr[-2000:]}")

    # -- lifecycle ---------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of this instance's JVM when it is alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and str(self.home) not in cmdline.read_text(errors="replace"):
            return None  # the pid was reused by another process
        return pid

    def start(self, password: str) -> bool:
        """Start the server unless it already runs; wait until it is ready.

        Returns:
            True when a new process was started, False when it was already running.
        """
        if self.pid() is not None:
            self.wait_ready()
            return False
        if not self.is_resolved():
            raise Neo4jServerError("Neo4j is not resolved yet: run `skg neo4j resolve` first.")
        java = self.java_home() / "bin" / "java"
        for port in (self.config.bolt_port, self.config.http_port):
            if _port_taken(self.config.listen_address, port):
                raise PortInUseError(
                    f"Port {port} is already taken by another process, so this Neo4j cannot "
                    f"start. Stop that process, choose other ports (SKG_NEO4J_BOLT_PORT, "
                    f"SKG_NEO4J_HTTP_PORT), or point NEO4J_URI at a Neo4j you already run."
                )
        self.write_config()
        self.set_initial_password(password)
        cmd = [
            str(java),
            "-cp",
            f"{self.dist}/plugins/*:{self.home}/conf/*:{self.dist}/lib/*",
            *JVM_FLAGS,
            f"-Xms{self.config.heap}",
            f"-Xmx{self.config.heap}",
            "org.neo4j.server.CommunityEntryPoint",
            f"--home-dir={self.home}",
            f"--config-dir={self.home}/conf",
            "--console-mode",
        ]
        logger.info("starting Neo4j %s (bolt %s)", NEO4J_VERSION, self.bolt_uri)
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.home,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        try:
            self.wait_ready(proc)
        except Neo4jServerError:
            self.stop()
            raise
        return True

    def wait_ready(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        """Block until the HTTP endpoint answers 200, or raise with the log tail."""
        deadline = time.monotonic() + self.config.start_timeout_s
        url = f"http://127.0.0.1:{self.config.http_port}/"
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise Neo4jServerError(
                    f"Neo4j exited with code {proc.returncode} while starting.\n"
                    f"Last lines of {self.log_path}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise ServerStartTimeout(
            f"Neo4j did not answer on {url} within {self.config.start_timeout_s:.0f} s.\n"
            f"Last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self) -> bool:
        """SIGTERM, wait for a clean shutdown, SIGKILL only after the timeout."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.3)
        if _alive(pid):
            logger.warning("Neo4j (pid %d) ignored SIGTERM; killing it", pid)
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> ServerStatus:
        pid = self.pid()
        return ServerStatus(
            running=pid is not None,
            pid=pid,
            bolt_uri=self.bolt_uri,
            browser_url=self.browser_url,
            home_dir=self.home,
            log_path=self.log_path,
            resolved=self.is_resolved(),
        )

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"


def _java_major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else None


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists() and "Z" not in _proc_state(pid)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"
