"""Who may write what, and who may see which names: pure logic of kg.access, ingest.claims,
retrieval.visibility and the transcript filter."""

from __future__ import annotations

import pytest

from api.views import visible_recognition
from ingest.claims import enforce_claims
from ingest.parsed import split_names
from ingest.sources import document_id
from kg.access import Scope, Viewer, Writer
from kg.errors import IngestError, PermissionDeniedError
from kg.models import Atom, AtomType, CurationStatus, SourceSpan, Visibility, atom_problems
from retrieval.retrievers.graph import GraphSnapshot
from retrieval.visibility import EntityScope
from speech.base import Transcript
from speech.correction import Change
from speech.recognizer import Recognition

pytestmark = pytest.mark.unit

EAST_KEY = Viewer("k1", "east", frozenset({Scope.INGEST}), team="华东", user="王磊")
EAST = Writer.for_key(EAST_KEY)


def atom(**fields) -> Atom:
    return Atom(
        id="atom-1",
        type=AtomType.CASE,
        title="t",
        text="正文",
        source=SourceSpan(document_id="doc-1", section="", start=0, end=0),
        **fields,
    )


def test_a_key_writes_in_its_teams_namespace_and_admin_as_the_operator():
    assert EAST.namespace == "team:华东" and not EAST.trusted and not EAST.may_approve
    user_only = Writer.for_key(Viewer("k2", "li", frozenset({Scope.INGEST}), user="李娜"))
    assert user_only.namespace == "user:李娜"
    admin = Writer.for_key(Viewer("k3", "ops", frozenset({Scope.ADMIN})))
    assert admin.namespace is None and admin.trusted and admin.may_approve
    with pytest.raises(PermissionDeniedError):
        Writer.for_key(Viewer("k4", "nobody", frozenset({Scope.INGEST})))
    with pytest.raises(PermissionDeniedError):
        Writer.for_key(Viewer("k5", "reader", frozenset({Scope.SEARCH}), team="华东"))


def test_documents_of_different_owners_have_different_ids_and_the_organisations_keep_theirs():
    org = document_id("cases", "a.md")
    assert org == document_id("cases", "a.md", None)
    assert (
        len(
            {
                org,
                document_id("cases", "a.md", "team:华东"),
                document_id("cases", "a.md", "team:华南"),
            }
        )
        == 3
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"team": "华南"}, "团队"),
        ({"owner": "王五"}, "负责人"),
    ],
)
def test_claims_beyond_the_key_refuse_the_file(fields, reason):
    with pytest.raises(IngestError, match=reason):
        enforce_claims([atom(**fields)], EAST, "x.md")


def test_team_and_private_visibility_need_a_key_that_can_grant_them():
    team_only = Writer.for_key(Viewer("k", "t", frozenset({Scope.INGEST}), team="华东"))
    with pytest.raises(IngestError, match="个人"):
        enforce_claims([atom(visibility=Visibility.PRIVATE)], team_only, "x.md")
    user_only = Writer.for_key(Viewer("k", "u", frozenset({Scope.INGEST}), user="李娜"))
    with pytest.raises(IngestError, match="团队"):
        enforce_claims([atom(visibility=Visibility.TEAM)], user_only, "x.md")


def test_an_approval_is_lowered_to_a_draft_and_ownership_is_stamped_from_the_key():
    claimed = atom(status=CurationStatus.APPROVED, team="华东", owner="王磊")
    warnings = enforce_claims([claimed], EAST, "x.md")
    assert claimed.status is CurationStatus.DRAFT and warnings
    plain = atom()
    assert enforce_claims([plain], EAST, "y.md") == []
    assert (plain.team, plain.owner) == ("华东", "王磊")


def test_the_operator_is_trusted():
    claimed = atom(status=CurationStatus.APPROVED, team="华南", owner="王五")
    assert enforce_claims([claimed], Writer.operator(), "x.md") == []
    assert claimed.team == "华南" and claimed.status is CurationStatus.APPROVED


@pytest.mark.parametrize(
    ("meta", "east"),
    [
        ({"visibility": "public"}, True),
        ({}, False),  # missing: private, and no owner
        ({"owner": "王磊"}, True),  # missing visibility: private to its owner
        ({"visibility": "Private", "owner": "王磊"}, True),
        ({"visibility": "Private", "owner": "李娜"}, False),
        ({"visibility": "PUBLIC"}, False),
        ({"visibility": None, "team": "华东"}, False),
    ],
)
def test_missing_or_unknown_visibility_is_private_to_the_owner(meta, east):
    assert EAST_KEY.can_see(meta) is east


def test_atom_problems_name_what_a_hand_edit_broke():
    sound = {
        "type": "case",
        "title": "t",
        "text": "x",
        "status": "draft",
        "visibility": "public",
        "team": None,
        "owner": None,
        "version": 1,
    }
    assert atom_problems(sound) == []
    broken = {**sound, "visibility": "Private", "status": None, "version": "2"}
    assert len(atom_problems(broken)) == 3


def test_names_split_on_slashes_between_names_but_not_inside_units():
    assert split_names("宁德时代/CATL|宁德") == ["宁德时代", "CATL", "宁德"]
    assert split_names("Energy Density|Wh/kg|Wh/L") == ["Energy Density", "Wh/kg", "Wh/L"]
    assert split_names("芯片设计/EDA、ISO/SAE 21434") == ["芯片设计", "EDA", "ISO/SAE 21434"]


# -- who sees which name ------------------------------------------------------------------------
def snapshot() -> GraphSnapshot:
    """宁德时代 is public; 蓝鲸 is its alias in a team document; 隐客户 exists only there."""
    graph = GraphSnapshot.build(
        entities=[],
        relations=[
            ("customer:宁德时代", "所属行业", "industry:动力电池"),
            ("customer:隐客户", "所属行业", "industry:动力电池"),
        ],
        mentions=[("a-public", "customer:宁德时代"), ("a-team", "customer:隐客户")],
        atoms={
            "a-public": {"visibility": "public"},
            "a-team": {"visibility": "team", "team": "华东"},
            "a-industry": {"visibility": "public"},
        },
        documents={"a-public": "d-public", "a-team": "d-team", "a-industry": "d-public"},
        backing=[
            ("customer:宁德时代", "d-public", ["CATL"]),
            ("customer:宁德时代", "d-team", ["蓝鲸"]),
            ("industry:动力电池", "d-public", []),
        ],
        relation_sources={("customer:隐客户", "所属行业", "industry:动力电池"): ["d-team"]},
    )
    graph.names = {
        "customer:宁德时代": "宁德时代",
        "customer:隐客户": "隐客户",
        "industry:动力电池": "动力电池",
    }
    graph.aliases = {"customer:宁德时代": ["CATL", "蓝鲸"]}
    return graph


SOUTH = Viewer("k9", "south", frozenset({Scope.SEARCH}), team="华南")


def test_entities_aliases_and_relations_show_only_what_backs_them():
    graph = snapshot()
    east, south = EntityScope(graph, EAST_KEY.can_see), EntityScope(graph, SOUTH.can_see)
    assert east.entity("customer:隐客户") and not south.entity("customer:隐客户")
    assert south.alias("customer:宁德时代", "catl") and not south.alias("customer:宁德时代", "蓝鲸")
    assert east.alias("customer:宁德时代", "蓝鲸")
    assert not south.relation("customer:隐客户", "所属行业", "industry:动力电池")
    assert east.relation("industry:动力电池", "所属行业", "customer:隐客户")
    assert south.relation("customer:宁德时代", "所属行业", "industry:动力电池")
    assert south.surface("热失控") and not south.surface("蓝鲸") and not south.surface("隐客户")


def test_a_transcript_never_brings_in_a_hidden_name():
    raw = "蓝金那边问隐客胡的热失控"
    recognition = Recognition(
        raw=Transcript(raw, raw, "zh", audio_seconds=1.0, compute_seconds=0.1),
        text="蓝鲸那边问隐客户的热失控",
        changes=[Change("蓝金", "蓝鲸", 0), Change("隐客胡", "隐客户", 5)],
    )
    graph = snapshot()
    south = visible_recognition(recognition, EntityScope(graph, SOUTH.can_see))
    assert south.text == raw and south.changes == []
    east = visible_recognition(recognition, EntityScope(graph, EAST_KEY.can_see))
    assert east is recognition
