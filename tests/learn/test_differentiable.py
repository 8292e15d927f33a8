"""`strategy = differentiable` on a small space (tests/learn/small.cd, 72 pairs) whose
optimum the exhaustive strategy finds independently: the search must return it; its answer
is the exact model's figure for the returned pair, recomputed here without any store; the
same seed gives the same trajectory and answer with the evaluator trained afresh; a saved
evaluator is read back; the JSON has every key docs/cli.md documents."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the learn extra: dslc.learn.require needs both

from typer.testing import CliRunner  # noqa: E402

from dslc import api  # noqa: E402
from dslc.cli import app  # noqa: E402
from dslc.codesign.evaluate import PairEvaluator  # noqa: E402
from dslc.codesign.metrics import objective_value  # noqa: E402
from dslc.codesign.planner import Outcome  # noqa: E402
from dslc.export import outcome_to_json  # noqa: E402

SMALL = Path(__file__).with_name("small.cd")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


@dataclass(frozen=True)
class Runs:
    store: Path
    exhaustive: Outcome
    learned: Outcome


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    torch.set_num_threads(1)
    directory = tmp_path_factory.mktemp("learn")
    store = directory / "pairs.sqlite"
    program = api.compile(SMALL)
    exhaustive = api.search(program, store=store, strategy="exhaustive").outcome
    learned = api.search(program, store=store).outcome
    return Runs(store, exhaustive, learned)


def test_the_search_finds_the_known_optimum(runs: Runs) -> None:
    assert runs.exhaustive.optimality == "exhaustive"
    assert runs.exhaustive.pairs_evaluated == 72
    optimum = runs.exhaustive.best
    found = runs.learned.best
    assert optimum is not None and found is not None
    assert (found.network, found.accelerator) == (optimum.network, optimum.accelerator)
    learned = runs.learned.learned
    assert learned is not None
    assert learned.answer == (found.network, found.accelerator)
    assert len({(c.network, c.accelerator) for c in learned.candidates}) <= 5
    # the gap: how much better the optimum may be than the answer, above 1; or certified
    # when the bounds of every pair left are no better than the answer
    assert (runs.learned.optimality == "unverified" and runs.learned.gap is not None
            and runs.learned.gap > 1.0) or (runs.learned.optimality == "certified"
                                            and runs.learned.gap is None)


def test_the_answer_is_the_exact_models(runs: Runs) -> None:
    best = runs.learned.best
    assert best is not None
    request = api.request(api.compile(SMALL))
    exact = PairEvaluator(request).compute((best.network, best.accelerator))  # no store
    assert exact.metrics is not None
    value = objective_value(request.spec.objective, exact.metrics)
    reported = runs.learned.scores[(best.network, best.accelerator)]
    assert reported == pytest.approx(value, rel=1e-12)
    data = outcome_to_json(runs.learned)
    assert data["best"]["objective"] == pytest.approx(value, rel=1e-12)
    assert data["best"]["energy_pj"] == pytest.approx(exact.metrics.energy_pj, rel=1e-12)
    # what the evaluator predicted is reported beside it, and is not the answer's figure
    predicted = data["best"]["predicted"]
    assert predicted["objective"] > 0
    assert predicted["objective"] == pytest.approx(
        predicted["edp"] * predicted["area_mm2"], rel=1e-5)


def test_every_candidate_is_costed_exactly(runs: Runs) -> None:
    learned = runs.learned.learned
    assert learned is not None
    for candidate in learned.candidates:
        pair = (candidate.network, candidate.accelerator)
        assert runs.learned.results[pair] == runs.exhaustive.results[pair]


def test_same_seed_same_search_with_the_evaluator_trained_afresh(runs: Runs,
                                                                 tmp_path: Path) -> None:
    copy = tmp_path / "pairs.sqlite"
    shutil.copy(runs.store, copy)
    assert not list(tmp_path.glob("evaluator-*.pt"))
    again = api.search(api.compile(SMALL), store=copy).outcome
    first, second = runs.learned.learned, again.learned
    assert first is not None and second is not None
    assert not second.evaluator.reused
    assert second.evaluator.key == first.evaluator.key
    assert [s.loss for s in second.trajectory] == [s.loss for s in first.trajectory]
    assert [(s.network, s.accelerator) for s in second.trajectory] == \
        [(s.network, s.accelerator) for s in first.trajectory]
    assert second.answer == first.answer
    assert second.evaluator.spearman == first.evaluator.spearman


def test_the_search_and_its_predictions_run_on_one_thread_whatever_the_callers(
        runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The search and the evaluator's predictions run on one thread, as its fitting does,
    so a seed gives one search on any machine: with the caller at two threads they ran on
    two (a sum's order, and so its last bits, may follow the thread count)."""
    from dslc.codesign.dance import evaluator as evaluator_module
    from dslc.codesign.dance import search as search_module

    seen: list[int] = []
    digits = search_module._network_digits
    grid = evaluator_module.TrainedEvaluator.log_metrics_grid

    def counted_digits(*args: object) -> object:
        seen.append(torch.get_num_threads())
        return digits(*args)  # type: ignore[arg-type]

    def counted_grid(self: object, *args: object) -> object:
        seen.append(torch.get_num_threads())
        return grid(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(search_module, "_network_digits", counted_digits)
    monkeypatch.setattr(evaluator_module.TrainedEvaluator, "log_metrics_grid", counted_grid)
    copy = tmp_path / "pairs.sqlite"
    shutil.copy(runs.store, copy)
    for saved in runs.store.parent.glob("evaluator-*.pt"):
        shutil.copy(saved, tmp_path / saved.name)  # read back: no fitting
    torch.set_num_threads(2)
    try:
        again = api.search(api.compile(SMALL), store=copy).outcome
        assert torch.get_num_threads() == 2  # restored after
    finally:
        torch.set_num_threads(1)
    assert seen and set(seen) == {1}
    first, second = runs.learned.learned, again.learned
    assert first is not None and second is not None and second.evaluator.reused
    assert [s.loss for s in second.trajectory] == [s.loss for s in first.trajectory]
    assert second.answer == first.answer


def test_a_saved_evaluator_is_read_back(runs: Runs) -> None:
    saved = list(runs.store.parent.glob("evaluator-*.pt"))
    assert len(saved) == 1
    learned = runs.learned.learned
    assert learned is not None
    assert saved[0].name == f"evaluator-{learned.evaluator.key}.pt"
    quality = api.learn_evaluator(api.compile(SMALL), store=runs.store)
    assert quality.reused
    assert quality.key == learned.evaluator.key
    assert quality.spearman == learned.evaluator.spearman
    assert quality.mape_energy == learned.evaluator.mape_energy


def test_dslc_learn_evaluator_reports_the_saved_evaluator(runs: Runs) -> None:
    result = CliRunner().invoke(app, ["learn", "evaluator", str(SMALL), "--format", "json",
                                      "--cache", str(runs.store)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    learned = runs.learned.learned
    assert learned is not None
    assert data == outcome_to_json(runs.learned)["evaluator"]
    table = CliRunner().invoke(app, ["learn", "evaluator", str(SMALL), "--cache",
                                     str(runs.store)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "unseen accelerators" in table.output and "read back from disk" in table.output


@pytest.mark.parametrize("jobs", ["0", "5000"])
def test_dslc_learn_evaluator_checks_jobs_as_run_does(jobs: str) -> None:
    # The same stated range as `dslc run --jobs` (1 to 1,024), refused before any costing.
    result = CliRunner().invoke(app, ["learn", "evaluator", str(SMALL), "--jobs", jobs,
                                      "--cache", ":memory:"])
    assert result.exit_code == 2, result.output
    assert f"--jobs must be between 1 and 1,024, got {int(jobs):,}" in result.output


def _documented_keys() -> list[str]:
    """The keys of the differentiable strategy's JSON table in docs/cli.md: the first
    column's names, and the sub-keys each `evaluator`/`predicted`/`trajectory` row names."""
    text = DOCS.read_text()
    start = text.index("### The differentiable strategy")
    table = text[start:text.index("## `dslc learn evaluator`")]
    keys = []
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        first, meaning = line.split("|")[1:3]
        for key in re.findall(r"`([a-z_]+)`", first):
            keys.append(key)
            if key in ("evaluator", "trajectory"):
                keys += [f"{key}.{sub}" for sub in re.findall(r"`([a-z_]+)`", meaning)
                         if sub not in ("cost-only",)]
    return keys


def test_the_json_has_every_documented_key(runs: Runs) -> None:
    result = CliRunner().invoke(app, ["run", str(SMALL), "--format", "json", "--cache",
                                      str(runs.store)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["strategy"] == "differentiable"
    keys = _documented_keys()
    assert {"evaluator.spearman", "evaluator.kendall", "evaluator.mape_energy",
            "evaluator.mape_latency", "evaluator.train_pairs", "evaluator.heldout_pairs",
            "candidates_checked", "best", "trajectory.loss", "trajectory.expected_cost",
            "trajectory.network"} <= set(keys)
    for key in keys:
        if "." in key:
            outer, inner = key.split(".")
            value = data[outer][0] if isinstance(data[outer], list) else data[outer]
            assert inner in value, key
        else:
            assert key in data, key
    assert "predicted" in data["best"]
    assert data["evaluator"]["train_pairs"] + data["evaluator"]["heldout_pairs"] + \
        data["evaluator"]["unseen_pairs"] <= data["pairs_evaluated"]
    assert len(data["trajectory"]) == 80
    assert data["candidates_checked"] == len({(c["network"]["label"],
                                                c["accelerator"]["label"])
                                               for c in data["candidates"]})
    assert all(math.isfinite(step["loss"]) for step in data["trajectory"])


def test_the_table_shows_predicted_beside_exact(runs: Runs, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(SMALL), "--cache", str(runs.store),
                                      "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "candidates re-checked with the exact model" in result.output
    assert "evaluator:" in result.output
    assert (tmp_path / "result.json").is_file()
    pytest.importorskip("matplotlib")
    assert (tmp_path / "trajectory.png").is_file()


TINY = Path(__file__).with_name("tiny_trained.cd")


@pytest.mark.skipif(pytest.importorskip("sklearn") is None, reason="needs scikit-learn")
def test_trained_accuracy_runs_the_supernet_and_retrains_the_answer() -> None:
    from dslc.learn.train import train_network

    torch.set_num_threads(1)
    program = api.compile(TINY)
    outcome = api.search(program, store=":memory:").outcome
    learned = outcome.learned
    assert learned is not None and learned.mode == "trained accuracy"
    assert any("supernet" in line for line in outcome.log)
    assert all(step.accuracy_loss is not None for step in learned.trajectory)
    best = outcome.best
    assert best is not None and best.metrics is not None
    # the answer's accuracy is training's word: the network trained stand-alone, here again
    network = program.networks["tiny_digits"].instantiate(best.network.point)
    assert best.metrics.accuracy == train_network(network, "digits", epochs=1,
                                                  seed=1).accuracy
    # the other networks were never trained: only the proposals carry an accuracy
    proposed = {c.network for c in learned.candidates}
    assert {pair[0] for pair, result in outcome.results.items()
            if result.metrics is not None and result.metrics.accuracy is not None} == proposed
    data = outcome_to_json(outcome)
    assert json.loads(json.dumps(data, allow_nan=False))["mode"] == "trained accuracy"
    assert data["best"]["predicted"]["accuracy"] is not None


def test_a_space_of_one_pair_is_refused_before_any_costing(tmp_path: Path) -> None:
    # One network design and one accelerator design: nothing to learn from, said as such
    # (it was "only 1 of the evaluator's 1 training pairs have a valid mapping"), before a
    # pair is costed.
    text = SMALL.read_text()
    for declaration in ("    param w in {8, 16, 32}\n", "    param k in {1, 3}\n",
                        "    param rows in {4, 8, 16}\n", "    param cols in {4, 8}\n",
                        "    param flow in {weight_stationary, output_stationary}\n"):
        assert declaration in text
        name, values = declaration.split(" in ")
        first = values.strip().strip("{}").split(",")[0].strip()
        text = text.replace(declaration, f"{name} in {{{first}}}\n")
    spec = tmp_path / "one.cd"
    spec.write_text(text)
    store = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["learn", "evaluator", str(spec), "--cache", str(store)])
    assert result.exit_code == 1, result.output
    assert "the request's space has 1 (network, accelerator) pair" in result.stderr
    assert "use the exhaustive strategy" in result.stderr
    # `dslc run` of the one design maps it (a single design needs no search).
    assert CliRunner().invoke(app, ["run", str(spec), "--cache", str(store)]).exit_code == 0
