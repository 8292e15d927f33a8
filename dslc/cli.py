"""The `dslc` command line (typer). Parses options, calls dslc.api, renders, sets exit codes.

Exit codes: 0 clean, 1 the input has errors, 2 usage errors, 3 an internal error (a bug).
Nothing here computes: every result comes from dslc.api.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dslc import api
from dslc.diagnostics.codes import CODES, explain
from dslc.diagnostics.diagnostic import Diagnostic, DiagnosticError, Severity
from dslc.diagnostics.render import render_concise, render_full, render_json, summary_line

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dslc: hardware/software co-design of neural-network accelerators.")
console = Console(highlight=False, soft_wrap=True)

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow",
                   Severity.NOTE: "bold cyan"}


class Format(StrEnum):
    full = "full"
    concise = "concise"
    json = "json"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="output format")]
CodesignOption = Annotated[str | None, typer.Option(
    "--codesign", "-c", help="co-design request (default: the only one)")]


class Stage(StrEnum):
    ast = "ast"
    spec = "spec"
    graph = "graph"
    problems = "problems"


def _print_diagnostics(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic],
                       fmt: Format, files: int) -> None:
    if fmt is Format.json:
        console.print(render_json(list(diagnostics)), markup=False)
        return
    for diagnostic in diagnostics:
        text = render_full(diagnostic) if fmt is Format.full else render_concise(diagnostic)
        head, _, rest = text.partition("\n")
        console.print(head, style=_SEVERITY_STYLE[diagnostic.severity], markup=False)
        if rest:
            console.print(rest, markup=False)
        if fmt is Format.full:
            console.print()
    console.print(summary_line(list(diagnostics), files), markup=False)


@app.command()
def lint(
    files: Annotated[list[Path], typer.Argument(help="spec files to check")],
    format: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.full,
) -> None:
    """Check spec files: syntax, names, units, shapes, accelerators, mappings, spaces."""
    result = api.lint(files)
    _print_diagnostics(result.diagnostics, format, len(files))
    raise typer.Exit(1 if result.errors else 0)


@app.command(name="explain")
def explain_command(code: Annotated[str, typer.Argument(help="a diagnostic code, e.g. E201")]
                    ) -> None:
    """Explain a diagnostic code."""
    text = explain(code)
    if text is None:
        console.print(f"unknown code `{code}`; codes: {', '.join(sorted(CODES))}", markup=False)
        raise typer.Exit(2)
    console.print(text, markup=False)


@app.command()
def dump(
    file: Annotated[Path, typer.Argument(help="spec file")],
    stage: Annotated[Stage, typer.Option("--stage", help="which intermediate form")] = Stage.spec,
) -> None:
    """Print an intermediate form: AST, spec models, layer graph or loop nests (JSON)."""
    with _spec_errors():
        if stage is Stage.ast:
            console.print(api.dump_ast(file), markup=False)
        elif stage in (Stage.graph, Stage.problems):
            lowered = api.dump_lowered(file)
            key = "layers" if stage is Stage.graph else "problems"
            console.print(api.to_json({name: {"inputs": net["inputs"], "macs": net["macs"],
                                              key: net[key]} for name, net in lowered.items()}),
                          markup=False)
        else:
            console.print(api.to_json(api.dump_spec(file)), markup=False)


@app.command(name="eval")
def eval_command(
    file: Annotated[Path, typer.Argument(help="spec file")],
    mapping: Annotated[str, typer.Option("--mapping", "-m", help="name of a mapping block")],
    format: FormatOption = OutputFormat.table,
) -> None:
    """Evaluate a fixed `mapping` block: accesses, energy, cycles, utilisation, area."""
    from dslc.cost.model import InvalidMappingError
    from dslc.cost.result import cost_to_json
    from dslc.report.cost import render_cost

    try:
        with _spec_errors():
            cost = api.evaluate(file, mapping)
    except InvalidMappingError as exc:
        console.print(f"error: mapping `{mapping}` cannot run:", style="bold red",
                      markup=False)
        for reason in exc.reasons:
            console.print(f"  - {reason}", markup=False)
        raise typer.Exit(1) from None
    if format is OutputFormat.json:
        console.print(api.to_json(cost_to_json(cost)), markup=False)
    else:
        console.print(render_cost(cost, per_instance=console.width >= 150))


def _usage_error(message: str) -> typer.Exit:
    console.print(f"error: {message}", style="bold red", markup=False)
    return typer.Exit(2)


def _note_kernel_compile() -> None:
    """Say so on a terminal's stderr when the mapper's compiled kernel is about to be
    compiled: the first run on a machine pauses for about 20 s. Not when stderr is a file or
    a pipe (scripts and tests read what the command prints, not this)."""
    from dslc.cost import kernel

    if sys.stderr.isatty() and kernel.available() and not kernel.cached_on_disk():
        Console(stderr=True).print("compiling the cost model's kernel (once per machine, "
                                   "about 20 s)", markup=False, highlight=False)


@contextmanager
def _spec_errors() -> Iterator[None]:
    """What a spec or the command line can get wrong: diagnostics (exit 1) or an unknown
    name (KeyError: a usage error, exit 2). Other exceptions pass through to the caller."""
    try:
        yield
    except DiagnosticError as exc:
        _print_diagnostics(list(exc.diagnostics), Format.full, 1)
        raise typer.Exit(1) from None
    except KeyError as exc:
        raise _usage_error(str(exc.args[0])) from None


@app.command(name="map")
def map_command(
    file: Annotated[Path, typer.Argument(help="spec file")],
    network: Annotated[str, typer.Option("--network", "-n", help="network name")],
    layer: Annotated[str, typer.Option("--layer", "-l", help="layer name, e.g. layer1.0.a")],
    accelerator: Annotated[str, typer.Option("--accelerator", "-a", help="accelerator name")],
    format: FormatOption = OutputFormat.table,
    search: Annotated[str, typer.Option(help="auto, exhaustive, heuristic or random")
                      ] = "auto",
    budget: Annotated[int, typer.Option(help="mappings evaluated by the heuristic")] = 10000,
    objective: Annotated[str, typer.Option(help="energy, latency or edp")] = "edp",
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    batch: Annotated[int, typer.Option(help="batch size N")] = 1,
    imperfect: Annotated[bool, typer.Option(
        help="also try padded (ceil) factorisations")] = False,
) -> None:
    """Find the best mapping of one layer on one accelerator."""
    from dslc.mapper import (
        MapperOptions,
        NoValidMappingError,
        format_loop_nest,
        map_result_to_json,
        mapping_to_cd,
    )
    from dslc.mapper.search import objective_named, search_named
    from dslc.report.cost import render_cost

    try:
        options = MapperOptions(search=search_named(search), budget=budget,
                                objective=objective_named(objective), seed=seed,
                                imperfect=imperfect)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    _note_kernel_compile()
    try:
        with _spec_errors():
            found = api.map_layer(file, network, layer, accelerator, options=options,
                                  batch=batch)
    except NoValidMappingError as exc:
        console.print(f"error: no mapping of `{layer}` fits `{accelerator}`:",
                      style="bold red", markup=False)
        for reason in exc.reasons:
            console.print(f"  - {reason}", markup=False)
        raise typer.Exit(1) from None
    result, problem = found.result, found.problem
    if format is OutputFormat.json:
        console.print(api.to_json(map_result_to_json(result, problem)), markup=False)
        return
    console.print(f"searched {result.evaluated:,} of {result.mapspace_size:,} mappings "
                  f"({result.search})", markup=False)
    console.print(render_cost(result.cost, per_instance=console.width >= 150))
    console.print()
    console.print(format_loop_nest(result.mapping, problem), markup=False)
    console.print()
    console.print(mapping_to_cd(result.mapping, problem, found.accelerator,
                                f"best_{layer.replace('.', '_')}", f"{network}.{layer}"),
                  markup=False)


@app.command(name="run")
def run_command(
    file: Annotated[Path, typer.Argument(help="spec file")],
    codesign: CodesignOption = None,
    format: FormatOption = OutputFormat.table,
    out: Annotated[Path | None, typer.Option("--out", "-o",
                                             help="directory for result.json and CSV files")
                   ] = None,
    cache: Annotated[Path | None, typer.Option(
        help="SQLite store of finished pairs (default: .dslc/ beside the spec)")] = None,
    fresh: Annotated[bool, typer.Option(help="forget stored pairs before searching")] = False,
    jobs: Annotated[int, typer.Option(help="worker processes for pair evaluations")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (needs the dask extra)")] = None,
    strategy: Annotated[str | None, typer.Option(
        help="override the request's strategy (auto, exhaustive, semi_decoupled, random)")
                        ] = None,
) -> None:
    """Run a co-design request: map every layer of one network on one accelerator, or
    search network and accelerator spaces with the co-design planner."""
    import csv

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from dslc.mapper import NoValidMappingError, network_result_to_json
    from dslc.report.run import CSV_COLUMNS, render_run, run_csv_rows

    quiet = format is OutputFormat.json
    with _spec_errors():
        single = api.is_single_design(file, codesign)
    _note_kernel_compile()
    if not single:
        _run_codesign(file, codesign, quiet, out, cache, fresh, jobs, scheduler, strategy)
        return
    try:
        with _spec_errors(), Progress(TextColumn("mapping {task.description}"), BarColumn(),
                                      MofNCompleteColumn(), console=console, transient=True,
                                      disable=quiet) as bar:
            task = bar.add_task("layers", total=None)

            def progress(done: int, total: int, layer: str) -> None:
                bar.update(task, completed=done, total=total, description=layer)

            design = api.run(file, codesign, progress=progress)
    except NoValidMappingError as exc:
        console.print(f"error: {exc}", style="bold red", markup=False)
        raise typer.Exit(1) from None
    except ValueError as exc:
        raise _usage_error(str(exc.args[0])) from None
    data = network_result_to_json(design.result, design.problems)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        stable = network_result_to_json(design.result, design.problems, timings=False)
        (out / "result.json").write_text(api.to_json(stable) + "\n")
        with (out / "layers.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(run_csv_rows(design.result, design.problems))
    if quiet:
        console.print(api.to_json(data), markup=False)
        return
    console.print(render_run(design.result, design.problems, design.codesign,
                             design.options.objective))
    if out is not None:
        console.print(f"wrote {out / 'result.json'} and {out / 'layers.csv'}", markup=False)


def _run_codesign(file: Path, codesign: str | None, quiet: bool, out: Path | None,
                  cache: Path | None, fresh: bool, jobs: int, scheduler: str | None,
                  strategy: str | None) -> None:
    import csv

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from dslc.codesign.evaluate import StoreError
    from dslc.codesign.metrics import AccuracyError
    from dslc.codesign.result import CSV_COLUMNS, outcome_csv_rows, outcome_to_json
    from dslc.report.codesign import plot_pareto, render_outcome

    if jobs < 1:
        raise _usage_error("--jobs must be at least 1")
    try:
        with _spec_errors(), Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("best {task.fields[best]}"), TimeRemainingColumn(),
                console=console, transient=True, disable=quiet) as bar:
            task = bar.add_task("pairs", total=None, best="-")

            def progress(phase: str, done: int, total: int, best: float) -> None:
                bar.update(task, completed=done, total=total, description=phase,
                           best="-" if best == float("inf") else f"{best:.4g}")

            found = api.search(file, codesign, store=cache, fresh=fresh, jobs=jobs,
                               scheduler=scheduler, strategy=strategy, progress=progress)
    except (AccuracyError, StoreError) as exc:
        console.print(f"error: {exc}", style="bold red", markup=False)
        raise typer.Exit(1) from None
    except RuntimeError as exc:
        raise _usage_error(str(exc)) from None
    data = outcome_to_json(found.outcome)
    plotted = False
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(api.to_json(data) + "\n")
        with (out / "pairs.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(outcome_csv_rows(found.outcome))
        plotted = plot_pareto(found.outcome, out / "pareto.png")
    if quiet:
        console.print(api.to_json(data), markup=False)
        return
    console.print(render_outcome(found.outcome))
    if found.reused:
        console.print(f"{found.reused} pairs read back from {found.store}", markup=False)
    if out is not None:
        written = "result.json, pairs.csv" + (" and pareto.png" if plotted else
                                              " (pareto.png needs the plot extra)")
        console.print(f"wrote {written} to {out}", markup=False)


@app.command(name="plan")
def plan_command(
    file: Annotated[Path, typer.Argument(help="spec file")],
    codesign: CodesignOption = None,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Print the co-design planner's plan (phases, sizes, reasons) without running it."""
    from dslc.codesign.result import plan_to_json
    from dslc.report.codesign import render_plan

    with _spec_errors():
        the_plan = api.plan(file, codesign)
    if format is OutputFormat.json:
        console.print(api.to_json(plan_to_json(the_plan)), markup=False)
        return
    console.print(render_plan(the_plan))


def main() -> None:
    """Entry point: run the app, turning unexpected exceptions into a bug report."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        console.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:  # an unexpected exception is a bug in dslc, never the user's
        console.print(f"error[E900]: internal error: {type(exc).__name__}: {exc}",
                      style="bold red", markup=False)
        console.print("this is a bug in dslc; please report it with the spec that caused it",
                      markup=False)
        sys.exit(3)


if __name__ == "__main__":
    main()
