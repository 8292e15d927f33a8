"""The stated range of every numeric slot of the language, checked in elaboration.

What it owns: the limits below, one constant each, which docs/language/guide.md
("Limits") states and tests/hardening/test_limits.py checks both ways (a value at the limit
elaborates, one past it is a diagnostic). Why these values: the cost model's kernel counts
in 64-bit integers (tile sizes, accesses, cycles are products of loop bounds) and its
energies, latencies and objectives in doubles, so every input is bounded such that those
products stay below 2^63 and every float stays finite: a layer's MACs per sample at most
2^44, times a batch of at most 2^16, is 2^60; an energy per action of at most 1e9 pJ times
2^62 actions is below 1e28 pJ. Sizes and clocks are bounded to what hardware could be.
It does not check anything itself: sema's builders do, with E302 at the offending value,
and the accelerator spec models (dslc.spec.accelerator) carry these bounds in their fields so
that a spec built without the language (an import, the Python API) is held to them.
"""

from __future__ import annotations

MAX_DIM = 2**31 - 1
"""Largest tensor dimension and integer operator attribute (out, kernel, stride, pad,
groups, an einsum dim's bound): a C int, as the kernel's index arithmetic assumes."""
MAX_LAYER_MACS = 2**44
"""Most MACs of one layer for one sample (about 1.8e13; a GPT-3 projection over 2,048
tokens has 1.2e12)."""
MAX_TENSOR_ELEMENTS = 2**44
"""Most elements of one tensor of one sample (an input or a layer's output)."""
MAX_BATCH = 2**16
"""Largest batch (a co-design's `batch`, `--batch`): MACs per sample times the batch stay
below 2^60."""
MAX_MESH_EXTENT = 2**16
"""Largest extent of a fanout's mesh on each axis."""
MAX_INSTANCES = 2**32
"""Most compute instances of an accelerator (the product of its fanouts' meshes)."""
MAX_WORD_BITS = 2**16
"""Largest word (of an accelerator, a memory or a compute block), in bits."""
MAX_MEMORY_BITS = 2**60
"""Largest memory size or width, in bits (128 PiB)."""
MAX_BUFFERING = 2**10
"""Largest multiple buffering of a memory (`buffering`: copies of each kept tile it holds;
designs use 1 or 2)."""
MIN_CLOCK_HZ = 1.0
"""Slowest clock, in Hz."""
MAX_CLOCK_HZ = 1e12
"""Fastest clock, in Hz (1 THz)."""
MAX_ENERGY_PJ = 1e9
"""Largest energy per action (a read, write, update or MAC) or leakage per cycle, in pJ
(1 mJ)."""
MAX_AREA_UM2 = 1e12
"""Largest area of a component, in um2 (1 m2)."""
MIN_BANDWIDTH_WORDS = 1e-9
"""Smallest bandwidth, in words per cycle (smaller is a typo, and would make latencies
overflow)."""
MAX_BANDWIDTH_WORDS = 2.0**32
"""Largest bandwidth, in words per cycle."""
MAX_EXPONENT = 8
"""Largest magnitude of an exponent in a co-design objective (`energy * latency ^ 2`):
metrics raised further overflow a double."""
MAX_BUDGET = 10**9
"""Largest mapper budget (mappings evaluated per layer and accelerator by the heuristic;
its starts' descents may take up to dslc.mapper.search.STARTS_SHARE times it)."""
MAX_COUNT = 2**63 - 1
"""Largest seed, `top_k` and `max_pairs` (a 64-bit integer)."""
MAX_CANDIDATES = 10
"""Most proposals of a differentiable search re-checked with the exact model (`candidates`;
a training fraction, `train_fraction`, is at most 1)."""
MAX_STEPS = 10**6
"""Most gradient steps of a differentiable search (`steps`; the default 300 take seconds)."""
MIN_COST_WEIGHT = 1e-6
"""Smallest cost weight of a differentiable search (`cost_weight`, each of `weights`): its
gradient is the weight times the log objective's, and below about 1e-8 Adam's epsilon
swallows it, so a search without an accuracy term stops moving."""
MAX_COST_WEIGHT = 1e6
"""Largest cost weight: the search's loss is float32, and a weight of 1e40 made it infinite
and every step after the first NaN."""
MAX_EPOCHS = 10**4
"""Most epochs of training a network for a `trained` accuracy (the default is 10)."""
MAX_SEARCH_DESIGNS = 100_000
"""Most network designs, and most accelerator designs, a co-design request searches (the
points of its listed spaces): the planner builds and lowers every one before evaluating a
pair (about 4 ms a network design), whatever `max_pairs` says."""
MAX_SEARCH_PAIRS = 10**7
"""Most (network, accelerator) pairs a co-design request searches: the planner bounds every
pair in arrays before it evaluates one (10^6 pairs plan in seconds,
docs/performance.md "Co-design at scale")."""
