"""Short textual summaries of a `Mapping` for report tables (`dslc run`, `dslc map`).

In: a `dslc.mapping.mapping.Mapping` and the problem's dim names. Out: plain strings. The
full loop nest and the pasteable `mapping` block come from dslc.mapper; this module only
abbreviates for table cells.
"""

from __future__ import annotations

from collections.abc import Sequence

from dslc.mapping.mapping import Mapping


def spatial_summary(mapping: Mapping, dims: Sequence[str]) -> str:
    """The spatial unrolling, per fanout and axis, e.g. `PE x:K16 y:C4,R3` (or `-`)."""
    parts = []
    for level in mapping.levels:
        fanouts: dict[str, dict[str, list[str]]] = {}
        for loop in level.spatial:
            axes = fanouts.setdefault(loop.fanout, {"x": [], "y": []})
            axes[loop.axis].append(f"{dims[loop.dim]}{loop.factor}")
        for fanout, axes in fanouts.items():
            text = " ".join(f"{axis}:{','.join(loops)}" for axis, loops in axes.items() if loops)
            parts.append(f"{fanout} {text}")
    return "; ".join(parts) or "-"


def temporal_summary(mapping: Mapping, dims: Sequence[str]) -> str:
    """Each memory's temporal loops outer to inner, e.g. `DRAM[K4 P2] GLB[C8]` (or `-`)."""
    parts = []
    for level in mapping.levels:
        if level.temporal:
            loops = " ".join(f"{dims[loop.dim]}{loop.factor}" for loop in level.temporal)
            parts.append(f"{level.name}[{loops}]")
    return " ".join(parts) or "-"
