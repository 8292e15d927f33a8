"""What an `import` may read (issue 17, dslc/sema/loader.py): regular `.cd` files of at most
16 MiB inside the root file's directory tree (or the shipped library), other paths only with
--allow-import-outside, a refused file never opened (its content never echoed), and chains
and counts of imports bounded (E213)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.sema import loader

runner = CliRunner()
NET = "network n { input x: [1] layer a = relu(x) }\n"


def _codes(path: Path, **options: bool) -> list[tuple[str, str]]:
    program = api.compile(path, **options)
    return [(d.code, d.message) for d in program.diagnostics]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "net.cd").write_text(NET)
    (tmp_path / "outside.cd").write_text(NET)
    return root


def test_an_import_inside_the_tree_and_from_the_library_is_read(project: Path) -> None:
    spec = project / "spec.cd"
    spec.write_text('import "lib/net.cd"\nimport "std/networks/resnet18.cd"\n')
    program = api.compile(spec)
    assert program.diagnostics == ()
    assert {"n", "resnet18"} <= set(program.networks)


@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/zero", "../outside.cd"])
def test_paths_outside_the_tree_are_refused_unless_allowed(project: Path, target: str) -> None:
    spec = project / "spec.cd"
    spec.write_text(f'import "{target}"\n')
    ((code, message),) = _codes(spec)
    assert code == "E212"
    assert message.startswith(f"import of `{target}` refused:")
    assert "root:" not in message  # /etc/passwd's first line is never echoed
    allowed = _codes(spec, allow_outside_imports=True)
    if target == "../outside.cd":
        assert allowed == []
    else:
        ((code, message),) = allowed
        assert (code, message) == ("E212", f"import of `{target}` refused: only `.cd` files "
                                           "can be imported")


def test_the_cli_flag_allows_outside_imports(project: Path) -> None:
    spec = project / "spec.cd"
    spec.write_text('import "../outside.cd"\n')
    refused = runner.invoke(cli.app, ["lint", str(spec), "-f", "concise"])
    assert refused.exit_code == 1 and "E212" in refused.stdout
    allowed = runner.invoke(cli.app, ["lint", str(spec), "--allow-import-outside"])
    assert allowed.exit_code == 0, allowed.output


def test_a_symbolic_link_leaving_the_tree_is_refused(project: Path) -> None:
    (project / "link.cd").symlink_to(project.parent / "outside.cd")
    spec = project / "spec.cd"
    spec.write_text('import "link.cd"\n')
    ((code, message),) = _codes(spec)
    assert code == "E212" and "leaves the root file's directory tree" in message


def test_a_fifo_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "pipe.cd")
    spec = project / "spec.cd"
    spec.write_text('import "pipe.cd"\n')
    ((code, message),) = _codes(spec)  # a read would block forever
    assert code == "E212" and message.endswith("not a regular file")


def test_a_directory_and_a_non_cd_file_are_refused(project: Path) -> None:
    (project / "dir.cd").mkdir()
    (project / "notes.txt").write_text("secret: 42\n")
    spec = project / "spec.cd"
    spec.write_text('import "dir.cd"\nimport "notes.txt"\n')
    found = _codes(spec)
    assert [code for code, _ in found] == ["E212", "E212"]
    assert found[0][1].endswith("not a regular file")
    assert found[1][1] == "import of `notes.txt` refused: only `.cd` files can be imported"
    assert all("secret" not in message for _, message in found)


def test_a_library_path_that_leaves_the_library_is_refused(project: Path) -> None:
    spec = project / "spec.cd"
    spec.write_text('import "std/../../../../../../etc/passwd.cd"\n')
    ((code, message),) = _codes(spec)
    assert code == "E212" and message.endswith("it leaves the shipped library")


def test_a_file_over_the_size_limit_is_refused(project: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert loader.MAX_SOURCE_BYTES == 16 * 1024 * 1024
    monkeypatch.setattr(loader, "MAX_SOURCE_BYTES", 1000)
    (project / "big.cd").write_text("#" * 1001 + "\n")
    (project / "small.cd").write_text("#" * 998 + "\n")
    spec = project / "spec.cd"
    spec.write_text('import "big.cd"\nimport "small.cd"\n')
    ((code, message),) = _codes(spec)
    assert code == "E212"
    assert message.endswith("big.cd`: 1,002 bytes, more than the limit of 1,000")


def _chain(root: Path, length: int) -> Path:
    """root/c0.cd imports c1.cd ... up to c{length-1}.cd: a chain of `length` files."""
    for i in range(length):
        text = f'import "c{i + 1}.cd"\n' if i + 1 < length else NET
        (root / f"c{i}.cd").write_text(text)
    return root / "c0.cd"


def test_a_chain_at_the_depth_limit_loads_and_one_longer_is_e213(tmp_path: Path) -> None:
    assert loader.MAX_IMPORT_DEPTH == 64
    at_limit = tmp_path / "at"
    at_limit.mkdir()
    program = api.compile(_chain(at_limit, 64))
    assert program.diagnostics == () and "n" in program.networks
    past = tmp_path / "past"
    past.mkdir()
    ((code, message),) = _codes(_chain(past, 65))
    assert code == "E213"
    assert message == "import chain longer than the limit of 64 files"


def test_more_files_than_the_limit_is_e213(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_IMPORTS", 5)
    for i in range(6):
        (tmp_path / f"f{i}.cd").write_text(f"# file {i}\n")
    spec = tmp_path / "spec.cd"
    spec.write_text("".join(f'import "f{i}.cd"\n' for i in range(6)))
    # The root and f0..f3 are five files: f4 is the sixth, refused, and so is f5.
    found = _codes(spec)
    assert found == [("E213", "more than the limit of 5 imported files")] * 2


OUTSIDE_DESIGN = """
network n {
    input x: [4, 6, 6]
    layer a = conv(x, out = 4, kernel = 3)
}
accelerator acc {
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = 4KiB, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 64 words }
    compute MAC { }
}
"""
INSIDE = """import "../design.cd"
mapping m for n.a on acc {
    DRAM { }
    GLB  { temporal [C 2, R 3], bypass [weight, input, output] }
    PE   { spatial x [K 2], spatial y [C 2] }
    RF   { temporal [K 2, S 3, Q 4, P 4] }
}
codesign c { networks = n accelerators = acc mapper { search = heuristic, budget = 50 } }
"""


@pytest.mark.parametrize("command", [
    ["lint"], ["dump", "--stage", "spec"], ["eval", "-m", "m"],
    ["map", "-n", "n", "-l", "a", "-a", "acc", "--budget", "50"], ["run"], ["plan"],
    ["export", "--mapping", "m", "-o", "study"]], ids=lambda command: command[0])
def test_every_command_that_reads_a_spec_takes_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    """docs/cli.md: `--allow-import-outside` (on `lint`, `dump`, `eval`, `map`, `run`,
    `plan`, `export`; `learn evaluator` below) lets imports read `../`; without it each
    refuses with E212, exit 1."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "design.cd").write_text(OUTSIDE_DESIGN)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "spec.cd").write_text(INSIDE)
    name, *options = command
    args = [name, "project/spec.cd", *options]
    refused = runner.invoke(cli.app, args)
    assert refused.exit_code == 1, refused.output
    assert "error[E212]: import of `../design.cd` refused" in refused.output
    allowed = runner.invoke(cli.app, [*args, "--allow-import-outside"])
    assert allowed.exit_code == 0, allowed.output


def test_learn_evaluator_takes_the_flag_too(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`dslc learn evaluator` reads a spec as `run` does, and takes `--allow-import-outside`
    as well (docs/cli.md lists it). The training itself is replaced: only the import rule
    is under test here."""
    from dslc.codesign.dance import evaluator
    from dslc.diagnostics.diagnostic import CannotRunError

    calls: list[str] = []

    def train_evaluator(*args: object, **kwargs: object) -> None:
        calls.append("trained")
        raise CannotRunError("training replaced by the test")

    monkeypatch.setattr(evaluator, "needs_torch", lambda: None)  # torch or not
    monkeypatch.setattr(evaluator, "train_evaluator", train_evaluator)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "design.cd").write_text(OUTSIDE_DESIGN)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "spec.cd").write_text(INSIDE)
    args = ["learn", "evaluator", "project/spec.cd"]
    refused = runner.invoke(cli.app, args)
    assert refused.exit_code == 1, refused.output
    assert "error[E212]: import of `../design.cd` refused" in refused.output
    assert calls == []
    allowed = runner.invoke(cli.app, [*args, "--allow-import-outside"])
    assert allowed.exit_code == 1, allowed.output
    assert "E212" not in allowed.output
    assert "training replaced by the test" in allowed.output
    assert calls == ["trained"]


def test_the_docs_list_every_command_that_takes_the_flag() -> None:
    """docs/cli.md names the commands that take `--allow-import-outside`; the list is the
    app's (it missed `learn evaluator`)."""
    import inspect
    import re

    def commands(app: object, prefix: str = "") -> dict[str, object]:
        found = {f"{prefix}{c.name or c.callback.__name__}": c.callback  # type: ignore[union-attr]
                 for c in app.registered_commands}  # type: ignore[attr-defined]
        for group in app.registered_groups:  # type: ignore[attr-defined]
            found |= commands(group.typer_instance, f"{prefix}{group.name} ")
        return found

    taking = {name for name, callback in commands(cli.app).items()
              if "allow_import_outside" in inspect.signature(callback).parameters}  # type: ignore[arg-type]
    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
                    .split())
    listed = re.search(r"`--allow-import-outside` \(on ([^)]*)\)", text)
    assert listed is not None
    assert set(re.findall(r"`([^`]+)`", listed[1])) == taking
