"""A Timeloop study's diagnostics point at the line of the file they are about: the place
the YAML parser stopped, the value of the wrong form or out of range, the mapping without
a key, the entry or component refused. Each expected span is found in the file's text by
hand (the value's characters), never taken from the code under test."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("yaml")

from typer.testing import CliRunner

from dslc import cli
from dslc.diagnostics.diagnostic import Diagnostic, DiagnosticError
from dslc.interop.timeloop import read_study

STUDY = Path(__file__).resolve().parent / "timeloop_outputs" / "ex01_os"
ARCH = "ex01_os.arch.yaml"
PROB = "conv1d.prob.yaml"
MAP = "conv1d.map.yaml"
runner = CliRunner()


def _files() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(STUDY.iterdir())}


def _edited(name: str, old: str, new: str) -> dict[str, str]:
    files = _files()
    assert files[name].count(old) == 1, old
    files[name] = files[name].replace(old, new)
    return files


def _refusal(files: dict[str, str], code: str = "E805") -> Diagnostic:
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == code, diagnostic.message
    assert diagnostic.help
    return diagnostic


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _points_at(diagnostic: Diagnostic, files: dict[str, str], name: str, text: str) -> None:
    """The diagnostic's span is `text`, the one place it occurs in file `name`."""
    assert diagnostic.span is not None, diagnostic.message
    source = files[name]
    assert source.count(text) == 1, text
    start = source.index(text)
    assert diagnostic.span.file.path == name
    assert (diagnostic.span.start, diagnostic.span.end) == (start, start + len(text))
    assert diagnostic.span.file.line_col(diagnostic.span.start) == _line_col(source, start)


def test_a_yaml_syntax_error_points_at_where_the_parser_stopped() -> None:
    # the register file's flow mapping loses its closing brace: libyaml stops at the next
    # token it cannot take, the `-` of the MAC's entry two lines on (line 20, column 7;
    # PyYAML's own parser stops there too)
    files = _edited(ARCH, "attributes: {depth: 64, width: 8, word-bits: 8}",
                    "attributes: {depth: 64, width: 8, word-bits: 8")
    diagnostic = _refusal(files)
    assert diagnostic.message.startswith(f"{ARCH}: not YAML: ")
    assert "while parsing a flow mapping" in diagnostic.message
    opened = files[ARCH].index("{depth: 64")
    assert f"(line {_line_col(files[ARCH], opened)[0]})" in diagnostic.message
    assert diagnostic.span is not None
    line, column = diagnostic.span.file.line_col(diagnostic.span.start)
    after = files[ARCH].index("- name: MACC")
    assert (line, column) >= _line_col(files[ARCH], opened)
    assert (line, column) <= _line_col(files[ARCH], after + len("- name: MACC"))
    assert diagnostic.span.end == diagnostic.span.start + 1


def test_a_value_of_the_wrong_form_points_at_the_value() -> None:
    files = _edited(ARCH, "depth: 32768", "depth: lots")
    diagnostic = _refusal(files)
    assert diagnostic.message == (f"{ARCH}: `MainMemory` `depth`: expected a whole number, "
                                  "found 'lots'")
    _points_at(diagnostic, files, ARCH, "lots")


def test_a_missing_key_points_at_the_mapping_without_it() -> None:
    files = _edited(PROB, "    dimensions: [R, P]\n", "")
    diagnostic = _refusal(files)
    assert diagnostic.message == f"{PROB}: missing `dimensions`"
    source = files[PROB]
    start = source.index("name: conv1d")  # the shape's block mapping starts at its first key
    assert diagnostic.span is not None
    assert diagnostic.span.start == start
    assert source[diagnostic.span.start:diagnostic.span.end].rstrip().endswith(
        "read-write: true")


def test_a_factor_error_points_at_the_factors() -> None:
    files = _edited(MAP, "factors: R=1 P=16", "factors: R=1 X=16")
    diagnostic = _refusal(files)
    assert "factor `X=16` names X, not a dim of the problem (R, P)" in diagnostic.message
    _points_at(diagnostic, files, MAP, "R=1 X=16")


def test_factors_that_do_not_cover_a_bound_point_at_the_mapping() -> None:
    files = _edited(MAP, "factors: R=1 P=16", "factors: R=1 P=8")
    diagnostic = _refusal(files)
    assert "the factors of P multiply to 8, but its bound in the problem is 16" in \
        diagnostic.message
    source = files[MAP]
    assert diagnostic.span is not None
    assert diagnostic.span.start == source.index("- {target: MainMemory")
    assert source[diagnostic.span.start:diagnostic.span.end].rstrip().endswith(
        "permutation: RP}")


def test_a_figure_out_of_range_points_at_it() -> None:
    # a bound past the language's limit: E302, at the bound as written
    files = _edited(PROB, "  P: 16\n", "  P: 4294967296\n")
    diagnostic = _refusal(files, "E302")
    assert "`instance` bound P = 4294967296 is outside 1 to" in diagnostic.message
    _points_at(diagnostic, files, PROB, "4294967296")


def test_a_spec_field_out_of_range_points_at_the_attribute() -> None:
    # multiple_buffering reaches the spec model as written; the model refuses 0
    files = _edited(ARCH, "attributes: {depth: 64, width: 8, word-bits: 8}",
                    "attributes: {depth: 64, width: 8, word-bits: 8, multiple_buffering: 0}")
    diagnostic = _refusal(files, "E302")
    assert "memory `Buffer`: buffering = 0" in diagnostic.message
    source = files[ARCH]
    at = source.index("multiple_buffering: 0") + len("multiple_buffering: ")
    assert diagnostic.span is not None
    assert (diagnostic.span.start, diagnostic.span.end) == (at, at + 1)


def test_a_refused_component_class_points_at_the_class() -> None:
    files = _edited(ARCH, "class: intmac", "class: intadder")
    diagnostic = _refusal(files, "E806")
    assert "`MACC` has class `intadder`" in diagnostic.message
    _points_at(diagnostic, files, ARCH, "intadder")


def test_a_span_after_non_ascii_text_counts_characters() -> None:
    # characters of two and four UTF-8 bytes before the value on its line and above it:
    # the span is in characters of the text, as the excerpt prints it
    files = _edited(ARCH, "depth: 32768", "note: \"µm² 🙂\", depth: lots")
    files[ARCH] = "# µ-architecture 🙂\n" + files[ARCH]
    diagnostic = _refusal(files)
    _points_at(diagnostic, files, ARCH, "lots")


def test_values_read_print_as_plain_values() -> None:
    # the positioned values compare, hash and print as the plain ones: the study read
    # equals its own figures and a refusal quotes a string as Python would
    study = read_study(_files())
    memory = study.accelerator.hierarchy[0]
    assert memory.name == "MainMemory" and type(memory.name) is str
    # nothing read keeps its file's text alive in what the study holds (pickled to workers)
    [layer] = study.layers
    assert layer.problem.bounds == (3, 16)
    assert all(type(bound) is int for bound in layer.problem.bounds)
    assert all(type(dim) is str for dim in layer.problem.dims)
    assert all(type(loop.factor) is int for level in layer.mapping.levels
               for loop in level.temporal)
    diagnostic = _refusal(_edited(MAP, "permutation: RP}\n- {target: Buffer",
                                  "permutation: RX}\n- {target: Buffer"))
    assert diagnostic.message == (f"{MAP}: `MainMemory`: `permutation` R X names unknown "
                                  "dims (X)")


def test_the_command_line_prints_the_line_and_the_excerpt(tmp_path: Path) -> None:
    for name, text in _edited(ARCH, "depth: 32768", "depth: lots").items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = runner.invoke(cli.app, ["import-timeloop", str(tmp_path)])
    assert result.exit_code == 1
    line, column = _line_col((tmp_path / ARCH).read_text(encoding="utf-8"),
                             (tmp_path / ARCH).read_text(encoding="utf-8").index("lots"))
    assert f"--> {ARCH}:{line}:{column}" in result.output
    assert "attributes: {depth: lots, width: 64, word-bits: 8}" in result.output
