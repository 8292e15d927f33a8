"""A saved evaluator that cannot be used is trained afresh and replaced, never an internal
error: a truncated file, one that is not torch's, another space's model written under this
key, one holding NaN. Each is a file dslc wrote itself beside the store (`evaluator-KEY.pt`),
rebuilt from the stored pairs; the run says so (`EvaluatorQuality.replaced`, the run's log,
`dslc learn evaluator`'s report)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the learn extra: dslc.learn.require needs both

from dslc.codesign.dance import evaluator as ev  # noqa: E402


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training in 20 steps: these tests are about the file, not the model's quality."""
    fit = ev.fit
    monkeypatch.setattr(ev, "fit", lambda space, samples, seed: fit(space, samples, seed, 20))


def _train(small: tuple[Any, Any], directory: Path) -> ev.EvaluatorQuality:
    evaluator, space = small
    _, quality, _, _ = ev.train_evaluator(evaluator, ev.Settings(0.03, 8, 1),
                                          directory=directory, space=space)
    return quality


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def _garbage(path: Path) -> None:
    path.write_text("not an evaluator\n")


def _other_space(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    state["grid_shape"] = state["grid_shape"] + 1
    torch.save(state, path)


def _not_finite(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    next(iter(state["layer_model"].values())).fill_(float("nan"))
    torch.save(state, path)


@pytest.mark.usefixtures("quick")
@pytest.mark.parametrize("spoil", [_truncate, _garbage, _other_space, _not_finite])
def test_a_spoiled_evaluator_is_trained_afresh_and_replaced(
        small: tuple[Any, Any], tmp_path: Path, spoil: Callable[[Path], None]) -> None:
    first = _train(small, tmp_path)
    assert not first.reused and first.replaced == ""
    (path,) = tmp_path.glob("evaluator-*.pt")
    assert path.name == f"evaluator-{first.key}.pt"
    spoil(path)
    second = _train(small, tmp_path)
    assert not second.reused
    assert str(path) in second.replaced and "trained afresh" in second.replaced
    assert second.spearman == second.spearman  # a figure, not NaN
    # replaced: the next run reads it back, and no temporary file is left beside it
    third = _train(small, tmp_path)
    assert third.reused and third.replaced == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.usefixtures("quick")
def test_an_evaluator_that_cannot_be_saved_is_used_unsaved(small: tuple[Any, Any],
                                                           tmp_path: Path) -> None:
    first = _train(small, tmp_path)
    path = tmp_path / f"evaluator-{first.key}.pt"
    path.unlink()
    path.mkdir()  # in the way: neither read back nor replaced
    second = _train(small, tmp_path)
    assert not second.reused
    assert "could not be saved" in second.replaced
    assert path.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
