"""The size limits docs/interop.md and docs/diagnostics/E706.md state for the files dslc
reads besides specs: a Timeloop study's files (1 MiB each, 2,000 `.yaml` files among
100,000 entries, 1,000,000 YAML values), an accuracy table (16 MiB), and the zero input a
PyTorch module is traced on (2^28 elements). The other tests shrink these constants to
check the rule; here each constant is the doc's number and the rule holds at the real one
(files past a limit are sparse: no disk used, and they are refused by their size, unread).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dslc import api
from dslc.spec import codesign as spec_codesign


def _sparse(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        stream.truncate(size)
    return path


def test_the_documented_numbers() -> None:
    from dslc.interop import timeloop

    assert timeloop.MAX_STUDY_FILE_BYTES == 2**20  # "at most 1 MiB"
    assert timeloop.MAX_STUDY_FILES == 2000  # "at most 2,000 `.yaml` files"
    assert timeloop.MAX_STUDY_ENTRIES == 100_000  # "among 100,000 directory entries"
    assert timeloop.MAX_YAML_NODES == 1_000_000  # "at most 1,000,000 YAML values"
    assert spec_codesign.MAX_TABLE_BYTES == 16 * 2**20  # "tables are limited to 16 MiB"
    assert api.MAX_TORCH_INPUT_ELEMENTS == 2**28  # "at most 2^28 elements"


def test_a_study_file_of_1_mib_is_read_and_one_byte_more_is_e805(tmp_path: Path) -> None:
    from dslc.diagnostics.diagnostic import DiagnosticError
    from dslc.interop.timeloop import read_files

    at_limit = tmp_path / "at" / "a.yaml"
    at_limit.parent.mkdir()
    at_limit.write_bytes(b"#" * (2**20 - 1) + b"\n")
    assert read_files(tmp_path / "at") == {"a.yaml": "#" * (2**20 - 1) + "\n"}
    _sparse(tmp_path / "past" / "a.yaml", 2**20 + 1)
    with pytest.raises(DiagnosticError) as caught:
        read_files(tmp_path / "past")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E805"
    assert "1,048,577 bytes, more than the limit of 1,048,576" in diagnostic.message


def test_an_accuracy_table_past_16_mib_is_refused_unread(tmp_path: Path) -> None:
    table = _sparse(tmp_path / "acc.csv", 16 * 2**20 + 1)
    with pytest.raises(spec_codesign.AccuracyTableError) as caught:
        spec_codesign.read_accuracy_table(table, "acc.csv")
    assert str(caught.value) == "acc.csv: 16,777,217 bytes, more than the limit of 16,777,216"
    small = tmp_path / "small.csv"
    small.write_text("network,accuracy\nn,70%\n")
    header, rows = spec_codesign.read_accuracy_table(small)
    assert header == ("network", "accuracy") and [line for line, _ in rows] == [2]


def test_a_torch_input_of_2_to_the_28_elements_is_traced_and_one_more_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from dslc.interop import torch_export

    traced: list[list[int]] = []

    def export(target: str, shape: list[int]) -> bytes:
        traced.append(list(shape))
        raise api.CannotRunError("export replaced by the test")

    monkeypatch.setattr(torch_export, "export_torch", export)
    with pytest.raises(api.CannotRunError):
        api.import_torch("m:f", [1, 1, 2**14, 2**14])
    assert traced == [[1, 1, 2**14, 2**14]]
    with pytest.raises(api.UsageError, match="268,435,457 elements, more than the "
                                             "268,435,456"):
        api.import_torch("m:f", [2**28 + 1])
    assert len(traced) == 1
