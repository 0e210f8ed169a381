from pathlib import Path

import pytest

from api.models_setup import PreparedModel, check, prepare

pytestmark = pytest.mark.unit


def _model(folder: Path, calls: list[int]) -> PreparedModel:
    def build(out: Path) -> None:
        calls.append(1)
        out.mkdir(parents=True, exist_ok=True)
        (out / "weights.bin").write_bytes(b"\x01" * 1000)
        (out / "sub").mkdir(exist_ok=True)
        (out / "sub" / "config.json").write_text("{}")

    return PreparedModel("fake", folder, "test", build)


def test_built_once_then_cached(tmp_path):
    calls: list[int] = []
    model = _model(tmp_path / "m", calls)
    assert check(model).state == "missing"
    assert prepare(model) is True
    assert check(model).state == "ready"
    assert prepare(model) is False
    assert len(calls) == 1


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_corrupt_or_missing_file_is_detected_and_rebuilt(tmp_path, damage):
    calls: list[int] = []
    model = _model(tmp_path / "m", calls)
    prepare(model)
    target = tmp_path / "m" / "weights.bin"
    if damage == "truncate":
        target.write_bytes(b"\x01" * 10)
    else:
        target.unlink()
    assert check(model).state.startswith("corrupt")
    assert prepare(model) is True
    assert check(model).state == "ready"
    assert len(calls) == 2
