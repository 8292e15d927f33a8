"""The count of an imperfect map space stays cheap on a wide mesh: a dim has a padded total
per mesh width up to the largest extent (65,536), and tightening the space's bounds built
a split table for every one of them (38 s for a 16-MAC dense layer at batch 65,536 on a
65,536-wide mesh; found by benchmarks/fuzz_pipeline.py). Past PADDED_COUNT_TOTALS the
looser bounds stand."""

from __future__ import annotations

import pytest

from dslc.mapper.space import PADDED_COUNT_TOTALS, MapSpace
from dslc.spec.accelerator import DataflowSpec, FanoutSpec
from tests.mapper.test_mapper import accelerator, matmul, memory


def _wide(extent: int):  # type: ignore[no-untyped-def]
    return accelerator(memory("DRAM", None, 100.0), memory("GLB", 512, 6.0),
                       FanoutSpec(name="PE", mesh_x=extent, mesh_y=1,
                                  dataflow=DataflowSpec(preset="free")),
                       memory("RF", 2, 1.0))


def test_many_padded_totals_keep_the_loose_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("built every padded total's split table")

    monkeypatch.setattr(MapSpace, "_padded_bounds", refuse)
    space = MapSpace(matmul(65536, 1, 16), _wide(65536), imperfect=True)
    totals = sum(len(space.padded_totals(d)) for d in range(space.ndims))
    assert totals > PADDED_COUNT_TOTALS
    size = space.count()
    assert 1 <= size.lower <= size.upper

