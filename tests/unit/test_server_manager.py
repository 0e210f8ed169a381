import socket

import pytest

from kg.errors import JavaNotFoundError, PortInUseError
from kg.server import manager
from kg.server.manager import LocalNeo4jServer, ServerConfig

pytestmark = pytest.mark.unit


def _server(tmp_path, **kw) -> LocalNeo4jServer:
    return LocalNeo4jServer(ServerConfig(dist_dir=tmp_path / "dist", home_dir=tmp_path / "h", **kw))


def test_taken_port_is_reported_before_starting(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / manager.RESOLVED_MARKER).write_text(manager.NEO4J_VERSION)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        server = _server(tmp_path, bolt_port=port, http_port=port)
        with pytest.raises(PortInUseError, match=str(port)):
            server.start("a-long-password")
    assert server.pid() is None


def test_missing_java_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(manager, "JAVA_CANDIDATES", ())
    monkeypatch.delenv("JAVA_HOME", raising=False)
    server = _server(tmp_path, java_home=tmp_path / "no-java")
    with pytest.raises(JavaNotFoundError, match="Java 17 or 21"):
        server.java_home()


def test_config_is_written_with_ports_memory_and_absolute_dirs(tmp_path):
    server = _server(tmp_path, bolt_port=17687, http_port=17474, pagecache="256m")
    server.write_config()
    conf = (tmp_path / "h" / "conf" / "neo4j.conf").read_text()
    assert "server.bolt.listen_address=:17687" in conf
    assert "server.http.listen_address=:17474" in conf
    assert "server.memory.pagecache.size=256m" in conf
    assert f"server.directories.plugins={(tmp_path / 'dist').resolve()}/plugins" in conf
    assert "$" not in conf


def test_unresolved_server_refuses_to_start(tmp_path):
    with pytest.raises(Exception, match="skg neo4j resolve"):
        _server(tmp_path).start("a-long-password")
