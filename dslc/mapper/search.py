"""The mapping search for one problem on one accelerator: `map_problem -> MapResult`.

In: a `Problem`, the resolved accelerator (`ArchModel`, dslc.arch.resolve_accelerator) and
`MapperOptions` (the strategy, the objective: one or several in lexicographic order, and the
map-space constraints). Out: the best valid mapping found, its cost from the scalar
reference model, the (constrained) map space's size and how many candidates were evaluated;
`NoValidMappingError` (a `CannotRunError`, with the reasons: the constraints that conflict,
or the smallest tiles that do not fit) when nothing can run, which is a proof: a search that
found nothing tries the smallest tiles with every keep choice first (`_rescue`);
`SearchLimitError` when the search cannot run as asked (the exhaustive search past
EXHAUSTIVE_LIMIT or on a sampled space), which proves nothing; `DeadlinePassed` at a
deadline.
Candidates are pruned by the meshes and capacity (`BatchEvaluator.fits`) before they are
evaluated, in batches (the compiled kernel, or numpy without numba).

Strategies: `exhaustive` evaluates every candidate of the map space (up to its exact
equivalences); `heuristic` is a seeded iterated local search: seeds (every temporal factor
at the outermost level with every spatial unrolling when there are at most a seed pool's
worth, else random ones; random samples; and seeds that fill
the memories from the inside out, LOMA-style, for the unrollings using the most PEs), local
descents from the best of them, then from the next best filled seeds of each unrolling,
each to its end within five budgets (single moves: a factor to another slot, two loops swapped,
the keep set changed by one tensor at one level; then exchange moves that grow a tile in one
dim while shrinking it in another), then rounds of random moves from the best few,
descending again and restarting from kicked copies of the elite or fresh seeds when it
stalls; it ends polishing the best with swap moves (two dims trade whole divisors between
two slots) and re-splits (the loops two memories hold together split anew, all dims at
once, with those levels' loop order swaps). `random` evaluates random samples only.
`auto` is exhaustive when the space is within the budget, else heuristic. A space that is
a union of cases (order rules at one level that no single rule states, `MapSpace.parts`)
is searched case by case, the budget shared among them and the remembered scores shared by
all of them (`_search_parts`: cases may overlap). Every candidate's score is remembered by
its key, so a candidate is evaluated once and the budget counts distinct candidates. With
numba, the neighbourhoods, the random children, the filled seeds' cuts, each batch (mesh check,
keys, remembered table, pruning, costing and scoring: `_compiled_batch`, one call), each
group of descents (`_compiled_descend`, one call: neighbourhoods, their random orders drawn
from the search's Generator as the Python loop draws them, batches, moves) and the rounds
between restarts (`_compiled_rounds`, one call: kicked restarts, children, batches,
selections, stalls, with their draws from the same Generator) run compiled
(dslc.cost.kernel_numba), each giving what its Python or numpy twin gives; the rest of the
strategy (seeds, fresh-seed restarts, the polish) and every other random draw stay here.
It does not map whole networks (dslc.mapper.network) nor print.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from dslc.arch import ArchModel
from dslc.cost import kernel
from dslc.cost.batched import BatchEvaluator
from dslc.cost.model import evaluate
from dslc.cost.result import Cost
from dslc.lower.problem import Problem
from dslc.mapper.errors import DeadlinePassed, NoValidMappingError, SearchLimitError
from dslc.mapper.space import (
    BoolArray,
    IntArray,
    MapSpace,
    Neighbourhood,
    prime_factors,
    sampled_note,
)
from dslc.mapping.mapping import Mapping, mapping_issues
from dslc.spec.constraints import NO_CONSTRAINTS, MapConstraints
from dslc.spec.limits import MAX_BUDGET

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
_OBJECTIVE_CODES: dict[ObjectiveName, int] = {"energy": 0, "latency": 1, "cycles": 1, "edp": 2}
"""Each objective as the compiled batch's code (`kernel_numba.OBJECTIVE_*`): the same
operations as OBJECTIVES."""
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
STALLS = 4
"""Rounds without a better best before a restart."""
IDLE_ROUNDS = 20
"""Rounds (and restarts) in a row that evaluate nothing new before the search ends."""
SEEN_START_SLOTS = 1 << 17
"""The most slots the remembered keys' hash table starts with (2 MiB of keys and columns;
it doubles as it fills)."""
SEED_KEEP_SETS = 8
"""Keep sets the random seeds of one restart are spread over."""
UNROLLINGS = 12
"""Spatial unrollings (those using the most PEs, from the outermost seeds) that seeds are
filled for."""
CHUNK = 1024
"""Candidates per batch of the local descents (shared by the descents in lockstep)."""
LANES = 4
"""Descents run in lockstep at most; the others wait their turn, in the order given."""
MIN_SHARE = 64
"""At least this many neighbours of each descent per batch."""
DESCENT_STEPS = 50
"""At most this many steps per descent."""
FILLED_STARTS = 12
"""Unrollings whose seeds filled from the inside out (`_filled`) it first descends from,
the best seed of each."""
SAMPLED_STARTS = 2
"""Random seeds it first descends from."""
POLISH_SHARE = 0.1
"""The largest swap neighbourhood the polish takes, as a share of the budget."""
RESPLIT_SHARE = 0.5
"""The largest re-split neighbourhood of two memories the polish takes, its loop order
swaps included, as a share of the budget (the re-splits alone: at most POLISH_SHARE)."""
MORE_FILLED_STARTS = 4
"""Filled seeds of each of those unrollings (the second best, then the third, ...) it
descends from next: the best seed of an unrolling is not always the one whose descent
ends best."""
STARTS_SHARE = 5
"""The descents from the starts (the filled seeds of each unrolling and the random
samples) run to their ends within this many times the budget; the rounds and restarts
then take what is left of the budget, if anything. Which start's basin holds the best
mapping differs from layer to layer and is not the best seed's, so the starts are the
search's spread; the rounds mostly refine what the descents found."""


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
    """Candidates evaluated per (problem, accelerator) by the heuristic and random searches
    (the heuristic's descents from its starts run to their ends within STARTS_SHARE times
    it, and its last descent and polish past it: `MapResult.evaluated` counts them all)."""
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
    """The map space's size (`MapSpace.count`): exact, or its lower bound when
    `mapspace_upper` is given."""
    evaluated: int
    search: Search
    """The strategy that ran (auto resolved)."""
    mapspace_upper: int | None = None
    """None when `mapspace_size` is exact; else the most candidates the space holds (it
    was too large to count exactly)."""


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

    def __init__(self, problem: Problem, arch: ArchModel, options: MapperOptions,
                 space: MapSpace | None = None, remembering: _Search | None = None) -> None:
        self.problem = problem
        self.arch = arch
        self.options = options
        self.space = space if space is not None else MapSpace(
            problem, arch, bypass=options.bypass, imperfect=options.imperfect,
            constraints=options.constraints)
        self.scores = options.scorers()
        self.rng = np.random.default_rng(options.seed)
        choices = self.space.keep_choices
        self.evaluator = BatchEvaluator(problem, arch, choices[0], more_keeps=choices[1:],
                                        imperfect=options.imperfect)
        self.evaluated = 0
        self.best = _Best()
        self.deadline: float | None = None
        """A `time.monotonic()` value past which the search raises DeadlinePassed."""
        self.seen: _Seen = _Seen(options.budget) if remembering is None \
            else remembering.seen
        """The key (`candidate_keys`) of each candidate seen, to its column of
        `seen_scores`; with `remembering` (a union's search, for its parts), that search's,
        so a candidate seen in one part is not evaluated again in another."""
        self.seen_scores: FloatArray = np.full((len(self.scores), 1024), np.inf) \
            if remembering is None else remembering.seen_scores
        """[K, >= len(seen)] the scores of the candidates seen (inf: did not fit, or
        invalid)."""
        self.keep_neighbours = _keep_neighbours(self.space.keep_choices)
        self.keep_table = (
            np.cumsum([0] + [len(n) for n in self.keep_neighbours], dtype=np.int64),
            np.array([k for n in self.keep_neighbours for k in n], dtype=np.int64))
        """`keep_neighbours` as (offsets, values): keep choice k's are values[offsets[k]:
        offsets[k + 1]]."""
        self.objective_codes = None if options.score is not None else np.array(
            [_OBJECTIVE_CODES[name] for name in (
                options.objective if isinstance(options.objective, tuple)
                else (options.objective,))], dtype=np.int64)
        """The objectives as `kernel_numba.search_batch` codes (None: a custom score, which
        only Python computes)."""
        space = self.space
        self.spatial_slots = np.array(
            [(space.slots[s].fanout, 0 if space.slots[s].axis == "x" else 1,
              space.slots[s].extent) for s in space.spatial_slots],
            dtype=np.int64).reshape(-1, 3)
        """[S - L, 3] each spatial slot's fanout, axis (0: X) and mesh extent."""
        tables = self.evaluator.compiled_tables
        self.batch_tables = tables if self.seen.compiled and self.objective_codes is not None \
            else None
        """The kernel's tables when a batch runs in one compiled call (`_compiled_batch`;
        fixed for the search, as `_Seen`'s table is), else None."""

    def run_batch(self, factors: IntArray, orders: IntArray, keeps: IntArray,
                  *, dedupe: bool = True) -> _Pool:
        """Prune (meshes, capacity, already seen), evaluate (each candidate with its keep
        choice), update the best; returns the candidates evaluated now, with their scores."""
        if dedupe:
            compiled = self._compiled_batch(factors, orders, keeps)
            if compiled is not None:
                scores, fresh = compiled
                chosen = fresh[np.isfinite(scores[0, fresh])]
                return _Pool(factors[:, :, chosen], orders[:, :, chosen], keeps[chosen],
                             scores[:, chosen])
        space = self.space
        ok = space.within_meshes(factors)
        factors, orders, keeps = factors[:, :, ok], orders[:, :, ok], keeps[ok]
        remember = False
        if factors.shape[-1] and dedupe:
            # First occurrences of candidates not seen before, in batch order, by a 64-bit
            # key of each canonical row (`candidate_keys`); they take the next columns.
            _, fresh = self.seen.claim(candidate_keys(space, factors, orders, keeps))
            factors, orders, keeps = factors[:, :, fresh], orders[:, :, fresh], keeps[fresh]
            remember = True
        scores = self._evaluate(factors, orders, keeps, remember)
        fitting = np.flatnonzero(np.isfinite(scores[0]))
        return _Pool(factors[:, :, fitting], orders[:, :, fitting], keeps[fitting],
                     scores[:, fitting])

    def score_all(self, factors: IntArray, orders: IntArray, keeps: IntArray) -> FloatArray:
        """[K, B] the scores of every candidate in batch order (inf: outside the meshes,
        does not fit, or invalid): those seen before from memory, the others evaluated
        (each distinct one once) and remembered."""
        compiled = self._compiled_batch(factors, orders, keeps)
        if compiled is not None:
            return compiled[0]
        space = self.space
        scores = np.full((len(self.scores), factors.shape[-1]), np.inf)
        inside = np.flatnonzero(space.within_meshes(factors))
        if inside.size == 0:
            return scores
        factors, orders, keeps = factors[:, :, inside], orders[:, :, inside], keeps[inside]
        # Each distinct key's first occurrence not seen before is evaluated (in batch
        # order: ties go to the earlier one) and takes the next column of the scores.
        columns, fresh = self.seen.claim(candidate_keys(space, factors, orders, keeps))
        self._evaluate(factors[:, :, fresh], orders[:, :, fresh], keeps[fresh], True)
        scores[:, inside] = self.seen_scores[:, columns]
        return scores

    def _compiled_batch(self, factors: IntArray, orders: IntArray, keeps: IntArray
                        ) -> tuple[FloatArray, IntArray] | None:
        """`score_all` in one compiled call (`kernel.run_search_batch`): ([K, B] every
        candidate's scores, the positions of those evaluated now), the count and the best
        updated as `_evaluate` does; None when it cannot run (no compiled kernel, or a
        custom score), and the numpy steps then do the same."""
        tables, codes = self.batch_tables, self.objective_codes
        if tables is None or codes is None:
            return None
        seen = self.seen
        size = factors.shape[-1]
        seen.keys, seen.columns, self.seen_scores = kernel.run_seen_room(
            seen.keys, seen.columns, self.seen_scores, seen.count, size)
        scores, fresh, fitting, best = kernel.run_search_batch(
            tables, factors, orders, keeps, self.spatial_slots, _KEY_MULTIPLIERS, seen.keys,
            seen.columns, seen.count, self.seen_scores, codes)
        seen.count += fresh.size
        self.evaluated += fitting
        if best >= 0:
            value = tuple(float(v) for v in scores[:, best])
            if value < self.best.score:
                self.best = _Best(value, factors[:, :, best].copy(),
                                  orders[:, :, best].copy(), int(keeps[best]))
        return scores, fresh

    def _evaluate(self, factors: IntArray, orders: IntArray, keeps: IntArray,
                  remember: bool) -> FloatArray:
        """[K, B] the scores of candidates not evaluated before (inf: does not fit, or
        invalid); counts them, updates the best and, with `remember`, stores their scores
        in the last B columns `seen.claim` gave out (their keys')."""
        scores = np.full((len(self.scores), factors.shape[-1]), np.inf)
        if factors.shape[-1] == 0:
            return scores
        space = self.space
        fits = self.evaluator.fits(space.batch(factors, orders, keeps))
        if fits.any():
            cost = self.evaluator.totals(space.batch(factors[:, :, fits], orders[:, :, fits],
                                                     keeps[fits]))
            self.evaluated += int(np.count_nonzero(fits))
            cycles = cost.cycles.astype(np.float64)
            scores[:, fits] = np.stack([np.where(cost.valid, score(cost.energy_pj, cycles),
                                                 np.inf) for score in self.scores])
            # Ties go to the earlier candidate, so results do not depend on batch boundaries.
            best = int(np.argmin(scores[0])) if len(scores) == 1 else \
                int(np.lexsort(scores[::-1])[0])
            value = tuple(float(v) for v in scores[:, best])
            if value < self.best.score:
                self.best = _Best(value, factors[:, :, best].copy(),
                                  orders[:, :, best].copy(), int(keeps[best]))
        if remember:
            end = len(self.seen)
            start = end - scores.shape[1]
            if end > self.seen_scores.shape[1]:
                grown = np.full((len(self.scores), 2 * end), np.inf)
                grown[:, :start] = self.seen_scores[:, :start]
                self.seen_scores = grown
            self.seen_scores[:, start:end] = scores
        return scores

    def exhaustive(self, *, dedupe: bool = False) -> None:
        """Every candidate of the space, each fitting one evaluated; with `dedupe`, those
        not seen before only (a union's part: the parts may overlap, and the enumeration
        alone holds each candidate once)."""
        space = self.space
        for keep in range(len(space.keep_choices)):
            def fits(factors: IntArray, keep: int = keep) -> BoolArray:
                size = factors.shape[-1]
                identity = np.broadcast_to(np.arange(space.ndims)[None, :, None],
                                           (space.nlevels, space.ndims, size))
                return self.evaluator.fits(space.batch(factors, identity,
                                                       np.full(size, keep, dtype=np.int64)))

            for factors, orders in space.enumerate(tilings=fits):
                self.check_deadline()
                self.run_batch(factors, orders, np.full(factors.shape[-1], keep, np.int64),
                               dedupe=dedupe)

    def check_deadline(self) -> None:
        """Raise DeadlinePassed when the deadline has passed."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlinePassed

    def random(self) -> None:
        budget = self.options.budget
        stalls = 0
        while self.evaluated < budget and stalls < 50:
            self.check_deadline()
            before = self.evaluated
            factors, orders = self.space.sample(self.rng, ROUND)
            self.run_batch(factors, orders, np.zeros(ROUND, dtype=np.int64))
            stalls = stalls + 1 if self.evaluated == before else 0

    def heuristic(self) -> None:
        """Iterated local search: descend (`descend`) from the best seeds, then from kicked
        copies of the best found (a few random moves away) and, in turn, from fresh seeds,
        until the budget is spent or nothing new is evaluated."""
        budget = self.options.budget
        self.check_deadline()
        outer, sampled = self._seed_pools(budget, every_unrolling=True)
        spatial = self._diverse(outer, UNROLLINGS, by_use=True)
        filled = self._filled(spatial)
        # The best filled seed of each unrolling and the best random samples, then the
        # next best filled seeds of each unrolling (in that order: descents seldom leave
        # the basin they start in, and which seed's basin holds the best mapping differs
        # from layer to layer), each descent to its end, within STARTS_SHARE budgets.
        firsts = self._diverse(filled, FILLED_STARTS)
        starts = _Pool.join([firsts, self._diverse(sampled, SAMPLED_STARTS),
                             self._diverse(filled, FILLED_STARTS, per=1 + MORE_FILLED_STARTS,
                                           skip=1)], self.space)
        self.descend(starts, budget=STARTS_SHARE * budget)
        # Then evolve a population (random moves from the best few), descending from the
        # best when it stalls, and restarting from kicked copies of the elite and from fresh
        # seeds in turn.
        population = _Pool.select([starts, outer, sampled], self.space)
        elite = population
        best = self.best.score
        stalls = restarts = idle = 0
        while self.evaluated < budget and idle < IDLE_ROUNDS:
            self.check_deadline()
            kick = False
            if population.size == 0 or stalls >= STALLS:
                self._descend_best()
                restarts += 1
                stalls = 0
                if restarts % 2 and elite.size:
                    kick = True  # the rounds start from kicked copies of the elite
                else:
                    seeds = self._seed(budget)
                    if seeds.size:
                        population = seeds
                    if population.size == 0:
                        idle += 1
                        continue
            # Every round until a restart is due or the loop ends: compiled, or in Python.
            counters = (stalls, idle, budget)
            population, elite, best, stalls, idle = \
                self._compiled_rounds(population, elite, best, counters, kick) \
                or self._rounds(population, elite, best, counters, kick)
        self._descend_best(budget=None)
        self._polish()

    def _polish(self) -> None:
        """Swap moves (`MapSpace.swap_moves`: two dims trade whole divisors between two
        slots, in opposite directions) from the best, and a descent from a better one found,
        until none improves; then the re-splits of each pair of memories' loops
        (`MapSpace.resplits`), and a descent and the swaps again from a better one. An
        exchange move trades within a factor of 2; a swap of C 8 for K 2 between two levels
        (ResNet-50 `l4.skip` on eyeriss_like: 7% better) is a pair of moves each of which
        alone breaks a capacity or loses reuse, and a re-split moves any number of dims at
        once (VGG-16 `s3.first.conv` on simple_os_16x16: 2.1% better). A few hundred to a
        few thousand candidates per neighbourhood: the best only, past the budget as the
        last descent is, and only neighbourhoods of at most POLISH_SHARE of the budget
        (the re-splits with their order swaps: RESPLIT_SHARE), so small budgets, as
        co-design's mapper uses, are not doubled by it. The re-splits come only after the
        swaps end, so the polish ends where it did without them or better."""
        while self._polish_step(self._swapped) or self._polish_step(self._resplit):
            self._descend_best(budget=None)

    def _polish_step(self, neighbourhood: Callable[[IntArray, IntArray, int],
                                                   tuple[IntArray, IntArray] | None]) -> bool:
        """Score `neighbourhood(best factors, best orders, largest size)` with the best's
        keep set; True when it holds a better mapping (then the best)."""
        best = self.best
        if best.factors is None or best.orders is None:
            return False
        found = neighbourhood(best.factors, best.orders,
                              int(POLISH_SHARE * self.options.budget))
        if found is None or found[0].shape[-1] == 0:
            return False
        factors, orders = found
        self.score_all(factors, orders, np.full(factors.shape[-1], best.keep, dtype=np.int64))
        return self.best.score < best.score  # score_all keeps the best it evaluates

    def _swapped(self, factors: IntArray, orders: IntArray, largest: int
                 ) -> tuple[IntArray, IntArray] | None:
        """The swap neighbourhood of `factors` with `orders`, or None when it is over
        `largest`."""
        space = self.space
        first, second = space.swap_moves(space.factor_moves(factors, whole=True))
        swapped = space.apply_moves(factors, first, second)
        swapped = swapped[:, :, space.valid_moved(swapped)]
        if swapped.shape[-1] > largest:
            return None
        # The best's orders obey any order rule already; swaps change only factors.
        return swapped, np.repeat(orders[:, :, None], swapped.shape[-1], axis=2)

    def _resplit(self, factors: IntArray, orders: IntArray, largest: int
                 ) -> tuple[IntArray, IntArray] | None:
        """The re-splits (`MapSpace.resplits`) of each pair of memories whose count is at
        most `largest`, each with `orders` and with each swap of two of its loops in those
        two memories (`MapSpace.with_order_swaps`: a tiling that moves loops between two
        memories often wants them in another order, which the descent after it would
        reach only through a worse first step), the pair's whole neighbourhood at most
        RESPLIT_SHARE of the budget; None when no pair has one."""
        space = self.space
        most = int(RESPLIT_SHARE * self.options.budget)
        parts: list[tuple[IntArray, IntArray]] = []
        # Temporal slot a is memory level a (MapSpace.slots lists them first).
        for a, b in itertools.combinations(range(space.nlevels), 2):
            if not 0 < space.resplit_count(factors, a, b) <= min(largest, most):
                continue
            split = space.resplits(factors, a, b)
            split = split[:, :, space.valid_moved(split)]
            found = space.with_order_swaps(split, orders, (a, b), most)
            if found is not None:
                parts.append(found)
        if not parts:
            return None
        return (np.concatenate([f for f, _ in parts], axis=2),
                np.concatenate([o for _, o in parts], axis=2))

    def _descend_best(self, budget: int | None = 0) -> None:
        best = self.best
        if best.factors is not None and best.orders is not None:
            self.descend(_Pool(best.factors[:, :, None], best.orders[:, :, None],
                               np.array([best.keep]), np.array(best.score)[:, None]),
                         budget=budget)

    def descend(self, starts: _Pool, budget: int | None = 0) -> None:
        """Local descents from each of `starts`, in order, LANES at a time in lockstep (one
        batch serves them all):
        each takes its neighbourhood of single moves (factor moves and loop swaps, and
        its tiling with a neighbouring keep set) and, when none improves, of exchange moves
        (`MapSpace.exchange_moves`: a tile grows in one dim as it shrinks in another, which
        a full memory needs), in a random order, a share of CHUNK candidates per batch,
        and moves to the best of the first share that improves. A descent ends at a local
        optimum of both neighbourhoods or after DESCENT_STEPS moves; all end at the budget
        (`budget` 0: the search's; None: none)."""
        limit = self.options.budget if budget == 0 else budget
        if self._compiled_descend(starts, limit):
            return
        waiting = [_Descent(starts.factors[:, :, i], starts.orders[:, :, i],
                            int(starts.keeps[i]), tuple(float(v) for v in starts.scores[:, i]))
                   for i in range(starts.size)][::-1]
        active: list[_Descent] = []
        while limit is None or self.evaluated < limit:
            active = [descent for descent in active if self._ready(descent)]
            while waiting and len(active) < LANES:
                descent = waiting.pop()
                if self._ready(descent):
                    active.append(descent)
            if not active:
                return
            share = max(CHUNK // len(active), MIN_SHARE)
            parts = []
            for descent in active:
                assert descent.moves is not None
                end = min(descent.at + share, descent.moves.size)
                parts.append(descent.moves.take(descent.order[descent.at:end]))
                descent.at = end
            factors, orders, keeps = (np.concatenate([part[i] for part in parts], axis=-1)
                                      for i in range(3))
            scores = self.score_all(factors, orders, keeps)
            offset = 0
            for descent, part in zip(active, parts, strict=True):
                count = part[2].size
                mine = scores[:, offset:offset + count]
                best = int(np.argmin(mine[0])) if len(mine) == 1 else \
                    int(np.lexsort(mine[::-1])[0])
                value = tuple(float(v) for v in mine[:, best])
                if value < descent.score:
                    column = offset + best
                    descent.factors = factors[:, :, column]
                    descent.orders = orders[:, :, column]
                    descent.keep, descent.score = int(keeps[column]), value
                    descent.steps += 1
                    descent.moves, descent.exchange, descent.at = None, False, 0
                offset += count

    def _compiled_descend(self, starts: _Pool, limit: int | None) -> bool:
        """`descend` in one compiled call (`kernel.run_descend`: the same batches, moves
        and random draws, so the same descents); False when it cannot run (no compiled
        batch, or constraints whose neighbourhoods are built in numpy)."""
        tables, codes = self.batch_tables, self.objective_codes
        space = self.space
        if tables is None or codes is None or not space.compiled_moves or starts.size == 0:
            return False
        seen = self.seen
        state = self._best_state()
        before = state[0].copy()
        (self.evaluated, seen.count, seen.keys, seen.columns,
         self.seen_scores) = kernel.run_descend(
            self.rng, tables, (starts.factors, starts.orders, starts.keeps), starts.scores,
            -1 if limit is None else limit, self.evaluated, state,
            space.move_table, self.keep_table, (LANES, CHUNK, MIN_SHARE, DESCENT_STEPS),
            self.spatial_slots, _KEY_MULTIPLIERS, seen.keys, seen.columns, seen.count,
            self.seen_scores, codes)
        self._take_best(state, before)
        return True

    def _best_state(self) -> tuple[FloatArray, IntArray, IntArray, IntArray]:
        """The best as the compiled calls take it, to update in place: scores (inf when
        none yet), factors, orders and keep choice (placeholders when none)."""
        space, best = self.space, self.best
        scores = np.full(len(self.scores), np.inf)
        scores[:len(best.score)] = best.score
        factors = np.ones((len(space.slots), space.ndims), dtype=np.int64) \
            if best.factors is None else best.factors.copy()
        orders = np.zeros((space.nlevels, space.ndims), dtype=np.int64) \
            if best.orders is None else best.orders.copy()
        return scores, factors, orders, np.array([best.keep], dtype=np.int64)

    def _take_best(self, state: tuple[FloatArray, IntArray, IntArray, IntArray],
                   before: FloatArray) -> None:
        """The best from a compiled call's `_best_state`, when its scores moved from
        `before`."""
        scores, factors, orders, keep = state
        if not np.array_equal(scores, before):
            self.best = _Best(tuple(float(v) for v in scores), factors, orders, int(keep[0]))

    def _rounds(self, population: _Pool, elite: _Pool, best: tuple[float, ...],
                counters: tuple[int, int, int], kick: bool = False
                ) -> tuple[_Pool, _Pool, tuple[float, ...], int, int]:
        """The rounds of `heuristic` from `population` (not empty) and `elite` (`best`: the
        score the stalls count against; `counters`: stalls, below STALLS, idle rounds,
        budget): one round, then more until a restart is due (STALLS rounds without a
        better best, or no population) or the loop ends (the budget spent, or IDLE_ROUNDS
        rounds in a row evaluating nothing new): ROUND random children of the population
        per round (`_neighbours`), their batch, the population and the elite re-selected.
        The first round runs whatever the count: `heuristic` checks the budget before a
        restart's descent and kicked or fresh seeds, and a round follows them (a budget
        spent by the restart still sees that round). With `kick` (a restart), the
        population is first the kicked copies of the elite (`_kicked`); when none fits the
        restart was idle and no round runs. Returns (population, elite, best, stalls,
        idle). The Python twin of `_compiled_rounds`."""
        stalls, idle, budget = counters
        if kick:
            population = self._kicked(elite)
            if population.size == 0:
                return population, elite, best, stalls, idle + 1
        first = True  # `heuristic` checked the budget before its restart: this round runs
        while first or (self.evaluated < budget and idle < IDLE_ROUNDS and population.size
                        and stalls < STALLS):
            first = False
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
        return population, elite, best, stalls, idle

    def _compiled_rounds(self, population: _Pool, elite: _Pool, best: tuple[float, ...],
                         counters: tuple[int, int, int], kick: bool = False
                         ) -> tuple[_Pool, _Pool, tuple[float, ...], int, int] | None:
        """`_rounds` (a restart's kicked copies with `kick`, the first round, then more
        until a restart is due or the loop ends) in one compiled call (`kernel.run_rounds`:
        the same children, batches, selections and random draws): (population, elite,
        best, stalls, idle); None when it cannot run (as `_compiled_descend`), and the
        Python loop then does."""
        tables, codes = self.batch_tables, self.objective_codes
        space = self.space
        if tables is None or codes is None or not space.compiled_moves:
            return None
        seen = self.seen
        state = self._best_state()
        before = state[0].copy()
        reference = np.full(len(self.scores), np.inf)
        reference[:len(best)] = best
        stalls, idle, budget = counters
        (self.evaluated, seen.count, seen.keys, seen.columns, self.seen_scores,
         *pools, stalls, idle) = kernel.run_rounds(
            self.rng, tables,
            (population.factors, population.orders, population.keeps, population.scores),
            (elite.factors, elite.orders, elite.keeps, elite.scores), kick, reference,
            (stalls, idle, STALLS, IDLE_ROUNDS, budget, self.evaluated),
            state, (ROUND, POPULATION), self.keep_table,
            space.random_move_tables, self.spatial_slots, _KEY_MULTIPLIERS, seen.keys,
            seen.columns, seen.count, self.seen_scores, codes)
        self._take_best(state, before)
        return (_Pool(*pools[:4]), _Pool(*pools[4:]), tuple(float(v) for v in reference),
                int(stalls), int(idle))

    def _ready(self, descent: _Descent) -> bool:
        """Give `descent` candidates to take (its next neighbourhood when it moved or
        exhausted one); False when it has ended."""
        space = self.space
        while descent.steps < DESCENT_STEPS:
            if descent.moves is not None and descent.at < descent.moves.size:
                return True
            if descent.moves is not None:  # exhausted: next neighbourhood, or the end
                if descent.exchange:
                    return False
                descent.exchange = True
            factors, orders, keep = descent.factors, descent.orders, descent.keep
            descent.moves = space.exchange_neighbourhood(factors, orders, keep) \
                if descent.exchange else space.single_neighbourhood(
                    factors, orders, keep, self.keep_neighbours[keep])
            descent.order = self.rng.permutation(descent.moves.size)
            descent.at = 0
        return False

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

    def _filled(self, spatial: _Pool) -> _Pool:
        """Seeds that fill the memories from the inside out (as ZigZag's LOMA allocates
        loops): for each spatial unrolling of `spatial`, random orders of the prime
        factors left for the temporal loops, each cut into levels greedily, innermost
        first, as many loops per level as fit. Evaluated (keeping what the memories hold);
        empty under map-space constraints or padded factorisations, which the cuts ignore."""
        space = self.space
        if not space.constraints.empty or self.options.imperfect or spatial.size == 0:
            return _Pool.join([], space)
        levels = space.nlevels
        per_unrolling = max(1, min(ROUND, self.options.budget // 4) // spatial.size)
        parts = []
        for u in range(spatial.size):
            unrolled = spatial.factors[levels:, :, u]
            left = np.array(space.problem.bounds, dtype=np.int64) // np.prod(unrolled, axis=0)
            primes = [(d, p) for d in range(space.ndims) for p in prime_factors(int(left[d]))]
            if not primes:
                continue
            dims = np.array([d for d, _ in primes], dtype=np.int64)
            values = np.array([p for _, p in primes], dtype=np.int64)
            n, size = len(primes), per_unrolling
            # [size, n]: each row an order of the primes, innermost first.
            ranks = np.argsort(self.rng.random((size, n)), axis=1)
            order_dims, order_values = dims[ranks], values[ranks]
            tables = self.evaluator.compiled_tables
            slot_of = self._filled_cuts(order_dims, order_values, unrolled) \
                if tables is None else kernel.run_filled_cuts(
                    tables, order_dims, order_values, *self._spatial_xy(unrolled), levels)
            factors = self._assemble(slot_of, order_dims, order_values, unrolled, 1)
            # Per level, outer to inner: the dims by their innermost prime there, the one
            # placed outermost first; dims without a loop there after them.
            innermost = np.full((size, levels, space.ndims), n, dtype=np.int64)
            rows = np.arange(size)
            for i in range(n - 1, -1, -1):
                innermost[rows, slot_of[:, i], order_dims[:, i]] = i
            key = np.where(innermost < n, -innermost, n)
            orders = np.ascontiguousarray(
                np.argsort(key, axis=2, kind="stable").transpose(1, 2, 0))
            parts.append((factors, orders))
        if not parts:
            return _Pool.join([], space)
        factors = np.concatenate([f for f, _ in parts], axis=2)
        orders = np.concatenate([o for _, o in parts], axis=2)
        return self.run_batch(factors, orders, np.zeros(factors.shape[-1], dtype=np.int64))

    def _filled_cuts(self, order_dims: IntArray, order_values: IntArray,
                     unrolled: IntArray) -> IntArray:
        """[B, n] the level of each prime of each row (primes innermost first): from the
        innermost ordered level out, the longest run of the next primes that still fits
        (the numpy path; `kernel.run_filled_cuts` is the compiled one)."""
        space = self.space
        levels = space.nlevels
        size, n = order_dims.shape
        cut = np.zeros(size, dtype=np.int64)  # loops placed so far, from the inside
        slot_of = np.zeros((size, n), dtype=np.int64)  # 0: the outermost level
        for level in range(levels - 1, 0, -1):
            # Every cut from here to the end, for every order: the largest that fits.
            ends = cut[:, None] + np.arange(n + 1)[None, :]  # [size, n+1]
            valid = ends <= n
            trial = np.repeat(slot_of[:, None, :], n + 1, axis=1)  # [size, n+1, n]
            position = np.arange(n)[None, None, :]
            placing = (position >= cut[:, None, None]) & (position < ends[:, :, None])
            trial[placing] = level
            factors = self._assemble(trial.reshape(-1, n), order_dims, order_values,
                                     unrolled, n + 1)
            identity = np.broadcast_to(np.arange(space.ndims)[None, :, None],
                                       (levels, space.ndims, factors.shape[-1]))
            fits = self.evaluator.fits(space.batch(
                factors, np.ascontiguousarray(identity),
                np.zeros(factors.shape[-1], dtype=np.int64))).reshape(size, n + 1)
            fits &= valid
            # The longest prefix of cuts that fits (cutting nothing always does).
            fits[:, 0] = True
            longest = np.argmin(np.concatenate([fits, np.zeros((size, 1), bool)], axis=1),
                                axis=1) - 1
            chosen = trial[np.arange(size), longest]
            slot_of = chosen
            cut = cut + longest
        return slot_of

    def _spatial_xy(self, unrolled: IntArray) -> tuple[IntArray, IntArray]:
        """`unrolled [spatial slots, D]` as the cost model's [F, D] X and Y factors."""
        space = self.space
        sx = np.ones((len(space.arch.fanouts), space.ndims), dtype=np.int64)
        sy = np.ones_like(sx)
        for i, s in enumerate(space.spatial_slots):
            slot = space.slots[s]
            (sx if slot.axis == "x" else sy)[slot.fanout] = unrolled[i]
        return sx, sy

    def _assemble(self, slot_of: IntArray, dims: IntArray, values: IntArray,
                  unrolled: IntArray, repeat: int) -> IntArray:
        """[S, D, B] factors: prime i of row b (of `dims`/`values`, rows repeated `repeat`
        times) at temporal slot `slot_of[b, i]`, the spatial slots `unrolled`."""
        space = self.space
        size = slot_of.shape[0]
        dims = np.repeat(dims, repeat, axis=0)
        values = np.repeat(values, repeat, axis=0)
        nslots = len(space.slots)
        # One weighted bincount sums the primes' logarithms per (slot, dim, column); the
        # products (below 2^53) come back exactly by rounding.
        cells = (slot_of * space.ndims + dims) * size + np.arange(size)[:, None]
        logs = np.bincount(cells.reshape(-1), weights=np.log(values).reshape(-1),
                           minlength=nslots * space.ndims * size)
        factors = np.rint(np.exp(logs)).astype(np.int64).reshape(nslots, space.ndims, size)
        factors[space.nlevels:] = unrolled[:, :, None]
        return factors

    def _diverse(self, pool: _Pool, count: int, *, by_use: bool = False, per: int = 1,
                 skip: int = 0) -> _Pool:
        """The first `count` spatial unrollings (the factors of the spatial slots) of
        `pool` in the order of their best candidate, and of each its best `per` candidates
        less the best `skip`: every unrolling's best first, then every one's second best,
        ... (a descent seldom changes a whole unrolling, so starts that differ in it
        explore what moves do not reach)."""
        if pool.size == 0:
            return pool
        spatial = pool.factors[self.space.nlevels:]
        used = np.prod(spatial, axis=(0, 1))
        # The most instances used first, then the best score.
        ranked = np.lexsort([*pool.scores[::-1], -used] if by_use else pool.scores[::-1])
        ranked = ranked[np.isfinite(pool.scores[0][ranked])]
        # In rank order: each unrolling's place (the order of first appearances) and each
        # candidate's rank within its unrolling; the first `count` unrollings' candidates
        # of ranks skip..per-1 are taken, by rank, then place, then rank order.
        rows = np.ascontiguousarray(spatial.reshape(-1, pool.size)[:, ranked].T)
        size = rows.shape[0]
        if size == 0 or rows.shape[1] == 0:  # none, or no spatial slot: one unrolling
            first, group = np.zeros(min(size, 1), np.int64), np.zeros(size, np.int64)
        else:
            whole = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))
            _, first, group = np.unique(whole.ravel(), return_index=True, return_inverse=True)
            group = group.ravel()
        place = np.empty(first.size, dtype=np.int64)
        place[np.argsort(first, kind="stable")] = np.arange(first.size)
        by_group = np.argsort(group, kind="stable")
        rank = np.empty(size, dtype=np.int64)
        rank[by_group] = np.arange(size) - np.searchsorted(group[by_group], group[by_group])
        here = place[group]
        taken = np.flatnonzero((here < count) & (rank >= skip) & (rank < per))
        chosen = ranked[taken[np.lexsort((taken, here[taken], rank[taken]))]]
        return _Pool(pool.factors[:, :, chosen], pool.orders[:, :, chosen],
                     pool.keeps[chosen], pool.scores[:, chosen])

    def _seeds(self) -> int:
        """Seeds of each kind per restart: ROUND, or an eighth of a smaller budget (filled
        seeds: ROUND or a quarter), so that a small budget still leaves half for the
        descents."""
        return max(16, min(ROUND, self.options.budget // 8))

    def _seed_pools(self, budget: int, *, every_unrolling: bool = False
                    ) -> tuple[_Pool, _Pool]:
        """`_seeds()` seeds with every temporal factor outermost (keeping what the memories
        hold) and as many random samples spread over up to SEED_KEEP_SETS random keep sets,
        evaluated (each pool empty when the budget was spent before it). With
        `every_unrolling`, when the space has at most `_seeds()` spatial unrollings (and no
        constraints nor padded factors), the outermost seeds are those unrollings, each
        once, rather than random ones: the unrollings that fill the arrays (often two dims
        on one axis, P 4 x Q 4) are then sure to be among them."""
        space = self.space
        keeps = len(space.keep_choices)
        drawn = self.rng.choice(keeps, size=min(keeps, SEED_KEEP_SETS), replace=False)
        count = self._seeds()
        unrolled = space.unrollings(count) \
            if every_unrolling and space.constraints.empty and not self.options.imperfect \
            else None
        if unrolled is not None:
            outer_f = np.ones((len(space.slots), space.ndims, unrolled.shape[-1]),
                              dtype=np.int64)
            outer_f[space.nlevels:] = unrolled
            outer_f[0] = np.array(space.problem.bounds, dtype=np.int64)[:, None] \
                // np.prod(unrolled, axis=0)
            outer_o = space.random_orders(self.rng, unrolled.shape[-1])
            if unrolled.shape[-1] < count:  # the rest random, as without
                more_f, more_o = space.sample(self.rng, count - unrolled.shape[-1], outer=True)
                outer_f = np.concatenate([outer_f, more_f], axis=2)
                outer_o = np.concatenate([outer_o, more_o], axis=2)
        else:
            outer_f, outer_o = space.sample(self.rng, count, outer=True)
        sample_f, sample_o = space.sample(self.rng, count)
        pools = [_Pool(outer_f, outer_o, np.zeros(outer_f.shape[-1], dtype=np.int64),
                       np.empty(0)),
                 _Pool(sample_f, sample_o, drawn[np.arange(count) % len(drawn)],
                       np.empty(0))]
        evaluated = []
        for pool in pools:
            if self.evaluated >= budget:
                evaluated.append(_Pool.join([], space))
                continue
            evaluated.append(self.run_batch(pool.factors, pool.orders, pool.keeps))
        return evaluated[0], evaluated[1]

    def _seed(self, budget: int) -> _Pool:
        """The best few of `_seed_pools`."""
        return _Pool.select(list(self._seed_pools(budget)), self.space)


class _Seen:
    """The keys of the candidates seen (`candidate_keys`), each with its column of the
    remembered scores (the n-th key claimed has column n). With the compiled kernel, an
    open-addressing hash table (`kernel_numba.seen_claim`); without, sorted arrays searched
    with `np.searchsorted`: one pass or a few vector operations per batch where a dict took
    a Python lookup per candidate. Both give the same columns."""

    __slots__ = ("columns", "compiled", "count", "keys")

    def __init__(self, budget: int) -> None:
        self.compiled = kernel.available()
        """Which of the two tables (fixed for the search)."""
        self.count = 0
        """Keys held."""
        # Sized for the keys a search of this budget usually claims, so that it rarely
        # grows (doubling re-inserts every key).
        size = _seen_start_slots(budget) if self.compiled else 0
        self.keys = np.zeros(size, dtype=np.uint64)
        """The hash table's keys (compiled), or the keys ascending."""
        self.columns = np.full(size, -1, dtype=np.int64)
        """The column of each key (-1: an empty slot of the hash table)."""

    def __len__(self) -> int:
        return self.count

    def claim(self, keys: npt.NDArray[np.uint64]) -> tuple[IntArray, IntArray]:
        """([B] the column of each key, [F] the positions of the first occurrences of the
        keys not seen before, ascending): those keys are now held, at the next columns in
        that order."""
        if self.compiled:
            while 2 * (self.count + keys.size) > self.keys.size:
                self.keys, self.columns = kernel.run_seen_grow(self.keys, self.columns)
            columns, fresh = kernel.run_seen_claim(self.keys, self.columns, self.count, keys)
            self.count += fresh.size
            return columns, fresh
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first)  # first occurrences in batch order
        found = self.find(unique[order])
        new = found < 0
        fresh = first[order[new]]
        found[new] = self.count + np.arange(fresh.size)
        self.add(keys[fresh])
        by_key = np.empty_like(found)
        by_key[order] = found
        return by_key[inverse.reshape(-1)], fresh

    def find(self, keys: npt.NDArray[np.uint64]) -> IntArray:
        """[B] the column of each key, -1 for a key not seen (sorted arrays)."""
        if self.count == 0:
            return np.full(keys.size, -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), self.count - 1)
        found: IntArray = np.where(self.keys[at] == keys, self.columns[at], -1)
        return found

    def add(self, keys: npt.NDArray[np.uint64]) -> None:
        """Hold `keys` (distinct, none seen before), in this order, at the next columns
        (sorted arrays)."""
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self.keys, keys[order])
        self.keys = np.insert(self.keys, at, keys[order])
        self.columns = np.insert(self.columns, at, self.count + order)
        self.count += keys.size


def _seen_start_slots(budget: int) -> int:
    """The compiled table's first size for a search of `budget`: the least power of two of
    at least 8 x budget slots (room for four keys per unit of budget, the table at most half
    full; bench_mapper's searches claim 4.4 on average), at least 2^12 and at most
    SEEN_START_SLOTS (a larger search's table grows as it fills)."""
    wanted = max(8 * budget, 1 << 12)
    return min(1 << (wanted - 1).bit_length(), SEEN_START_SLOTS)


@dataclass(slots=True)
class _Descent:
    """One local descent in progress (`_Search.descend`)."""

    factors: IntArray
    orders: IntArray
    keep: int
    score: tuple[float, ...]
    steps: int = 0
    exchange: bool = False
    """Taking the exchange neighbourhood (the single moves did not improve)."""
    moves: Neighbourhood | None = None
    """The neighbourhood being taken."""
    order: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """The order it is taken in (a random permutation of its candidates)."""
    at: int = 0
    """How much of it was taken."""


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
    """Per keep set, the keep sets that differ from it by one tensor at one level (in the
    order of `choices`). Each keep set as a row of (level, tensor) flags, the distances of
    all pairs in one matrix product."""
    if not choices:
        return []
    names = sorted({name for choice in choices for level in choice for name in level})
    flags = np.array([[name in level for level in choice for name in names]
                      for choice in choices], dtype=np.int64)
    # |a ^ b| = |a| + |b| - 2 |a & b| per pair of rows.
    sizes = flags.sum(axis=1)
    distance = sizes[:, None] + sizes[None, :] - 2 * (flags @ flags.T)
    return [np.flatnonzero(row == 1).tolist() for row in distance]


def _explain_nothing_fits(problem: Problem, arch: ArchModel, space: MapSpace) -> tuple[str, ...]:
    """Why nothing runs: the reasons of the mapping with the smallest tiles (every factor
    at the outermost level, or as far out as the constraints let it; keeping what each
    memory holds, less forced bypasses). A union's own splits ignore its order rules, so
    each of its parts is explained: the reasons every part gives once, each other reason
    after the parts that give it (one part may lack a buffer another has room in)."""
    if not space.parts:
        reasons = _smallest_tiles_reasons(problem, arch, space)
        if reasons and not space.constraints.empty:
            reasons = (*reasons, "(with the smallest tiles the map-space constraints allow)")
        return reasons or ("no candidate of the map space fits the memories",)
    per_part = [(part.case, _smallest_tiles_reasons(problem, arch, part)
                 or ("no candidate of the map space fits the memories",))
                for part in space.parts]
    everywhere = [r for r in per_part[0][1] if all(r in reasons for _, reasons in per_part)]
    cases_of: dict[str, list[str]] = {}
    for case, reasons in per_part:
        for reason in reasons:
            if reason not in everywhere:
                cases_of.setdefault(reason, []).append(case)
    return (*everywhere,
            *(f"with {' or with '.join(cases)}: {reason}" for reason, cases in cases_of.items()),
            f"(in each of the {len(per_part)} cases of the order rules, with the smallest "
            "tiles the map-space constraints allow: no case holds a mapping that fits)")


def _smallest_tiles_reasons(problem: Problem, arch: ArchModel, space: MapSpace
                            ) -> tuple[str, ...]:
    """What the mapping with the smallest tiles and the least keeps of a space of single
    rules breaks (what every mapping of the space breaks, `MapSpace.least_keep`)."""
    factors = space.smallest_tiles()
    orders = np.tile(np.arange(space.ndims), (space.nlevels, 1))
    mapping = space.to_mapping(factors, orders, space.keep_choices[space.least_keep])
    return tuple(issue.message for issue in mapping_issues(mapping, problem, arch))


def _rescue(search: _Search, strategy: Search) -> None:
    """When a heuristic or random search found nothing that fits: the smallest tiles (as
    far out as the constraints let every factor go) with every keep choice, evaluated, and
    for the heuristic a descent from those that fit, with one more budget. Whether a mapping
    fits depends on the tiles and keeps alone, and the smallest tiles with the least keeps
    fit whenever any mapping does, so after this "nothing fits" is a proof, not a search
    that missed (a small budget's seeds keep what the memories hold, and random tilings
    seldom fit small memories)."""
    for part in search.space.parts or (search.space,):
        sub = search if part is search.space else _Search(
            search.problem, search.arch, search.options, space=part, remembering=search)
        count = len(part.keep_choices)
        factors = np.repeat(part.smallest_tiles()[:, :, None], count, axis=2)
        orders = part.random_orders(sub.rng, count)
        found = sub.run_batch(factors, orders, np.arange(count, dtype=np.int64))
        if found.size and strategy == "heuristic":
            sub.descend(found, budget=sub.evaluated + search.options.budget)
        if sub is not search:
            search.seen_scores = sub.seen_scores
            search.evaluated += sub.evaluated
            if sub.best.score < search.best.score:
                search.best = sub.best
        if search.best.factors is not None:
            return


def _search_parts(search: _Search, strategy: Search) -> None:
    """The heuristic or random search of a union space (`MapSpace.parts`), part by part:
    each part's own search with a share of the budget (the smallest parts first, each
    exhaustive when it fits its share, so what it leaves goes to the others; every part
    gets at least half an even share), the best of them kept. Each part is a space of
    single rules, so the compiled pieces run on it as on any other. The parts may overlap
    (with `[K, ...]` and `[C, ...]` at a memory, a mapping with neither K nor C looping
    there is in both), so all of them share `search`'s remembered candidates: a mapping is
    evaluated once over the union, and `evaluated` and the shares count distinct ones."""
    parts = sorted(search.space.parts, key=lambda part: part.count().upper)
    budget = search.options.budget
    left = budget
    for position, part in enumerate(parts):
        share = max(left // (len(parts) - position), budget // (2 * len(parts)), 1)
        sub = _Search(search.problem, search.arch, replace(search.options, budget=share),
                      space=part, remembering=search)
        sub.deadline = search.deadline
        size = part.count()
        if strategy == "random":
            sub.random()
        elif size.upper <= share and part.listed:
            sub.exhaustive(dedupe=True)
        else:
            sub.heuristic()
        search.seen_scores = sub.seen_scores  # grown (a new array) when it filled
        left = max(0, left - sub.evaluated)
        search.evaluated += sub.evaluated
        if sub.best.score < search.best.score:
            search.best = sub.best


EXHAUSTIVE_LIMIT = MAX_BUDGET
"""Most candidates (the map space's size, or its upper bound) the exhaustive search takes
on: as many as the largest budget lets the heuristic evaluate, so that every search a user
can ask for ends in bounded time (about 20-40 minutes at the rates of docs/performance.md)."""


def map_problem(problem: Problem, arch: ArchModel,
                options: MapperOptions | None = None, *,
                deadline: float | None = None) -> MapResult:
    """The best mapping of `problem` on `arch` under `options` (see module doc). With a
    `deadline` (a `time.monotonic()` value), DeadlinePassed when it passes first: checked
    between the exhaustive search's chunks and the heuristic's rounds, so a search stops
    within a chunk or a round of it (never a partial answer)."""
    options = options or MapperOptions()
    search = _Search(problem, arch, options)
    search.deadline = deadline
    space = search.space
    columns = (len(space.slots) + space.nlevels - 1) * space.ndims + 1
    if columns > _KEY_MULTIPLIERS.size:  # a candidate's key has one multiplier per column
        raise SearchLimitError(problem.name, arch.name, (
            f"its map space has {len(space.slots)} loop slots ({space.nlevels} memory levels "
            f"and the fanouts' axes) over {space.ndims} dims: a candidate has {columns:,} "
            f"columns, more than the {_KEY_MULTIPLIERS.size:,} the mapper handles; use fewer "
            "memory levels or fanouts",))
    size = search.space.count()
    strategy: Search = options.search
    if strategy == "auto":
        strategy = "exhaustive" if size.upper <= min(options.budget, EXHAUSTIVE_LIMIT) \
            and search.space.listed else "heuristic"
    if strategy == "exhaustive" and not search.space.listed:
        raise SearchLimitError(problem.name, arch.name, (
            f"the exhaustive search cannot enumerate a map space of {size} candidates (a "
            "dim's factorisations are sampled, not listed); use the heuristic search",))
    if strategy == "exhaustive" and size.upper > EXHAUSTIVE_LIMIT:
        raise SearchLimitError(problem.name, arch.name, (
            f"the exhaustive search enumerates at most {EXHAUSTIVE_LIMIT:,} candidates (as "
            f"many as the largest budget), and this map space has {size} candidates; use the "
            "heuristic search, or narrow the space with map-space constraints",))
    if strategy == "exhaustive":
        search.exhaustive()
    elif search.space.parts:
        _search_parts(search, strategy)
    elif strategy == "random":
        search.random()
    else:
        search.heuristic()
    if search.best.factors is None and strategy != "exhaustive":
        _rescue(search, strategy)
    best = search.best
    if best.factors is None or best.orders is None:
        reasons = _explain_nothing_fits(problem, arch, search.space)
        sampled = [problem.dims[d] for part in search.space.parts or (search.space,)
                   for d, table in enumerate(part.split_tables) if not table.exact]
        if sampled and not search.space.constraints.empty:
            # The smallest tiles the rules allow were found among sampled splits: a split
            # the sample missed may have smaller ones.
            raise SearchLimitError(problem.name, arch.name, (
                "no mapping found fits", *reasons, sampled_note(sampled)))
        raise NoValidMappingError(problem.name, arch.name, reasons)
    mapping = search.space.to_mapping(best.factors, best.orders,
                                      search.space.keep_choices[best.keep])
    cost = evaluate(problem, arch, mapping)
    return MapResult(mapping, cost, size.lower, search.evaluated, strategy,
                     None if size.exact else size.upper)
