"""CLI options in their stated ranges (usage errors, exit 2, before any work), `--out`
refused before the search when it cannot be written or would overwrite files the user did
not name (unless --force), and write failures as errors, never E900 (issue 17)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from tests.test_cli import SMALL_DESIGN, SMALL_SPACE

runner = CliRunner()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "design.cd").write_text(SMALL_DESIGN)
    (tmp_path / "space.cd").write_text(SMALL_SPACE)
    return tmp_path


MAP = ["map", "design.cd", "-n", "n", "-l", "a", "-a", "acc"]


@pytest.mark.parametrize(("args", "message"), [
    ([*MAP, "--batch", "0"], "the batch must be between 1 and 65,536, got 0"),
    ([*MAP, "--batch", "65537"], "the batch must be between 1 and 65,536, got 65,537"),
    ([*MAP, "--seed", "-1"], f"the seed must be between 0 and {2**63 - 1:,}, got -1"),
    ([*MAP, "--seed", str(2**63)],
     f"the seed must be between 0 and {2**63 - 1:,}, got {2**63:,}"),
    (["plan", "space.cd", "--max-pairs", str(2**63)],
     f"--max-pairs must be between 1 and {2**63 - 1:,}, got {2**63:,}"),
    ([*MAP, "--budget", "0"], "the budget must be between 1 and 1,000,000,000, got 0"),
    ([*MAP, "--budget", "10000000000"],
     "the budget must be between 1 and 1,000,000,000, got 10,000,000,000"),
    (["run", "space.cd", "--jobs", "0"], "--jobs must be between 1 and 1,024, got 0"),
    (["run", "space.cd", "--jobs", "5000"], "--jobs must be between 1 and 1,024, got 5,000"),
    (["run", "space.cd", "--max-pairs", "0"],
     f"--max-pairs must be between 1 and {2**63 - 1:,}, got 0"),
    (["run", "space.cd", "--time-limit", "0"],
     "--time-limit must be a positive number of seconds, got 0"),
    (["run", "space.cd", "--time-limit", "nan"],
     "--time-limit must be a positive number of seconds, got nan"),
    (["run", "space.cd", "--time-limit", "inf"],
     "--time-limit must be a positive number of seconds, got inf"),
    (["plan", "space.cd", "--max-pairs", "-3"],
     f"--max-pairs must be between 1 and {2**63 - 1:,}, got -3"),
    (["export", "design.cd", "-n", "n", "-a", "acc", "-o", "x", "--batch", "0"],
     "the batch must be between 1 and 65,536, got 0"),
])
def test_options_out_of_range_are_usage_errors(here: Path, args: list[str],
                                               message: str) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.output
    assert "E900" not in result.output
    as_json = runner.invoke(cli.app, [*args, "--format", "json"]) if args[0] != "export" \
        else None
    if as_json is not None:
        assert as_json.exit_code == 2
        error = json.loads(as_json.stdout)["error"]
        assert (error["kind"], error["message"]) == ("usage", message)


@pytest.mark.parametrize(("args", "message"), [
    (["--jobs", "-3"], "--jobs must be between 1 and 1,024, got -3"),
    (["--jobs", "1025"], "--jobs must be between 1 and 1,024, got 1,025"),
    (["--max-pairs", "0"], f"--max-pairs must be between 1 and {2**63 - 1:,}, got 0"),
    (["--time-limit", "nan"], "--time-limit must be a positive number of seconds, got nan"),
    (["--time-limit", "-1"], "--time-limit must be a positive number of seconds, got -1"),
    (["--strategy", "bogus"], "unknown strategy `bogus` (auto, exhaustive, semi_decoupled, "
                              "random, differentiable)"),
])
def test_run_of_one_design_checks_the_search_options_too(
        here: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    """A request of one design uses none of the search's options, but a wrong one is still
    a usage error, before the spec is read (it was silently ignored)."""
    calls = _never_search(monkeypatch)
    monkeypatch.setattr(api, "compile", lambda *a, **k: calls.append("compile"))
    for command in (["run", "design.cd"], ["run", "design.cd", "--format", "json"]):
        result = runner.invoke(cli.app, [*command, *args])
        assert result.exit_code == 2, result.output
        assert f"error: {message}" in result.output
    assert calls == []


def _never_search(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def search(*args: object, **kwargs: object) -> None:
        calls.append("search")
        raise AssertionError("the search ran")

    def run(*args: object, **kwargs: object) -> None:
        calls.append("run")
        raise AssertionError("the run ran")

    monkeypatch.setattr(api, "search", search)
    monkeypatch.setattr(api, "run", run)
    return calls


@pytest.mark.parametrize("spec", ["design.cd", "space.cd"])
def test_out_at_an_existing_file_is_refused_before_the_search(
        here: Path, monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    calls = _never_search(monkeypatch)
    (here / "taken").write_text("mine")
    result = runner.invoke(cli.app, ["run", spec, "--out", "taken", "--cache", ":memory:"])
    assert result.exit_code == 2, result.output
    assert "error: --out taken is an existing file, not a directory" in result.output
    assert calls == []
    assert (here / "taken").read_text() == "mine"


def test_out_under_a_file_or_unwritable_is_refused_before_the_search(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _never_search(monkeypatch)
    (here / "file").write_text("x")
    result = runner.invoke(cli.app, ["run", "design.cd", "--out", "file/sub"])
    assert result.exit_code == 2
    assert "is a file, not a directory" in result.output
    locked = here / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: nothing to test
            pytest.skip("running as root: every directory is writable")
        result = runner.invoke(cli.app, ["run", "design.cd", "--out", "locked/out"])
        assert result.exit_code == 2
        assert "locked is not writable" in result.output
    finally:
        locked.chmod(0o700)
    assert calls == []


def test_out_never_overwrites_files_without_force(here: Path) -> None:
    out = here / "out"
    out.mkdir()
    (out / "result.json").write_text("my notes")
    (out / "other.txt").write_text("untouched")
    refused = runner.invoke(cli.app, ["run", "design.cd", "--out", "out"])
    assert refused.exit_code == 2
    assert "already has result.json; give --force to overwrite them" in refused.output
    assert (out / "result.json").read_text() == "my notes"
    forced = runner.invoke(cli.app, ["run", "design.cd", "--out", "out", "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "result.json").read_text())["network"] == "n"
    assert (out / "other.txt").read_text() == "untouched"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["result.json", "layers.csv", "other.txt"]
        + (["breakdown.png"] if (out / "breakdown.png").exists() else []))


def test_check_out_dir_refuses_names_leaving_the_directory(tmp_path: Path) -> None:
    with pytest.raises(api.UsageError, match="would be written outside it"):
        api.check_out_dir(tmp_path / "out", ["../escape.json"])
    with pytest.raises(api.UsageError, match="would be written outside it"):
        api.check_out_dir(tmp_path / "out", ["/etc/x"])
    api.check_out_dir(tmp_path / "out", ["prob/a.yaml"])  # a subfolder is inside


def test_a_write_failure_is_an_error_not_a_bug(here: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from dslc import export

    def full(*args: object, **kwargs: object) -> tuple[str, ...]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "write_design", full)
    result = runner.invoke(cli.app, ["run", "design.cd", "--out", "out", "-f", "json"])
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "cannot_run"
    assert error["message"] == "cannot write into out: No space left on device"


def test_user_text_is_never_rewritten_by_rich(here: Path) -> None:
    # An --out named like an emoji code, and a spec file too: printed as given.
    (here / "a:x:b.cd").write_text(SMALL_DESIGN)
    result = runner.invoke(cli.app, ["run", "a:x:b.cd", "--out", "c:x:d [bold]e[/bold]"])
    assert result.exit_code == 0, result.output
    assert "to c:x:d [bold]e[/bold]" in result.stderr
    assert "\N{CROSS MARK}" not in result.output
    (here / "e:x:f.cd").write_text("network n { input x: [1] layer a = relu(y) }\n")
    as_json = runner.invoke(cli.app, ["eval", "e:x:f.cd", "-m", "m", "-f", "json"])
    assert as_json.exit_code == 1
    assert "\N{CROSS MARK}" not in as_json.stdout
    (diagnostic,) = json.loads(as_json.stdout)["diagnostics"]
    assert diagnostic["file"] == "e:x:f.cd"


def test_control_characters_a_user_wrote_never_reach_the_terminal(here: Path) -> None:
    # A file name with an escape sequence (clear the screen, red) and a bell: the
    # diagnostics and errors that name it show U+FFFD in their place, in every format but
    # JSON, which escapes them itself and keeps the name exact.
    name = "a\x1b[2J\x1b[31mb\x07.cd"
    (here / name).write_text("network n { input x: [1] layer a = relu(y) }\n")
    for args in (["lint", name], ["lint", name, "-f", "concise"],
                 ["run", "missing\x1b[2J.cd"], ["eval", name, "-m", "m"]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code in (1, 2), result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, args
        assert "\N{REPLACEMENT CHARACTER}" in result.output, args
    as_json = runner.invoke(cli.app, ["lint", name, "-f", "json"])
    assert json.loads(as_json.stdout)[0]["file"] == name


EXPORT = ["export", str(Path(__file__).resolve().parents[2] / "examples" / "mapping.cd"),
          "--to", "timeloop", "--mapping", "rs_conv3x3", "-o", "study"]


def test_export_never_overwrites_files_without_force(here: Path) -> None:
    """docs/cli.md, "Files written": `dslc export` writes the study's files into DIR; if one
    exists it refuses (exit 2) unless given --force, and other files are never touched."""
    first = runner.invoke(cli.app, EXPORT)
    assert first.exit_code == 0, first.output
    written = sorted(p.relative_to(here / "study") for p in (here / "study").rglob("*")
                     if p.is_file())
    assert Path("README.txt") in written and Path("prob/layer1.0.a.prob.yaml") in written
    (here / "study" / "README.txt").write_text("my notes")
    (here / "study" / "other.txt").write_text("untouched")
    refused = runner.invoke(cli.app, EXPORT)
    assert refused.exit_code == 2, refused.output
    assert "error: --out study already has README.txt, " in refused.output
    assert "give --force to overwrite them" in refused.output
    assert (here / "study" / "README.txt").read_text() == "my notes"
    forced = runner.invoke(cli.app, [*EXPORT, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "timeloop-model" in (here / "study" / "README.txt").read_text()
    assert (here / "study" / "other.txt").read_text() == "untouched"
    assert sorted(p.relative_to(here / "study") for p in (here / "study").rglob("*")
                  if p.is_file()) == sorted([*written, Path("other.txt")])


def test_export_to_an_existing_file_is_refused_before_the_export(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the export ran")

    monkeypatch.setattr(api, "export_timeloop", never)
    (here / "study").write_text("mine")
    result = runner.invoke(cli.app, EXPORT)
    assert result.exit_code == 2, result.output
    assert "error: --out study is an existing file, not a directory" in result.output
    assert (here / "study").read_text() == "mine"


def test_an_export_write_failure_is_exit_1_with_the_reason(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"A write that fails (a full disk) is exit 1 with the reason", for export too."""
    from dslc import export

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "write_text", full)
    result = runner.invoke(cli.app, EXPORT)
    assert result.exit_code == 1, result.output
    assert "error: cannot write into study: No space left on device" in result.output
    assert "E900" not in result.output


def test_control_characters_in_an_accuracy_tables_header_never_reach_the_terminal(
        here: Path) -> None:
    """docs/cli.md: "a bell in an accuracy table's header" prints as U+FFFD in diagnostics
    and errors; JSON escapes it and keeps the text exact."""
    from tests.test_streams import TABLE_SPEC

    (here / "t.cd").write_text(TABLE_SPEC)
    (here / "acc.csv").write_text("width,de\x07pth\x1b[31m,accuracy\n8,1,0.7\n")
    for args in (["lint", "t.cd"], ["lint", "t.cd", "-f", "concise"],
                 ["run", "t.cd", "--cache", ":memory:"]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 1, result.output
        assert "\x07" not in result.output and "\x1b" not in result.output, args
        assert "column `de\N{REPLACEMENT CHARACTER}pth\N{REPLACEMENT CHARACTER}[31m`" in \
            result.output, args
    as_json = runner.invoke(cli.app, ["lint", "t.cd", "-f", "json"])
    assert "column `de\x07pth\x1b[31m`" in json.loads(as_json.stdout)[0]["message"]


def test_options_at_the_ends_of_their_ranges_are_accepted(here: Path) -> None:
    """docs/cli.md, "Options and limits": `--batch` from 1 to 65,536, `--budget` from 1 to
    10^9, `--seed` from 0 to 2^63-1, `--jobs` from 1 to 1,024, `--max-pairs` at least 1,
    `--time-limit` a positive number: the ends themselves are in range (the test above
    checks one past them)."""
    for batch, budget, seed in ((65536, 1, 2**63 - 1), (1, 1, 0)):
        result = runner.invoke(cli.app, [*MAP, "--batch", str(batch), "--budget", str(budget),
                                         "--seed", str(seed), "--search", "random",
                                         "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["macs"] == batch * 4 * 4 * 4 * 4 * 3 * 3
    # The rest without running a billion-candidate search or 1,024 processes: the checks
    # the commands call before any work.
    api.mapper_settings(budget=10**9, seed=0)
    api.mapper_settings(budget=1, seed=2**63 - 1)
    api.check_search_options(jobs=1024, max_pairs=2**63 - 1, time_limit_s=1e-9)
    api.check_search_options(jobs=1, max_pairs=1, time_limit_s=1e300)
    for pairs in ("1", str(2**63 - 1)):
        planned = runner.invoke(cli.app, ["plan", "space.cd", "--max-pairs", pairs,
                                          "--format", "json"])
        assert planned.exit_code == 0, planned.output
        assert json.loads(planned.stdout)["budget"]["max_pairs"] == int(pairs)


def test_an_unwritable_out_is_refused_before_the_search_even_as_root(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cli.md, "Files written": "a directory that cannot be written is a usage error",
    checked before the search. The test above skips as root (root writes anywhere), so here
    the permission check itself answers no for that one directory."""
    calls = _never_search(monkeypatch)
    locked = (here / "locked").resolve()
    locked.mkdir()
    real_access = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:
        if Path(str(path)).resolve() == locked:
            return False
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    for spec in ("design.cd", "space.cd"):
        result = runner.invoke(cli.app, ["run", spec, "--out", "locked/out", "--cache",
                                         ":memory:"])
        assert result.exit_code == 2, result.output
        assert "error: --out locked/out: " in result.output
        assert f"{locked} is not writable" in result.output
    assert calls == []
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("taken", ["pairs.csv", "pareto.png", "result.json"])
def test_a_codesign_out_never_overwrites_files_without_force(
        here: Path, monkeypatch: pytest.MonkeyPatch, taken: str) -> None:
    """docs/cli.md, "Files written": over spaces `dslc run --out DIR` writes `result.json`,
    `pairs.csv` and `pareto.png`; if one of them exists it refuses (exit 2, before the
    search) unless given --force, and other files in DIR are never touched."""
    out = here / "out"
    out.mkdir()
    (out / taken).write_text("my notes")
    (out / "other.txt").write_text("untouched")
    with monkeypatch.context() as patched:
        calls = _never_search(patched)
        refused = runner.invoke(cli.app, ["run", "space.cd", "--out", "out", "--cache",
                                          ":memory:"])
        assert refused.exit_code == 2, refused.output
        assert f"error: --out out already has {taken}; give --force to overwrite them" \
            in refused.output
        assert calls == []
    assert (out / taken).read_text() == "my notes"
    forced = runner.invoke(cli.app, ["run", "space.cd", "--out", "out", "--cache", ":memory:",
                                     "--force", "-f", "json"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "result.json").read_text()) == json.loads(forced.stdout)
    assert (out / "pairs.csv").read_text().startswith("network,accelerator,objective,")
    assert (out / "other.txt").read_text() == "untouched"
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # no figure: a pareto.png of the user's stays as it was
        plotted = ["pareto.png"] if taken == "pareto.png" else []
    else:
        assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
        plotted = ["pareto.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["result.json", "pairs.csv", "other.txt", *plotted])


def test_force_never_makes_an_existing_file_a_directory(here: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """"`--out DIR` ... an existing file ... is a usage error": --force overwrites the
    command's own files in a directory, never a file given as the directory."""
    calls = _never_search(monkeypatch)
    (here / "taken").write_text("mine")
    for args in (["run", "design.cd"], ["run", "space.cd", "--cache", ":memory:"]):
        result = runner.invoke(cli.app, [*args, "--out", "taken", "--force"])
        assert result.exit_code == 2, result.output
        assert "error: --out taken is an existing file, not a directory" in result.output
    exported = runner.invoke(cli.app, [*EXPORT[:-1], "taken", "--force"])
    assert exported.exit_code == 2, exported.output
    assert calls == []
    assert (here / "taken").read_text() == "mine"
