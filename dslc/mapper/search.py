"""The mapping search for one problem on one accelerator: `map_problem -> MapResult`.

In: a `Problem`, an accelerator (`AcceleratorSpec` or `ArchModel`) and `MapperOptions`.
Out: the best valid mapping found, its cost from the scalar reference model, the map space's
size and how many candidates were evaluated; `NoValidMappingError` (with the reasons the
smallest tiles do not fit) when nothing can run. Candidates are pruned by the meshes and
capacity (`BatchEvaluator.fits`) before they are evaluated, in numpy batches.

Strategies: `exhaustive` evaluates every candidate of the map space (up to its exact
equivalences); `heuristic` is a seeded local search: seeds with every temporal factor at the
outermost level (always within capacity) and random spatial unrollings, plus random
samples, then rounds of moves (a prime factor to another slot, two loops swapped) from the
best few, restarting from fresh samples when it stalls, on half the budget; then every other
keep set (bypass) is ranked on the best mappings and fresh seeds, and the best few keep sets
share the rest. `random` evaluates random samples only. `auto` is exhaustive when the space
is within the budget, else heuristic.
It does not map whole networks (dslc.mapper.network) nor print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dslc.cost.batched import BatchEvaluator
from dslc.cost.estimate import ArchModel, resolve_energies
from dslc.cost.model import evaluate
from dslc.cost.result import Cost
from dslc.lower.problem import Problem
from dslc.mapper.space import IntArray, MapSpace
from dslc.mapping.mapping import Mapping, mapping_issues
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.codesign import MapperSpec

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray, FloatArray], FloatArray]
"""Score to minimise from (energy_pj, cycles) arrays."""

OBJECTIVES: dict[str, Objective] = {
    "energy": lambda energy, cycles: energy,
    "latency": lambda energy, cycles: cycles,
    "cycles": lambda energy, cycles: cycles,
    "edp": lambda energy, cycles: energy * cycles,
}
SEARCHES = ("auto", "exhaustive", "heuristic", "random")
POPULATION = 16
"""Parents kept between rounds of the local search."""
ROUND = 1024
KEEP_SETS_REFINED = 6
"""Keep sets (after the memories' own) searched further by the heuristic."""
"""Candidates generated per round (before pruning)."""


class NoValidMappingError(ValueError):
    """No mapping of the problem can run on the accelerator; `reasons` says why."""

    def __init__(self, problem: str, accelerator: str, reasons: tuple[str, ...]) -> None:
        self.reasons = reasons
        super().__init__(f"no valid mapping of `{problem}` on `{accelerator}`: "
                         + "; ".join(reasons))


@dataclass(frozen=True, slots=True)
class MapperOptions:
    """How to search. `objective` names an entry of OBJECTIVES unless `score` is given."""

    search: str = "auto"
    budget: int = 5000
    """Candidates evaluated per (problem, accelerator) by the heuristic and random searches."""
    seed: int = 1
    objective: str = "edp"
    bypass: bool = True
    """Search keep sets (bypass) too, not just what each memory holds."""
    imperfect: bool = False
    """Also try padded (ceil) factorisations (see `MapSpace.padded_totals`)."""
    score: Objective | None = field(default=None, compare=False)
    """A custom weighted objective; overrides `objective` (not part of the cache key)."""

    def __post_init__(self) -> None:
        if self.search not in SEARCHES:
            raise ValueError(f"unknown search `{self.search}` ({', '.join(SEARCHES)})")
        if self.score is None and self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective `{self.objective}` "
                             f"({', '.join(sorted(OBJECTIVES))})")
        if self.budget < 1:
            raise ValueError("the budget must be positive")

    @staticmethod
    def from_spec(spec: MapperSpec, default_objective: str = "edp") -> MapperOptions:
        """Options from a spec's `mapper` block; the objective defaults to the co-design's
        (energy, latency or edp; anything else maps by EDP)."""
        objective = spec.objective or default_objective
        if objective not in OBJECTIVES:
            objective = "edp"
        return MapperOptions(search=spec.search, budget=spec.budget, seed=spec.seed,
                             objective=objective, imperfect=spec.imperfect)

    def scorer(self) -> Objective:
        return self.score if self.score is not None else OBJECTIVES[self.objective]


@dataclass(frozen=True, slots=True)
class MapResult:
    """The best mapping found, its cost (scalar reference model) and the search's effort."""

    mapping: Mapping
    cost: Cost
    mapspace_size: int
    evaluated: int
    search: str
    """The strategy that ran (auto resolved)."""


@dataclass(slots=True)
class _Best:
    """The running best of a search: score, factors [S, D], orders [L, D], keep index."""

    score: float = float("inf")
    factors: IntArray | None = None
    orders: IntArray | None = None
    keep: int = 0


class _Search:
    """One search: the map space, one evaluator per keep set, the budget and the best."""

    def __init__(self, problem: Problem, arch: ArchModel, options: MapperOptions) -> None:
        self.problem = problem
        self.arch = arch
        self.options = options
        self.space = MapSpace(problem, arch, bypass=options.bypass,
                              imperfect=options.imperfect)
        self.score = options.scorer()
        self.rng = np.random.default_rng(options.seed)
        self.evaluators = [BatchEvaluator(problem, arch, keep, imperfect=options.imperfect)
                           for keep in self.space.keep_choices]
        self.evaluated = 0
        self.best = _Best()
        self.seen: dict[int, set[bytes]] = {}
        """Canonical candidates already evaluated, per keep set."""

    def run_batch(self, factors: IntArray, orders: IntArray, keep: int = 0,
                  *, dedupe: bool = True) -> tuple[IntArray, IntArray, FloatArray]:
        """Prune (meshes, capacity, already seen), evaluate, update the best; returns the
        evaluated candidates and their scores."""
        space = self.space
        ok = space.within_meshes(factors)
        factors, orders = factors[:, :, ok], orders[:, :, ok]
        if factors.shape[-1] and dedupe:
            # First occurrences of candidates not seen before, in batch order (a set of
            # row bytes: far cheaper than np.unique's sort of wide rows).
            rows = np.ascontiguousarray(space.canonical(factors, orders))
            buffer, width = rows.tobytes(), rows.shape[1] * rows.itemsize
            seen = self.seen.setdefault(keep, set())
            fresh = []
            for i in range(rows.shape[0]):
                key = buffer[i * width:(i + 1) * width]
                if key not in seen:
                    seen.add(key)
                    fresh.append(i)
            factors, orders = factors[:, :, fresh], orders[:, :, fresh]
        if factors.shape[-1] == 0:
            return factors, orders, np.empty(0)
        evaluator = self.evaluators[keep]
        batch = space.batch(factors, orders)
        fits = evaluator.fits(batch)
        factors, orders = factors[:, :, fits], orders[:, :, fits]
        if factors.shape[-1] == 0:
            return factors, orders, np.empty(0)
        cost = evaluator.evaluate(space.batch(factors, orders))
        self.evaluated += factors.shape[-1]
        scores = self.score(cost.energy_pj, cost.cycles.astype(np.float64))
        scores = np.where(cost.valid, scores, np.inf)
        best = int(np.argmin(scores))
        # Ties go to the earlier candidate, so results do not depend on batch boundaries.
        if scores[best] < self.best.score:
            self.best = _Best(float(scores[best]), factors[:, :, best].copy(),
                              orders[:, :, best].copy(), keep)
        return factors, orders, scores

    def exhaustive(self) -> None:
        for keep in range(len(self.space.keep_choices)):
            for factors, orders in self.space.enumerate():
                self.run_batch(factors, orders, keep, dedupe=False)

    def random(self, keep: int = 0) -> None:
        budget = self.options.budget
        stalls = 0
        while self.evaluated < budget and stalls < 50:
            before = self.evaluated
            factors, orders = self.space.sample(self.rng, ROUND)
            self.run_batch(factors, orders, keep)
            stalls = stalls + 1 if self.evaluated == before else 0

    def heuristic(self) -> None:
        budget = self.options.budget
        keeps = len(self.space.keep_choices)
        # Half the budget (all of it without bypass choices) on what the memories hold.
        main = budget if keeps == 1 else budget // 2
        top_f, top_o, _ = self._refine(self._seed(0, main), 0, main)
        if keeps == 1 or top_f.shape[-1] == 0:
            return
        # Every other keep set on the best tilings, then the most promising keep sets
        # searched further with equal shares of what is left.
        results = []
        for keep in range(1, keeps):
            factors, orders, scores = self.run_batch(top_f, top_o, keep, dedupe=False)
            seeds = self._seed(keep, budget, size=ROUND // 4)
            factors, orders, scores = self._select([factors, seeds[0]], [orders, seeds[1]],
                                                   [scores, seeds[2]])
            if np.isfinite(scores).any():
                results.append((float(scores.min()), keep, factors, orders, scores))
        results.sort(key=lambda r: (r[0], r[1]))
        chosen = results[:KEEP_SETS_REFINED]
        for position, (_, keep, factors, orders, scores) in enumerate(chosen):
            share = (budget - self.evaluated) // (len(chosen) - position)
            if share <= 0:
                break
            self._refine(self._select([factors], [orders], [scores]), keep,
                         self.evaluated + share)

    def _seed(self, keep: int, budget: int, size: int = ROUND
              ) -> tuple[IntArray, IntArray, FloatArray]:
        """Evaluate `size` seeds with every temporal factor outermost and `size` random
        samples; return the best few as the first population."""
        pool_f, pool_o, pool_s = [], [], []
        outer_f, outer_o = self.space.sample(self.rng, size, outer=True)
        sample_f, sample_o = self.space.sample(self.rng, size)
        for factors, orders in ((outer_f, outer_o), (sample_f, sample_o)):
            if self.evaluated >= budget:
                break
            f, o, s = self.run_batch(factors, orders, keep)
            pool_f.append(f)
            pool_o.append(o)
            pool_s.append(s)
        return self._select(pool_f, pool_o, pool_s)

    @staticmethod
    def _select(pool_f: list[IntArray], pool_o: list[IntArray], pool_s: list[FloatArray]
                ) -> tuple[IntArray, IntArray, FloatArray]:
        """The POPULATION best valid candidates of the pool (ties: pool order)."""
        parts = [i for i, f in enumerate(pool_f) if f.shape[-1]]
        if not parts:
            return np.empty((0, 0, 0), np.int64), np.empty((0, 0, 0), np.int64), np.empty(0)
        pool_f = [pool_f[i] for i in parts]
        pool_o = [pool_o[i] for i in parts]
        pool_s = [pool_s[i] for i in parts]
        factors = np.concatenate(pool_f, axis=2)
        orders = np.concatenate(pool_o, axis=2)
        scores = np.concatenate(pool_s)
        finite = np.isfinite(scores)
        factors, orders, scores = factors[:, :, finite], orders[:, :, finite], scores[finite]
        chosen = np.argsort(scores, kind="stable")[:POPULATION]
        return factors[:, :, chosen], orders[:, :, chosen], scores[chosen]

    def _refine(self, population: tuple[IntArray, IntArray, FloatArray], keep: int,
                budget: int) -> tuple[IntArray, IntArray, FloatArray]:
        """Local search from `population` until the budget is spent or 100 rounds pass;
        returns the last population."""
        factors, orders, scores = population
        elite = population
        best = self.best.score
        stalls = 0
        for _ in range(100):
            if self.evaluated >= budget:
                break
            if factors.shape[-1] == 0 or stalls >= 4:
                # Stalled (or nothing valid yet): restart from fresh seeds; the elite keeps
                # the best seen so far.
                seeds = self._seed(keep, budget)
                stalls = 0
                if seeds[0].shape[-1] == 0:
                    if factors.shape[-1] == 0:
                        continue
                    stalls = 0
                else:
                    factors, orders, scores = seeds
            child_f, child_o = self.space.neighbours(self.rng, factors, orders, ROUND)
            f, o, s = self.run_batch(child_f, child_o, keep)
            factors, orders, scores = self._select([factors, f], [orders, o], [scores, s])
            elite = self._select([elite[0], f], [elite[1], o], [elite[2], s])
            if self.best.score < best:
                best = self.best.score
                stalls = 0
            else:
                stalls += 1
        factors, orders, scores = elite
        return factors, orders, scores


def _explain_nothing_fits(problem: Problem, arch: ArchModel, space: MapSpace) -> tuple[str, ...]:
    """Why nothing runs: the reasons of the mapping with the smallest tiles (every factor
    at the outermost level, keeping what each memory holds)."""
    factors = np.ones((len(space.slots), space.ndims), dtype=np.int64)
    factors[0] = problem.bounds
    orders = np.tile(np.arange(space.ndims), (space.nlevels, 1))
    mapping = space.to_mapping(factors, orders, space.keep_choices[0])
    reasons = tuple(issue.message for issue in mapping_issues(mapping, problem, arch))
    return reasons or ("no candidate of the map space fits the memories",)


def map_problem(problem: Problem, accelerator: AcceleratorSpec | ArchModel,
                options: MapperOptions | None = None) -> MapResult:
    """The best mapping of `problem` on `accelerator` under `options` (see module doc)."""
    options = options or MapperOptions()
    arch = accelerator if isinstance(accelerator, ArchModel) else resolve_energies(accelerator)
    search = _Search(problem, arch, options)
    size = search.space.size()
    strategy = options.search
    if strategy == "auto":
        strategy = "exhaustive" if size <= options.budget else "heuristic"
    if strategy == "exhaustive":
        search.exhaustive()
    elif strategy == "random":
        search.random()
    else:
        search.heuristic()
    best = search.best
    if best.factors is None or best.orders is None:
        raise NoValidMappingError(problem.name, arch.name,
                                  _explain_nothing_fits(problem, arch, search.space))
    mapping = search.space.to_mapping(best.factors, best.orders,
                                      search.space.keep_choices[best.keep])
    cost = evaluate(problem, arch, mapping)
    return MapResult(mapping, cost, size, search.evaluated, strategy)
