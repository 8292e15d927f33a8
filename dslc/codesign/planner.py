"""The co-design planner: which (network, accelerator) pairs to evaluate, and what the answer
is worth.

In: a `CoDesignSpec`, its network and accelerator `Designs`, and (for the certifying
planner) the bounds of every pair (dslc.codesign.bounds). Out: a `Plan` (pure data: the
strategy and why, the reference accelerator, the phases and an upper estimate of the pairs
the run evaluates) that `dslc plan` prints; `execute` runs a plan with a `PairEvaluator` and
returns an `Outcome` whose `optimality` says exactly what was proved:

- `exhaustive`: every pair was evaluated.
- `certified`: the answer is as good as exhaustive search with the same mapper: every pair
  not evaluated was ruled out by a constraint (its bounds already break one) or by its
  objective bound (no mapping of it can beat the best pair found).
- `unverified`: neither; `gap` says how far the best found might be from the optimum (the
  best found over the smallest objective bound left), when bounds exist.

Strategies (docs/design/codesign.md explains them):
- `exhaustive`: every pair.
- `semi_decoupled` (what `auto` picks beyond EXHAUSTIVE_PAIRS pairs): rank every network on
  one reference accelerator; check the ranking on a sample of accelerators that covers every
  value of every hardware parameter (each dataflow, the extremes of each size), which decides
  how many networks to keep; co-optimise the kept networks with every accelerator; then
  certify: evaluate the remaining pairs in the order of their objective bounds until the
  best found is no worse than every bound left. With a pair budget or a time limit the run
  may stop first (`unverified`, with the gap). An objective that is not monotone in the
  bounded metrics has no bounds: the planner then keeps the networks the check asks for,
  says so, and the answer is `unverified`.
- `random`: a seeded sample of RANDOM_FRACTION of the pairs (`unverified`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from dslc.codesign.bounds import PairBounds, with_accuracies
from dslc.codesign.designs import Design, Designs
from dslc.codesign.evaluate import Pair, PairEvaluator, PairResult
from dslc.codesign.learned import LearnedSearch
from dslc.codesign.metrics import (
    Metrics,
    kendall,
    objective_value,
    pareto,
    spearman,
    violations,
)
from dslc.mapper.errors import DeadlinePassed
from dslc.spec.base import ParamValue
from dslc.spec.codesign import CoDesignSpec, ConstraintSpec, Strategy, TrainedAccuracy

REFINE_ROUNDS = 3
"""The differentiable strategy with trained accuracy and an accuracy lower bound: refinement
rounds at most, each re-checking up to `candidates` pairs (dslc.codesign.dance.strategy)."""
EXHAUSTIVE_PAIRS = 64
"""`auto` evaluates every pair up to this many pairs."""
MIN_NETWORKS = 6
"""Below this many networks (or with one accelerator) the planner skips the ranking: too few
to rank; the bounds alone decide what to evaluate."""
KEEP_FRACTION = 20
"""Default kept networks: one in KEEP_FRACTION of them, at least MIN_KEPT."""
MIN_KEPT = 3
NEAR_TIE = 0.02
"""Networks within this relative margin of the k-th score on the reference are kept too."""
PARETO_LAYERS = 2
"""With accuracies, the first PARETO_LAYERS accuracy/objective Pareto layers on the reference
are kept too (a network one layer behind on the reference can lead elsewhere)."""
CHECK_NETWORKS = 16
"""Networks of the rank check: spread evenly over the reference ranking, first and last
included."""
WINNER_MARGIN = 1.5
"""The check's rule: keep at least WINNER_MARGIN x the worst reference rank (from 1) of a
network that wins on a check accelerator."""
SPEARMAN_FLOOR = 0.8
"""The check's second rule: when the reference ranking and a check accelerator's ranking
correlate less than this (Spearman), keep at least twice the default."""
CERTIFY_STEP = 16
"""Pairs evaluated per step of the certification sweep (times the jobs), between which the
best found (and so what is left to evaluate) is updated."""
CERTIFY_CHUNK = 4096
"""Bounds the certification sorts at a time (at least four steps' worth)."""
RANDOM_FRACTION = 0.1

Optimality = Literal["exhaustive", "certified", "unverified"]
PhaseProgress = Callable[[str, int, int, float], None]
"""Called as pairs finish: (phase, done, total, best objective so far)."""
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Phase:
    """A step of a plan and the pairs it evaluates (at most)."""

    name: str
    pairs: int
    description: str


@dataclass(frozen=True, slots=True)
class Budget:
    """The work a request allows: at most `max_pairs` evaluated pairs (read back ones
    included), at most `time_limit_s` of wall time (None: no cap)."""

    max_pairs: int | None = None
    time_limit_s: float | None = None

    @property
    def capped(self) -> bool:
        return self.max_pairs is not None or self.time_limit_s is not None


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
    """Networks carried into co-optimisation by default (the rank check may raise it)."""
    phases: tuple[Phase, ...]
    seed: int
    objective: str
    """The request's objective as written (`minimize edp`)."""
    budget: Budget = Budget()
    ruled_out: int | None = None
    """Pairs the constraints rule out before evaluating anything (None: bounds not
    computed)."""
    at_most: int | None = None
    """An upper estimate of the pairs the run evaluates, which it never exceeds."""
    monotone: bool = True
    """Whether the objective has bounds (docs/design/codesign.md)."""
    monotone_note: str = ""

    @property
    def pairs_total(self) -> int:
        return self.networks * self.accelerators

    @property
    def pairs_planned(self) -> int:
        """The phases' pairs, capped by `at_most` when known."""
        planned = sum(phase.pairs for phase in self.phases)
        return planned if self.at_most is None else min(planned, self.at_most)


def make_plan(spec: CoDesignSpec, networks: Designs, accelerators: Designs,
              bounds: PairBounds | None = None, budget: Budget = Budget()) -> Plan:
    """The plan for a request (see the module docstring for the rules); with `bounds`, it
    also says what the constraints rule out and how many pairs the run evaluates at most."""
    n, a = len(networks), len(accelerators)
    total = n * a
    seed = spec.mapper.seed
    objective = f"{spec.objective.sense} {spec.objective.text}"
    strategy: Strategy = spec.strategy
    monotone = bounds is None or bounds.objective is not None
    note = "" if bounds is None else bounds.monotone_note
    ruled_out = None if bounds is None else bounds.ruled_out
    feasible = total if bounds is None else total - bounds.ruled_out
    if strategy == "auto":
        if total <= EXHAUSTIVE_PAIRS:
            strategy, reason = "exhaustive", (
                f"{n} x {a} = {total} pairs is small (at most {EXHAUSTIVE_PAIRS}): every "
                "pair is evaluated")
        elif n >= MIN_NETWORKS and a > 1:
            strategy, reason = "semi_decoupled", (
                f"{n} x {a} = {total} pairs: rank the {n} networks on one reference "
                "accelerator, co-optimise the best few with every accelerator, then "
                "evaluate only the pairs whose bounds could still beat the best found")
        else:
            # Nothing to rank: too few networks, or one accelerator (then any number of
            # networks; "too few networks" was said of 65 networks on one accelerator).
            why = "too few networks to rank" if a > 1 else "one accelerator, nothing to rank"
            strategy, reason = "semi_decoupled", (
                f"{n} x {a} = {total} pairs, {why}: evaluate only the pairs whose bounds "
                "could still beat the best found, in the order of the bounds")
    else:
        reason = f"the request asks for `{strategy}`"
    common = dict(seed=seed, objective=objective, budget=budget, ruled_out=ruled_out,
                  monotone=monotone, monotone_note=note)
    cap = feasible if budget.max_pairs is None else min(feasible, budget.max_pairs)
    if strategy == "exhaustive":
        return Plan(strategy, reason, n, a, None, "", n,
                    (Phase("evaluate", total, "every (network, accelerator) pair"),),
                    at_most=None if bounds is None else min(total, budget.max_pairs or total),
                    **common)  # type: ignore[arg-type]
    if strategy == "differentiable":
        settings = spec.differentiable
        sampled = min(total, max(32, math.ceil(settings.train_fraction * total)) +
                      2 * settings.heldout_pairs)
        checks = settings.candidates * (1 + len(settings.weights))
        steps = [Phase("sample", sampled, "pairs costed exactly to train the evaluator and "
                       "measure it (held out, and on accelerators never trained on)"),
                 Phase("re-check", checks, f"the best {settings.candidates} proposals of "
                       "each search, evaluated with the exact model")]
        if isinstance(spec.accuracy, TrainedAccuracy) and any(
                c.metric == "accuracy" and c.op in (">=", ">") for c in spec.constraints):
            steps.append(Phase("refine", REFINE_ROUNDS * settings.candidates,
                               f"up to {REFINE_ROUNDS} rounds of {settings.candidates} pairs "
                               "of networks that may meet the accuracy bound and beat the "
                               "answer, trained stand-alone and re-checked"))
        return Plan(strategy, reason + ": train an evaluator network on exactly costed pairs, "
                    "search networks and a hardware generator by gradient descent through it, "
                    "re-check the best proposals exactly", n, a, None, "", n, tuple(steps),
                    at_most=None if bounds is None else min(
                        total, sum(phase.pairs for phase in steps)),
                    **common)  # type: ignore[arg-type]
    if strategy == "random":
        count = min(max(1, math.ceil(total * RANDOM_FRACTION)), budget.max_pairs or total)
        return Plan(strategy, reason, n, a, None, "", n,
                    (Phase("sample", count, f"a seeded sample of {count} pairs "
                           f"({RANDOM_FRACTION:.0%})"),),
                    at_most=None if bounds is None else count, **common)  # type: ignore[arg-type]
    keep = min(n, spec.top_k or max(MIN_KEPT, math.ceil(n / KEEP_FRACTION)))
    ranked = n >= MIN_NETWORKS and a > 1
    reference, reference_reason = _reference(spec, accelerators) if ranked else (None, "")
    phases: list[Phase] = []
    if ranked:
        assert reference is not None
        check = _covering(accelerators, exclude=reference)
        samples = min(n, CHECK_NETWORKS)
        phases += [
            Phase("rank", n, f"every network on the reference `{reference.label}`"),
            Phase("check", samples * len(check),
                  f"{samples} networks spread over the reference ranking on {len(check)} "
                  "accelerators covering every value of every hardware parameter: their "
                  f"winners' reference ranks decide how many networks are kept (at least "
                  f"{WINNER_MARGIN}x the worst)"),
            Phase("co-optimise", keep * (a - 1),
                  f"the kept networks (by default {keep}, plus near-ties within "
                  f"{NEAR_TIE:.0%}) with every other accelerator"),
        ]
    if monotone:
        phases.append(Phase("certify", feasible,
                            "every other pair whose objective bound is below the best found, "
                            "in the order of the bounds, until none is left"))
    return Plan("semi_decoupled", reason, n, a, reference, reference_reason, keep,
                tuple(phases), at_most=None if bounds is None else cap,
                **common)  # type: ignore[arg-type]


def _reference(spec: CoDesignSpec, accelerators: Designs) -> tuple[Design, str]:
    if spec.reference is not None:
        for design in accelerators.designs:
            if design.space == spec.reference.space and design.point == spec.reference.point:
                return design, "given by the request"
    # The middle value of every parameter: a typical design, not an extreme one whose
    # bottleneck (a tiny buffer, a one-row array) would rank networks by that alone.
    first = accelerators.designs[0]
    space = [d for d in accelerators.designs if d.space == first.space]
    values: dict[str, dict[object, None]] = {}  # each parameter's values, in order, once
    for design in space:
        for name, value in design.point:
            values.setdefault(name, {})[value] = None
    middle = tuple((name, list(options)[(len(options) - 1) // 2]) for name, options in
                   sorted(values.items()))
    for design in space:
        if design.point == middle:
            return design, "the middle value of every parameter of the design space"
    return first, "the first design (no middle design exists)"


def _covering(accelerators: Designs, exclude: Design) -> tuple[Design, ...]:
    """Accelerators that together take every value of every parameter that is a name or a
    flag (each dataflow) and the smallest and largest of every numeric one (the extremes of
    each size): design j of a space takes value j + shift (cyclically) of each parameter's
    list, the shift chosen so that `exclude` (the reference, evaluated anyway) is not among
    them. Fixed designs are taken as they are."""
    by_point = {(d.space, d.point): d for d in accelerators.designs}
    chosen: dict[Design, None] = {}  # in order, once
    for space in dict.fromkeys(d.space for d in accelerators.designs):
        options: dict[str, dict[ParamValue, None]] = {}  # in order, once (a dict: a list's
        # `in` made this quadratic in a parameter's values)
        for design in accelerators.designs:
            if design.space != space:
                continue
            for name, value in design.point:
                options.setdefault(name, {})[value] = None
        lists: dict[str, list[ParamValue]] = {}
        for name, found in options.items():
            values = list(found)
            if any(isinstance(v, str | bool) for v in values):
                lists[name] = values
            else:
                extremes = [min(values, key=float), max(values, key=float)]
                lists[name] = list(dict.fromkeys(extremes))
        count = max((len(v) for v in lists.values()), default=1)
        # Shift the cycle until it misses `exclude`, so that the designs chosen cover every
        # value by themselves.
        shift = _missing_shift(lists, count, exclude if exclude.space == space else None)
        points = [tuple(sorted((name, values[(j + shift) % len(values)])
                               for name, values in lists.items())) for j in range(count)]
        covers = [by_point.get((space, point)) for point in points]
        for cover in covers:
            if cover is not None and cover != exclude:
                chosen[cover] = None
    return tuple(chosen)


def _missing_shift(lists: dict[str, list[ParamValue]], count: int, exclude: Design | None
                   ) -> int:
    """The first shift of `_covering`'s cycle (design j takes value j + shift of each list)
    whose `count` designs miss `exclude`, else `count`. Design j is `exclude` only where j +
    shift falls on its value's position in every list, and a longest list (of `count`
    values) leaves one j to test: a step per parameter for each shift, not `count` designs
    built for each (quadratic: 100,000 names of one parameter took hours)."""
    if exclude is None:
        return 0
    given = dict(exclude.point)
    at = {name: values.index(given[name]) if given[name] in values else -1
          for name, values in lists.items()}
    if any(position < 0 for position in at.values()):
        return 0  # a value of `exclude` no design of the cycle takes
    longest = next((name for name, values in lists.items() if len(values) == count), None)
    for shift in range(count):
        j = 0 if longest is None else (at[longest] - shift) % count
        if any((j + shift) % len(values) != at[name] for name, values in lists.items()):
            return shift
    return count


@dataclass(frozen=True, slots=True)
class RankCheck:
    """What the check of the reference ranking found and decided."""

    spearman: float
    """The lowest Spearman correlation with the reference over the check accelerators."""
    kendall: float
    """The lowest Kendall tau-b over the check accelerators."""
    samples: int
    """Networks compared on each check accelerator."""
    accelerators: tuple[Design, ...]
    winners: tuple[tuple[Design, Design, int], ...]
    """Per check accelerator: it, its best sampled network and that network's reference
    rank (from 1)."""
    keep: int
    """The networks the check decided to keep (at least the default)."""
    passed: bool
    """Whether the default kept set already held every winner and the correlations met
    SPEARMAN_FLOOR (the check widened nothing)."""


@dataclass(frozen=True, slots=True)
class BoundsReport:
    """What the bounds did in a run."""

    monotone: bool
    note: str
    """Why the objective has no bounds, when it has none."""
    ruled_out: int
    """Pairs no constraint allows (decided from bounds and exact metrics, not evaluated)."""
    removed: tuple[tuple[str, int], ...]
    """Pairs left unevaluated, by the argument that removed them: `constraints`, `bounds`
    (their objective bound is no better than the best found) and `ranking` (none of the
    above: only a capped run leaves any, and its answer is then unverified)."""
    tightness: tuple[tuple[str, float, float, float], ...]
    """(metric, least, median, largest) of evaluated / bound over the evaluated pairs that
    met the constraints, for energy, latency and the objective."""
    broken_by: tuple[tuple[str, int], ...] = ()
    """For each constraint as written, the pairs (of all, evaluated or not) its bounds or
    exact metrics rule out alone, before any evaluation."""
    closest: tuple[Pair, tuple[str, ...], float] | None = None
    """The pair whose bounds come closest to meeting the constraints (`PairBounds.closest`),
    the constraints its bounds break and its worst ratio of bound to limit."""


@dataclass(frozen=True, slots=True)
class Unproved:
    """What an answer of the differentiable strategy with trained accuracy does not prove
    (`Outcome.unproved`): the accuracy of the networks it never trained stand-alone. Their
    accuracy is the supernet's estimate alone, which bounds nothing (weight sharing
    underrates some networks by several points), so the optimum may lie among their pairs
    whatever the estimates say. The exact model re-checked every cost the answer rests on;
    the gap, when there is one, holds whatever those networks would train to: it takes
    their accuracy at `assumed` (the value in [0, 1] most favourable to the objective) or,
    when only a constraint needs accuracy, counts their pairs as meeting it."""

    untrained: int
    """Networks whose accuracy the request needs and that were never trained."""
    networks: int
    """Every network of the request."""
    assumed: float | None
    """The accuracy the gap takes for them (1.0: 100%), None when the objective does not
    use accuracy or cannot be bounded in it."""
    text: str
    """The same in words (the report's `not proved:` line)."""


def _unproved(spec: CoDesignSpec, bounds: PairBounds | None,
              learned: LearnedSearch | None) -> Unproved | None:
    """`Outcome.unproved`: None unless some network's accuracy, which the request's
    objective or constraints need, was never trained (trained accuracy)."""
    if learned is None or learned.mode != "trained accuracy" or bounds is None:
        return None
    limits = [" ".join(c.text.removeprefix("constraint").split())
              for c in spec.constraints if c.metric == "accuracy"]
    in_objective = "accuracy" in spec.objective.text
    untrained = int(np.isnan(bounds.accuracy).sum())
    if untrained == 0 or not (limits or in_objective):
        return None
    networks = len(bounds.accuracy)
    text = (f"the accuracy of {untrained:,} of the {networks:,} networks, never trained "
            "stand-alone (the supernet's estimate is not a bound)")
    assumed = bounds.assumed_accuracy if in_objective else None
    if in_objective and bounds.objective is None:
        text += ": the objective has no bound, so there is no gap"
    elif in_objective and assumed is None:
        text += (f": `{spec.objective.sense} {spec.objective.text}` is not monotone in "
                 "accuracy, so their pairs have no bound and there is no gap")
    elif in_objective:
        text += (f"; the gap takes it as {assumed:.0%}, the most favourable to "
                 f"`{spec.objective.sense} {spec.objective.text}`")
        if limits:
            text += f", and counts their pairs as meeting {', '.join(f'`{c}`' for c in limits)}"
    else:
        text += f"; the gap counts their pairs as meeting {', '.join(f'`{c}`' for c in limits)}"
    return Unproved(untrained, networks, assumed, text)


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
    gap: float | None = None
    """For an unverified answer: the best found over the smallest objective bound left, in
    the objective's own sense (>= 1; None when unknown)."""
    bounds: BoundsReport | None = None
    log: list[str] = field(default_factory=list)
    """What happened, in order (widening, fallbacks, why a run stopped)."""
    constraints: tuple[ConstraintSpec, ...] = ()
    """The request's constraints (to say why a pair is infeasible)."""
    learned: LearnedSearch | None = None
    """The differentiable strategy's report (its evaluator, trajectory and candidates);
    None for the other strategies."""
    unproved: Unproved | None = None
    """What the answer does not prove besides its gap (trained accuracy: the accuracy of
    the networks never trained); None when nothing."""

    @property
    def pairs_evaluated(self) -> int:
        return len(self.results)

    def failure(self, pair: Pair) -> str:
        """Why an evaluated pair is infeasible ("" when it is feasible): no valid mapping of
        a layer, or the constraints it breaks (an unknown accuracy named as such)."""
        result = self.results[pair]
        if result.metrics is None:
            return result.failure
        broken = violations(self.constraints, result.metrics)
        if not broken:
            return ""
        text = "breaks " + ", ".join(broken)
        if result.metrics.accuracy is None and any(
                c.metric == "accuracy" for c in self.constraints):
            text += (f" (the accuracy of {result.network.label} is unknown: no accuracy is "
                     "declared or listed for it)")
        return text

    def infeasibility(self) -> Infeasibility:
        """Why evaluated pairs are infeasible, per constraint, and the closest one."""
        counts = {c.text: 0 for c in self.constraints}
        no_mapping = 0
        unknown: dict[str, None] = {}
        closest: tuple[float, Pair, tuple[str, ...]] | None = None
        uses_accuracy = any(c.metric == "accuracy" for c in self.constraints)
        for pair in self.ranked():
            result = self.results[pair]
            if result.metrics is None:
                no_mapping += 1
                continue
            broken = violations(self.constraints, result.metrics)
            for text in broken:
                counts[text] += 1
            if uses_accuracy and result.metrics.accuracy is None:
                unknown[result.network.label] = None
            if broken:
                excess = max(_excess(c, result.metrics) for c in self.constraints
                             if c.text in broken)
                if closest is None or excess < closest[0]:
                    closest = (excess, pair, broken)
        by_bounds = self.bounds.closest if self.bounds is not None else None
        evaluated = any(r.metrics is not None for r in self.results.values())
        if closest is None and not evaluated and by_bounds is not None and by_bounds[1]:
            # No pair evaluated (with a mapping): the pair whose bounds come closest.
            return Infeasibility(tuple(counts.items()), no_mapping, tuple(unknown),
                                 by_bounds[0], by_bounds[1],
                                 by_bounds[2] if math.isfinite(by_bounds[2]) else None,
                                 by_bounds=True)
        return Infeasibility(
            tuple(counts.items()), no_mapping, tuple(unknown),
            None if closest is None else closest[1],
            () if closest is None else closest[2],
            None if closest is None or not math.isfinite(closest[0]) else closest[0])

    def ranked(self) -> list[Pair]:
        """Every evaluated pair, best first (infeasible last); ties in space order."""
        return sorted(self.results, key=lambda pair: _rank_key(self.scores[pair], pair))

    @property
    def reduction(self) -> float:
        return self.plan.pairs_total / max(1, self.pairs_evaluated)


@dataclass(frozen=True, slots=True)
class Infeasibility:
    """Why the evaluated pairs that are infeasible are so (`Outcome.infeasibility`)."""

    constraints: tuple[tuple[str, int], ...]
    """Per constraint (as written), the evaluated pairs that break it."""
    no_mapping: int
    """Evaluated pairs with a layer that has no valid mapping."""
    unknown_accuracy: tuple[str, ...]
    """Networks whose accuracy is unknown (missing from the accuracy table) while a
    constraint bounds it."""
    closest: Pair | None
    """The infeasible pair that misses its constraints by the least."""
    closest_breaks: tuple[str, ...]
    closest_excess: float | None
    """By how much the closest pair misses its worst constraint, as a ratio (1.25: 25%
    over a `<=` limit, or 25% short of a `>=` one); None when unknown."""
    by_bounds: bool = False
    """True when no pair was evaluated and `closest` is the pair whose bounds (lower bounds
    on energy and latency, exact area and accuracy) come closest: it misses by at least
    `closest_excess`."""


def _excess(constraint: ConstraintSpec, metrics: Metrics) -> float:
    """How far a broken constraint is from holding, as a ratio >= 1 (inf when unknown)."""
    value = metrics.value(constraint.metric)
    limit = constraint.value
    if math.isnan(value):
        return math.inf
    if constraint.op in ("<=", "<"):
        return value / limit if limit > 0 else math.inf
    if constraint.op in (">=", ">"):
        return limit / value if value > 0 else math.inf
    return max(value / limit, limit / value) if value > 0 and limit > 0 else math.inf


def _score(spec: CoDesignSpec, result: PairResult) -> float:
    if result.metrics is None or violations(spec.constraints, result.metrics):
        return math.inf
    return objective_value(spec.objective, result.metrics)


class _OutOfBudget(Exception):
    """The pair budget or the time limit is spent."""


@dataclass(slots=True)
class _Run:
    spec: CoDesignSpec
    evaluator: PairEvaluator
    jobs: int
    scheduler: str | None
    progress: PhaseProgress | None
    budget: Budget
    started: float
    results: dict[Pair, PairResult] = field(default_factory=dict)
    scores: dict[Pair, float] = field(default_factory=dict)
    best: float = math.inf
    """The lowest finite score so far, kept as pairs are recorded (a minimum over every
    score at each pair's progress report made a run quadratic in its pairs). Finite, as the
    answer is (`_outcome` ranks the finite scores only): a score of -inf (x / 0 with x < 0)
    would end the certification with no bound below it, before the best finite pair."""

    def record(self, pair: Pair, result: PairResult) -> None:
        """An evaluated pair (a pair is recorded once: results are only added)."""
        score = _score(self.spec, result)
        self.results[pair] = result
        self.scores[pair] = score
        if math.isfinite(score):
            self.best = min(self.best, score)

    def room(self) -> int | None:
        """Pairs the budget still allows (None: no cap on pairs); raises _OutOfBudget
        when the time is up."""
        limit = self.budget.time_limit_s
        if limit is not None and time.monotonic() - self.started >= limit:
            raise _OutOfBudget
        if self.budget.max_pairs is None:
            return None
        return max(0, self.budget.max_pairs - len(self.results))

    def evaluate(self, phase: str, pairs: Sequence[Pair]) -> list[float]:
        """Evaluate what is new in `pairs` (as far as the budget allows: _OutOfBudget when
        it cut the list) and return every pair's score."""
        fresh = [p for p in dict.fromkeys(pairs) if p not in self.results]
        room = self.room()
        cut = room is not None and len(fresh) > room
        if room is not None:
            fresh = fresh[:room]

        def report(done: int, total: int) -> None:
            if self.progress is not None:
                self.progress(phase, done, total, self.best)

        if fresh:
            limit = self.budget.time_limit_s
            try:
                self.evaluator.evaluate_many(
                    fresh, jobs=self.jobs, scheduler=self.scheduler, progress=report,
                    on_result=self.record,
                    deadline=None if limit is None else self.started + limit)
            except DeadlinePassed:
                # The pairs finished are recorded (and stored); the one in progress is not.
                raise _OutOfBudget from None
            report(len(fresh), len(fresh))
        if cut:
            raise _OutOfBudget
        return [self.scores.get(p, math.inf) for p in pairs]


def execute(plan: Plan, spec: CoDesignSpec, networks: Designs, accelerators: Designs,
            evaluator: PairEvaluator, *, bounds: PairBounds | None = None, jobs: int = 1,
            scheduler: str | None = None, progress: PhaseProgress | None = None) -> Outcome:
    """Run the plan; see the module docstring for what each strategy evaluates."""
    if plan.strategy == "differentiable":
        raise ValueError("the differentiable strategy runs in dslc.codesign.dance (api.search), "
                         "not in execute")
    run = _Run(spec, evaluator, jobs, scheduler, progress, plan.budget, time.monotonic())
    log: list[str] = []
    state = _State(networks.designs, accelerators.designs, bounds)
    try:
        if plan.strategy == "exhaustive":
            # Under a budget of pairs, only the first ones it allows (and one more, to see
            # the cut) are listed: a list of every pair of 10^7 took minutes and gigabytes.
            room = run.room()
            run.evaluate("evaluate", state.pairs(np.ones(state.shape, dtype=bool),
                                                 limit=None if room is None else room + 1))
        elif plan.strategy == "random":
            rng = np.random.default_rng(plan.seed)
            chosen = np.zeros(state.size, dtype=bool)
            chosen[rng.choice(state.size, size=plan.phases[0].pairs, replace=False)] = True
            run.evaluate("sample", state.pairs(chosen.reshape(state.shape)))
        else:
            return _semi_decoupled(plan, spec, networks, run, state, log)
    except _OutOfBudget:
        log.append(_budget_note(plan.budget, len(run.results)))
    optimality: Optimality = "exhaustive" if plan.strategy == "exhaustive" and \
        len(run.results) == state.size else "unverified"
    return _outcome(plan, run, state, (), None, optimality, log)


def _budget_note(budget: Budget, evaluated: int) -> str:
    what = []
    if budget.max_pairs is not None:
        what.append(f"a budget of {budget.max_pairs:,} pairs")
    if budget.time_limit_s is not None:
        what.append(f"a time limit of {budget.time_limit_s:g} s")
    return f"stopped by {' and '.join(what)} after {evaluated:,} pairs"


@dataclass(slots=True)
class _State:
    """The pairs as index arrays [network, accelerator], with their bounds."""

    networks: tuple[Design, ...]
    accelerators: tuple[Design, ...]
    bounds: PairBounds | None
    index_n: dict[Design, int] = field(init=False)
    index_a: dict[Design, int] = field(init=False)
    done: npt.NDArray[np.bool_] = field(init=False)
    """Where a pair is evaluated, as of the first `counted` of a run's results (a run only
    adds results, in order: `evaluated` marks the new ones)."""
    counted: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.index_n = {d: i for i, d in enumerate(self.networks)}
        self.index_a = {d: j for j, d in enumerate(self.accelerators)}
        self.done = np.zeros(self.shape, dtype=bool)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.networks), len(self.accelerators)

    @property
    def size(self) -> int:
        return len(self.networks) * len(self.accelerators)

    def pairs(self, mask: npt.NDArray[np.bool_], order: FloatArray | None = None,
              limit: int | None = None) -> list[Pair]:
        """The pairs where `mask` holds, in row-major order or by `order` (ascending); with
        `limit`, the first `limit` of them only."""
        rows, columns = np.nonzero(mask)
        if order is not None:
            ranking = np.argsort(order[rows, columns], kind="stable")
            rows, columns = rows[ranking], columns[ranking]
        if limit is not None:
            rows, columns = rows[:limit], columns[:limit]
        return [(self.networks[i], self.accelerators[j])
                for i, j in zip(rows.tolist(), columns.tolist(), strict=True)]

    def evaluated(self, run: _Run) -> npt.NDArray[np.bool_]:
        """Where a pair of `run` is evaluated (read-only). Only the results added since the
        last call are marked: marking them all at every step of the certification made it
        quadratic in the pairs evaluated."""
        if len(run.results) < self.counted:  # another run's (not this state's): afresh
            self.done[:] = False
            self.counted = 0
        if len(run.results) > self.counted:
            fresh = itertools.islice(run.results, self.counted, None)
            rows, columns = zip(*((self.index_n[n], self.index_a[a]) for n, a in fresh),
                                strict=True)
            self.done[list(rows), list(columns)] = True
            self.counted = len(run.results)
        view = self.done.view()
        view.flags.writeable = False
        return view


def _semi_decoupled(plan: Plan, spec: CoDesignSpec, networks: Designs, run: _Run,
                    state: _State, log: list[str]) -> Outcome:
    bounds = state.bounds
    feasible = np.ones(state.shape, dtype=bool) if bounds is None else bounds.feasible
    objective = None if bounds is None else bounds.objective
    kept: tuple[Design, ...] = ()
    check: RankCheck | None = None
    if not plan.monotone and plan.monotone_note:
        log.append(f"no objective bounds: {plan.monotone_note}; the answer is not certified")
    try:
        if plan.reference is not None:
            reference = plan.reference
            r = state.index_a[reference]
            run.evaluate("rank", [(n, reference) for i, n in enumerate(state.networks)
                                  if feasible[i, r]])
            scores = [run.scores.get((n, reference), math.inf) for n in state.networks]
            order = sorted(range(len(state.networks)), key=lambda i: (scores[i], i))
            check = _check(run, state, order, scores, reference, plan.keep, feasible)
            kept = _kept(order, scores, check.keep, networks, run)
            if not check.passed:
                log.append(f"the rank check keeps {check.keep} networks (default "
                           f"{plan.keep}): {_check_reason(check, plan.keep)}")
            chosen = np.zeros(state.shape, dtype=bool)
            rows = [i for i, n in enumerate(state.networks) if n in set(kept)]
            chosen[rows, :] = True
            chosen &= feasible
            if objective is None:
                run.evaluate("co-optimise", state.pairs(chosen))
            else:
                _certify(run, state, np.where(chosen, objective, np.inf), "co-optimise")
        if objective is None:
            if plan.reference is None:
                # Nothing to rank with and no objective bounds: every pair the constraints
                # allow (those they rule out are ruled out by proof).
                run.evaluate("evaluate", state.pairs(feasible))
                return _outcome(plan, run, state, state.networks, check, "exhaustive"
                                if feasible.all() else "certified", log)
            return _outcome(plan, run, state, kept, check, "unverified", log)
        _certify(run, state, objective, "certify")
    except _OutOfBudget:
        log.append(_budget_note(plan.budget, len(run.results)))
        return _outcome(plan, run, state, kept, check, "unverified", log)
    return _outcome(plan, run, state, kept, check, "certified", log)


def _certify(run: _Run, state: _State, objective: FloatArray, phase: str) -> None:
    """Evaluate, in the order of their bounds (the lowest first, ties in row-major order),
    the pairs whose objective bound is below the best found, a step at a time, until none is
    left: a pair whose bound is above the optimum is then never evaluated (`objective` is inf
    where not to look). Each step takes the next pairs not yet evaluated whose bounds are
    below the best found so far; the bounds come sorted a chunk at a time (`_by_bound`), not
    scanned whole at every step."""
    step = CERTIFY_STEP * max(1, run.jobs)
    flat = objective.ravel()
    columns = objective.shape[1]
    ascending = _by_bound(flat, max(CERTIFY_CHUNK, 4 * step))
    while True:
        done = state.evaluated(run).ravel()
        take: list[int] = []
        for index in ascending:
            if not flat[index] < run.best:
                ascending = iter(())  # every later bound is at least this one
                break
            if not done[index]:
                take.append(index)
                if len(take) == step:
                    break
        if not take:
            return
        run.evaluate(phase, [(state.networks[k // columns], state.accelerators[k % columns])
                             for k in take])


def _by_bound(flat: FloatArray, chunk: int) -> Iterator[int]:
    """The positions of `flat`'s values below inf (not NaN), in ascending order of value,
    equal values by position (a stable sort's order), sorted `chunk` at a time: the next
    chunk is the `chunk` least of those after the last one given, found by a partition."""
    positions = np.flatnonzero(flat < np.inf)
    values = flat[positions]
    while positions.size:
        if positions.size > chunk:
            cut = np.partition(values, chunk - 1)[chunk - 1]
            below = np.flatnonzero(values < cut)
            ties = np.flatnonzero(values == cut)[:chunk - below.size]
            taken = np.sort(np.concatenate([below, ties]))
        else:
            taken = np.arange(positions.size)
        # Positions ascend, so a stable sort of the taken values orders ties by position.
        yield from positions[taken[np.argsort(values[taken], kind="stable")]].tolist()
        rest = np.ones(positions.size, dtype=bool)
        rest[taken] = False
        positions, values = positions[rest], values[rest]


def _check(run: _Run, state: _State, order: list[int], scores: list[float],
           reference: Design, default_keep: int, feasible: npt.NDArray[np.bool_]
           ) -> RankCheck:
    """Evaluate networks spread over the reference ranking on accelerators covering every
    parameter value; keep enough networks for every check accelerator's winner."""
    count = min(len(order), CHECK_NETWORKS)
    positions = sorted({round(x) for x in np.linspace(0, len(order) - 1, count)})
    sample = [state.networks[order[p]] for p in positions]
    rank_of = {state.networks[i]: position + 1 for position, i in enumerate(order)}
    accelerators = _covering(Designs("accelerator", state.accelerators), reference)
    index_n, index_a = state.index_n, state.index_a
    base = np.array([scores[index_n[n]] for n in sample])
    lowest_spearman, lowest_kendall = 1.0, 1.0
    winners: list[tuple[Design, Design, int]] = []
    for accelerator in accelerators:
        j = index_a[accelerator]
        run.evaluate("check", [(n, accelerator) for n in sample if feasible[index_n[n], j]])
        found = np.array([run.scores.get((n, accelerator), math.inf) for n in sample])
        finite = np.isfinite(base) & np.isfinite(found)
        if finite.sum() >= 3:
            lowest_spearman = min(lowest_spearman, spearman(base[finite], found[finite]))
            lowest_kendall = min(lowest_kendall, kendall(base[finite], found[finite]))
        if np.isfinite(found).any():
            winner = sample[int(np.argmin(found))]
            winners.append((accelerator, winner, rank_of[winner]))
    keep = default_keep
    for _, _, rank in winners:
        keep = max(keep, math.ceil(WINNER_MARGIN * rank))
    if lowest_spearman < SPEARMAN_FLOOR:
        keep = max(keep, 2 * default_keep)
    keep = min(keep, len(order))
    return RankCheck(lowest_spearman, lowest_kendall, len(sample), accelerators,
                     tuple(winners), keep, keep == default_keep)


def _check_reason(check: RankCheck, default_keep: int) -> str:
    outside = [(a, n, rank) for a, n, rank in check.winners if rank > default_keep]
    reasons = [f"`{n.label}` (reference rank {rank}) wins on `{a.label}`"
               for a, n, rank in outside[:3]]
    if check.spearman < SPEARMAN_FLOOR:
        reasons.append(f"Spearman {check.spearman:.3f} < {SPEARMAN_FLOOR}")
    return "; ".join(reasons) or "the correlations are low"


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


def _rank_key(score: float, pair: Pair) -> tuple[float, str, int, str, int]:
    """The one order of pairs in every result: objective, then space order."""
    network, accelerator = pair
    return (score, network.space, network.index, accelerator.space, accelerator.index)


def _gap(best: float, left: float) -> float | None:
    """The best found over the smallest bound left, in the objective's own sense."""
    if not math.isfinite(best) or not math.isfinite(left):
        return None
    if best > 0 and left > 0:
        return best / left
    if best < 0 and left < 0:  # a maximised objective: values are negated
        return left / best
    return None


def _bounds_report(run: _Run, state: _State, best: float) -> BoundsReport | None:
    bounds = state.bounds
    if bounds is None:
        return None
    done = state.evaluated(run)
    waiting = ~done
    constraints = int((waiting & ~bounds.feasible).sum())
    if bounds.objective is not None:
        by_bounds = int((waiting & bounds.feasible & (bounds.objective >= best)).sum())
    else:
        by_bounds = 0
    ranking = int(waiting.sum()) - constraints - by_bounds
    index_n, index_a = state.index_n, state.index_a
    ratios: dict[str, list[float]] = {"energy": [], "latency": [], "objective": []}
    for pair, result in run.results.items():
        metrics = result.metrics
        if metrics is None or not math.isfinite(run.scores[pair]):
            continue
        i, j = index_n[pair[0]], index_a[pair[1]]
        ratios["energy"].append(metrics.energy_pj / bounds.energy_pj[i, j])
        ratios["latency"].append(metrics.latency_s / bounds.latency_s[i, j])
        if bounds.objective is not None and bounds.objective[i, j] > 0:
            ratios["objective"].append(run.scores[pair] / bounds.objective[i, j])
    tightness = tuple((name, min(values), float(np.median(values)), max(values))
                      for name, values in ratios.items() if values)
    return BoundsReport(bounds.objective is not None, bounds.monotone_note, bounds.ruled_out,
                        (("constraints", constraints), ("bounds", by_bounds),
                         ("ranking", ranking)), tightness, bounds.broken_by,
                        None if bounds.closest is None else
                        ((state.networks[bounds.closest[0]],
                          state.accelerators[bounds.closest[1]]),
                         bounds.closest[2], bounds.closest[3]))


def _outcome(plan: Plan, run: _Run, state: _State, kept: Sequence[Design],
             check: RankCheck | None, optimality: Optimality, log: list[str], *,
             answer: Pair | None = None, learned: LearnedSearch | None = None) -> Outcome:
    """The outcome of a run; `answer` (the differentiable strategy's) overrides the best
    of every evaluated pair."""
    pairs = sorted((pair for pair, score in run.scores.items() if math.isfinite(score)),
                   key=lambda pair: _rank_key(run.scores[pair], pair))
    best = run.results[pairs[0]] if pairs else None
    best_score = run.scores[pairs[0]] if pairs else math.inf
    if learned is not None:
        best = None if answer is None else run.results[answer]
        best_score = math.inf if answer is None else run.scores[answer]
    if best is None and learned is None:
        unranked = [result.metrics for result in run.results.values()
                    if result.metrics is not None
                    and not violations(run.spec.constraints, result.metrics)]
        if unranked:
            why = ("the accuracy it needs is unknown: declare it or list it in an accuracy "
                   "table" if all(m.accuracy is None for m in unranked)
                   and "accuracy" in plan.objective else "it overflows a double or divides "
                   "by zero: write it so that it stays finite")
            log.append(f"the objective `{plan.objective}` is not a finite number for any of "
                       f"the {len(unranked):,} evaluated pairs that meet the constraints, so "
                       f"none can be ranked: {why}")
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
    report = _bounds_report(run, state, best_score)
    if optimality == "certified" and report is not None:
        # The promise of `certified`: nothing is left that only the ranking removed.
        assert dict(report.removed)["ranking"] == 0, report
    gap = None
    bounds = state.bounds
    if optimality == "unverified" and bounds is not None and bounds.objective is not None:
        waiting = ~state.evaluated(run) & bounds.feasible
        if learned is not None:
            # Evaluated pairs of networks never trained (trained accuracy): their exact
            # figures are known but not whether they meet the accuracy the request asks
            # for, so only their bound says how good they may be.
            waiting = waiting | _open_accuracy(run, state, learned)
        # NaN (an objective bound that needs an accuracy unknown when bounding and cannot
        # assume one: dslc.codesign.bounds.PairBounds.assumed_accuracy) stays NaN and
        # claims no gap.
        left = float(bounds.objective[waiting].min()) if waiting.any() else math.inf
        if learned is not None and not math.isnan(left):
            # The strategy's answer need not be the best evaluated pair (a sample of the
            # evaluator's may beat it): the optimum is no better than either.
            left = min(left, min(run.scores.values(), default=math.inf))
        gap = _gap(best_score, left) if waiting.any() or learned is not None else 1.0
    return Outcome(plan, run.results, run.scores, best, front, tuple(kept), check, optimality,
                   gap, report, log, tuple(run.spec.constraints), learned,
                   _unproved(run.spec, bounds, learned))


def _open_accuracy(run: _Run, state: _State, learned: LearnedSearch
                   ) -> npt.NDArray[np.bool_]:
    """Where an evaluated, otherwise feasible pair has no score only because its network's
    accuracy is not known yet (trained accuracy: a network the differentiable strategy did
    not train), when the request's constraints or objective need that accuracy."""
    bounds = state.bounds
    found = np.zeros(state.shape, dtype=bool)
    if bounds is None or learned.mode != "trained accuracy" or not (
            any(c.metric == "accuracy" for c in run.spec.constraints)
            or "accuracy" in run.spec.objective.text):
        return found
    unknown = np.isnan(bounds.accuracy)
    for pair, result in run.results.items():
        i, j = state.index_n[pair[0]], state.index_a[pair[1]]
        if unknown[i] and result.metrics is not None and result.metrics.accuracy is None:
            found[i, j] = bool(bounds.feasible[i, j])
    return found


@dataclass(slots=True)
class Session:
    """A run whose pairs another strategy chooses (dslc.codesign.dance's differentiable search):
    it evaluates pairs as the planner's strategies do (store, workers, progress) and builds
    the `Outcome`."""

    plan: Plan
    run: _Run
    state: _State

    def evaluate(self, phase: str, pairs: Sequence[Pair]) -> list[PairResult]:
        """Every pair, read back or computed (no budget: the plan has none)."""
        self.run.evaluate(phase, pairs)
        return [self.run.results[pair] for pair in pairs]

    def record(self, results: dict[Pair, PairResult]) -> None:
        """Pairs evaluated already (through the same evaluator), as they are."""
        for pair, result in results.items():
            self.run.record(pair, result)

    def score(self, pair: Pair) -> float:
        """An evaluated pair's objective (inf when infeasible)."""
        return self.run.scores[pair]

    def meets(self, pair: Pair) -> bool:
        """Whether an evaluated pair has a mapping and meets the constraints by the exact
        model (whatever its objective: it may overflow)."""
        metrics = self.run.results[pair].metrics
        return metrics is not None and not violations(self.run.spec.constraints, metrics)

    def attach_accuracies(self, accuracies: Mapping[Design, float]) -> None:
        """Networks' accuracies learned during the run (trained stand-alone): every
        evaluated pair of one of them that has no accuracy is recorded again with it (an
        evaluator's sample of a network trained later was left unranked), and the bounds
        learn them (an accuracy constraint then rules out the pairs of those that break
        it: dslc.codesign.bounds.with_accuracies)."""
        for pair, result in list(self.run.results.items()):
            accuracy = accuracies.get(pair[0])
            if accuracy is not None and result.metrics is not None and \
                    result.metrics.accuracy is None:
                self.run.record(pair, dataclasses.replace(
                    result, metrics=dataclasses.replace(result.metrics, accuracy=accuracy)))
        if self.state.bounds is not None:
            self.state.bounds = with_accuracies(
                self.state.bounds, self.run.spec,
                {self.state.index_n[d]: a for d, a in accuracies.items()
                 if d in self.state.index_n})

    def finish(self, answer: Pair | None, learned: LearnedSearch, log: list[str]) -> Outcome:
        """The outcome, its best the strategy's `answer` (an evaluated pair): `unverified`
        with its gap, or `certified` when the gap is exactly 1 with nothing unproved: every
        pair not evaluated is ruled out by a constraint or has an objective bound no better
        than the answer, and the answer is the best evaluated pair (the planner's promise;
        it read "unverified (the optimum may be up to 1x better)")."""
        outcome = _outcome(self.plan, self.run, self.state, (), None, "unverified", log,
                           answer=answer, learned=learned)
        report = outcome.bounds
        if outcome.gap == 1.0 and outcome.unproved is None and report is not None and \
                dict(report.removed)["ranking"] == 0:
            outcome.optimality = "certified"
            outcome.gap = None
            outcome.log.append("every pair not evaluated is ruled out by a constraint or has "
                               "an objective bound no better than the answer: certified")
        return outcome


def session(plan: Plan, spec: CoDesignSpec, networks: Designs, accelerators: Designs,
            evaluator: PairEvaluator, *, bounds: PairBounds | None = None, jobs: int = 1,
            scheduler: str | None = None, progress: PhaseProgress | None = None) -> Session:
    """A `Session` over the request's pairs."""
    return Session(plan, _Run(spec, evaluator, jobs, scheduler, progress, Budget(),
                              time.monotonic()),
                   _State(networks.designs, accelerators.designs, bounds))
