import pytest

from kg.models import Atom, AtomType, SourceSpan
from kg.store import StoredAtom
from retrieval.answers.answer import MAX_POINT_CHARS, compose
from retrieval.query import Intent, Query, RecognisedEntity

pytestmark = pytest.mark.unit


def _query(text: str, intent: Intent = Intent.EXPLAIN) -> Query:
    return Query(text, [], [], intent)


def _stored(n: int, atom_type: AtomType, text: str) -> StoredAtom:
    atom = Atom(
        id=f"atom-{n}",
        type=atom_type,
        title=f"文档{n} · 小节",
        text=f"【文档{n} · 小节】{text}",
        source=SourceSpan(document_id=f"doc-{n}", section="小节", start=0, end=10),
    )
    return StoredAtom(atom=atom, document_title=f"文档{n}", document_path=f"cases/d{n}.md")


def test_sections_follow_reading_order_and_every_point_is_cited():
    atoms = [
        _stored(1, AtomType.CASE, "某电池厂项目针刺试验全部通过。"),
        _stored(2, AtomType.SOLUTION_POINT, "气凝胶隔热垫阻断热蔓延。"),
        _stored(3, AtomType.LESSON, "不要承诺绝对不起火。"),
        _stored(4, AtomType.TERM, "热失控：电芯温度失控上升。"),
    ]
    answer = compose(_query("如何解释热失控防护？"), [(a, ()) for a in atoms])
    assert [s.heading for s in answer.sections] == [
        "核心要点",
        "术语解释",
        "支撑案例",
        "风险与教训",
    ]
    cited = {n for s in answer.sections for p in s.points for n in p.citations}
    assert cited == {c.number for c in answer.citations} == {1, 2, 3, 4}
    # Citations keep retrieval order (best first) and name the source.
    assert answer.citations[0].atom_id == "atom-1"
    assert answer.citations[0].document_path == "cases/d1.md"
    # The context prefix is not repeated inside the point.
    assert answer.sections[0].points[0].text == "气凝胶隔热垫阻断热蔓延。"
    text = answer.to_text()
    assert "【核心要点】" in text and "[2]" in text and "cases/d1.md" in text


def test_long_points_are_cut_at_a_sentence_end():
    long_text = "第一句话说明背景。" * 30
    answer = compose(_query("问题"), [(_stored(1, AtomType.CASE, long_text), ())])
    point = answer.sections[0].points[0].text
    assert len(point) <= MAX_POINT_CHARS
    assert point.endswith("。")


def test_no_atoms_gives_an_honest_empty_answer():
    answer = compose(_query("完全无关的问题"), [])
    assert answer.sections == [] and answer.citations == []
    assert "未找到" in answer.to_text()


def test_markdown_lists_become_one_readable_point():
    text = "- 成组效率损失0.6%；\n- 5个月拿到定点。\n1. 首年订单6800万元"
    point = (
        compose(_query("问题"), [(_stored(1, AtomType.CASE, text), ())]).sections[0].points[0].text
    )
    assert point == "成组效率损失0.6%；5个月拿到定点。首年订单6800万元"


def test_intent_puts_its_section_first_and_paths_are_cited():
    atoms = [
        (_stored(1, AtomType.SOLUTION_POINT, "方案要点。"), ()),
        (_stored(2, AtomType.TERM, "热失控：电芯温度失控。"), ("宁德时代", "热失控")),
    ]
    query = Query(
        "什么是热失控？", [], [RecognisedEntity("term:热失控", "热失控")], Intent.DEFINITION
    )
    answer = compose(query, atoms)
    assert answer.sections[0].heading == "术语解释"
    assert answer.entities == ["热失控"]
    assert answer.citations[1].path == ["宁德时代", "热失控", "文档2 · 小节"]
    text = answer.to_text()
    assert "关联路径：宁德时代 → 热失控 → 文档2 · 小节" in text
    assert "理解：术语解释；识别到 热失控" in text


def test_markdown_emphasis_is_dropped():
    text = "**别名**：Thermal Runaway；*通俗解释**：电芯自己发高烧。"
    point = compose(_query("问题"), [(_stored(1, AtomType.TERM, text), ())]).sections[0].points[0]
    assert point.text == "别名：Thermal Runaway；通俗解释：电芯自己发高烧。"
