"""Hostile Timeloop studies (`dslc import-timeloop`): files that are links out of the study,
devices, huge, not UTF-8, YAML bombs and recursive aliases, values of the wrong type in the
fields dslc reads, names that cannot be written in a spec, and studies whose `-o` spec must
read back. Each gets a diagnostic naming the file (E805, E806), never an internal error,
and nothing outside the study's directory is opened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from typer.testing import CliRunner  # noqa: E402

from dslc import api, cli  # noqa: E402
from dslc.diagnostics.diagnostic import DiagnosticError  # noqa: E402
from dslc.interop import timeloop  # noqa: E402
from dslc.interop.timeloop import read_study  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ARCH = "arch/eyeriss_like.arch.yaml"
PROB = "prob/layer1.0.a.prob.yaml"
MAP = "map/layer1.0.a.map.yaml"
runner = CliRunner()


def _files() -> dict[str, str]:
    program = api.compile(REPO / "examples" / "mapping.cd")
    return dict(api.export_timeloop(program, mapping="rs_conv3x3"))


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _refused(directory: Path) -> str:
    with pytest.raises(DiagnosticError) as caught:
        api.import_timeloop(directory)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E805", diagnostic.message
    return diagnostic.message


@pytest.mark.parametrize("form", ["table", "json"])
def test_a_study_that_is_not_a_directory_is_e805_exit_1(tmp_path: Path, form: str) -> None:
    """As a missing spec file is E203 (exit 1), not a usage error."""
    (tmp_path / "file.yaml").write_text("architecture: {}\n")
    for name, missing in (("absent", "no such directory"), ("file.yaml", "not a directory")):
        assert _refused(tmp_path / name) == f"{tmp_path / name}: {missing}; a study is a " \
            "directory of Timeloop files"
        result = runner.invoke(cli.app, ["import-timeloop", str(tmp_path / name), "-f", form])
        assert result.exit_code == 1, result.output
        assert "E805" in result.output and missing in result.output


def test_a_link_out_of_the_study_is_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.prob.yaml"
    secret.parent.mkdir()
    secret.write_text("SECRET-CONTENT: [\n")  # would be echoed as bad YAML if read
    study = _write(tmp_path / "study", _files())
    (study / PROB).unlink()
    (study / PROB).symlink_to(secret)
    message = _refused(study)
    assert message.startswith(f"{PROB}: a link to ") and "outside the study" in message
    assert "SECRET" not in message


def test_a_device_is_refused_unread(tmp_path: Path) -> None:
    study = _write(tmp_path, _files())
    (study / "zero.ART.yaml").symlink_to("/dev/zero")  # read, it never ends
    assert "outside the study" in _refused(study)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_inside_the_study_is_refused_unopened(tmp_path: Path) -> None:
    study = _write(tmp_path, _files())
    os.mkfifo(study / "pipe.ERT.yaml")  # opening it would block for ever
    assert _refused(study) == "pipe.ERT.yaml: not a regular file: not read"


def test_a_linked_directory_is_not_entered(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "other.ERT.yaml").write_text(
        "ERT: {tables: [{name: DRAM, actions: [{name: read, energy: 999}]}]}\n")
    study = _write(tmp_path / "study", _files())
    (study / "linked").symlink_to(outside)
    assert "linked/other.ERT.yaml" not in timeloop.read_files(study)


def test_a_directory_named_yaml_is_not_read(tmp_path: Path) -> None:
    study = _write(tmp_path, _files())
    (study / "notes.yaml").mkdir()
    assert api.import_timeloop(study).layers[0].cost.cycles == 688128


def test_big_and_non_utf8_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = _write(tmp_path, _files())
    (study / PROB).write_bytes(b"problem: \xff\xfe\n")
    assert _refused(study) == f"{PROB}: not UTF-8 text (byte 9)"
    _write(study, {PROB: _files()[PROB]})
    monkeypatch.setattr(timeloop, "MAX_STUDY_FILE_BYTES", 100)
    assert "more than the limit of 100" in _refused(study)


def test_too_many_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = _write(tmp_path, _files())
    monkeypatch.setattr(timeloop, "MAX_STUDY_FILES", 3)
    assert "more than 3 .yaml files" in _refused(study)


def _bomb(levels: int) -> str:
    """Ten to the power `levels` values, written in a few hundred bytes."""
    lines = ["x0: &a0 [N, N, N, N, N, N, N, N, N, N]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]"
              for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("path", "old", "new"), [
    (MAP, "factors: N=1 K=4 C=1 P=4 Q=2 R=1 S=1", f"factors: *a{8}"),
    (PROB, "dimensions: [N, K, C, P, Q, R, S]", f"dimensions: *a{8}"),
    (ARCH, "dslc_holds: [input, weight, output]", f"dslc_holds: *a{8}"),
])
def test_billion_laughs_are_refused_before_they_expand(path: str, old: str, new: str) -> None:
    files = _files()
    assert old in files[path]
    files[path] = _bomb(9) + files[path].replace(old, new, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E805"
    assert diagnostic.message == (f"{path}: more than 1,000,000 values once its aliases are "
                                  "expanded")


def test_shared_anchors_within_the_limit_read() -> None:
    files = _files()
    files[PROB] = "dims: &dims [N, K, C, P, Q, R, S]\n" + files[PROB].replace(
        "dimensions: [N, K, C, P, Q, R, S]", "dimensions: *dims")
    assert read_study(files).layers[0].problem.dims == ("N", "K", "C", "P", "Q", "R", "S")


def test_a_recursive_alias_is_refused() -> None:
    files = _files()
    files[ARCH] = "architecture: &loop\n  subtree: [{name: s, subtree: [*loop]}]\n"
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    assert caught.value.diagnostics[0].message == (
        f"{ARCH}: an alias inside its own anchor (a recursive value)")


def test_python_tags_are_not_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    files = _files()
    files[ARCH] = f"architecture: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    assert caught.value.diagnostics[0].code == "E805" and not marker.exists()


@pytest.mark.parametrize(("path", "old", "new", "code", "says"), [
    # a fraction, a boolean: not silently rounded to 64 or read as 1
    (PROB, "K: 64,", "K: 64.7,", "E805", "`instance` bound K: expected a whole number, "
     "found 64.7"),
    (PROB, "K: 64,", "K: true,", "E805", "expected a whole number, found True"),
    # bool("false") is True: a string is not a flag
    (ARCH, "dslc_power_gated: true", "dslc_power_gated: 'false'", "E805",
     "`DRAM` `dslc_power_gated`: expected true or false, found 'false'"),
    # "14x12" indexed as a sequence is a 1 x 4 mesh
    (ARCH, "dslc_mesh: [14, 12]", "dslc_mesh: 14x12", "E805",
     "`PE` `dslc_mesh`: expected a list, found '14x12'"),
    (ARCH, "dslc_mesh: [14, 12]", "dslc_mesh: [2, 2]", "E805",
     "`PE[0..167]`: a mesh of 2 x 2 is not 168 instances"),
    (ARCH, "PE[0..167]", "PE[167..0]", "E805", "the range of instances is empty"),
    # "input" iterated is i, n, p, u, t
    (ARCH, "dslc_holds: [input, weight, output]", "dslc_holds: input", "E805",
     "`DRAM` `dslc_holds`: expected a list, found 'input'"),
    (ARCH, "technology: 65nm", "technology: lots", "E805",
     "`technology`: expected a size such as 45nm, found 'lots'"),
    (ARCH, "multiple-buffering: 1", "multiple-buffering: 1.5", "E805",
     "memory `DRAM`: buffering = 1.5"),
    (ARCH, "dslc_clock_hz: 200000000.0", "dslc_clock_hz: 0", "E302",
     "clock_hz = 0.0"),
    (MAP, "keep: [Weights, Inputs, Outputs]", "keep: Weights", "E805",
     "`DRAM` `keep`: expected a list"),
    (MAP, "keep: [Weights, Inputs, Outputs]", "keep: [Weights, Inputs, Outputs, Psums]",
     "E805", "`DRAM` `keep` names Psums, not a data space of the problem"),
    # kept (the importer read keep first), where Timeloop bypasses (it applies bypass last)
    (MAP, "bypass: [Weights]", "bypass: [Weights, Inputs]", "E805",
     "`GLB` both keeps and bypasses input"),
    (MAP, "K=4 C=1", "K=4 K=4 C=1", "E805", "`DRAM`: two factors for K"),
    (MAP, "K=4 C=1", "K=\u0664 C=1", "E805", "`DRAM`: `K=\u0664` is not a factor"),
    (MAP, "permutation: QPKNCRS", "permutation: ZQPKNCRS", "E805",
     "`permutation` Z Q P K N C R S names unknown dims (Z)"),
    (MAP, "permutation: QPKNCRS", "permutation: QQPKNCRS", "E805", "names a dim twice"),
    (MAP, "split: 1", "split: -100", "E805", "`GLB`: `split` = -100 is outside 0 to 7"),
    (MAP, "{target: DRAM, type: temporal", "{target: DRAMM, type: temporal", "E805",
     "a mapping entry targets `DRAMM`, which is no memory"),
    (MAP, "type: temporal, factors: N=1 K=4", "type: temporl, factors: N=1 K=4", "E805",
     "entry type `temporl`"),
    (PROB, "      read_write: true\n", "", "E806", "0 data spaces are `read_write`"),
    (PROB, "- name: Inputs", "- name: Weights", "E805", "two data spaces share a name"),
    (PROB, "      - - [K]", "      - - [Z]", "E805", "the term ['Z'] is not"),
    (PROB, "dimensions: [N, K, C,", "dimensions: [N, K, K,", "E805", "names a dim twice"),
])
def test_values_of_the_wrong_form(path: str, old: str, new: str, code: str,
                                  says: str) -> None:
    files = _files()
    assert old in files[path], files[path]
    files[path] = files[path].replace(old, new, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.message.startswith(f"{path}: ")) == (code, True), \
        diagnostic.message
    assert says in diagnostic.message


@pytest.mark.parametrize(("path", "old", "new"), [
    (ARCH, "dslc_accelerator: eyeriss_like", "dslc_accelerator: 'x {\n} import \"/etc\"'"),
    (ARCH, "dslc_accelerator: eyeriss_like", "dslc_accelerator: my acc"),
    (ARCH, "name: GLB", "name: 'G LB}'"),
    (PROB, "- name: Inputs", "- name: 'In}\n{'"),
    (PROB, "- name: Inputs", "- name: ''"),
])
def test_names_a_spec_cannot_write_are_refused(path: str, old: str, new: str) -> None:
    """These imported and evaluated, then wrote an `-o` spec that does not parse."""
    files = _files()
    assert old in files[path]
    files[path] = files[path].replace(old, new, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E805" and "expected a name of letters, digits and _" in \
        diagnostic.message


def test_two_mapping_files_for_one_problem_are_ambiguous(tmp_path: Path) -> None:
    files = _files()
    files["map2/layer1.0.a.map.yaml"] = "mapping: []\n"  # was ignored or picked by order
    assert "2 mapping files are named layer1.0.a.map.yaml" in _refused(_write(tmp_path,
                                                                               files))


def test_conflicting_energy_tables_are_refused() -> None:
    files = _files()
    files["more/extra.ERT.yaml"] = (
        "ERT: {tables: [{name: system.DRAM, actions: [{name: read, energy: 999}]}]}\n")
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    assert caught.value.diagnostics[0].message == (
        "more/extra.ERT.yaml: `DRAM` has other figures in arch/components/eyeriss_like.ERT.yaml")


def test_the_written_spec_reads_back_whatever_the_layer_and_directory_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Layers `layer1.0.a` and `layer1_0_a` were both network `layer1_0_a` (E202 in the
    written spec); a directory name with a line break ended the header comment."""
    monkeypatch.chdir(tmp_path)
    files = _files()
    files["prob/layer1_0_a.prob.yaml"] = files[PROB]
    files["map/layer1_0_a.map.yaml"] = files[MAP]
    files["prob/layer1_0_a_mapping.prob.yaml"] = files[PROB]
    files["map/layer1_0_a_mapping.map.yaml"] = files[MAP]
    directory = "study\nnetwork x {"
    _write(tmp_path / directory, files)
    result = runner.invoke(cli.app, ["import-timeloop", directory, "-o", "study.cd"])
    assert result.exit_code == 0, result.output
    program = api.compile("study.cd")
    assert not program.errors, [d.message for d in program.errors]
    assert len(program.mappings) == 3
    costs = {api.evaluate(program, name).energy_pj for name in program.mappings}
    assert len(costs) == 1


def test_keyword_dims_and_data_spaces_read_back(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Names are checked as identifiers; the language's keywords are identifiers there."""
    monkeypatch.chdir(tmp_path)
    files = _files()
    files[PROB] = files[PROB].replace("- name: Inputs", "- name: layer")
    files[MAP] = files[MAP].replace("Inputs", "layer")
    _write(tmp_path / "study", files)
    result = runner.invoke(cli.app, ["import-timeloop", "study", "-o", "study.cd"])
    assert result.exit_code == 0, result.output
    program = api.compile("study.cd")
    assert not program.errors, [d.message for d in program.errors]


@pytest.mark.parametrize(("old", "new", "says"), [
    # a depth beside `entries` was ignored, alone it was a memory of no words or of -5 x 4
    ("        depth: 13824\n", "        depth: 0\n", "memory `GLB`: depth = 0: a memory holds"),
    ("        depth: 13824\n", "        depth: -5\n", "memory `GLB`: depth = -5"),
    ("        entries: 55296\n        depth: 13824\n", "        sizeKB: 0\n",
     "memory `GLB`: sizeKB = 0"),
    ("block-size: 4\n        entries: 55296", "block-size: 0\n        entries: 55296",
     "memory `GLB`: block_size = 0: a block holds 1 to 2^60 words"),
    ("block-size: 4\n        entries: 55296",
     "block-size: 4611686018427387904\n        entries: 55296", "block_size = 4611686018427387904"),
    ("        entries: 55296\n", "        entries: 4611686018427387904\n",
     "memory `GLB`: size_bits = 73786976294838206464"),
    ("dslc_clock_hz: 200000000.0", "dslc_clock_hz: 1.0e-300", "clock_hz = 1e-300"),
    ("dslc_clock_hz: 200000000.0", "dslc_clock_hz: .nan", "clock_hz = nan"),
    ("dslc_mesh: [14, 12]", "dslc_mesh: [4611686018427387904, 1]", "mesh_x = 4611686018427387904"),
])
def test_extreme_figures_are_e302_naming_file_and_field(old: str, new: str, says: str) -> None:
    """dslc import-timeloop builds the spec models directly, not through elaboration: every
    figure must still meet the language's limits (dslc/spec/limits.py), E302 with the file,
    the component and a hint, never an internal error nor a NaN cost."""
    files = _files()
    assert old in files[ARCH], old
    files[ARCH] = files[ARCH].replace(old, new, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E302", diagnostic.message
    assert diagnostic.message.startswith(f"{ARCH}: ") and says in diagnostic.message
    assert "Limits" in diagnostic.help


def test_two_to_the_62_instances_is_refused() -> None:
    files = _files()
    files[ARCH] = files[ARCH].replace("PE[0..167]", "PE[0..4611686018427387903]", 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E805" and diagnostic.message == (
        f"{ARCH}: `PE[0..4611686018427387903]`: the range of instances is empty or larger "
        "than 4,294,967,296")
