"""The planner on synthetic metric tables (a table stands in for the mapper, so the
planner's logic is tested alone): what each strategy evaluates, that semi-decoupled with
every network kept equals exhaustive, that a failed rank check widens the kept set, and
the `auto` rules. Then the real thing on a small spec: the store resumes, `--jobs` agrees.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dslc import api
from dslc.codesign.designs import Design, Designs
from dslc.codesign.evaluate import Pair, PairEvaluator, PairResult
from dslc.codesign.metrics import Metrics
from dslc.codesign.planner import Outcome, execute, make_plan
from dslc.codesign.request import Request
from dslc.export import outcome_to_json
from dslc.mapper import MapperOptions
from dslc.spec.codesign import CoDesignSpec, DesignPoint

TINY = Path(__file__).parent / "tiny.cd"
PROGRAM = api.compile(TINY)


class TableEvaluator(PairEvaluator):
    """Metrics from a table [network, accelerator] of (energy pJ, latency s)."""

    table: np.ndarray  # type: ignore[type-arg]

    def key(self, pair: Pair) -> str:
        return f"{pair[0].index}/{pair[1].index}"

    def compute(self, pair: Pair) -> PairResult:
        energy, latency = self.table[pair[0].index, pair[1].index]
        if not math.isfinite(latency):
            return PairResult(pair[0], pair[1], None, (), "no valid mapping")
        return PairResult(pair[0], pair[1], Metrics(float(energy), int(latency * 1e9),
                                                    float(latency), 1.0))


def spaces(n: int, a: int) -> tuple[Designs, Designs]:
    return (Designs("network", tuple(Design("network", "net", i, (("i", i),))
                                     for i in range(n))),
            Designs("accelerator", tuple(Design("accelerator", "acc", j, (("j", j),))
                                         for j in range(a))))


def table_request(spec: CoDesignSpec, networks: Designs, accelerators: Designs,
                  accuracies: dict[Design, float] | None = None) -> Request:
    """A request whose pairs a TableEvaluator scores (no spaces to build)."""
    return Request(spec, {}, {}, networks, accelerators, MapperOptions(), accuracies or {},
                   "table")


def request(strategy: str, top_k: int | None = None, reference: int | None = None
            ) -> CoDesignSpec:
    return CoDesignSpec(name="t", networks=("net",), accelerators=("acc",), strategy=strategy,
                        top_k=top_k, reference=None if reference is None else DesignPoint(
                            space="acc", point=(("j", reference),)))


def run(table: np.ndarray, strategy: str, top_k: int | None = None,  # type: ignore[type-arg]
        reference: int | None = None) -> Outcome:
    spec = request(strategy, top_k, reference)
    networks, accelerators = spaces(*table.shape[:2])
    evaluator = TableEvaluator(table_request(spec, networks, accelerators))
    evaluator.table = table
    return execute(make_plan(spec, networks, accelerators), spec, networks, accelerators,
                   evaluator)


def best_pair(outcome: Outcome) -> tuple[int, int]:
    assert outcome.best is not None
    return outcome.best.network.index, outcome.best.accelerator.index


tables = st.integers(6, 12).flatmap(lambda n: st.integers(2, 6).flatmap(
    lambda a: st.lists(st.floats(1.0, 1000.0), min_size=2 * n * a, max_size=2 * n * a).map(
        lambda values: np.array(values).reshape(n, a, 2) * np.array([1.0, 1e-6]))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_keeping_every_network_equals_exhaustive(table: np.ndarray) -> None:  # type: ignore[type-arg]
    exhaustive = run(table, "exhaustive")
    semi = run(table, "semi_decoupled", top_k=table.shape[0])
    assert best_pair(semi) == best_pair(exhaustive)
    assert semi.optimality == exhaustive.optimality == "verified"
    assert exhaustive.pairs_evaluated == table.shape[0] * table.shape[1]
    edp = table[:, :, 0] * table[:, :, 1]
    assert best_pair(exhaustive) == np.unravel_index(np.argmin(edp), edp.shape)


def test_agreeing_rankings_are_pruned_and_sampled() -> None:
    # EDP = network factor x accelerator factor: every accelerator ranks the networks the
    # same, so 3 kept networks suffice and the check passes.
    net = np.linspace(1.0, 4.0, 40)
    acc = np.array([3.0, 1.0, 2.0, 5.0, 4.0, 6.0, 7.0, 8.0])
    table = np.stack([np.outer(net, acc), np.full((40, 8), 1e-6)], axis=-1)
    outcome = run(table, "auto")
    assert outcome.plan.strategy == "semi_decoupled"
    assert outcome.optimality == "sampled"
    assert [d.index for d in outcome.kept] == [0, 1, 2]
    assert best_pair(outcome) == (0, 1)
    assert outcome.rank_check is not None and outcome.rank_check.passed
    assert outcome.rank_check.spearman == outcome.rank_check.kendall == 1.0
    # 40 on the reference, 3 x 7 co-optimised, the check's 12 x 3 minus those done.
    assert outcome.pairs_evaluated < 40 + 21 + 36
    assert outcome.reduction > 3


def test_a_failed_check_widens_the_kept_set() -> None:
    # On every accelerator but the reference (2, the middle one of 0-4) network 11 is the
    # best by far, yet it ranks last on the reference: the check sees it (12 networks are
    # all sampled) and the planner widens until it is kept (or falls back).
    table = np.stack([np.tile(np.arange(1.0, 13.0)[:, None], (1, 5)),
                      np.full((12, 5), 1e-6)], axis=-1)
    table[11, [0, 1, 3, 4], 0] = 0.1
    outcome = run(table, "semi_decoupled")
    assert outcome.plan.reference is not None and outcome.plan.reference.index == 2
    assert any("widening" in line for line in outcome.log)
    assert best_pair(outcome)[0] == 11
    assert best_pair(outcome) == best_pair(run(table, "exhaustive"))


def test_auto_rules_and_reference_choice() -> None:
    small = np.ones((4, 4, 2))
    assert run(small, "auto").plan.strategy == "exhaustive"  # 16 pairs
    few = np.ones((5, 20, 2))
    outcome = run(few, "auto")
    assert outcome.plan.strategy == "exhaustive" and "only 5 networks" in outcome.plan.reason
    many = np.ones((30, 5, 2))
    planned = run(many, "auto", reference=4).plan
    assert planned.strategy == "semi_decoupled"
    assert planned.reference is not None and planned.reference.index == 4
    assert planned.reference_reason == "given by the request"
    assert planned.keep == 3
    assert [p.name for p in planned.phases] == ["rank", "co-optimise", "check"]
    assert planned.phases[0].pairs == 30 and planned.phases[1].pairs == 3 * 4


def test_infeasible_pairs_never_win() -> None:
    table = np.stack([np.full((6, 2), 5.0), np.full((6, 2), 1e-6)], axis=-1)
    table[3, 1] = [1.0, math.inf]
    outcome = run(table, "exhaustive")
    assert best_pair(outcome) != (3, 1)
    assert outcome.results[(outcome.best.network, outcome.best.accelerator)].metrics \
        is not None
    failed = [r for r in outcome.results.values() if r.metrics is None]
    assert [(r.network.index, r.accelerator.index, r.failure) for r in failed] == [
        (3, 1, "no valid mapping")]


def test_store_resumes_and_jobs_agree(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    interrupted = 0

    def stop_after_five(phase: str, done: int, total: int, best: float) -> None:
        nonlocal interrupted
        if done >= 5 and phase == "rank":
            interrupted = done
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.search(PROGRAM, store=store, progress=stop_after_five)
    first = api.search(PROGRAM, store=store)
    # Nothing finished before the interrupt was lost: those pairs were read back.
    assert first.reused >= interrupted >= 5
    again = api.search(PROGRAM, store=store)
    assert again.reused == again.outcome.pairs_evaluated == first.outcome.pairs_evaluated
    assert outcome_to_json(again.outcome) == outcome_to_json(first.outcome)
    fresh = api.search(PROGRAM, store=store, fresh=True)
    assert fresh.reused == 0
    parallel = api.search(PROGRAM, store=":memory:", jobs=2)
    assert outcome_to_json(parallel.outcome) == outcome_to_json(first.outcome)
    # A program compiled from text (no file behind it) runs in worker processes too: the
    # workers receive the elaborated request.
    from_text = api.search(api.compile(text=TINY.read_text()), store=":memory:", jobs=2)
    assert outcome_to_json(from_text.outcome) == outcome_to_json(first.outcome)


def test_nothing_feasible_is_verified_on_every_pair() -> None:
    # Every pair fails: the reference ranking cannot prune, so the planner evaluates every
    # pair and reports, verified, that no design qualifies.
    table = np.stack([np.full((8, 4), 5.0), np.full((8, 4), math.inf)], axis=-1)
    outcome = run(table, "semi_decoupled")
    assert outcome.best is None
    assert outcome.pairs_evaluated == 32 and outcome.optimality == "verified"
    assert "cannot prune" in outcome.log[0]


def test_accurate_networks_on_the_first_pareto_layers_are_kept() -> None:
    # EDP rises with the index on every accelerator; network 9 alone is 90% accurate, the
    # rest 50%. By score the top 3 (0, 1, 2) go on. On the reference, the first
    # accuracy/EDP Pareto layer is {0 (cheapest), 9 (most accurate)}; without those, the
    # second is {1}. So 0, 1, 2 and 9 are kept.
    table = np.stack([np.tile(np.arange(1.0, 13.0)[:, None], (1, 5)),
                      np.full((12, 5), 1e-6)], axis=-1)
    spec = request("semi_decoupled")
    networks, accelerators = spaces(12, 5)
    evaluator = TableEvaluator(table_request(spec, networks, accelerators, {
        d: 0.9 if d.index == 9 else 0.5 for d in networks.designs}))
    evaluator.table = table
    outcome = execute(make_plan(spec, networks, accelerators), spec, networks, accelerators,
                      evaluator)
    assert [d.index for d in outcome.kept] == [0, 1, 2, 9]
    # Without accuracies only the top 3 go on.
    assert [d.index for d in run(table, "semi_decoupled").kept] == [0, 1, 2]


def test_random_strategy_samples_a_tenth_and_claims_nothing() -> None:
    table = np.stack([np.arange(1.0, 81.0).reshape(20, 4), np.full((20, 4), 1e-6)], axis=-1)
    outcome = run(table, "random")
    assert outcome.plan.strategy == "random"
    assert outcome.pairs_evaluated == 8  # ceil(80 x 10%)
    assert outcome.optimality == "assumed" and outcome.rank_check is None
    # The best of the sample is the sampled pair with the lowest EDP.
    best = min(outcome.results, key=lambda pair: table[pair[0].index, pair[1].index, 0])
    assert outcome.best is not None
    assert (outcome.best.network, outcome.best.accelerator) == best
    # Seeded: the same sample every time.
    assert set(run(table, "random").results) == set(outcome.results)
