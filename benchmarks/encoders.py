"""multilingual-e5-small on every runtime that fits, side by side, on the same inputs.

Runtimes: PyTorch fp32 (sentence-transformers, what SalesKG used), ONNX Runtime fp32 and int8
(weights quantised per channel, MatMul and Gather, activations dynamic), OpenVINO (IR converted
from PyTorch; f32, and bfloat16 where the CPU has it), CTranslate2 int8, int16 and
fp32 (already installed for faster-whisper). Each runtime is measured in a fresh process:
load time; one question at a time with 1 and 2 threads (p50/p95 ms over 300 real questions);
passages per second in batches of 32 over the 947 sample atoms as they come (2 threads); peak RSS;
cosine to PyTorch fp32 over the 947 atoms and 997 questions (min and mean); and nDCG@10 of the
served ranking on every set (`skg eval --suite`'s sets), with the runtime embedding the
questions and the passages, and with it embedding only the questions (passages as indexed by
PyTorch fp32).

    .venv/bin/python benchmarks/encoders.py [--runtimes torch-fp32 ct2-int8 ...] [--json OUT]

Runtimes SalesKG does not serve are built into .skg/models/bench-* (not by `skg models
prepare`); see docs/benchmarks.md "Encoders" for what was chosen and why.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from api.evaluate import rows, suite
from api.settings import Settings
from retrieval.embedding.base import Embedder
from retrieval.evaluation.benchmark import evaluate_served

ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = (
    "torch-fp32",
    "onnx-fp32",
    "onnx-int8",
    "openvino-f32",
    "openvino-bf16",  # bfloat16 where the CPU has it (AMX, AVX512-BF16), else the same as f32
    "ct2-fp32",
    "ct2-int16",
    "ct2-int8",
    "ct2-int16q-int8p",  # questions on int16, passages on int8
)
ONNX_DIR = ROOT / ".skg" / "models" / "bench-onnx"
CT2_DIRS = {
    "ct2-fp32": ROOT / ".skg" / "models" / "bench-ct2-fp32",
    "ct2-int16": ROOT / ".skg" / "models" / "bench-ct2-int16",
}


# -- ONNX Runtime (measured, not served) -----------------------------------------------------------
class OnnxEmbedder:
    """e5 exported to ONNX: the same tokenizer, prompts, mean pooling and normalisation."""

    def __init__(self, folder: Path, *, int8: bool, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        model = folder / ("model.int8.onnx" if int8 else "model.onnx")
        self._session = ort.InferenceSession(str(model), options, ["CPUExecutionProvider"])
        config = json.loads((folder / "skg-encoder.json").read_text())
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(config["max_length"])
        self._prompts = config["prompts"]
        self.dimensions = config["dimensions"]
        self.name = f"{config['model']}-onnx-{'int8' if int8 else 'fp32'}"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._batches([self._prompts["query"] + t for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._batches([self._prompts["passage"] + t for t in texts])

    def _batches(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), 32):
            rows_ = order[start : start + 32]
            out[rows_] = self._forward([texts[i] for i in rows_])
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def export_onnx(source: Path, folder: Path) -> None:
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    if (folder / "model.int8.onnx").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    st = SentenceTransformer(str(source), device="cpu")

    class Hidden(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask)[0]

    example = st.tokenize(["热失控防护方案", "query: 如何向宁德时代解释热失控防护方案？"])
    names = ["input_ids", "attention_mask"]
    with torch.no_grad():
        torch.onnx.export(
            Hidden(st[0].auto_model.eval()),
            tuple(example[n] for n in names),
            str(folder / "model.onnx"),
            input_names=names,
            output_names=["hidden"],
            dynamic_axes={n: {0: "b", 1: "t"} for n in [*names, "hidden"]},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(
        str(folder / "model.onnx"),
        str(folder / "model.int8.onnx"),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"],
    )
    shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
    config = {
        "model": source.name,
        "dimensions": st.get_embedding_dimension(),
        "max_length": st.max_seq_length,
        "prompts": dict(st.prompts),
    }
    (folder / "skg-encoder.json").write_text(json.dumps(config))


# -- one runtime, in this process -----------------------------------------------------------------
def load(runtime: str, settings: Settings, threads: int) -> Embedder:
    source = settings.embedding_model_path
    if runtime == "torch-fp32":
        import torch

        from retrieval.embedding.sentence_transformer import SentenceTransformerEmbedder

        torch.set_num_threads(threads)
        return SentenceTransformerEmbedder(source)
    if runtime.startswith("onnx"):
        export_onnx(source, ONNX_DIR)
        return OnnxEmbedder(ONNX_DIR, int8=runtime.endswith("int8"), threads=threads)
    if runtime.startswith("openvino"):
        from models_build.encoders import build_openvino
        from retrieval.embedding.openvino_encoder import OpenVinoEmbedder

        folder = settings.models_dir / "multilingual-e5-small-openvino"
        if not folder.exists():
            build_openvino(source, folder)
        precision = "f32" if runtime == "openvino-f32" else "auto"
        return OpenVinoEmbedder(folder, threads=threads, precision=precision)
    from models_build.encoders import build_ct2 as build
    from retrieval.embedding.ct2 import Ct2Embedder

    prepared = settings.models_dir / "multilingual-e5-small-ct2"  # what `skg models prepare` built
    if runtime == "ct2-int8":
        return Ct2Embedder(prepared, threads=threads)
    if runtime == "ct2-int16q-int8p":
        return Split(load("ct2-int16", settings, threads), Ct2Embedder(prepared, threads=threads))
    folder = CT2_DIRS[runtime]
    if not folder.exists():
        build(source, folder, compute_type=runtime.removeprefix("ct2-").replace("fp", "float"))
    return Ct2Embedder(folder, threads=threads)


class Split:
    """One runtime for questions, another for passages; named after the passages' (the index)."""

    def __init__(self, questions: Embedder, passages: Embedder) -> None:
        self._questions, self._passages = questions, passages
        self.name, self.dimensions = passages.name, passages.dimensions

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._questions.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._passages.embed_passages(texts)


class QuestionsOnly:
    """The runtime for questions, PyTorch fp32's cached vectors for passages (an index built
    before the switch keeps its vectors; only new atoms would differ)."""

    def __init__(self, questions: Embedder, passages_name: str) -> None:
        self._questions = questions
        self.name = passages_name  # the passage vectors' cache and index identity
        self.dimensions = questions.dimensions

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._questions.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("passage vectors must come from the cache")


def texts() -> tuple[list[str], list[str]]:
    atoms = [json.loads(line) for line in (ROOT / "data/golden/corpus.jsonl").open()]
    questions = []
    for name in ("golden", "colloquial", "unanswerable", "known_item"):
        path = ROOT / "data" / name / "queries.jsonl"
        questions += [json.loads(line)["text"] for line in path.open() if line.strip()]
    return [a["text"] for a in atoms][:1000], questions


def measure(runtime: str, quality: bool = True) -> dict[str, object]:
    settings = Settings()
    started = time.perf_counter()
    embedder = load(runtime, settings, threads=1)
    loaded = time.perf_counter() - started
    passages, questions = texts()
    figures: dict[str, object] = {"runtime": runtime, "load_s": round(loaded, 2)}
    for threads in (1, 2):
        if threads == 2:
            embedder = load(runtime, settings, threads=2)
        for q in questions[:20]:
            embedder.embed_queries([q])
        times = []
        for q in questions[:300]:
            t0 = time.perf_counter()
            embedder.embed_queries([q])
            times.append(time.perf_counter() - t0)
        figures[f"question_ms_{threads}t"] = [
            round(float(np.percentile(times, 50)) * 1000, 2),
            round(float(np.percentile(times, 95)) * 1000, 2),
        ]
    t0 = time.perf_counter()
    batches = range(0, len(passages), 32)
    vectors = np.vstack([embedder.embed_passages(passages[i : i + 32]) for i in batches])
    figures["passages_per_s"] = round(len(passages) / (time.perf_counter() - t0), 1)
    qvectors = embedder.embed_queries(questions[:1000])
    np.save(f"/tmp/skg-encoders-{runtime}-p.npy", vectors)
    np.save(f"/tmp/skg-encoders-{runtime}-q.npy", qvectors)
    figures["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if not quality:
        return figures
    cache = settings.home / "cache" / "embeddings"
    ndcg = {}
    reference = "multilingual-e5-small"  # PyTorch fp32's name: its cached passage vectors
    for mode, chosen in (("both", embedder), ("questions", QuestionsOnly(embedder, reference))):
        if mode == "questions" and runtime in ("torch-fp32", "ct2-int16q-int8p"):
            continue
        for corpus in suite(ROOT):
            result = evaluate_served(corpus.data, chosen, snapshot=corpus.snapshot, cache_dir=cache)
            for row in rows(corpus):
                if row.style:
                    continue
                key = f"{mode}:{row.set}/{row.split}"
                ndcg[key] = round(result.metrics(row.qids)["served"]["nDCG@10"], 4)
    figures["ndcg"] = ndcg
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--no-quality", action="store_true", help="speed and cosine only (no nDCG: minutes less)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process measuring one
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, quality=not args.no_quality)))
        return
    results = []
    for runtime in args.runtimes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", runtime, *(["--no-quality"] * args.no_quality)],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            print(f"{runtime}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    reference_p = np.load("/tmp/skg-encoders-torch-fp32-p.npy")
    reference_q = np.load("/tmp/skg-encoders-torch-fp32-q.npy")
    for row in results:
        p = np.load(f"/tmp/skg-encoders-{row['runtime']}-p.npy")
        q = np.load(f"/tmp/skg-encoders-{row['runtime']}-q.npy")
        cos = np.concatenate([(p * reference_p).sum(1), (q * reference_q).sum(1)])
        row["cosine_min_mean"] = [round(float(cos.min()), 4), round(float(cos.mean()), 5)]
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    for row in results:
        print(
            f"{row['runtime']:<11} load {row['load_s']:>5} s  q1t {row['question_ms_1t']}  "
            f"q2t {row['question_ms_2t']}  {row['passages_per_s']:>6} passages/s  "
            f"{row['rss_mb']} MB  cos {row['cosine_min_mean']}"
        )


if __name__ == "__main__":
    main()
