"""The ``skg`` commands as a user runs them, against the test Neo4j and the real models."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import EVAL_DATA, SAMPLES, TEST_BOLT_PORT, TEST_HOME, TEST_HTTP_PORT

pytestmark = pytest.mark.integration

QUESTION = "如何向宁德时代解释热失控防护方案？"


@pytest.fixture
def cli_env(monkeypatch, settings, store, tmp_path):
    """Point the CLI's own Settings() at the test instance, as environment variables would."""
    env = {
        "SKG_HOME": str(TEST_HOME),
        "NEO4J_PASSWORD": settings.password(),
        "SKG_NEO4J_HOME": str(settings.neo4j_home_path),
        "SKG_NEO4J_BOLT_PORT": str(settings.neo4j_bolt_port),
        "SKG_NEO4J_HTTP_PORT": str(settings.neo4j_http_port),
        "SKG_INDEX_DIR": str(tmp_path / "index"),
    }
    monkeypatch.delenv("NEO4J_URI", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_every_command_has_help():
    for args in (
        [],
        ["setup"],
        ["demo"],
        ["neo4j"],
        ["neo4j", "start"],
        ["neo4j", "stop"],
        ["neo4j", "status"],
        ["neo4j", "resolve"],
        ["models"],
        ["models", "prepare"],
        ["models", "status"],
        ["index", "sync"],
        ["ingest"],
        ["ask"],
        ["serve"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
        ["openapi"],
        ["brief"],
        ["mcp"],
        ["report", "gaps"],
    ):
        result = run(*args, "--help")
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_status_prints_ports_browser_and_versions(cli_env):
    result = run("neo4j", "status")
    assert result.exit_code == 0, result.output
    assert f"bolt://127.0.0.1:{TEST_BOLT_PORT}" in result.output
    assert f"http://127.0.0.1:{TEST_HTTP_PORT}/browser/" in result.output
    assert "5.26.19" in result.output


def test_ingest_then_ask_typed_and_spoken(cli_env, tmp_path):
    result = run("ingest", str(SAMPLES))
    assert result.exit_code == 0, result.output
    assert "failures: 0" in result.output

    typed = run("ask", QUESTION, "--json")
    assert typed.exit_code == 0, typed.output
    answer = json.loads(typed.output)
    top_paths = [c["document_path"] for c in answer["citations"][:5]]
    assert "cases/catl-thermal-runaway.md" in top_paths
    assert answer["answered"] is True and 0 < answer["confidence"] <= 1

    # Many questions from a file, models loaded once; nonsense is declined with leads; a bad
    # line is answered with an error and the rest go on.
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"_id": "q1", "text": QUESTION}, ensure_ascii=False)
        + "\n"
        + json.dumps({"id": "q2", "text": "asdfqwer zxcv"})
        + "\nnot json\n",
        encoding="utf-8",
    )
    many = run("ask", "--json", "--from", str(batch))
    assert many.exit_code == 0, many.output
    lines = [json.loads(line) for line in many.output.splitlines() if line.strip()]
    assert [line["id"] for line in lines] == ["q1", "q2", "line 3"]
    assert lines[0]["answered"] is True and lines[1]["answered"] is False
    assert lines[1]["sections"] == [] and lines[1]["leads"] and "error" in lines[2]

    spoken = run("ask", "--audio", str(EVAL_DATA / "speech_zh/questions/q01.wav"), "--json")
    assert spoken.exit_code == 0, spoken.output
    payload = json.loads(spoken.output)
    assert "热失控" in payload["transcript"]["text"]
    assert any("热失控" in c["atom_title"] for c in payload["citations"][:3])


def test_ask_without_a_question_is_a_usage_error(cli_env):
    result = run("ask")
    assert result.exit_code == 2
    assert "a QUESTION, --audio FILE, --from FILE.jsonl" in result.output


def _skg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the installed entry point's main() in a child process, as a shell would."""
    code = "from api.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_user_errors_are_one_line_without_traceback(cli_env, tmp_path):
    env = {**os.environ, **cli_env, "SKG_INDEX_DIR": str(tmp_path / "no-index")}
    proc = _skg("ask", QUESTION, env=env)
    assert proc.returncode == 1
    assert "skg index sync" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout

    bad_audio = tmp_path / "broken.m4a"
    bad_audio.write_bytes(b"\x00not audio" * 50)
    proc = _skg("ask", "--audio", str(bad_audio), env=env)
    assert proc.returncode == 1
    assert "无法解码音频" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout

    clip = EVAL_DATA / "speech_zh" / "questions" / "q01.wav"
    proc = _skg("transcribe", str(clip), env={**env, "SKG_AUDIO_MAX_SECONDS": "1"})
    assert proc.returncode == 1
    assert "音频过长，上限 1 秒" in proc.stderr


def test_a_dictated_debrief_becomes_field_notes(cli_env, store):
    assert run("ingest", str(SAMPLES)).exit_code == 0  # the graph the recognizer learns from
    clip = EVAL_DATA / "speech_zh" / "questions" / "q01.wav"
    result = run("ingest", "--audio", str(clip))
    assert result.exit_code == 0, result.output
    records, _, _ = store._driver.execute_query(
        "MATCH (a:Atom {type: 'field_note'})-[:FROM]->(d:Document {kind: 'voice_debrief'}) "
        "OPTIONAL MATCH (a)-[:MENTIONS]->(e:Entity) "
        "RETURN d.path AS path, a.text AS text, collect(e.name) AS entities"
    )
    assert records and records[0]["path"] == "q01.wav"
    assert "宁德时代" in records[0]["text"]  # corrected from 您得时代 by the graph's vocabulary
    assert {"宁德时代", "热失控"} <= set(records[0]["entities"])
    again = run("ingest", "--audio", str(clip))
    assert "failures: 0" in " ".join(again.output.split())
