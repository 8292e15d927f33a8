"""The `differentiable { ... }` block and `strategy = differentiable` in elaboration (no
torch needed): settings reach the spec, and bad settings are diagnostics with a code, a
span and a hint."""

from __future__ import annotations

from pathlib import Path

from dslc.api import compile
from dslc.diagnostics.diagnostic import Diagnostic
from dslc.sema.program import Program
from dslc.spec.codesign import DifferentiableSpec

SMALL = (Path(__file__).with_name("small.cd")).read_text()


def program(text: str) -> Program:
    return compile("t.cd", text=text.encode())


def with_block(block: str, accelerators: str = "family") -> str:
    text = SMALL.replace("    differentiable { steps = 80, candidates = 5, seed = 3, "
                         "heldout_pairs = 30 }", f"    differentiable {{ {block} }}")
    return text.replace("accelerators = family", f"accelerators = {accelerators}")


def only(text: str) -> Diagnostic:
    diagnostics = program(text).diagnostics
    assert len(diagnostics) == 1, [(d.code, d.message) for d in diagnostics]
    return diagnostics[0]


def test_settings_reach_the_spec() -> None:
    spec = program(with_block("cost_weight = 0.5, weights = [0.1, 2], steps = 7, "
                              "candidates = 3, seed = 9, train_fraction = 0.05, "
                              "heldout_pairs = 40")).codesigns["explore"]
    assert spec.strategy == "differentiable"
    assert spec.differentiable == DifferentiableSpec(
        cost_weight=0.5, weights=(0.1, 2.0), steps=7, candidates=3, seed=9,
        train_fraction=0.05, heldout_pairs=40)


def test_defaults_when_the_block_is_absent() -> None:
    text = SMALL.replace("    differentiable { steps = 80, candidates = 5, seed = 3, "
                         "heldout_pairs = 30 }\n", "")
    spec = program(text).codesigns["explore"]
    assert spec.differentiable == DifferentiableSpec()
    assert spec.differentiable.candidates == 10


def test_more_than_ten_candidates_is_e302() -> None:
    text = with_block("candidates = 11")
    found = only(text)
    assert found.code == "E302"
    assert found.message == "`candidates` must be at most 10, found 11"
    assert found.span.text == "11"
    assert found.help


def test_an_unknown_setting_is_e205_with_a_suggestion() -> None:
    found = only(with_block("step = 10"))
    assert found.code == "E205"
    assert found.span.text == "step"
    assert found.help is not None and "steps" in found.help


def test_a_non_positive_weight_and_a_fraction_above_one() -> None:
    assert only(with_block("cost_weight = 0")).code == "E302"
    found = only(with_block("train_fraction = 1.5"))
    assert found.code == "E302" and found.span.text == "1.5"


def test_one_accelerator_space_only() -> None:
    text = with_block("steps = 5", accelerators="[family, other]") + """
accelerator other {
    word  = 16b
    clock = 200MHz
    memory DRAM { read = 200pJ, write = 200pJ }
    memory GLB  { size = 64KiB }
    fanout PE   { mesh = 4 x 4 }
    memory RF   { size = 64 words }
    compute MAC { energy = 1pJ }
}
"""
    found = only(text)
    assert found.code == "E705"
    assert "one accelerator space" in found.message
    assert found.span.text == "[family, other]"


def test_without_torch_the_commands_say_how_to_install(monkeypatch, tmp_path: Path) -> None:
    import sys

    from typer.testing import CliRunner

    from dslc.cli import app

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    spec = tmp_path / "small.cd"
    spec.write_text(SMALL)
    for args in (["learn", "evaluator", str(spec)], ["run", str(spec)]):
        result = CliRunner().invoke(app, [*args, "--cache", ":memory:"])
        assert result.exit_code == 1, result.output
        assert 'pip install -e ".[learn]"' in result.output
        assert "Traceback" not in result.output
