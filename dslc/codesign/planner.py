"""The co-design planner: which (network, accelerator) pairs to evaluate, and why.

In: a `CoDesignSpec` and its network and accelerator `Designs`. Out: a `Plan` (pure
data: strategy, the reason for it, the reference accelerator and why, how many networks
are kept, the phases with their pair counts) that `dslc plan` prints without evaluating
anything; `execute` runs a plan with a `PairEvaluator` and returns an `Outcome`.

Strategies (docs/design/codesign.md explains them):
- `exhaustive`: every pair; the optimum is verified.
- `semi_decoupled`: rank every network on one reference accelerator, keep the top k (plus
  near-ties, plus the first two accuracy/objective Pareto layers when accuracies are
  known),
  co-optimise the kept networks with every accelerator, then check the assumption: on a
  seeded sample of other accelerators, rank a seeded sample of networks (Spearman, Kendall)
  and test whether any sampled network outside the kept set beats the best kept one there.
  When one does, k doubles and the new networks are co-optimised too; past half of the
  networks the planner falls back to the full product. Optimality is `verified` (every
  pair, or every network kept), `sampled` (the check passed), or `assumed` (too few
  networks or accelerators to check).
- `auto`: exhaustive for small products (at most EXHAUSTIVE_PAIRS pairs, or fewer than
  MIN_NETWORKS networks, or one accelerator), else semi-decoupled.
- `random`: a seeded sample of RANDOM_FRACTION of the pairs (the optimum is not claimed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dslc.codesign.designs import Design, Designs
from dslc.codesign.evaluate import Pair, PairEvaluator, PairResult
from dslc.codesign.metrics import (
    kendall,
    objective_value,
    pareto,
    spearman,
    violations,
)
from dslc.spec.codesign import CoDesignSpec, Strategy

EXHAUSTIVE_PAIRS = 64
"""`auto` evaluates every pair up to this many pairs."""
MIN_NETWORKS = 6
"""`auto` evaluates every pair below this many networks (nothing to prune)."""
KEEP_FRACTION = 20
"""Default kept networks: one in KEEP_FRACTION of them, at least MIN_KEPT."""
MIN_KEPT = 3
NEAR_TIE = 0.02
"""Networks within this relative margin of the k-th score on the reference are kept too."""
PARETO_LAYERS = 2
"""With accuracies, the first PARETO_LAYERS accuracy/objective Pareto layers on the reference
are kept too (a network one layer behind on the reference can lead elsewhere)."""
CHECK_NETWORKS = 12
CHECK_ACCELERATORS = 3
RANDOM_FRACTION = 0.1

Optimality = Literal["verified", "sampled", "assumed"]
"""What an outcome claims (module docstring)."""
PhaseProgress = Callable[[str, int, int, float], None]
"""Called as pairs finish: (phase, done, total, best objective so far)."""


@dataclass(frozen=True, slots=True)
class Phase:
    """A step of a plan and the pairs it evaluates (at most, for the check)."""

    name: str
    pairs: int
    description: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What the planner will do, before doing it."""

    strategy: Strategy
    """The strategy that runs (`auto` resolved)."""
    reason: str
    networks: int
    accelerators: int
    reference: Design | None
    reference_reason: str
    keep: int
    """Networks carried into co-optimisation at first (before near-ties and widening)."""
    phases: tuple[Phase, ...]
    seed: int
    objective: str
    """The request's objective as written (`minimize edp`)."""

    @property
    def pairs_total(self) -> int:
        return self.networks * self.accelerators

    @property
    def pairs_planned(self) -> int:
        return sum(phase.pairs for phase in self.phases)


def make_plan(spec: CoDesignSpec, networks: Designs, accelerators: Designs) -> Plan:
    """The plan for a request (see the module docstring for the rules)."""
    n, a = len(networks), len(accelerators)
    total = n * a
    seed = spec.mapper.seed
    objective = f"{spec.objective.sense} {spec.objective.text}"
    strategy = spec.strategy
    if strategy == "auto":
        if total <= EXHAUSTIVE_PAIRS:
            strategy, reason = "exhaustive", (
                f"{n} x {a} = {total} pairs is small (at most {EXHAUSTIVE_PAIRS}): every "
                "pair is evaluated and the optimum is verified")
        elif n < MIN_NETWORKS or a == 1:
            strategy, reason = "exhaustive", (
                f"{'one accelerator' if a == 1 else f'only {n} networks'}: ranking on a "
                "reference cannot prune enough to pay for itself")
        else:
            strategy, reason = "semi_decoupled", (
                f"{n} x {a} = {total} pairs: rank the {n} networks on one reference "
                "accelerator and co-optimise only the best few with every accelerator")
    else:
        reason = f"the request asks for `{strategy}`"
    if strategy == "exhaustive":
        return Plan(strategy, reason, n, a, None, "", n,
                    (Phase("evaluate", total, "every (network, accelerator) pair"),), seed,
                    objective)
    if strategy == "random":
        count = max(1, math.ceil(total * RANDOM_FRACTION))
        return Plan(strategy, reason, n, a, None, "", n,
                    (Phase("sample", count, f"a seeded sample of {count} pairs "
                           f"({RANDOM_FRACTION:.0%})"),), seed, objective)
    reference, reference_reason = _reference(spec, accelerators)
    keep = min(n, spec.top_k or max(MIN_KEPT, math.ceil(n / KEEP_FRACTION)))
    checks = min(n, CHECK_NETWORKS) * min(a - 1, CHECK_ACCELERATORS)
    phases = (
        Phase("rank", n, f"every network on the reference `{reference.label}`"),
        Phase("co-optimise", keep * (a - 1),
              f"the best {keep} networks (plus near-ties within {NEAR_TIE:.0%}) with every "
              "other accelerator"),
        Phase("check", checks,
              f"{min(n, CHECK_NETWORKS)} sampled networks on {min(a - 1, CHECK_ACCELERATORS)} "
              "sampled accelerators: rank agreement, and no network outside the kept set "
              "may beat it (else widen)"),
    )
    return Plan("semi_decoupled", reason, n, a, reference, reference_reason, keep, phases,
                seed, objective)


def _reference(spec: CoDesignSpec, accelerators: Designs) -> tuple[Design, str]:
    if spec.reference is not None:
        for design in accelerators.designs:
            if design.space == spec.reference.space and design.point == spec.reference.point:
                return design, "given by the request"
    # The middle value of every parameter: a typical design, not an extreme one whose
    # bottleneck (a tiny buffer, a one-row array) would rank networks by that alone.
    first = accelerators.designs[0]
    space = [d for d in accelerators.designs if d.space == first.space]
    values: dict[str, list[object]] = {}
    for design in space:
        for name, value in design.point:
            if value not in values.setdefault(name, []):
                values[name].append(value)
    middle = tuple((name, options[(len(options) - 1) // 2]) for name, options in
                   sorted(values.items()))
    for design in space:
        if design.point == middle:
            return design, "the middle value of every parameter of the design space"
    return first, "the first design (no middle design exists)"


@dataclass(frozen=True, slots=True)
class RankCheck:
    """Agreement between the reference ranking and the ranking on other accelerators."""

    spearman: float
    """The lowest Spearman correlation over the sampled accelerators."""
    kendall: float
    """The lowest Kendall tau-b over the sampled accelerators."""
    samples: int
    """Networks compared on each sampled accelerator."""
    accelerators: tuple[Design, ...]
    passed: bool


@dataclass(slots=True)
class Outcome:
    """What a plan found: every evaluated pair, the best feasible one, the Pareto front."""

    plan: Plan
    results: dict[Pair, PairResult]
    scores: dict[Pair, float]
    """Objective values (lower is better; infinite when infeasible or failed)."""
    best: PairResult | None
    pareto: list[PairResult]
    kept: tuple[Design, ...]
    rank_check: RankCheck | None
    optimality: Optimality
    log: list[str] = field(default_factory=list)
    """What happened, in order (widening, fallbacks)."""

    @property
    def pairs_evaluated(self) -> int:
        return len(self.results)

    def ranked(self) -> list[Pair]:
        """Every evaluated pair, best first (infeasible last); ties in space order."""
        return sorted(self.results, key=lambda pair: _rank_key(self.scores[pair], pair))

    @property
    def reduction(self) -> float:
        return self.plan.pairs_total / max(1, self.pairs_evaluated)


def _score(spec: CoDesignSpec, result: PairResult) -> float:
    if result.metrics is None or violations(spec.constraints, result.metrics):
        return math.inf
    return objective_value(spec.objective, result.metrics)


@dataclass(slots=True)
class _Run:
    spec: CoDesignSpec
    evaluator: PairEvaluator
    jobs: int
    scheduler: str | None
    progress: PhaseProgress | None
    results: dict[Pair, PairResult] = field(default_factory=dict)
    scores: dict[Pair, float] = field(default_factory=dict)

    def evaluate(self, phase: str, pairs: Sequence[Pair]) -> list[float]:
        fresh = [p for p in dict.fromkeys(pairs) if p not in self.results]

        def report(done: int, total: int) -> None:
            if self.progress is not None:
                best = min(self.scores.values(), default=math.inf)
                self.progress(phase, done, total, best)

        def record(pair: Pair, result: PairResult) -> None:
            self.results[pair] = result
            self.scores[pair] = _score(self.spec, result)

        self.evaluator.evaluate_many(fresh, jobs=self.jobs, scheduler=self.scheduler,
                                     progress=report, on_result=record)
        report(len(fresh), len(fresh))
        return [self.scores[p] for p in pairs]


def execute(plan: Plan, spec: CoDesignSpec, networks: Designs, accelerators: Designs,
            evaluator: PairEvaluator, *, jobs: int = 1, scheduler: str | None = None,
            progress: PhaseProgress | None = None) -> Outcome:
    """Run the plan; see the module docstring for what each strategy evaluates."""
    run = _Run(spec, evaluator, jobs, scheduler, progress)
    everything = [(n, a) for n in networks.designs for a in accelerators.designs]
    log: list[str] = []
    if plan.strategy == "exhaustive":
        run.evaluate("evaluate", everything)
        return _outcome(plan, run, networks.designs, None, "verified", log)
    if plan.strategy == "random":
        rng = np.random.default_rng(plan.seed)
        chosen = sorted(rng.choice(len(everything), size=plan.phases[0].pairs,
                                   replace=False).tolist())
        run.evaluate("sample", [everything[i] for i in chosen])
        return _outcome(plan, run, (), None, "assumed", log)
    reference = plan.reference
    assert reference is not None
    on_reference = run.evaluate("rank", [(n, reference) for n in networks.designs])
    if not any(math.isfinite(score) for score in on_reference):
        # Nothing is feasible on the reference: its ranking says nothing about the others.
        log.append("no network is feasible on the reference, so its ranking cannot prune: "
                   "evaluating every pair")
        run.evaluate("co-optimise", everything)
        return _outcome(plan, run, networks.designs, None, "verified", log)
    order = sorted(range(len(networks)), key=lambda i: (on_reference[i], i))
    others = [a for a in accelerators.designs if a != reference]
    check_networks = networks.sample(CHECK_NETWORKS, plan.seed)
    check_accelerators = Designs("accelerator", tuple(others)).sample(
        CHECK_ACCELERATORS, plan.seed + 1)
    keep = plan.keep
    while True:
        kept = _kept(order, on_reference, keep, networks, run)
        if len(kept) * 2 > len(networks):
            log.append(f"{len(kept)} of {len(networks)} networks kept: falling back to every "
                       "pair")
            run.evaluate("co-optimise", everything)
            return _outcome(plan, run, networks.designs, None, "verified", log)
        run.evaluate("co-optimise", [(n, a) for n in kept for a in others])
        if len(check_networks) < 3 or not check_accelerators:
            return _outcome(plan, run, kept, None, "assumed", log)
        check = _check(run, kept, check_networks, check_accelerators, reference)
        if check.passed and not any(math.isfinite(run.scores[(n, a)])
                                    for n in kept for a in accelerators.designs):
            # Claiming "no design is feasible" from a sample would be a guess: verify it.
            log.append("no kept network is feasible on any accelerator: evaluating every pair")
            run.evaluate("co-optimise", everything)
            return _outcome(plan, run, networks.designs, None, "verified", log)
        if check.passed:
            return _outcome(plan, run, kept, check, "sampled", log)
        log.append(f"rank check failed with {len(kept)} networks kept (lowest Spearman "
                   f"{check.spearman:.3f}, Kendall {check.kendall:.3f}): widening to "
                   f"{keep * 2}")
        keep *= 2


def _kept(order: list[int], on_reference: list[float], keep: int, networks: Designs,
          run: _Run) -> tuple[Design, ...]:
    """The top `keep` on the reference, near-ties of the k-th, and (with accuracies) the
    first PARETO_LAYERS accuracy/objective Pareto layers on the reference; in space order."""
    chosen = set(order[:keep])
    kth = on_reference[order[min(keep, len(order)) - 1]]
    if math.isfinite(kth):
        margin = abs(kth) * NEAR_TIE
        chosen |= {i for i in order if on_reference[i] <= kth + margin}
    accuracies = run.evaluator.request.accuracies
    points = [i for i in order if math.isfinite(on_reference[i])
              and networks.designs[i] in accuracies]
    for _ in range(PARETO_LAYERS):
        if not points:
            break
        front = pareto(np.array([[on_reference[i], -accuracies[networks.designs[i]]]
                                 for i in points]))
        chosen |= {points[j] for j in front}
        points = [i for j, i in enumerate(points) if j not in set(front)]
    return tuple(networks.designs[i] for i in sorted(chosen))


def _check(run: _Run, kept: Sequence[Design], sample: Sequence[Design],
           accelerators: Sequence[Design], reference: Design) -> RankCheck:
    """Rank agreement on sampled accelerators, and whether any sampled network outside
    the kept set beats every kept one on one of them."""
    base = np.array(run.evaluate("check", [(n, reference) for n in sample]))
    lowest_spearman, lowest_kendall = 1.0, 1.0
    passed = True
    kept_set = set(kept)
    for accelerator in accelerators:
        scores = np.array(run.evaluate("check", [(n, accelerator) for n in sample]))
        finite = np.isfinite(base) & np.isfinite(scores)
        if finite.sum() >= 3:
            lowest_spearman = min(lowest_spearman, spearman(base[finite], scores[finite]))
            lowest_kendall = min(lowest_kendall, kendall(base[finite], scores[finite]))
        best_kept = min(run.scores[(n, accelerator)] for n in kept)
        for network, score in zip(sample, scores.tolist(), strict=True):
            if network not in kept_set and score < best_kept:
                passed = False
    return RankCheck(lowest_spearman, lowest_kendall, len(sample), tuple(accelerators), passed)


def _rank_key(score: float, pair: Pair) -> tuple[float, str, int, str, int]:
    """The one order of pairs in every result: objective, then space order."""
    network, accelerator = pair
    return (score, network.space, network.index, accelerator.space, accelerator.index)


def _outcome(plan: Plan, run: _Run, kept: Sequence[Design], check: RankCheck | None,
             optimality: Optimality, log: list[str]) -> Outcome:
    pairs = sorted((pair for pair, score in run.scores.items() if math.isfinite(score)),
                   key=lambda pair: _rank_key(run.scores[pair], pair))
    best = run.results[pairs[0]] if pairs else None
    front: list[PairResult] = []
    if pairs:
        rows = []
        for pair in pairs:
            metrics = run.results[pair].metrics
            assert metrics is not None
            row = [metrics.energy_pj, metrics.latency_s]
            if metrics.accuracy is not None:
                row.append(-metrics.accuracy)
            rows.append(row)
        width = min(len(r) for r in rows)
        front = [run.results[pairs[i]] for i in pareto(np.array([r[:width] for r in rows]))]
    return Outcome(plan, run.results, run.scores, best, front, tuple(kept), check, optimality,
                   log)
