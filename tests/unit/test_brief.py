"""Briefs: stage → sections, section queries, near-copies, and the composer over a small
in-memory knowledge base (fake store, hash embedder): the customer's own knowledge first, the
industry fallback said plainly, every point cited once, and nothing another team's key may
not see."""

from __future__ import annotations

import pytest

from ingest.pipeline import ingest_paths
from kg.access import Viewer
from retrieval.answers.brief import BriefComposer
from retrieval.answers.brief_sections import (
    MAX_QUERY_CHARS,
    SECTIONS,
    STAGE_SECTIONS,
    BriefContext,
    SectionKey,
    Stage,
    near_duplicate,
    parse_stage,
    section_query,
    sections_for,
)
from retrieval.index.bundle import IndexBundle
from retrieval.index.sync import sync_index
from retrieval.served import served_retriever
from tests.unit.fakes import HashEmbedder, MemoryGraphStore

pytestmark = pytest.mark.unit


# -- stage → sections --------------------------------------------------------------------------
def test_every_stage_has_sections_and_each_section_its_words():
    assert set(STAGE_SECTIONS) == set(Stage)
    for stage, keys in STAGE_SECTIONS.items():
        assert keys and len(set(keys)) == len(keys), stage
        assert SectionKey.ANSWERS not in keys  # a push's section, not a stage's
    for key, spec in SECTIONS.items():
        assert spec.heading and spec.empty.startswith("暂无"), key
        assert spec.types and spec.limit >= 1


@pytest.mark.parametrize(
    ("stage", "first"),
    [
        (Stage.LEAD, SectionKey.OPENING),
        (Stage.DISCOVERY, SectionKey.CONCERNS),
        (Stage.TECHNICAL, SectionKey.SOLUTION),
        (Stage.PROPOSAL, SectionKey.SOLUTION),
        (Stage.NEGOTIATION, SectionKey.OBJECTIONS),
        (Stage.SIGNING, SectionKey.LESSONS),
    ],
)
def test_each_stage_leads_with_what_it_needs_most(stage, first):
    assert sections_for(stage, competitors_named=False)[0] is first


def test_a_named_competitor_adds_the_comparison_once():
    assert SectionKey.COMPETITORS not in sections_for(Stage.LEAD, False)
    assert sections_for(Stage.LEAD, True)[-1] is SectionKey.COMPETITORS
    negotiation = sections_for(Stage.NEGOTIATION, True)
    assert negotiation.count(SectionKey.COMPETITORS) == 1


@pytest.mark.parametrize(
    ("given", "stage"),
    [("技术交流", Stage.TECHNICAL), (" technical ", Stage.TECHNICAL), ("Closing", Stage.SIGNING)],
)
def test_stages_by_name_or_alias(given, stage):
    assert parse_stage(given) is stage


def test_an_unknown_stage_names_the_known_ones():
    with pytest.raises(ValueError, match="线索、需求确认"):
        parse_stage("随便聊聊")


def test_section_query_holds_the_context_within_the_limit():
    context = BriefContext(
        "宁德时代",
        Stage.TECHNICAL,
        products=("电池包热失控防护方案",),
        competitors=("锐驰科技",),
        roles=("电池安全负责人",),
        notes="客户关心热扩散试验。" * 100,
    )
    opening = section_query(context, SECTIONS[SectionKey.OPENING], ["宁德时代", "动力电池"])
    assert opening.startswith("宁德时代 动力电池 电池包热失控防护方案 锐驰科技 电池安全负责人")
    assert SECTIONS[SectionKey.OPENING].cue in opening and "热扩散试验" in opening
    assert len(opening) <= MAX_QUERY_CHARS
    cases = section_query(context, SECTIONS[SectionKey.CASES], ["宁德时代"], lead="客户嫌贵")
    assert cases.startswith("客户嫌贵 宁德时代") and "电池安全负责人" not in cases


def test_near_copies_are_recognised_and_different_points_are_not():
    a = "宁德时代PACK结构工程师担心隔热垫降低成组效率，应对：成组效率损失约0.6%。"
    b = "宁德时代PACK结构工程师担心隔热垫会降低成组效率。应对：成组效率损失约0.6%！"
    assert near_duplicate(a, b)
    assert not near_duplicate(a, "茶饮门店高峰期出杯慢，外卖超时。")


# -- the composer over a small knowledge base ------------------------------------------------
CATL = """---
类型: 成功案例
客户: 宁德时代
行业: 动力电池
---
# 宁德时代热失控防护项目

## 挑战
宁德时代电池安全负责人要热扩散试验数据，采购总监要求防护成本不超过110%。

## 方案
宁德时代项目用气凝胶隔热垫阻断热蔓延，定向排气通道把烟气引离乘员舱。

## 成果
宁德时代三轮热扩散试验不起火不爆炸，拿到6800万元定点。

## 推荐话术
面对宁德时代电池安全负责人，先对齐热失控与热蔓延两个词，再讲试验数据。

## 常见异议与应对
"隔热垫拉低能量密度"：宁德时代项目成组效率损失仅0.6%。
"""

HENGYUAN = """---
类型: 成功案例
客户: 恒远动力
行业: 动力电池
---
# 恒远动力电芯检测项目

## 背景
恒远动力是常州的动力电池企业，两条电芯产线需要在线检测。

## 成果
恒远动力电芯检测漏检率降到百万分之五，热失控隐患提前拦截。
"""

SECRET = """---
类型: 成功案例
客户: 蓝鲸重工
行业: 动力电池
可见范围: 团队
团队: 华东
---
# 蓝鲸重工内部项目

## 方案
蓝鲸重工的电池包项目报价底线八五折，热失控防护方案走大区审批。
"""

CUSTOMERS = "客户,别名,行业,地区,重点产品\n宁德时代,CATL|宁德,动力电池,福建宁德,防护方案\n"


@pytest.fixture(scope="module")
def composer(tmp_path_factory):
    root = tmp_path_factory.mktemp("kb")
    (root / "cases").mkdir()
    (root / "customers").mkdir()
    (root / "cases" / "catl.md").write_text(CATL, encoding="utf-8")
    (root / "cases" / "hengyuan.md").write_text(HENGYUAN, encoding="utf-8")
    (root / "cases" / "secret.md").write_text(SECRET, encoding="utf-8")
    (root / "customers" / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    store, embedder = MemoryGraphStore(), HashEmbedder()
    assert ingest_paths([root], store).failures == []
    index = tmp_path_factory.mktemp("index") / "index"
    sync_index(store, embedder, index)
    bundle = IndexBundle.load(index)
    analyzer, retriever = served_retriever(bundle, embedder)
    return BriefComposer(analyzer, retriever, bundle.graph, store)


OUTSIDER = Viewer("k1", "华南", team="华南")
INSIDER = Viewer("k2", "华东", team="华东")


def _texts(brief) -> list[str]:
    return [p.text for s in brief.sections for p in s.points]


def test_a_known_customer_gets_its_own_knowledge_first(composer):
    brief = composer.compose(BriefContext("CATL", Stage.TECHNICAL), OUTSIDER.can_see)
    assert brief.customer == "宁德时代" and brief.customer_known and brief.note is None
    assert brief.industry == "动力电池"
    assert [s.key for s in brief.sections] == list(STAGE_SECTIONS[Stage.TECHNICAL])
    solution = next(s for s in brief.sections if s.key is SectionKey.SOLUTION)
    assert "气凝胶" in solution.points[0].text
    cases = next(s for s in brief.sections if s.key is SectionKey.CASES)
    assert "宁德时代" in cases.points[0].text
    assert len(cases.points) <= 2, "one point per case document"


def test_points_are_cited_once_and_empty_sections_say_so(composer):
    brief = composer.compose(BriefContext("宁德时代", Stage.NEGOTIATION), OUTSIDER.can_see)
    numbers = [n for s in brief.sections for p in s.points for n in p.citations]
    assert numbers == list(range(1, len(brief.citations) + 1))
    assert len({c.atom_id for c in brief.citations}) == len(brief.citations)
    competitors = next(s for s in brief.sections if s.key is SectionKey.COMPETITORS)
    assert competitors.points == [] and competitors.empty == SECTIONS[SectionKey.COMPETITORS].empty
    assert "暂无" in brief.to_text()


def test_an_unknown_customer_falls_back_to_its_industry_and_says_so(composer):
    brief = composer.compose(
        BriefContext("远景能源", Stage.LEAD, industry="动力电池"), OUTSIDER.can_see
    )
    assert not brief.customer_known and brief.customer == "远景能源"
    assert brief.note and "远景能源" in brief.note and "动力电池" in brief.note
    assert _texts(brief), "industry knowledge fills the brief"


def test_another_teams_customer_is_unknown_and_its_knowledge_absent(composer):
    outsider = composer.compose(BriefContext("蓝鲸重工", Stage.PROPOSAL), OUTSIDER.can_see)
    assert not outsider.customer_known
    assert all("八五折" not in t for t in _texts(outsider))
    assert all("蓝鲸" not in c.atom_title for c in outsider.citations)
    insider = composer.compose(BriefContext("蓝鲸重工", Stage.PROPOSAL), INSIDER.can_see)
    assert insider.customer_known
    assert any("八五折" in t for t in _texts(insider))


def test_a_section_for_a_push_is_led_by_its_words(composer):
    brief = composer.section(
        BriefContext("宁德时代", Stage.NEGOTIATION),
        SectionKey.OBJECTIONS,
        OUTSIDER.can_see,
        "客户说隔热垫会拉低能量密度",
    )
    assert [s.key for s in brief.sections] == [SectionKey.OBJECTIONS]
    assert "能量密度" in brief.sections[0].points[0].text
