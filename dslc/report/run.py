"""Terminal rendering of a network mapped on one accelerator (what `dslc run` prints).

In: a `NetworkMapResult` and the problems by key. Out: a rich table with one row per MAC
layer (mapping summary, energy, cycles, utilisation, and how far each is from the layer's
lower bounds) and the totals. It computes nothing beyond ratios of figures already in the
result; the CSV rows of `--out` come from dslc.export.
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from dslc.export import spatial_summary
from dslc.lower.problem import Problem
from dslc.mapper.network import NetworkMapResult
from dslc.report.cost import format_area, format_count, format_edp, format_energy, format_seconds


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
        f"latency      {format_seconds(result.latency_s)} ({result.cycles:,} cycles)",
        f"EDP          {format_edp(result.edp)}",
        f"search       {result.search_seconds:.2f} s",
    ]
    return Text("\n".join(lines))


def render_run(result: NetworkMapResult, problems: dict[str, Problem], codesign: str,
               objective: str) -> Group:
    return Group(run_summary(result, codesign, objective), Text(""),
                 run_table(result, problems))
