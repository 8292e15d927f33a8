"""Seeded random cases for the brute-force oracle (brute_oracle.py): small problems, random
accelerators (helpers_cost builders) and random valid mappings, and the comparison of the
three engines (scalar, numpy batch, numba kernel) with the oracle."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from brute_oracle import oracle_counts
from helpers_cost import (
    ENGINES,
    accelerator,
    axis,
    batch_engine,
    conv1d,
    conv2d,
    depthwise,
    fanout,
    matmul,
    memory,
)

from dslc.arch import ArchModel, resolve_accelerator
from dslc.cost.batched import BatchEvaluator, encode
from dslc.cost.model import evaluate
from dslc.cost.result import Cost
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop, check_mapping
from dslc.spec.accelerator import FanoutSpec, MemorySpec


@dataclass(frozen=True)
class Case:
    seed: int
    problem: Problem
    arch: ArchModel
    mapping: Mapping
    batchable: bool
    """At most one temporal loop per dim and level (the batched layout)."""


def random_problem(rng: random.Random, wide: bool = False) -> Problem:
    def dim(top: int = 6) -> int:
        return rng.randint(1, top + 3 if wide else top)

    kind = rng.choice(["conv1d", "conv1d", "flipped", "conv2d", "conv2d", "depthwise",
                       "matmul", "matmul", "transposed", "threeterm", "exotic", "grouped"])
    if kind == "grouped":
        # A grouped 1-D convolution as dslc lowers one (dslc/ops/conv.py): G groups of
        # K outputs from C channels each; channel axes G*c + C and G*k + K.
        g, k, c, p, r = rng.choice([2, 3]), dim(3), dim(3), dim(4), dim(3)
        stride = rng.choice([1, 2])
        return Problem("grouped", ("G", "K", "C", "P", "R"), (g, k, c, p, r), (
            Tensor("weight", "weight", (axis((0, 1)), axis((1, 1)), axis((2, 1)),
                                        axis((4, 1)))),
            Tensor("input", "input", (axis((0, c), (2, 1)), axis((3, stride), (4, 1)))),
            Tensor("output", "output", (axis((0, k), (1, 1)), axis((3, 1)))),
        ), op="conv")
    if kind == "exotic":
        return exotic_einsum(rng, dim)
    if kind == "transposed":
        # O[p + r] += W[r] * I[p]: an output with a sliding window (partial sums overlap).
        p, r = dim(), dim()
        return Problem("transposed", ("P", "R"), (p, r), (
            Tensor("weight", "weight", (axis((1, 1)),)),
            Tensor("input", "input", (axis((0, 1)),)),
            Tensor("output", "output", (axis((0, 1), (1, 1)),)),
        ), op="einsum")
    if kind == "threeterm":
        # O[p] += W[r, s] * I[2p + r + 2s]: one input axis of three dims.
        p, r, s = dim(4), dim(3), dim(3)
        return Problem("threeterm", ("P", "R", "S"), (p, r, s), (
            Tensor("weight", "weight", (axis((1, 1)), axis((2, 1)))),
            Tensor("input", "input", (axis((0, 2), (1, 1), (2, 2)),)),
            Tensor("output", "output", (axis((0, 1)),)),
        ), op="einsum")
    if kind == "conv1d":
        return conv1d(dim(), dim())
    if kind == "flipped":
        # O[p] += W[r] * I[p - r]: a negative coefficient.
        base = conv1d(dim(), dim())
        weight, _, output = base.tensors
        return Problem("flipped", base.dims, base.bounds, (
            weight, Tensor("input", "input", (axis((0, 1), (1, -1)),)), output), op="conv")
    if kind == "conv2d":
        return conv2d(rng.choice([1, 2]), dim(4), rng.choice([1, 2, 3]), dim(4),
                      rng.choice([1, 2, 3]), dim(3), rng.choice([1, 2, 3]),
                      stride=rng.choice([1, 1, 2, 3]), dilation=rng.choice([1, 1, 2]))
    if kind == "depthwise":
        return depthwise(rng.choice([1, 2]), dim(4), dim(4), rng.choice([1, 2, 3]), dim(3),
                         rng.choice([1, 2]), stride=rng.choice([1, 2]))
    return matmul(dim(), dim(), dim())


def exotic_einsum(rng: random.Random, dim: object) -> Problem:
    """A random einsum over dims P, Q, R (and sometimes an unused T): tensors whose axes
    repeat a dim (X[p, p]), scale it (X[2p]), mix signs (X[p - r + q]), are constant
    (X[0]); two inputs or two weights; an output with a sliding window."""
    assert callable(dim)
    names = ["P", "Q", "R"] + (["T"] if rng.random() < 0.3 else [])
    bounds = tuple(dim(4) for _ in names)

    def random_axis() -> object:
        kind = rng.random()
        if kind < 0.1:
            return axis()
        terms = {}
        for d in rng.sample(range(3), rng.choice([1, 1, 2, 3])):
            terms[d] = rng.choice([1, 1, 1, 2, -1, 3])
        return axis(*terms.items())

    def random_tensor(name: str, role: str) -> Tensor:
        return Tensor(name, role, tuple(random_axis()  # type: ignore[misc]
                                        for _ in range(rng.choice([1, 2, 2, 3]))))

    tensors = [random_tensor("X", "input"), random_tensor("W", "weight")]
    if rng.random() < 0.5:
        tensors.append(random_tensor("Y", rng.choice(["input", "weight"])))
    while True:
        # The einsum front end refuses an output index with gaps that several operations
        # share (dslc/ops/einsum.py): draw until the output is one-to-one or gap-free.
        output = random_tensor("O", "output")
        if countable(output, bounds):
            break
    return Problem("exotic", tuple(names), bounds, (*tensors, output), op="einsum")


def countable(tensor: Tensor, bounds: tuple[int, ...]) -> bool:
    """Whether the tensor's index is one-to-one or covers its bounding box (enumerated)."""
    dims = sorted({d for a in tensor.axes for d, _ in a.terms})
    points = {tuple(sum(c * dict(zip(dims, values, strict=True))[d] for d, c in a.terms)
                    for a in tensor.axes)
              for values in itertools.product(*(range(bounds[d]) for d in dims))}
    box = math.prod(1 + sum(abs(c) * (bounds[d] - 1) for d, c in a.terms)
                    for a in tensor.axes)
    return len(points) in (math.prod(bounds[d] for d in dims), box)


def prime_factors(n: int) -> list[int]:
    found, d = [], 2
    while n > 1:
        while n % d == 0:
            found.append(d)
            n //= d
        d += 1
    return found


def random_case(seed: int, *, max_levels: int = 4, repeat_dims: bool = True,
                spatial_heavy: bool = False) -> Case:
    """One valid case (the generator retries internally until check_mapping passes).
    `spatial_heavy`: wider dims, a fanout below every memory and most factors spatial."""
    rng = random.Random(seed)
    while True:
        case = _draw(rng, seed, max_levels, repeat_dims, spatial_heavy)
        if case is not None:
            return case


def _draw(rng: random.Random, seed: int, max_levels: int, repeat_dims: bool,
          spatial_heavy: bool) -> Case | None:
    problem = random_problem(rng, wide=spatial_heavy)
    ndims = len(problem.dims)
    nlevels = rng.randint(1, max_levels)
    # Fanouts: below any memory, zero to two of them (at most three in all).
    owned: dict[int, int] = {}
    for i in range(nlevels):
        if rng.random() < (0.9 if spatial_heavy else 0.45) and sum(owned.values()) < 3:
            owned[i] = rng.choice([1, 1, 2])
    fanouts = [(o, j) for o in sorted(owned) for j in range(owned[o])]
    # Temporal slots: one per level, or (repeat_dims) two per level, so that a dim can
    # appear twice in one level's temporal loops.
    slots_per_level = 2 if repeat_dims else 1
    temporal = [[[1] * ndims for _ in range(slots_per_level)] for _ in range(nlevels)]
    spatial = {f: [[1] * ndims, [1] * ndims] for f in fanouts}
    for d, bound in enumerate(problem.bounds):
        for prime in prime_factors(bound):
            choices: list[tuple[str, object]] = [("t", (i, s)) for i in range(nlevels)
                                                 for s in range(slots_per_level)]
            choices += [(ax, f) for f in fanouts for ax in ("x", "y")] * (
                3 if spatial_heavy else 1)
            kind, where = rng.choice(choices)
            if kind == "t":
                i, s = where  # type: ignore[misc]
                temporal[i][s][d] *= prime
            else:
                spatial[where][0 if kind == "x" else 1][d] *= prime  # type: ignore[index]
    names = [t.name for t in problem.tensors]
    hierarchy: list[MemorySpec | FanoutSpec] = []
    levels = []
    batchable = True
    for i in range(nlevels):
        hierarchy.append(memory(
            f"L{i}", None if i == 0 else 100_000, width=rng.choice([16, 32, 64]),
            read=rng.choice([0.5, 1.0, 3.3]), write=rng.choice([0.7, 1.0, 2.9]),
            read_bandwidth_words=rng.choice([None, 0.3, 2.0]),
            write_bandwidth_words=rng.choice([None, 0.7, 4.0]),
            shared_bandwidth=rng.random() < 0.5, leak=rng.choice([0.0, 0.01, 0.125]),
            power_gated=rng.random() < 0.5))
        loops: list[Loop] = []
        for s in range(slots_per_level):
            order = list(range(ndims))
            rng.shuffle(order)
            loops += [Loop(d, temporal[i][s][d]) for d in order if temporal[i][s][d] > 1]
        if len({lp.dim for lp in loops}) < len(loops):
            batchable = False
        spatial_loops: list[SpatialLoop] = []
        for j in range(owned.get(i, 0)):
            x, y = spatial[(i, j)]
            name = f"F{i}_{j}"
            hierarchy.append(fanout(name, math.prod(x) + rng.choice([0, 0, 1]),
                                    math.prod(y) + rng.choice([0, 0, 2]),
                                    diagonal=j > 0 and rng.random() < 0.3))
            xs = [SpatialLoop(d, x[d], name, "x") for d in range(ndims) if x[d] > 1]
            ys = [SpatialLoop(d, y[d], name, "y") for d in range(ndims) if y[d] > 1]
            rng.shuffle(xs)
            rng.shuffle(ys)
            spatial_loops += xs + ys
        if i == 0:
            # The outermost memory keeps everything, or (sometimes) leaves a tensor to the
            # next level, which must then hold all of it.
            keep = set(names)
            if nlevels > 1 and rng.random() < 0.15:
                keep.discard(rng.choice(names))
        else:
            keep = {n for n in names if rng.random() < 0.5}
        levels.append(LevelMapping(f"L{i}", tuple(loops), tuple(spatial_loops),
                                   frozenset(keep)))
    acc = accelerator(*hierarchy, mac_pj=rng.choice([0.2, 1.0, 1.7]),
                      mac_leak=rng.choice([0.0, 0.25, 0.03]), mac_gated=rng.random() < 0.5)
    arch = resolve_accelerator(acc)
    mapping = Mapping(tuple(levels))
    if check_mapping(mapping, problem, arch):
        return None
    return Case(seed, problem, arch, mapping, batchable)


def dslc_counts(cost: Cost) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(lv.name, t.name): (t.reads_per_instance, t.fills_per_instance,
                                t.updates_per_instance)
            for lv in cost.levels for t in lv.tensors}


def oracle_energy_and_cycles(case: Case, counts: dict[tuple[str, str], tuple[int, int, int]],
                             compute_cycles: int) -> tuple[float, int, list[float]]:
    """Energy (pJ), cycles and per-level access energy from the oracle's counts, by
    docs/design/cost-model.md section 5 (each action rounded up to whole blocks, times the
    utilised instances; leakage on the utilised instances unless not power gated)."""
    arch, mapping = case.arch, case.mapping
    used = []
    product = 1
    for level in mapping.levels:
        used.append(product)
        product *= math.prod(lp.factor for lp in level.spatial)
    macs_used = product
    cycles = compute_cycles
    for lm in arch.levels:
        reads = sum(c[0] for (lv, _), c in counts.items() if lv == lm.name)
        writes = sum(c[1] + c[2] for (lv, _), c in counts.items() if lv == lm.name)
        cycles = max(cycles, _bandwidth(lm.read_bandwidth_words, lm.write_bandwidth_words,
                                        lm.shared_bandwidth, reads, writes))
    energy = 0.0
    per_level = []
    for lm, n in zip(arch.levels, used, strict=True):
        access = 0.0
        for (lv, _), (r, f, u) in counts.items():
            if lv != lm.name:
                continue
            block = lm.block_words
            access += (math.ceil(r / block) * lm.read_energy_pj
                       + math.ceil(f / block) * lm.write_energy_pj
                       + math.ceil(u / block) * lm.update_energy_pj) * n
        leaking = n if lm.power_gated else lm.instances
        per_level.append(access)
        energy += access + lm.leakage_pj_per_cycle * cycles * leaking
    compute = arch.compute
    energy += case.problem.macs * compute.energy_pj
    energy += compute.leakage_pj_per_cycle * cycles * (
        macs_used if compute.power_gated else compute.instances)
    return energy, cycles, per_level


def _bandwidth(read_bw: float | None, write_bw: float | None, shared: bool, reads: int,
               writes: int) -> int:
    def need(words: int, bw: float | None) -> int:
        if bw is None or words == 0:
            return 0
        exact = words / bw
        return math.ceil(exact - 1e-9 * exact)

    if shared:
        bw = read_bw if read_bw is not None else write_bw
        return need(reads + writes, bw)
    return max(need(reads, read_bw), need(writes, write_bw))


@dataclass
class Outcome:
    seed: int
    problems: list[str]


def compare(case: Case, *, engines: tuple[str, ...] = ENGINES) -> list[str]:
    """Every disagreement between the oracle and dslc's engines on one case (empty: none)."""
    found: list[str] = []
    oracle = oracle_counts(case.problem, case.arch, case.mapping)
    negative = {key: value for key, value in oracle.counts.items() if min(value) < 0}
    if negative:
        found.append(f"negative counts (Timeloop asserts content >= partition): {negative}")
    expected = oracle.counts
    cost = evaluate(case.problem, case.arch, case.mapping)
    got = dslc_counts(cost)
    if got != expected:
        for key in sorted(set(got) | set(expected)):
            if got.get(key) != expected.get(key):
                found.append(f"scalar {key}: dslc {got.get(key)} oracle {expected.get(key)}")
    if cost.compute_cycles != oracle.compute_cycles:
        found.append(f"compute cycles: dslc {cost.compute_cycles} oracle "
                     f"{oracle.compute_cycles}")
    energy, cycles, per_level = oracle_energy_and_cycles(case, expected,
                                                         oracle.compute_cycles)
    if cycles != cost.cycles:
        found.append(f"cycles: dslc {cost.cycles} oracle {cycles}")
    if not math.isclose(energy, cost.energy_pj, rel_tol=1e-9, abs_tol=1e-2):
        found.append(f"energy: dslc {cost.energy_pj} oracle {energy}")
    for lv, access in zip(cost.levels, per_level, strict=True):
        if not math.isclose(lv.access_energy_pj, access, rel_tol=1e-9, abs_tol=1e-2):
            found.append(f"{lv.name} access energy: dslc {lv.access_energy_pj} oracle "
                         f"{access}")
    if case.batchable:
        batch, keep = encode([case.mapping], case.problem, case.arch)
        evaluator = BatchEvaluator(case.problem, case.arch, keep)
        for engine in engines:
            with batch_engine(engine):
                result = evaluator.evaluate(batch)
            if not bool(result.valid[0]):
                found.append(f"{engine}: invalid")
                continue
            if result.energy_pj[0] != cost.energy_pj:
                found.append(f"{engine} energy {result.energy_pj[0]} != scalar "
                             f"{cost.energy_pj}")
            if int(result.cycles[0]) != cost.cycles:
                found.append(f"{engine} cycles {int(result.cycles[0])} != scalar "
                             f"{cost.cycles}")
            for i, lv in enumerate(cost.levels):
                for t, name in enumerate(result.tensors):
                    row = (int(result.reads[i, t, 0]), int(result.fills[i, t, 0]),
                           int(result.updates[i, t, 0]))
                    want = got.get((lv.name, name), (0, 0, 0))
                    if row != want:
                        found.append(f"{engine} {(lv.name, name)}: {row} != scalar {want}")
    return found
