"""Build the served e5 encoders from the prepared sentence-transformers folder: OpenVINO IR
(the default) and CTranslate2 int8. Each build is checked against the PyTorch model
(``probe.py``) and refused when it drifts. The runtime classes that load the results are in
``retrieval/embedding/``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, cast

from models_build.probe import check_against_torch
from retrieval.embedding import ct2, openvino_encoder


def build_openvino(source: Path, folder: Path) -> dict[str, float]:
    """Convert a prepared sentence-transformers e5 folder into OpenVINO IR and check it
    against the PyTorch model (``ModelError`` when it drifts)."""
    import shutil

    import openvino as ov
    import torch
    from sentence_transformers import SentenceTransformer
    from torch.jit._trace import TracerWarning  # torch.jit re-exports it untyped

    st = SentenceTransformer(str(source), device="cpu")
    auto_model = cast(torch.nn.Module, st[0].auto_model)
    encoder = auto_model.eval().float()

    class Hidden(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
            return hidden

    example = st.tokenize(["热失控防护方案", "query: 如何向宁德时代解释热失控防护方案？"])
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns that the attention mask's shape test becomes a constant: it is
        # only SDPA's causal shortcut, which an encoder never takes.
        warnings.simplefilter("ignore", TracerWarning)
        model = ov.convert_model(
            Hidden(encoder),
            example_input={n: example[n] for n in ("input_ids", "attention_mask")},
            input=[("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)],
        )
    folder.mkdir(parents=True, exist_ok=True)
    # The prepared weights are fp16 already: stored as fp16 without loss (235 MB, not 470).
    ov.save_model(model, str(folder / openvino_encoder.MODEL), compress_to_fp16=True)
    shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
    config = {
        "model": source.name,
        "dimensions": int(st.get_embedding_dimension() or 0),
        "max_length": int(st.max_seq_length or 512),
        "prompts": dict(st.prompts),
    }
    (folder / openvino_encoder.CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1))
    return check_against_torch(openvino_encoder.OpenVinoEmbedder(folder), st)


def build_ct2(source: Path, folder: Path, compute_type: str = "int8") -> dict[str, float]:
    """Convert a prepared sentence-transformers e5 folder into a CTranslate2 encoder and check
    it against the PyTorch model (``ModelError`` when it drifts)."""
    import shutil

    from ctranslate2.converters import transformers as converters
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its load report lists the unused classifier head
    hf_logging.disable_progress_bar()

    class PaddedVocabulary(converters.XLMRobertaLoader):  # type: ignore[misc]
        """The e5 checkpoint has 35 more embedding rows than its tokenizer has pieces (never
        produced by the tokenizer); CTranslate2 wants one vocabulary entry per row."""

        def get_vocabulary(self, model: Any, tokenizer: Any) -> list[str]:
            vocabulary = list(super().get_vocabulary(model, tokenizer))
            rows = model.get_input_embeddings().weight.shape[0]
            return vocabulary + [f"<skg_unused_{i}>" for i in range(rows - len(vocabulary))]

    converters.register_loader("XLMRobertaConfig")(PaddedVocabulary)
    converters.TransformersConverter(str(source)).convert(
        str(folder), quantization=compute_type, force=True
    )
    st = SentenceTransformer(str(source), device="cpu")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    config = {
        "model": source.name,
        "compute_type": compute_type,
        "dimensions": int(st.get_embedding_dimension() or 0),
        "max_length": int(st.max_seq_length or 512),
        "prompts": dict(st.prompts),
    }
    (folder / ct2.CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1))
    return check_against_torch(ct2.Ct2Embedder(folder), st)
