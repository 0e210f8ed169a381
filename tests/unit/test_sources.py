import json

import pytest

from ingest.sources import parse_file
from ingest.splitter import SplitOptions
from kg.errors import IngestError
from kg.models import AtomType, CurationStatus, DocumentKind, EntityKind, RelationType, Visibility

pytestmark = pytest.mark.unit


def _parse(path, known=None):
    return parse_file(path, path.name, "test", known or {}, SplitOptions())


def test_glossary_csv_gives_terms_with_aliases_related_terms_and_atoms(tmp_path):
    path = tmp_path / "terms.csv"
    path.write_text(
        "术语,别名,行业,定义,相关术语\n"
        '热失控,Thermal Runaway|TR,动力电池,"电芯温度失控上升，引发连锁放热反应。",热蔓延|BMS\n'
        "热蔓延,,动力电池,一个电芯的热量传给相邻电芯。,热失控\n"
    )
    parsed = _parse(path)
    assert parsed.document.kind is DocumentKind.GLOSSARY
    term = next(e for e in parsed.entities if e.name == "热失控")
    assert term.kind is EntityKind.TERM and term.aliases == ["Thermal Runaway", "TR"]
    assert {(r.source, r.target) for r in parsed.relations} >= {("term:热失控", "term:热蔓延")}
    assert all(r.type is RelationType.RELATED_TO for r in parsed.relations)
    assert [a.type for a in parsed.atoms] == [AtomType.TERM, AtomType.TERM]
    assert "Thermal Runaway" in parsed.atoms[0].text and parsed.atoms[0].entities == ["term:热失控"]


def test_customer_list_gives_customers_industries_regions(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "客户,别名,行业,地区,重点产品\n宁德时代,CATL|宁德,动力电池,福建宁德,热失控防护方案\n"
    )
    parsed = _parse(path)
    customer = next(e for e in parsed.entities if e.kind is EntityKind.CUSTOMER)
    assert customer.aliases == ["CATL", "宁德"]
    types = {r.type for r in parsed.relations}
    assert types == {RelationType.IN_INDUSTRY, RelationType.LOCATED_IN, RelationType.BUYS}
    assert parsed.atoms[0].type is AtomType.FACT and "CATL" in parsed.atoms[0].text


def test_xlsx_is_read_like_csv(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["术语", "别名", "行业", "定义", "相关术语"])
    sheet.append(["节拍", "Takt Time|CT", "焊装线", "生产线每完成一台车所用的时间。", None])
    workbook.save(tmp_path / "t.xlsx")
    parsed = _parse(tmp_path / "t.xlsx")
    assert parsed.entities[0].aliases == ["Takt Time", "CT"]
    assert "生产线每完成一台车" in parsed.atoms[0].text


def test_triples_type_known_relations_and_keep_attributes(tmp_path):
    path = tmp_path / "facts.tsv"
    path.write_text(
        "head\trelation\ttail\n宁德时代\t所属行业\t动力电池\n宁德时代\t关注\t热失控\n"
        "宁德时代\t成立年份\t2011\n锐驰科技\t竞争产品\t热失控防护方案\n"
    )
    parsed = _parse(path)
    kinds = {e.name: e.kind for e in parsed.entities}
    assert kinds["宁德时代"] is EntityKind.CUSTOMER and kinds["动力电池"] is EntityKind.INDUSTRY
    assert kinds["锐驰科技"] is EntityKind.COMPETITOR
    assert {r.type for r in parsed.relations} == {
        RelationType.IN_INDUSTRY,
        RelationType.CARES_ABOUT,
        RelationType.COMPETES_WITH,
    }
    card = next(a for a in parsed.atoms if a.title == "宁德时代")
    assert "成立年份：2011" in card.text and "所属行业：动力电池" in card.text


def test_kdconv_style_json_base_links_entities_and_splits_long_values(tmp_path):
    base = {
        "故宫": [
            ["故宫", "周边景点", "天坛"],
            ["故宫", "周边景点", "天坛"],
            ["故宫", "门票", "60元"],
            ["故宫", "Information", "故宫又称紫禁城，" * 30],
        ],
        "天坛": [["天坛", "门票", "15元"]],
    }
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(base, ensure_ascii=False))
    parsed = _parse(path)
    assert parsed.document.kind is DocumentKind.TRIPLES
    related = [r for r in parsed.relations if r.type is RelationType.RELATED]
    assert [(r.source, r.name, r.target) for r in related] == [
        ("thing:故宫", "周边景点", "thing:天坛")
    ]
    titles = [a.title for a in parsed.atoms]
    assert titles == ["故宫", "故宫 · Information", "天坛"]
    assert parsed.atoms[0].text.count("天坛") == 1  # repeated triples are kept once


def test_crm_jsonl_records_become_typed_atoms(tmp_path):
    path = tmp_path / "crm.jsonl"
    rows = [
        {
            "id": "c1",
            "type": "talk_track",
            "title": "开场",
            "text": "先对齐热失控与热蔓延的定义。",
            "customer": "宁德时代",
            "owner": "王磊",
            "visibility": "team",
            "team": "华东",
        },
        {"id": "c2", "type": "objection", "text": "客户嫌贵时先讲全生命周期成本。"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    parsed = _parse(path)
    first, second = parsed.atoms
    assert first.type is AtomType.TALK_TRACK and first.owner == "王磊"
    assert first.visibility is Visibility.TEAM and first.team == "华东"
    assert first.entities == ["customer:宁德时代"] and first.status is CurationStatus.DRAFT
    assert second.type is AtomType.OBJECTION and second.title.startswith("客户嫌贵")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"text": "好"}\n{not json}\n', "line 2 is not valid JSON"),
        ("bad2.jsonl", '{"title": "无正文"}\n', "no 'text'"),
        ("bad3.jsonl", '{"text": "x", "type": "poem"}\n', "record 1 is invalid"),
        ("bad4.jsonl", '{"text": "x", "visibility": "secret"}\n', "unknown visibility"),
        ("bad.csv", "名称,说明\n甲,乙\n", "unknown table layout"),
        ("bad2.csv", "术语,定义\n热失控,a,b,c\n", "row 2 has 4 cells"),
        ("bad.json", "[1, 2", "not valid JSON"),
        ("bad.docx", "not a zip", "not a readable Word"),
        ("bad.pdf", "%PDF-1.4 garbage", "PDF"),
        ("bad.xlsx", "not a zip", "not a readable Excel"),
    ],
)
def test_malformed_files_say_what_is_wrong(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(IngestError, match=message):
        _parse(path)


def test_docx_headings_become_sections_and_leading_lines_metadata(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("类型：成功案例")
    document.add_paragraph("客户：宁德时代")
    document.add_heading("宁德时代热失控防护项目", level=1)
    document.add_heading("方案", level=2)
    document.add_paragraph("气凝胶隔热垫加定向泄压通道，阻断热蔓延。")
    document.add_heading("推荐话术", level=2)
    document.add_paragraph("先讲国标的五分钟要求，再讲试验数据。")
    document.save(tmp_path / "case.docx")
    parsed = _parse(tmp_path / "case.docx")
    assert parsed.document.kind is DocumentKind.CASE_STUDY
    assert parsed.document.title == "宁德时代热失控防护项目"
    assert [a.type for a in parsed.atoms] == [AtomType.SOLUTION_POINT, AtomType.TALK_TRACK]
    assert parsed.about == ["customer:宁德时代"]
    assert parsed.atoms[0].entities == ["customer:宁德时代"]


def test_front_matter_sets_owner_visibility_and_status(tmp_path):
    path = tmp_path / "case.md"
    path.write_text(
        "---\n类型: 成功案例\n负责人: 王磊\n可见范围: 团队\n团队: 华东\n状态: 已审核\n---\n"
        "# 标题\n\n## 方案\n方案内容足够长，可以成为一个知识原子。\n"
    )
    atom = _parse(path).atoms[0]
    assert (atom.owner, atom.visibility, atom.team, atom.status) == (
        "王磊",
        Visibility.TEAM,
        "华东",
        CurationStatus.APPROVED,
    )
    path.write_text("---\n可见范围: 绝密\n---\n# 标题\n\n## 方案\n方案内容足够长，可以成为原子。\n")
    with pytest.raises(IngestError, match="unknown visibility"):
        _parse(path)


def test_the_registry_gives_each_supported_suffix_one_parser():
    from ingest.sources import SUPPORTED_SUFFIXES
    from ingest.sources.registry import PARSERS, parser_for

    claimed = [s for p in PARSERS for s in p.suffixes]
    assert len(claimed) == len(set(claimed)), "a suffix belongs to one parser"
    assert set(SUPPORTED_SUFFIXES) == set(claimed)
    assert all(set(p.archives) <= set(p.suffixes) for p in PARSERS)
    assert parser_for(".MD") is parser_for(".md") is not None
    assert parser_for(".exe") is None
