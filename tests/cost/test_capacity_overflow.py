"""Capacity without overflow: a memory's kept tiles times its buffering can pass 2^63 (a
batched tensor of 2^54 words, buffered 2^10 times); the batched model (compiled kernel and
numpy) compares the tiles with the size divided by the buffering, so it refuses what does
not fit as the scalar model (Python integers) does, where the int64 product wrapped to a
small number and passed."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dslc.cost import kernel
from dslc.cost.batched import BatchEvaluator, encode
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, check_mapping
from dslc.spec import limits
from tests.mapper.test_mapper import accelerator, matmul, memory

EVERYTHING = frozenset({"A", "B", "O"})


def _everything_at(level: int, m: int, k: int) -> Mapping:
    """M and K's whole loops at `level` (0 DRAM, 1 GLB, 2 RF), every tensor kept at every
    level: the tile at GLB and above is every tensor whole."""
    names = ("DRAM", "GLB", "RF")
    return Mapping(tuple(
        LevelMapping(name, (Loop(0, m), Loop(2, k)) if i == level else (), (), EVERYTHING)
        for i, name in enumerate(names)))


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_tiles_times_buffering_past_2_63_do_not_fit(engine: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "numba" and not kernel.available():
        pytest.skip("the compiled kernel is not available")
    monkeypatch.setenv(kernel.DISABLE_ENV, "1" if engine == "numpy" else "")
    m = k = 2**27
    # GLB: 2^56 words (2^60 bits, the language's largest memory), buffered 2^10 times.
    glb = memory("GLB", 2**56, 1.0, buffering=limits.MAX_BUFFERING)
    arch = accelerator(memory("DRAM", None, 100.0), glb, memory("RF", 2**20, 1.0))
    problem = matmul(m, 1, k)
    # By hand: at GLB the tiles are A (M x K = 2^54 words), B (K = 2^27) and O (M = 2^27):
    # 2^54 + 2^28 words x 2^10 copies = 2^64 + 2^38 > 2^56 words; in int64 the product
    # wraps to 2^38, which "fits". A mapping with the loops at DRAM keeps tiles of one word
    # each at GLB and the RF, and fits.
    too_big, fitting = _everything_at(1, m, k), _everything_at(0, m, k)
    assert check_mapping(too_big, problem, arch)  # the scalar model: GLB overflows
    assert not check_mapping(fitting, problem, arch)
    batch, keep = encode([too_big, fitting], problem, arch)
    evaluator = BatchEvaluator(problem, arch, keep)
    assert evaluator.engine == engine
    assert evaluator.fits(batch).tolist() == [False, True]
    assert evaluator.evaluate(batch).valid.tolist() == [False, True]
    assert np.asarray(evaluator.totals(batch).valid).tolist() == [False, True]
    assert os.environ.get(kernel.DISABLE_ENV, "") == ("1" if engine == "numpy" else "")
