"""docs/interop.md: the model file "must be a regular file (not a FIFO or a device) of less
than 2 GiB (at most 2^31 - 1 bytes, protobuf's limit)". Checked before anything is read and
before onnx is imported, so it runs without the onnx extra; the file is sparse (no disk)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dslc import api
from dslc.diagnostics.diagnostic import DiagnosticError


def test_a_model_file_of_2_gib_is_e801_unread(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.MAX_MODEL_BYTES == 2**31 - 1
    model = tmp_path / "huge.onnx"
    with model.open("wb") as stream:
        stream.truncate(2**31)  # sparse: 2 GiB long, no block written
    opened: list[object] = []
    real_open = Path.open

    def spying_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", spying_open)
    with pytest.raises(DiagnosticError) as caught:
        api._model_bytes(model)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E801"
    assert diagnostic.message == (f"cannot read {model}: 2,147,483,648 bytes, more than "
                                  "protobuf's limit of 2,147,483,647")
    assert opened == []  # refused by its size, never read


def test_a_model_file_under_the_limit_is_read(tmp_path: Path) -> None:
    model = tmp_path / "small.onnx"
    model.write_bytes(b"\x08\x07")
    assert api._model_bytes(model) == b"\x08\x07"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_e801_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    with pytest.raises(DiagnosticError) as caught:
        api._model_bytes(fifo)
    assert caught.value.diagnostics[0].message == f"cannot read {fifo}: not a regular file"
