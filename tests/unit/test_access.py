"""Access rules, API key format, highlights, job ownership and the index lock: pure logic."""

import os
import socket
import subprocess
import sys

import pytest

from api.jobs import _alive, safe_name
from api.keys import KEY_PATTERN
from api.schemas import FeedbackCreate, next_offset
from kg.access import ANONYMOUS, Scope, Viewer
from kg.errors import IngestError
from retrieval.answers.highlight import highlight
from retrieval.index.lock import index_lock

pytestmark = pytest.mark.unit

EAST = Viewer("k1", "crm-east", frozenset({Scope.SEARCH}), team="华东", user="王磊")


@pytest.mark.parametrize(
    ("atom", "visible"),
    [
        ({"visibility": "public"}, True),
        ({"visibility": "team", "team": "华东"}, True),
        ({"visibility": "team", "team": "华南"}, False),
        ({"visibility": "team", "team": ""}, False),
        ({"visibility": "private", "owner": "王磊"}, True),
        ({"visibility": "private", "owner": "李娜"}, False),
        ({"visibility": "secret"}, False),  # unknown: hidden, never leaked
    ],
)
def test_visibility_rules(atom, visible):
    assert EAST.can_see(atom) is visible


def test_a_viewer_without_team_or_user_sees_only_public_atoms():
    assert ANONYMOUS.can_see({"visibility": "public"})
    assert not ANONYMOUS.can_see({"visibility": "team", "team": ""})
    assert not ANONYMOUS.can_see({"visibility": "private", "owner": ""})
    assert not ANONYMOUS.allows(Scope.INGEST)


def test_key_format():
    assert KEY_PATTERN.match("skg_0a1b2c3d_" + "x" * 43)
    assert not KEY_PATTERN.match("skg_0A1B2C3D_" + "x" * 43)
    assert not KEY_PATTERN.match("Bearer skg_0a1b2c3d_" + "x" * 43)


def test_upload_names_lose_their_folders():
    assert safe_name("../../etc/passwd.md") == "passwd.md"
    assert safe_name("C:\\Users\\rep\\案例.docx") == "案例.docx"
    with pytest.raises(IngestError):
        safe_name("../")


def test_highlights_mark_terms_and_escape_html():
    [fragment] = highlight("<b>宁德时代</b>关注热失控防护", ["宁德时代", "热失控", "的"])
    assert fragment == "&lt;b&gt;<em>宁德时代</em>&lt;/b&gt;关注<em>热失控</em>防护"
    assert highlight("没有匹配", ["宁德时代"]) == []


def test_feedback_names_a_target():
    with pytest.raises(ValueError):
        FeedbackCreate(kind="helpful")
    assert FeedbackCreate(kind="helpful", answer_id="ans-1", atom_id="atom-1").atom_id
    assert FeedbackCreate(kind="deal_won", atom_id="atom-1", deal="OPP-1").deal == "OPP-1"


def test_next_offset():
    assert next_offset(0, 10, 25) == 10
    assert next_offset(20, 5, 25) is None
    assert next_offset(0, 0, 0) is None


def test_jobs_of_a_gone_process_are_abandoned_and_others_kept():

    host = socket.gethostname()
    assert _alive(f"{host}:{os.getpid()}")
    assert not _alive(f"{host}:999999999")
    assert not _alive(None), "jobs from before workers were recorded"
    assert _alive("another-server:123"), "another host's jobs are left alone"


def test_an_index_writer_excludes_readers_in_other_processes(tmp_path):

    probe = (
        "import fcntl, sys; f = open(sys.argv[1], 'a'); "
        "fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)"
    )
    lock_file = tmp_path / "index.lock"
    with index_lock(tmp_path / "index", exclusive=True):
        blocked = subprocess.run([sys.executable, "-c", probe, str(lock_file)], check=False)
    free = subprocess.run([sys.executable, "-c", probe, str(lock_file)], check=False)
    assert blocked.returncode != 0 and free.returncode == 0
