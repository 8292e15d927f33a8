"""The mapping search for one problem on one accelerator: `map_problem -> MapResult`.

In: a `Problem`, the resolved accelerator (`ArchModel`, dslc.arch.resolve_accelerator) and
`MapperOptions` (the strategy, the objective: one or several in lexicographic order, and the
map-space constraints). Out: the best valid mapping found, its cost from the scalar
reference model, the (constrained) map space's size and how many candidates were evaluated;
`NoValidMappingError` (a `CannotRunError`, with the reasons: the constraints that conflict,
or the smallest tiles that do not fit) when nothing can run.
Candidates are pruned by the meshes and capacity (`BatchEvaluator.fits`) before they are
evaluated, in batches (the compiled kernel, or numpy without numba).

Strategies: `exhaustive` evaluates every candidate of the map space (up to its exact
equivalences); `heuristic` is a seeded local search: seeds with every temporal factor at the
outermost level (always within capacity) and random spatial unrollings, plus random
samples with random keep sets, then rounds of moves (a prime factor to another slot, two
loops swapped, the keep set changed by one tensor at one level) from the best few,
restarting from fresh seeds when it stalls; then a steepest descent over every single move
from the best (`polish`). `random` evaluates random samples only. `auto` is exhaustive when
the space is within the budget, else heuristic.
It does not map whole networks (dslc.mapper.network) nor print.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from dslc.arch import ArchModel
from dslc.cost import kernel
from dslc.cost.batched import BatchEvaluator
from dslc.cost.model import evaluate
from dslc.cost.result import Cost
from dslc.lower.problem import Problem
from dslc.mapper.errors import NoValidMappingError
from dslc.mapper.space import BoolArray, IntArray, MapSpace
from dslc.mapping.mapping import Mapping, mapping_issues
from dslc.spec.constraints import NO_CONSTRAINTS, MapConstraints

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray, FloatArray], FloatArray]
"""Score to minimise from (energy_pj, cycles) arrays."""

ObjectiveName = Literal["energy", "latency", "cycles", "edp"]
OBJECTIVES: dict[ObjectiveName, Objective] = {
    "energy": lambda energy, cycles: energy,
    "latency": lambda energy, cycles: cycles,
    "cycles": lambda energy, cycles: cycles,
    "edp": lambda energy, cycles: energy * cycles,
}
Objectives = ObjectiveName | tuple[ObjectiveName, ...]
"""One objective, or several in lexicographic order (the least of the first, then the
least of the second among those, ...: Timeloop's `optimization-metrics`)."""
Search = Literal["auto", "exhaustive", "heuristic", "random"]
"""The search strategies (module doc)."""
SEARCHES: tuple[Search, ...] = get_args(Search)
POPULATION = 16
"""Parents kept between rounds of the local search."""
ROUND = 1024
"""Candidates generated per round (before pruning)."""
SEED_KEEP_SETS = 8
"""Keep sets the random seeds of one restart are spread over."""


def search_named(name: str) -> Search:
    """`name` as a search strategy; ValueError (naming them all) when it is none."""
    for search in SEARCHES:
        if search == name:
            return search
    raise ValueError(f"unknown search `{name}` ({', '.join(SEARCHES)})")


def objective_named(name: str) -> ObjectiveName:
    """`name` as an objective; ValueError (naming them all) when it is none."""
    for objective in OBJECTIVES:
        if objective == name:
            return objective
    raise ValueError(f"unknown objective `{name}` ({', '.join(sorted(OBJECTIVES))})")


def objectives_named(names: str | Sequence[str]) -> Objectives:
    """One objective, or a lexicographic order of them: a name, a comma-separated list
    (`latency,energy`, as a command line gives it) or a sequence of names; ValueError for
    an unknown, repeated or missing name."""
    parts = names.split(",") if isinstance(names, str) else list(names)
    found = tuple(objective_named(part.strip()) for part in parts)
    if not found:
        raise ValueError(f"no objective given ({', '.join(sorted(OBJECTIVES))})")
    if len(set(found)) < len(found):
        raise ValueError(f"an objective is repeated in `{', '.join(found)}`")
    return found[0] if len(found) == 1 else found


def objective_text(objective: Objectives) -> str:
    """An objective as reports print it: `edp`, or `latency, energy` (lexicographic)."""
    return objective if isinstance(objective, str) else ", ".join(objective)


@dataclass(frozen=True, slots=True)
class MapperOptions:
    """How to search. `objective` names an entry of OBJECTIVES unless `score` is given.

    Equal options find equal mappings: `MapCache` keys results on them, so every field
    takes part in equality and the hash, `score` too (by identity: a function equals only
    itself)."""

    search: Search = "auto"
    budget: int = 10000
    """Candidates evaluated per (problem, accelerator) by the heuristic and random searches."""
    seed: int = 1
    objective: Objectives = "edp"
    """What to minimise: an OBJECTIVES name, or several in lexicographic order (a tuple of
    one is normalised to its name)."""
    bypass: bool = True
    """Search keep sets (bypass) too, not just what each memory holds."""
    imperfect: bool = False
    """Also try padded (ceil) factorisations (see `MapSpace.padded_totals`)."""
    score: Objective | None = None
    """A custom weighted objective; overrides `objective`."""
    constraints: MapConstraints = NO_CONSTRAINTS
    """Map-space constraints (dslc.spec.constraints): the mapper searches only the mappings
    that obey them. Callers add the accelerator's own (`with_constraints`)."""

    def __post_init__(self) -> None:
        # The annotations close the choices for type checkers; values from a command line
        # or a spec arrive as plain strings, so check them here too.
        search_named(self.search)
        if self.score is None:
            object.__setattr__(self, "objective", objectives_named(
                self.objective if isinstance(self.objective, tuple) else [self.objective]))
        if self.budget < 1:
            raise ValueError("the budget must be positive")

    def scorer(self) -> Objective:
        """The score to minimise (the first objective when there are several)."""
        return self.scorers()[0]

    def scorers(self) -> tuple[Objective, ...]:
        """The scores to minimise, in lexicographic order."""
        if self.score is not None:
            return (self.score,)
        names = self.objective if isinstance(self.objective, tuple) else (self.objective,)
        return tuple(OBJECTIVES[name] for name in names)

    @property
    def objective_text(self) -> str:
        """The objective as reports print it (`edp`, `latency, energy`)."""
        return "custom score" if self.score is not None else objective_text(self.objective)

    def with_constraints(self, first: MapConstraints) -> MapperOptions:
        """These options with `first` (an accelerator's own constraints) added before their
        own constraints."""
        if first.empty:
            return self
        return replace(self, constraints=first.combined(self.constraints))


@dataclass(frozen=True, slots=True)
class MapResult:
    """The best mapping found, its cost (scalar reference model) and the search's effort."""

    mapping: Mapping
    cost: Cost
    mapspace_size: int
    evaluated: int
    search: Search
    """The strategy that ran (auto resolved)."""


@dataclass(slots=True)
class _Best:
    """The running best of a search: scores (lexicographic), factors [S, D], orders [L, D],
    keep index."""

    score: tuple[float, ...] = (float("inf"),)
    factors: IntArray | None = None
    orders: IntArray | None = None
    keep: int = 0


_KEY_MULTIPLIERS = np.random.default_rng(0x5EED).integers(
    0, 1 << 63, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
"""Odd 64-bit multipliers, one per column of a canonical row (fixed: keys reproduce)."""


def candidate_keys(space: MapSpace, factors: IntArray, orders: IntArray,
                   keeps: IntArray) -> npt.NDArray[np.uint64]:
    """[B] a 64-bit key per candidate, equal for candidates equal under `MapSpace.canonical`
    with the same keep choice: sum of column[j] * m[j] modulo 2^64 over the canonical row and
    the keep choice, with random odd m[j], then mixed. Two different rows share a key with
    probability about 2^-64 (their difference must vanish against the random multipliers),
    so a search of a million candidates skips a new one by mistake with odds of about 1 in
    10^7; a few vector-matrix products instead of hashing each row's bytes in Python."""
    size = factors.shape[-1]
    columns = (factors.shape[0] + space.nlevels - 1) * space.ndims + 1
    if columns > _KEY_MULTIPLIERS.size:
        raise ValueError(f"candidates of {columns} columns; keys cover {_KEY_MULTIPLIERS.size}")
    if kernel.available():
        return kernel.run_candidate_keys(factors, orders, keeps, space.nlevels - 1,
                                         _KEY_MULTIPLIERS)
    blocks = (factors.reshape(-1, size), space.loop_ranks(factors, orders), keeps[None, :])
    keys = np.zeros(size, dtype=np.uint64)
    start = 0
    for block in blocks:
        keys += _KEY_MULTIPLIERS[start:start + block.shape[0]] @ block.astype(np.uint64)
        start += block.shape[0]
    keys ^= keys >> np.uint64(31)
    keys *= np.uint64(0x9E3779B97F4A7C15)
    keys ^= keys >> np.uint64(29)
    return keys


class _Search:
    """One search: the map space, one evaluator per keep set, the budget and the best."""

    def __init__(self, problem: Problem, arch: ArchModel, options: MapperOptions) -> None:
        self.problem = problem
        self.arch = arch
        self.options = options
        self.space = MapSpace(problem, arch, bypass=options.bypass,
                              imperfect=options.imperfect, constraints=options.constraints)
        self.scores = options.scorers()
        self.rng = np.random.default_rng(options.seed)
        choices = self.space.keep_choices
        self.evaluator = BatchEvaluator(problem, arch, choices[0], more_keeps=choices[1:],
                                        imperfect=options.imperfect)
        self.evaluated = 0
        self.best = _Best()
        self.seen = np.empty(0, dtype=np.uint64)
        """Keys (`candidate_keys`) of the candidates already evaluated, sorted."""
        self.keep_neighbours = _keep_neighbours(self.space.keep_choices)

    def run_batch(self, factors: IntArray, orders: IntArray, keeps: IntArray,
                  *, dedupe: bool = True) -> _Pool:
        """Prune (meshes, capacity, already seen), evaluate (each candidate with its keep
        choice), update the best; returns the evaluated candidates with their scores."""
        space = self.space
        ok = space.within_meshes(factors)
        factors, orders, keeps = factors[:, :, ok], orders[:, :, ok], keeps[ok]
        if factors.shape[-1] and dedupe:
            # First occurrences of candidates not seen before, in batch order, by a 64-bit
            # key of each canonical row (`candidate_keys`).
            keys = candidate_keys(space, factors, orders, keeps)
            unique, first = np.unique(keys, return_index=True)
            seen = self.seen
            at = np.searchsorted(seen, unique)
            known = np.zeros(unique.size, dtype=np.bool_)
            inside = at < seen.size
            known[inside] = seen[at[inside]] == unique[inside]
            # New keys are sorted and so are their insertion points: `seen` stays sorted.
            self.seen = np.insert(seen, at[~known], unique[~known])
            fresh = np.sort(first[~known])
            factors, orders, keeps = factors[:, :, fresh], orders[:, :, fresh], keeps[fresh]
        if factors.shape[-1] == 0:
            return _Pool.join([], space)
        fits = self.evaluator.fits(space.batch(factors, orders, keeps))
        factors, orders, keeps = factors[:, :, fits], orders[:, :, fits], keeps[fits]
        if factors.shape[-1] == 0:
            return _Pool.join([], space)
        cost = self.evaluator.totals(space.batch(factors, orders, keeps))
        self.evaluated += factors.shape[-1]
        cycles = cost.cycles.astype(np.float64)
        scores = np.stack([np.where(cost.valid, score(cost.energy_pj, cycles), np.inf)
                           for score in self.scores])
        # Ties go to the earlier candidate, so results do not depend on batch boundaries.
        best = int(np.argmin(scores[0])) if len(scores) == 1 else \
            int(np.lexsort(scores[::-1])[0])
        value = tuple(float(v) for v in scores[:, best])
        if value < self.best.score:
            self.best = _Best(value, factors[:, :, best].copy(),
                              orders[:, :, best].copy(), int(keeps[best]))
        return _Pool(factors, orders, keeps, scores)

    def exhaustive(self) -> None:
        space = self.space
        for keep in range(len(space.keep_choices)):
            def fits(factors: IntArray, keep: int = keep) -> BoolArray:
                size = factors.shape[-1]
                identity = np.broadcast_to(np.arange(space.ndims)[None, :, None],
                                           (space.nlevels, space.ndims, size))
                return self.evaluator.fits(space.batch(factors, identity,
                                                       np.full(size, keep, dtype=np.int64)))

            for factors, orders in space.enumerate(tilings=fits):
                self.run_batch(factors, orders, np.full(factors.shape[-1], keep, np.int64),
                               dedupe=False)

    def random(self) -> None:
        budget = self.options.budget
        stalls = 0
        while self.evaluated < budget and stalls < 50:
            before = self.evaluated
            factors, orders = self.space.sample(self.rng, ROUND)
            self.run_batch(factors, orders, np.zeros(ROUND, dtype=np.int64))
            stalls = stalls + 1 if self.evaluated == before else 0

    def heuristic(self) -> None:
        """Seeded local search over tilings, loop orders and keep sets together: a
        candidate carries its keep set, and a move may change it to a neighbouring one (one
        tensor more or less at one level), so bypass choices evolve with the tilings that
        use the capacity they free."""
        budget = self.options.budget
        population = self._seed(budget)
        elite = population
        best = self.best.score
        stalls = restarts = idle = 0
        while self.evaluated < budget and idle < 20:
            if population.size == 0 or stalls >= 4:
                # Stalled: descend to the local optimum of the best, then restart, in turn
                # from perturbed copies of the elite (iterated local search) and from fresh
                # seeds (diversity); the elite keeps the best seen so far.
                self.polish(budget=budget)
                restarts += 1
                stalls = 0
                if restarts % 2 and elite.size:
                    population = self._kicked(elite)
                else:
                    seeds = self._seed(budget)
                    if seeds.size:
                        population = seeds
                if population.size == 0:
                    idle += 1
                    continue
            before = self.evaluated
            children = self._neighbours(population)
            evaluated = self.run_batch(children.factors, children.orders, children.keeps)
            idle = idle + 1 if self.evaluated == before else 0
            population = _Pool.select([population, evaluated], self.space)
            elite = _Pool.select([elite, evaluated], self.space)
            if self.best.score < best:
                best = self.best.score
                stalls = 0
            else:
                stalls += 1
        self.polish()

    def polish(self, rounds: int = 20, budget: int | None = None) -> None:
        """Steepest descent from the best candidate over every single move (MapSpace.
        all_neighbours) and every neighbouring keep set, until no move improves (or the
        budget, when given, is spent): a local optimum for single moves."""
        for _ in range(rounds):
            if budget is not None and self.evaluated >= budget:
                return
            best = self.best
            if best.factors is None or best.orders is None:
                return
            factors, orders = self.space.all_neighbours(best.factors, best.orders)
            factors = np.concatenate([best.factors[:, :, None], factors], axis=2)
            orders = np.concatenate([best.orders[:, :, None], orders], axis=2)
            size = factors.shape[-1]
            keeps = [best.keep, *self.keep_neighbours[best.keep]]
            self.run_batch(np.tile(factors, (1, 1, len(keeps))),
                           np.tile(orders, (1, 1, len(keeps))),
                           np.repeat(np.array(keeps, dtype=np.int64), size))
            if self.best.score >= best.score:
                return

    def _kicked(self, elite: _Pool) -> _Pool:
        """ROUND perturbations of the elite: two to four random moves each, unevaluated."""
        factors, orders, parents = self.space.neighbours(self.rng, elite.factors,
                                                         elite.orders, ROUND)
        factors, orders, again = self.space.neighbours(self.rng, factors, orders, ROUND)
        keeps = elite.keeps[parents][again]
        evaluated = self.run_batch(factors, orders, keeps)
        return _Pool.select([evaluated], self.space)

    def _neighbours(self, population: _Pool) -> _Pool:
        """ROUND children of the population: factor and order moves (MapSpace.neighbours);
        a quarter of them also move to a neighbouring keep set, one drawn per parent (so a
        round needs few batches: the batched model shares a keep set per batch)."""
        factors, orders, parents = self.space.neighbours(self.rng, population.factors,
                                                         population.orders, ROUND)
        keeps = population.keeps[parents].copy()
        if len(self.keep_neighbours) > 1:
            moved = np.array([
                options[int(self.rng.integers(0, len(options)))] if options else keep
                for keep in population.keeps.tolist()
                for options in (self.keep_neighbours[keep],)], dtype=np.int64)
            moving = self.rng.random(ROUND) < 0.25
            keeps[moving] = moved[parents[moving]]
        return _Pool(factors, orders, keeps, np.empty(0))

    def _seed(self, budget: int) -> _Pool:
        """ROUND seeds with every temporal factor outermost (keeping what the memories hold)
        and ROUND random samples spread over up to SEED_KEEP_SETS random keep sets; returns
        the best few."""
        space = self.space
        keeps = len(space.keep_choices)
        drawn = self.rng.choice(keeps, size=min(keeps, SEED_KEEP_SETS), replace=False)
        outer_f, outer_o = space.sample(self.rng, ROUND, outer=True)
        sample_f, sample_o = space.sample(self.rng, ROUND)
        pools = [_Pool(outer_f, outer_o, np.zeros(ROUND, dtype=np.int64), np.empty(0)),
                 _Pool(sample_f, sample_o, drawn[np.arange(ROUND) % len(drawn)],
                       np.empty(0))]
        evaluated = []
        for pool in pools:
            if self.evaluated >= budget:
                break
            evaluated.append(self.run_batch(pool.factors, pool.orders, pool.keeps))
        return _Pool.select(evaluated, self.space)


@dataclass(frozen=True, slots=True)
class _Pool:
    """Candidates with their keep-set indices and scores (batch last; scores [K, B], one
    row per objective, lexicographic)."""

    factors: IntArray
    orders: IntArray
    keeps: IntArray
    scores: FloatArray

    @property
    def size(self) -> int:
        return int(self.factors.shape[-1])

    @staticmethod
    def join(parts: list[_Pool], space: MapSpace) -> _Pool:
        parts = [p for p in parts if p.size]
        if not parts:
            return _Pool(np.empty((len(space.slots), space.ndims, 0), np.int64),
                         np.empty((space.nlevels, space.ndims, 0), np.int64),
                         np.empty(0, np.int64), np.empty((1, 0)))
        return _Pool(np.concatenate([p.factors for p in parts], axis=2),
                     np.concatenate([p.orders for p in parts], axis=2),
                     np.concatenate([p.keeps for p in parts]),
                     np.concatenate([p.scores for p in parts], axis=1))

    @staticmethod
    def select(parts: list[_Pool], space: MapSpace) -> _Pool:
        """The POPULATION best valid candidates of the parts (ties: part order)."""
        pool = _Pool.join(parts, space)
        chosen = np.flatnonzero(np.isfinite(pool.scores[0]))
        if len(pool.scores) == 1:
            ranked = np.argsort(pool.scores[0][chosen], kind="stable")
        else:  # lexicographic; lexsort is stable
            ranked = np.lexsort(pool.scores[::-1][:, chosen])
        chosen = chosen[ranked[:POPULATION]]
        return _Pool(pool.factors[:, :, chosen], pool.orders[:, :, chosen],
                     pool.keeps[chosen], pool.scores[:, chosen])


def _keep_neighbours(choices: tuple[tuple[frozenset[str], ...], ...]) -> list[list[int]]:
    """Per keep set, the keep sets that differ from it by one tensor at one level."""
    def distance(a: tuple[frozenset[str], ...], b: tuple[frozenset[str], ...]) -> int:
        return sum(len(x ^ y) for x, y in zip(a, b, strict=True))
    return [[j for j, other in enumerate(choices) if distance(choice, other) == 1]
            for choice in choices]


def _explain_nothing_fits(problem: Problem, arch: ArchModel, space: MapSpace) -> tuple[str, ...]:
    """Why nothing runs: the reasons of the mapping with the smallest tiles (every factor
    at the outermost level, or as far out as the constraints let it; keeping what each
    memory holds, less forced bypasses)."""
    factors = space.smallest_tiles()
    orders = np.tile(np.arange(space.ndims), (space.nlevels, 1))
    mapping = space.to_mapping(factors, orders, space.keep_choices[0])
    reasons = tuple(issue.message for issue in mapping_issues(mapping, problem, arch))
    if reasons and not space.constraints.empty:
        reasons = (*reasons, "(with the smallest tiles the map-space constraints allow)")
    return reasons or ("no candidate of the map space fits the memories",)


def map_problem(problem: Problem, arch: ArchModel,
                options: MapperOptions | None = None) -> MapResult:
    """The best mapping of `problem` on `arch` under `options` (see module doc)."""
    options = options or MapperOptions()
    search = _Search(problem, arch, options)
    size = search.space.size()
    strategy: Search = options.search
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
