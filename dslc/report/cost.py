"""Terminal rendering of one mapping's `Cost` (what `dslc eval` and `dslc map` print).

In: a `dslc.cost.result.Cost`. Out: rich renderables: a summary line block and a table of
levels (outermost first) by tensor with reads, fills and updates (total and per instance),
tile words and energy, then the MAC row and the totals. It computes nothing: every figure is
read from the Cost.
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from dslc.cost.result import Cost


def format_energy(energy_pj: float) -> str:
    """An energy with an SI prefix chosen for readability (pJ to J)."""
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(energy_pj) >= scale:
            return f"{energy_pj / scale:.4g} {unit}"
    return f"{energy_pj:.4g} pJ"


def format_seconds(seconds: float) -> str:
    """A duration with an SI prefix (s, ms, us, ns)."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:,.3f} {unit}"
    return f"{seconds / 1e-9:,.3f} ns"


def format_edp(edp_pj_s: float) -> str:
    """An energy-delay product (given in pJ*s) with an SI prefix on the joules."""
    joule_seconds = edp_pj_s * 1e-12
    for unit, scale in (("J*s", 1.0), ("mJ*s", 1e-3), ("uJ*s", 1e-6), ("nJ*s", 1e-9)):
        if abs(joule_seconds) >= scale:
            return f"{joule_seconds / scale:.4g} {unit}"
    return f"{edp_pj_s:.4g} pJ*s"


def format_area(area_mm2: float) -> str:
    """An area in mm2 (um2 below 0.01 mm2)."""
    if abs(area_mm2) >= 0.01 or area_mm2 == 0:
        return f"{area_mm2:.4g} mm2"
    return f"{area_mm2 * 1e6:.4g} um2"


def format_count(count: int) -> str:
    """A count exactly below 100,000, else to 4 significant digits with K, M, G or T."""
    if abs(count) < 100_000:
        return f"{count:,}"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(count) >= scale:
            return f"{count / scale:.4g}{unit}"
    return str(count)  # unreachable: counts of 100,000 or more have a prefix


def cost_summary(cost: Cost) -> Text:
    """Layer, accelerator and headline figures, one per line."""
    lines = [
        f"layer        {cost.layer}",
        f"accelerator  {cost.accelerator}",
        f"MACs         {cost.macs:,}",
        f"cycles       {cost.cycles:,} (compute {cost.compute_cycles:,}); latency "
        f"{format_seconds(cost.latency_s)}",
        f"utilization  {cost.utilization:.1%} of {cost.compute.instances:,} MAC units "
        f"({cost.compute.utilized_instances:,} mapped)",
        f"energy       {format_energy(cost.energy_pj)} "
        f"({cost.energy_pj / cost.macs:,.3f} pJ/MAC)",
        f"area         {cost.area_mm2:,.3f} mm2",
    ]
    return Text("\n".join(lines))


def _instances(utilized: int, instances: int) -> str:
    return f"{instances}" if utilized == instances else f"{utilized}/{instances}"


def cost_table(cost: Cost, *, per_instance: bool = False) -> Table:
    """Per level and tensor: accesses (all instances; also per instance when asked), tile
    words and energy; then the MACs, leakage and the total."""
    table = Table(title=f"{cost.layer} on {cost.accelerator}", title_justify="left",
                  box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    names = [level.name for level in cost.levels] + [cost.compute.name, "total"]
    table.add_column("level", min_width=max(len(name) for name in names), no_wrap=True)
    table.add_column("inst", justify="right")
    table.add_column("tensor")
    headings = ["reads", "fills", "updates"]
    if per_instance:
        headings += ["reads/inst", "fills/inst", "updates/inst"]
    for heading in (*headings, "tile"):
        table.add_column(heading, justify="right")
    blank = [""] * (len(headings) + 1)
    table.add_column("energy", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)

    def share(energy_pj: float) -> str:
        return f"{100 * energy_pj / cost.energy_pj:.1f}" if cost.energy_pj else "-"

    for level in cost.levels:
        first = True
        for tensor in level.tensors:
            counts = [tensor.reads, tensor.fills, tensor.updates]
            if per_instance:
                counts += [tensor.reads_per_instance, tensor.fills_per_instance,
                           tensor.updates_per_instance]
            table.add_row(
                level.name if first else "",
                _instances(level.utilized_instances, level.instances) if first else "",
                tensor.name, *(format_count(c) for c in counts), format_count(tensor.tile_words),
                format_energy(tensor.energy_pj), share(tensor.energy_pj))
            first = False
        if level.leakage_energy_pj:
            table.add_row(level.name if first else "", "", "leakage", *blank,
                          format_energy(level.leakage_energy_pj),
                          share(level.leakage_energy_pj))
        table.add_section()
    compute = cost.compute
    table.add_row(compute.name, _instances(compute.utilized_instances, compute.instances), "MACs",
                  format_count(compute.macs), *blank[1:], format_energy(compute.mac_energy_pj),
                  share(compute.mac_energy_pj))
    if compute.leakage_energy_pj:
        table.add_row("", "", "leakage", *blank, format_energy(compute.leakage_energy_pj),
                      share(compute.leakage_energy_pj))
    table.add_section()
    table.add_row("total", "", "", *blank, format_energy(cost.energy_pj), "100.0",
                  style="bold")
    return table


def render_cost(cost: Cost, *, per_instance: bool = False) -> Group:
    """The summary then the table."""
    return Group(cost_summary(cost), Text(""), cost_table(cost, per_instance=per_instance))
