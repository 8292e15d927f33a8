"""Terminal rendering of a network mapped on one accelerator (what `dslc run` prints).

In: a `NetworkMapResult` and the problems by key. Out: a rich table with one row per MAC
layer (mapping summary, energy, cycles, utilisation, and how far each is from the layer's
lower bounds) and the totals. It computes nothing beyond ratios of figures already in the
result; the CSV rows of `--out` come from dslc.export.
"""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from dslc.export import energy_by_level, network_energy_by_level, spatial_summary
from dslc.lower.problem import Problem
from dslc.mapper.network import NetworkMapResult
from dslc.report.cost import format_area, format_count, format_edp, format_energy, format_seconds
from dslc.report.figures import save_png


def run_table(result: NetworkMapResult, problems: dict[str, Problem]) -> Table:
    """One row per MAC layer, then the totals. E/LB and cyc/LB: energy and cycles over the
    layer's lower bounds (compulsory traffic plus MACs; MACs over MAC units)."""
    table = Table(title=f"{result.network} on {result.accelerator}", title_justify="left",
                  box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("layer", overflow="ellipsis", no_wrap=True)
    table.add_column("spatial", no_wrap=True)
    table.add_column("energy", justify="right", no_wrap=True)
    table.add_column("cycles", justify="right", no_wrap=True)
    table.add_column("util", justify="right", no_wrap=True)
    table.add_column("E/LB", justify="right", no_wrap=True)
    table.add_column("cyc/LB", justify="right", no_wrap=True)
    for layer in result.layers:
        dims = problems[layer.problem_key].dims
        table.add_row(
            layer.name, spatial_summary(layer.result.mapping, dims),
            format_energy(layer.energy_pj), format_count(layer.cycles),
            f"{layer.result.cost.utilization:.0%}",
            f"{layer.energy_pj / layer.bound_energy_pj:.2f}",
            f"{layer.cycles / layer.bound_cycles:.2f}")
    table.add_section()
    table.add_row("total", "", format_energy(result.energy_pj), format_count(result.cycles),
                  "", "", "", style="bold")
    return table


def run_summary(result: NetworkMapResult, codesign: str, objective: str) -> Text:
    """Headline figures of the design."""
    lines = [
        f"co-design    {codesign} (mapping objective: {objective})",
        f"network      {result.network}: {len(result.layers)} MAC layers, "
        f"{result.distinct} distinct loop nests",
        f"accelerator  {result.accelerator}: {format_area(result.area_mm2)}",
        f"energy       {format_energy(result.energy_pj)}",
        "  by level   " + ", ".join(
            f"{name} {format_energy(energy)} ({energy / result.energy_pj:.0%})"
            for name, energy in network_energy_by_level(result).items()),
        f"latency      {format_seconds(result.latency_s)} ({result.cycles:,} cycles)",
        f"EDP          {format_edp(result.edp)}",
        f"search       {result.search_seconds:.2f} s",
    ]
    return Text("\n".join(lines))


def breakdown_figure(result: NetworkMapResult) -> object:
    """The per-layer breakdown of one design (needs matplotlib): energy per memory level
    and the MAC units as stacked bars per layer, then utilisation (bars) and cycles (a line
    on its own log axis) per layer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [layer.name for layer in result.layers]
    shares = [energy_by_level(layer.result.cost) for layer in result.layers]
    levels = list(network_energy_by_level(result))
    unit, scale = next(((u, f) for u, f in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3))
                        if max(layer.energy_pj for layer in result.layers) >= f), ("pJ", 1.0))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(max(7.0, 0.35 * len(names) + 2), 7),
                                         sharex=True)
    positions = list(range(len(names)))
    base = [0.0] * len(names)
    for level in levels:
        heights = [share.get(level, 0.0) / scale for share in shares]
        top.bar(positions, heights, bottom=base, label=level)
        base = [b + h for b, h in zip(base, heights, strict=True)]
    top.set_ylabel(f"energy ({unit})")
    top.set_title(f"{result.network} on {result.accelerator}: energy per layer by level")
    top.legend(fontsize="small", title="level")
    bottom.bar(positions, [100 * layer.result.cost.utilization for layer in result.layers],
               color="tab:gray", label="utilisation")
    bottom.set_ylabel("utilisation (%)")
    bottom.set_ylim(0, 100)
    cycles = bottom.twinx()
    cycles.plot(positions, [layer.cycles for layer in result.layers], "o-", color="tab:red",
                label="cycles")
    cycles.set_yscale("log")
    cycles.set_ylabel("cycles")
    bottom.set_title("utilisation and cycles per layer")
    bottom.set_xticks(positions)
    bottom.set_xticklabels(names, rotation=90, fontsize="small")
    figure.tight_layout()
    return figure


def plot_breakdown(result: NetworkMapResult, path: Path) -> bool:
    """Write `breakdown_figure` as a PNG; False without matplotlib (the `plot` extra)."""
    return save_png(lambda: breakdown_figure(result), path, dpi=110)


def render_run(result: NetworkMapResult, problems: dict[str, Problem], codesign: str,
               objective: str) -> Group:
    return Group(run_summary(result, codesign, objective), Text(""),
                 run_table(result, problems))
