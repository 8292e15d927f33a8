"""Terminal reports of co-design plans and outcomes (rich), and the Pareto plot image.

In: a `Plan` or an `Outcome`. Out: rich renderables (the plan's phases; the summary of
what the planner did, the best designs, the Pareto front, the winner's layers) and, with
matplotlib installed (the `plot` extra), a PNG of the Pareto front. It computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dslc.codesign.evaluate import PairResult
from dslc.codesign.planner import Outcome, Plan
from dslc.report.cost import format_area, format_count, format_edp, format_energy, format_seconds


def render_plan(plan: Plan) -> RenderableType:
    lines = [Text(f"strategy: {plan.strategy}", style="bold"),
             Text(f"why: {plan.reason}"),
             Text(f"space: {plan.networks} networks x {plan.accelerators} accelerators = "
                  f"{plan.pairs_total:,} pairs")]
    if plan.ruled_out is not None:
        lines.append(Text(f"ruled out by the constraints before evaluating: "
                          f"{plan.ruled_out:,} pairs"))
    if plan.at_most is not None:
        lines.append(Text(f"evaluates at most {plan.at_most:,} pairs (those the constraints "
                          "and the budget allow); it stops as soon as no bound left can beat "
                          "the best found"))
    if plan.budget.capped:
        caps = []
        if plan.budget.max_pairs is not None:
            caps.append(f"{plan.budget.max_pairs:,} pairs")
        if plan.budget.time_limit_s is not None:
            caps.append(f"{plan.budget.time_limit_s:g} s")
        lines.append(Text(f"budget: {' and '.join(caps)} (an answer found within it is "
                          "certified only if nothing is left to evaluate)"))
    if not plan.monotone:
        lines.append(Text(f"no objective bounds: {plan.monotone_note}"))
    if plan.reference is not None:
        lines.append(Text(f"reference: {plan.reference.label} ({plan.reference_reason})"))
        lines.append(Text(f"kept by default: {plan.keep} networks"))
    table = Table(title="phases", title_justify="left")
    table.add_column("phase")
    table.add_column("pairs (at most)", justify="right")
    table.add_column("what")
    for phase in plan.phases:
        table.add_row(phase.name, f"{phase.pairs:,}", phase.description)
    return Group(*lines, table)


def _has_accuracy(outcome: Outcome) -> bool:
    return any(r.metrics is not None and r.metrics.accuracy is not None
               for r in outcome.results.values())


@dataclass(frozen=True, slots=True)
class DesignColumns:
    """How tables name a pair's designs: the parameters that vary among the evaluated
    pairs (network ones first), a space-name column only for a kind with several spaces;
    what does not vary is said once above the tables (`fixed`)."""

    network_space: bool
    accelerator_space: bool
    network_params: tuple[str, ...]
    accelerator_params: tuple[str, ...]
    fixed: tuple[str, ...]

    def headers(self) -> list[str]:
        shared = set(self.network_params) & set(self.accelerator_params)
        return [*(["network"] if self.network_space else []),
                *(f"net.{p}" if p in shared else p for p in self.network_params),
                *(["accelerator"] if self.accelerator_space else []),
                *(f"acc.{p}" if p in shared else p for p in self.accelerator_params)]

    def cells(self, result: PairResult) -> list[str]:
        cells: list[str] = []
        for design, show_space, params in (
                (result.network, self.network_space, self.network_params),
                (result.accelerator, self.accelerator_space, self.accelerator_params)):
            texts = dict(zip((k for k, _ in design.point), design.texts or
                             tuple(str(v) for _, v in design.point), strict=True))
            if show_space:
                cells.append(design.space)
            cells.extend(texts.get(p, "-") for p in params)
        return cells


def design_columns(outcome: Outcome) -> DesignColumns:
    """The `DesignColumns` of an outcome's evaluated pairs."""
    pairs = list(outcome.results)
    fixed: list[str] = []
    varying: list[tuple[str, ...]] = []
    for index in (0, 1):
        designs = {pair[index] for pair in pairs}
        values: dict[str, set[str]] = {}
        for design in designs:
            texts = design.texts or tuple(str(v) for _, v in design.point)
            for (key, _), text in zip(design.point, texts, strict=True):
                values.setdefault(key, set()).add(text)
        varying.append(tuple(sorted(k for k, v in values.items() if len(v) > 1)))
        spaces = {d.space for d in designs}
        if len(spaces) == 1:
            fixed.append(f"{'network' if index == 0 else 'accelerator'} {spaces.pop()}")
        fixed.extend(f"{k} = {next(iter(v))}" for k, v in sorted(values.items())
                     if len(v) == 1)
    return DesignColumns(len({p[0].space for p in pairs}) > 1,
                         len({p[1].space for p in pairs}) > 1, varying[0], varying[1],
                         tuple(fixed))


def _row(result: PairResult, accuracy: bool, columns: DesignColumns) -> list[str]:
    metrics = result.metrics
    assert metrics is not None
    row = [*columns.cells(result), format_energy(metrics.energy_pj),
           format_seconds(metrics.latency_s), format_edp(metrics.edp),
           format_area(metrics.area_mm2)]
    if accuracy:
        row.append("" if metrics.accuracy is None else f"{100 * metrics.accuracy:.1f}%")
    return row


def _tables(title: str, headers: list[str], rows: list[list[str]], numeric: set[str],
            width: int) -> list[RenderableType]:
    """One table, or, when it would not fit in `width` columns, two sharing the `#`
    column: the design parameters, then the figures. Design cells are never wrapped nor
    cut."""
    def table(title: str, columns: list[int]) -> Table:
        made = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD,
                     collapse_padding=True, pad_edge=False)
        for index in columns:
            made.add_column(headers[index], no_wrap=True,
                            justify="right" if headers[index] in numeric else "left")
        for row in rows:
            made.add_row(*(row[index] for index in columns))
        return made

    widths = [max(len(cell) for cell in (header, *(row[i] for row in rows)))
              for i, header in enumerate(headers)]
    if sum(widths) + 2 * (len(headers) - 1) <= width:
        return [table(title, list(range(len(headers))))]
    designs = [i for i, header in enumerate(headers) if header == "#" or header not in numeric]
    figures = [0, *(i for i, header in enumerate(headers) if header in numeric and i)]
    return [table(title, designs), table(f"{title}: figures", figures)]


def render_outcome(outcome: Outcome, top: int = 10, *, reused: int = 0,
                   store: str | None = None, notes: Sequence[str] = (), width: int = 80
                   ) -> RenderableType:
    """The summary, the best designs, the Pareto front and the winner's layers, for a
    terminal `width` columns wide; `reused` pairs read back from `store`, and what the
    store did not trust (`notes`), are said at the end."""
    plan = outcome.plan
    parts: list[RenderableType] = [
        Text(f"strategy: {plan.strategy} ({plan.reason})"),
        Text(f"pairs evaluated: {outcome.pairs_evaluated:,} of {plan.pairs_total:,} "
             f"({outcome.reduction:.1f}x reduction)"),
    ]
    if plan.reference is not None:
        parts.append(Text(f"reference: {plan.reference.label} ({plan.reference_reason})"))
        parts.append(Text(f"kept: {len(outcome.kept)} networks"))
    if outcome.rank_check is not None:
        check = outcome.rank_check
        parts.append(Text(f"rank check: lowest Spearman {check.spearman:.3f}, lowest Kendall "
                          f"{check.kendall:.3f} over {check.samples} networks on "
                          f"{len(check.accelerators)} accelerators; kept {check.keep} "
                          f"networks{'' if check.passed else ' (widened)'}"))
    bounds = outcome.bounds
    if bounds is not None:
        removed = dict(bounds.removed)
        parts.append(Text(f"not evaluated: {removed['constraints']:,} ruled out by the "
                          f"constraints, {removed['bounds']:,} by their bounds, "
                          f"{removed['ranking']:,} by the ranking alone"))
        tight = {name: median for name, _, median, _ in bounds.tightness}
        if tight:
            parts.append(Text("bounds: evaluated / bound, median " + ", ".join(
                f"{name} {value:.2f}" for name, value in tight.items())))
    parts.extend(Text(line) for line in outcome.log)
    verdict = {
        "exhaustive": "exhaustive (every pair evaluated)",
        "certified": "certified (as good as evaluating every pair with this mapper)",
        "unverified": "unverified" + ("" if outcome.gap is None else
                                      f" (the optimum may be up to {outcome.gap:.3g}x "
                                      "better)"),
    }[outcome.optimality]
    parts.append(Text(f"optimality: {verdict}", style="bold"))
    ranked = [pair for pair in outcome.ranked() if math.isfinite(outcome.scores[pair])]
    accuracy = _has_accuracy(outcome)
    designs = design_columns(outcome)
    if designs.fixed:
        parts.append(Text("fixed in every evaluated pair: " + ", ".join(designs.fixed)))
    metric_columns = ["energy", "latency", "EDP", "area"] + (["accuracy"] if accuracy else [])
    numeric = {"#", *metric_columns}
    best_rows = [[str(rank), *_row(outcome.results[pair], accuracy, designs)]
                 for rank, pair in enumerate(ranked[:top], start=1)]
    front_rows = [[str(rank), *_row(result, accuracy, designs)]
                  for rank, result in enumerate(outcome.pareto, start=1)]
    headers = ["#", *designs.headers(), *metric_columns]
    if not ranked:
        parts.append(Text("no evaluated design meets the constraints", style="bold red"))
    else:
        parts.extend(_tables(f"best designs ({plan.objective})", headers, best_rows,
                             numeric, width))
    if outcome.pareto:
        parts.extend(_tables("Pareto front of the evaluated pairs (energy, latency" +
                             (", accuracy)" if accuracy else ")"), headers, front_rows,
                             numeric, width))
    best = outcome.best
    if best is not None and best.layers:
        layers = Table(title=f"layers of the best design ({best.network.label} on "
                             f"{best.accelerator.label})", title_justify="left")
        for column in ("layer", "energy", "cycles", "utilization"):
            layers.add_column(column, justify="left" if column == "layer" else "right")
        for layer in best.layers:
            layers.add_row(layer.name, format_energy(layer.energy_pj),
                           format_count(layer.cycles), f"{100 * layer.utilization:.1f}%")
        parts.append(layers)
    if reused:
        parts.append(Text(f"{reused} pairs read back from {store}"))
    parts.extend(Text(note) for note in notes)
    return Group(*parts)


def plot_pareto(outcome: Outcome, path: Path) -> bool:
    """Write the energy/latency scatter of every feasible pair with the Pareto front
    highlighted; False when matplotlib (the `plot` extra) is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    feasible = [outcome.results[pair].metrics for pair, score in outcome.scores.items()
                if math.isfinite(score)]
    front = sorted((r.metrics for r in outcome.pareto if r.metrics is not None),
                   key=lambda m: m.latency_s)
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.scatter([m.latency_s * 1e3 for m in feasible if m is not None],
                 [m.energy_pj / 1e6 for m in feasible if m is not None], s=10, alpha=0.5,
                 label="evaluated")
    # Markers only: with accuracies the front is three-dimensional, so no line joins it.
    axes.plot([m.latency_s * 1e3 for m in front], [m.energy_pj / 1e6 for m in front], "o",
              color="tab:red", label="Pareto front")
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("energy (uJ)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(figure)
    return True
