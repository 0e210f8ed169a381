import pytest
from pydantic import ValidationError

from api.settings import Settings, ensure_password
from kg.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("NEO4J_URI", "NEO4J_PASSWORD", "NEO4J_USER", "SKG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_local_server_is_the_default():
    settings = Settings()
    assert settings.managed_neo4j
    assert settings.bolt_uri == "bolt://127.0.0.1:7687"


def test_neo4j_uri_switches_to_an_external_server(monkeypatch):
    monkeypatch.setenv("NEO4J_URI", "neo4j+s://graph.example.internal")
    settings = Settings()
    assert not settings.managed_neo4j
    assert settings.bolt_uri == "neo4j+s://graph.example.internal"


@pytest.mark.parametrize("weak", ["neo4j", "password", "changethis"])
def test_well_known_passwords_are_refused(monkeypatch, weak):
    monkeypatch.setenv("NEO4J_PASSWORD", weak)
    with pytest.raises(ValidationError, match="well-known"):
        Settings()


def test_missing_password_is_a_clear_error():
    with pytest.raises(ConfigError, match="skg setup"):
        Settings().password()


def test_password_is_generated_once_into_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("SKG_TOP_K=5")
    assert ensure_password(env)
    first = Settings().password()
    assert len(first) >= 16
    assert not ensure_password(env)
    assert Settings().password() == first
    assert env.read_text().startswith("SKG_TOP_K=5\n")
    assert oct(env.stat().st_mode)[-3:] == "600"
