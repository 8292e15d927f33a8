"""Bandwidth cycles without overflow: words over a bandwidth far below one word per cycle
(the language takes down to 1e-9) can pass 2^63 cycles. The batched model (numpy and the
compiled kernel) cast them to int64, which wrapped them to negative counts, so the mapper
ranked the slowest mappings first: a dense layer at batch 1024 behind a DRAM of 1e-9 words
per cycle came back at 1.9e19 cycles where a mapping of 2.7e17 exists (found by
benchmarks/fuzz_pipeline.py). The counts now saturate at CYCLE_CAP, and the lower bounds
too (they cast the same way)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dslc import api
from dslc.cost import kernel
from dslc.cost.batched import BatchEvaluator, encode
from dslc.cost.model import CYCLE_CAP, evaluate
from dslc.mapping.mapping import LevelMapping, Loop, Mapping
from tests.mapper.test_mapper import accelerator, matmul, memory

SLOW_DRAM = """
network fc {{ input x: [4096] layer y = dense(x, out = 4096) }}
accelerator slow {{
    word = 16b clock = 1GHz
    memory DRAM {{ width = 64b, bandwidth = 1e-9 }}
    memory GLB  {{ size = 64KiB, width = 64b }}
    fanout PE   {{ mesh = 4 x 4 }}
    memory RF   {{ size = 16 words }}
    compute MAC {{ energy = 1pJ }}
}}
codesign c {{ networks = fc accelerators = slow batch = {batch}
             mapper {{ search = {search}, budget = 2000, seed = 1, objective = latency }} }}
"""


def test_the_kernel_uses_the_same_cap() -> None:
    from dslc.cost import kernel_numba

    assert kernel_numba.CYCLE_CAP == CYCLE_CAP == 2**62


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("search", ["heuristic", "random"])
def test_the_mapper_does_not_take_overflowing_mappings_for_fast_ones(
        engine: str, search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "numba" and not kernel.available():
        pytest.skip("the compiled kernel is not available")
    monkeypatch.setenv(kernel.DISABLE_ENV, "1" if engine == "numpy" else "")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the lower bound's cast warned
        design = api.run(api.compile(text=SLOW_DRAM.format(batch=1024, search=search)))
    (layer,) = design.result.layers
    # Every weight read once from DRAM is already 2^24 words, 1.7e16 cycles at 1e-9 words
    # per cycle; the old search returned 1.9e19 (heuristic) and 2.1e19 (random) cycles.
    assert layer.bound_cycles <= layer.cycles < 2**59
    assert layer.bound_cycles >= 2**24 * 10**9 * (1 - 1e-9)
    assert 0 < layer.result.cost.utilization <= 1


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_mapping_past_the_cap_counts_at_the_cap(engine: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "numba" and not kernel.available():
        pytest.skip("the compiled kernel is not available")
    monkeypatch.setenv(kernel.DISABLE_ENV, "1" if engine == "numpy" else "")
    m = k = 2**20
    dram = memory("DRAM", None, 100.0, read_bandwidth_words=1e-9, write_bandwidth_words=1e-9)
    arch = accelerator(dram, memory("GLB", 2**10, 1.0), memory("RF", 4, 1.0))
    problem = matmul(m, 1, k)
    # Everything at DRAM: each of the 2^40 MACs reads A and B there, 2^41 words, 2.2e21
    # cycles at 1e-9 words per cycle.
    mapping = Mapping((LevelMapping("DRAM", (Loop(0, m), Loop(2, k)), (), frozenset("ABO")),
                       LevelMapping("GLB", (), (), frozenset()),
                       LevelMapping("RF", (), (), frozenset())))
    exact = evaluate(problem, arch, mapping)
    assert exact.cycles > 2**64  # Python integers: exact
    batch, keep = encode([mapping], problem, arch)
    evaluator = BatchEvaluator(problem, arch, keep)
    assert evaluator.engine == engine
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cost = evaluator.evaluate(batch)
    assert cost.valid.tolist() == [True]
    assert cost.cycles.tolist() == [CYCLE_CAP]
    assert np.all(np.isfinite(cost.utilization)) and 0 < cost.utilization[0] <= 1
    assert math.isclose(cost.utilization[0], problem.macs / CYCLE_CAP)
