import pytest

from ingest.sources import discover, parse_file
from ingest.sources.markdown import load_text
from ingest.splitter import SplitOptions, split
from kg.errors import IngestError
from kg.models import AtomType, DocumentKind

pytestmark = pytest.mark.unit

CASE = """---
类型: 成功案例
客户: 宁德时代
---
# 宁德时代热失控防护项目

## 背景
宁德时代的新一代电池包要求在热失控发生后五分钟内不起火不爆炸。

## 方案
我司采用气凝胶隔热垫加定向泄压通道，阻断热蔓延。

## 推荐话术
先讲国标GB 38031的五分钟要求，再讲我们的测试数据。

## 成果
针刺试验通过率百分之百，项目金额三千万元。
"""


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_case_study_splits_by_section_with_types(tmp_path):
    source = load_text(_write(tmp_path, "case.md", CASE))
    atoms = split(source, "doc-case")
    assert [a.source.section for a in atoms] == ["背景", "方案", "推荐话术", "成果"]
    assert [a.type for a in atoms] == [
        AtomType.CASE,  # 背景 is the case's context
        AtomType.SOLUTION_POINT,
        AtomType.TALK_TRACK,
        AtomType.CASE,
    ]
    # Each atom reads on its own: it carries the document title.
    assert all("宁德时代热失控防护项目" in a.text for a in atoms)


def test_spans_point_at_the_section_in_the_file(tmp_path):
    path = _write(tmp_path, "case.md", CASE)
    atoms = split(load_text(path), "doc-x")
    text = path.read_text()
    for atom in atoms:
        assert atom.source.section in text[: atom.source.start]
        assert text[atom.source.start : atom.source.end].strip().splitlines()[0] in atom.text


def test_atom_ids_are_stable_and_distinct(tmp_path):
    source = load_text(_write(tmp_path, "case.md", CASE))
    first, second = split(source, "doc-a"), split(source, "doc-a")
    assert [a.id for a in first] == [a.id for a in second]
    assert len({a.id for a in first}) == len(first)
    assert {a.id for a in split(source, "doc-b")}.isdisjoint(a.id for a in first)


def test_glossary_sections_become_terms(tmp_path):
    text = (
        "---\n类型: 行业术语\n---\n# 电池术语\n\n## 热失控\n电芯温度失控上升并引发连锁放热反应。\n"
    )
    atoms = split(load_text(_write(tmp_path, "g.md", text)), "doc-g")
    assert len(atoms) == 1
    assert atoms[0].type is AtomType.TERM
    assert atoms[0].title == "热失控"
    assert atoms[0].text.startswith("热失控：")


def test_text_without_headings_falls_back_to_paragraphs(tmp_path):
    text = (
        "第一段：客户关心交付周期和售后响应速度。\n\n第二段：竞品报价低两成但没有本地服务团队。\n"
    )
    source = load_text(_write(tmp_path, "note.txt", text))
    assert source.kind is DocumentKind.NOTE
    atoms = split(source, "doc-n")
    assert len(atoms) == 2
    assert "竞品报价" in atoms[1].text


def test_kind_comes_from_folder_when_front_matter_is_silent(tmp_path):
    (tmp_path / "postmortems").mkdir()
    path = _write(
        tmp_path, "postmortems/p.md", "# 丢单复盘\n\n## 原因\n报价晚了两周，客户已选竞品。\n"
    )
    assert load_text(path).kind is DocumentKind.POST_MORTEM
    assert split(load_text(path), "d")[0].type is AtomType.LESSON


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        ("# 标题\n\n## 背景\n中文内容", "gb18030", "not UTF-8"),
        ("", "utf-8", "no text"),
        ("---\n类型: 未知类型\n---\n# t\n正文内容很长很长", "utf-8", "unknown 类型"),
        ("---\n没有冒号\n---\n# t\n正文", "utf-8", "front matter"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, content, encoding, message):
    path = _write(tmp_path, "bad.md", content, encoding)
    with pytest.raises(IngestError, match=message):
        load_text(path)


def test_unsupported_suffix_is_refused(tmp_path):
    with pytest.raises(IngestError, match="unsupported"):
        parse_file(_write(tmp_path, "deck.pptx", "x"), "deck.pptx", "c", {}, SplitOptions())


def test_discovery_skips_readmes_and_unsupported_files(tmp_path):
    (tmp_path / "cases").mkdir()
    for name in ("cases/a.md", "cases/b.txt", "README.md", "cases/deck.pptx"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in discover([tmp_path])] == ["a.md", "b.txt"]
    with pytest.raises(IngestError, match="no such file"):
        discover([tmp_path / "missing"])
