"""`accuracy = trained(dataset = .., epochs = .., seed = ..)` as the language checks it (no
torch needed): the spec it elaborates to, a diagnostic with a code, a span and a hint for
every bad argument or a network whose input does not fit the dataset, and without the
`learn` extra a CannotRunError that says how to install it (torch's absence simulated)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api
from dslc.cli import app
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.spec.codesign import TrainedAccuracy

HEAD = """
import "std/networks/digits_space.cd"
import "std/networks/mnist1d_space.cd"
network flat { input x: [64]  layer fc = dense(x, out = 10) }
network two { input a: [1, 8, 8]  input b: [1, 8, 8]  layer s = add(a, b)
              layer fc = dense(flatten(s), out = 10) }
accelerator acc {
    word = 16b  clock = 200MHz
    memory DRAM { width = 64b, read = 2nJ, write = 2nJ }
    fanout PE { mesh = 4 x 4, dataflow = weight_stationary }
    memory RF { size = 32 words }
    compute MAC { energy = 1pJ }
}
"""


def _request(networks: str, accuracy: str) -> str:
    return HEAD + (f"codesign c {{ networks = {networks}  accelerators = acc  "
                   f"accuracy = {accuracy} }}\n")


def _errors(text: str) -> list[tuple[str, str, str, str]]:
    program = api.compile(text=text)
    return [(d.code, d.message, d.help, d.span.text if d.span is not None else "")
            for d in program.diagnostics if d.is_error]


def test_the_spec_with_defaults() -> None:
    program = api.compile(text=_request("digits_space", "trained(dataset = digits)"))
    assert not [d for d in program.diagnostics if d.is_error]
    assert program.codesigns["c"].accuracy == TrainedAccuracy(dataset="digits", epochs=10,
                                                              seed=1)
    program = api.compile(text=_request("[flat, mnist1d_space]",
                                        "trained(dataset = digits, epochs = 3, seed = 7)"
                                        ).replace("[flat, mnist1d_space]", "flat"))
    assert program.codesigns["c"].accuracy == TrainedAccuracy(dataset="digits", epochs=3,
                                                              seed=7)


@pytest.mark.parametrize(("networks", "accuracy", "code", "message", "hint", "span"), [
    ("digits_space", "trained(dataset = digit)", "E706", "unknown dataset `digit`",
     "did you mean `digits`?", "digit"),
    ("digits_space", "trained(dataset = 3)", "E706", "a dataset is a name, found the integer 3",
     "datasets: digits, mnist1d", "3"),
    ("digits_space", "trained(dataset = digits, epochs = 0)", "E302",
     "the epochs must be at least 1, found 0", "", "0"),
    ("digits_space", "trained(dataset = digits, epochs = 2.5)", "E303",
     "expected an integer for the epochs", "", "2.5"),
    ("digits_space", "trained(dataset = digits, seed = -1)", "E302",
     "the seed must be at least 0", "", "-1"),
    ("digits_space", "trained(dataset = digits, epoch = 3)", "E205",
     "`trained` has no argument `epoch`", "did you mean `epochs`?", "epoch"),
    ("digits_space", "trained(dataset = digits, seed = 1, seed = 2)", "E202",
     "argument `seed` given twice", "", "seed"),
    ("digits_space", "trained(digits)", "E208", "`trained` takes keyword arguments only",
     "e.g. `trained(dataset = digits, epochs = 10, seed = 1)`", "digits"),
    ("digits_space", "trained(epochs = 3)", "E209", "`trained` needs a `dataset`",
     "datasets: digits, mnist1d", "trained(epochs = 3)"),
    ("mnist1d_space", "trained(dataset = digits)", "E706",
     "network `mnist1d_space` cannot train on `digits`: its input is [1, 1, 40] but the "
     "samples are [1, 8, 8]", "give it `input x: [1, 8, 8]`", "trained(dataset = digits)"),
    ("two", "trained(dataset = digits)", "E706",
     "network `two` has 2 inputs; training on `digits` needs exactly one", "",
     "trained(dataset = digits)"),
])
def test_bad_arguments_are_diagnosed(networks: str, accuracy: str, code: str, message: str,
                                     hint: str, span: str) -> None:
    errors = _errors(_request(networks, accuracy))
    assert len(errors) == 1, errors
    found = errors[0]
    assert found[0] == code and found[1].startswith(message), found
    assert found[2] == hint and found[3] == span


def test_a_flattened_or_squeezed_input_fits() -> None:
    # [64] is the digits' [1, 8, 8] flattened; mnist1d's [1, 1, 40] may be given as [40].
    assert _errors(_request("flat", "trained(dataset = digits)")) == []
    text = HEAD + ("network sig { input s: [40]  layer fc = dense(s, out = 10) }\n"
                   "codesign c { networks = sig  accelerators = acc  "
                   "accuracy = trained(dataset = mnist1d) }\n")
    assert _errors(text) == []


def test_without_the_learn_extra_it_says_how_to_install(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    program = api.compile(text=_request("flat", "trained(dataset = digits, epochs = 1)"))
    with pytest.raises(CannotRunError, match=r'pip install -e "\.\[learn\]"') as caught:
        api.search(program, store=":memory:")
    assert "`torch` is not installed" in str(caught.value)
    assert "trained(dataset = digits" in str(caught.value)


@pytest.mark.parametrize("module", ["datasets", "modules", "train", "supernet"])
def test_the_learning_modules_say_how_to_install(module: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n.startswith("dslc.learn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(CannotRunError, match=r'pip install -e "\.\[learn\]"'):
        importlib.import_module(f"dslc.learn.{module}")


def test_dslc_run_without_the_extra_exits_1_with_the_pip_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "trained.cd"
    spec.write_text(_request("digits_space", "trained(dataset = digits, epochs = 1)"))
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(app, ["run", str(spec), "--cache", ":memory:"])
    assert result.exit_code == 1
    assert 'pip install -e ".[learn]"' in result.output
