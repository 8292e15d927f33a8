"""The `dslc` command line (typer): each command parses options, calls dslc.api, renders.

Exit codes: 0 clean, 1 the input has errors (diagnostics, or a valid spec that cannot run
as asked), 2 usage errors (an unknown name or a bad option), 3 an internal error (a bug),
130 interrupted. Every command runs under `command`, which turns the API's `UserError`s
into those codes and any other exception into a bug report; nothing here computes, and
files are written by dslc.export.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import click
import typer
from rich.console import Console, RenderableType

from dslc import api, export
from dslc.diagnostics.codes import CODES, explain
from dslc.diagnostics.diagnostic import (
    CannotRunError,
    Diagnostic,
    DiagnosticError,
    Severity,
    UsageError,
    UserError,
)
from dslc.diagnostics.render import render_concise, render_full, render_json, summary_line

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dslc: hardware/software co-design of neural-network accelerators.")
console = Console(highlight=False, soft_wrap=True)

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow",
                   Severity.NOTE: "bold cyan"}
INTERRUPTED = 130
BUG = 3


class Format(StrEnum):
    full = "full"
    concise = "concise"
    json = "json"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class Stage(StrEnum):
    ast = "ast"
    spec = "spec"
    graph = "graph"
    problems = "problems"


FileArgument = Annotated[Path, typer.Argument(help="spec file")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="output format")]
CodesignOption = Annotated[str | None, typer.Option(
    "--codesign", "-c", help="co-design request (default: the only one)")]
StrategyOption = Annotated[str | None, typer.Option(
    help="override the request's strategy (auto, exhaustive, semi_decoupled, random)")]
MaxPairsOption = Annotated[int | None, typer.Option(
    "--max-pairs", help="evaluate at most this many pairs (overrides the request's)")]
TimeLimitOption = Annotated[float | None, typer.Option(
    "--time-limit", help="stop after this many seconds (overrides the request's)")]

P = ParamSpec("P")
R = TypeVar("R")


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


def _report(exc: UserError) -> None:
    if isinstance(exc, DiagnosticError):
        _print_diagnostics(list(exc.diagnostics), Format.full, 1)
        return
    reasons = exc.reasons if isinstance(exc, CannotRunError) else ()
    console.print(f"error: {exc}{':' if reasons else ''}", style="bold red", markup=False)
    for reason in reasons:
        console.print(f"  - {reason}", markup=False)


def _report_bug(exc: BaseException) -> None:
    console.print(f"error[E900]: internal error: {type(exc).__name__}: {exc}",
                  style="bold red", markup=False)
    console.print("this is a bug in dslc; please report it with the spec that caused it",
                  markup=False)


def command(name: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a command that reports the API's errors by kind: a `UserError` with its
    exit code, an interrupt with 130, anything else as a bug (exit 3)."""
    def register(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return function(*args, **kwargs)
            except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException,
                    click.exceptions.Abort):
                raise  # typer's and click's own exits and usage errors carry their codes
            except UserError as exc:
                _report(exc)
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                console.print("interrupted", markup=False)
                raise typer.Exit(INTERRUPTED) from None
            except Exception as exc:  # anything else is a bug in dslc, never the user's
                _report_bug(exc)
                raise typer.Exit(BUG) from None
        app.command(name=name)(guarded)
        return guarded
    return register


def _note_kernel_compile() -> None:
    """Say so on a terminal's stderr when the mapper's compiled kernel is about to be
    compiled: the first run on a machine pauses for about 20 s. Not when stderr is a file or
    a pipe (scripts and tests read what the command prints, not this)."""
    from dslc.cost import kernel

    if sys.stderr.isatty() and kernel.available() and not kernel.cached_on_disk():
        Console(stderr=True).print("compiling the cost model's kernel (once per machine, "
                                   "about 20 s)", markup=False, highlight=False)


@command()
def lint(
    files: Annotated[list[Path], typer.Argument(help="spec files to check")],
    format: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.full,
) -> None:
    """Check spec files: syntax, names, units, shapes, accelerators, mappings, spaces."""
    result = api.lint(files)
    _print_diagnostics(result.diagnostics, format, len(files))
    raise typer.Exit(1 if result.errors else 0)


@command("explain")
def explain_command(code: Annotated[str, typer.Argument(help="a diagnostic code, e.g. E201")]
                    ) -> None:
    """Explain a diagnostic code."""
    text = explain(code)
    if text is None:
        console.print(f"unknown code `{code}`; codes: {', '.join(sorted(CODES))}", markup=False)
        raise typer.Exit(2)
    console.print(text, markup=False)


@command()
def dump(
    file: FileArgument,
    stage: Annotated[Stage, typer.Option("--stage", help="which intermediate form")] = Stage.spec,
) -> None:
    """Print an intermediate form: AST, spec models, layer graph or loop nests (JSON)."""
    if stage is Stage.ast:
        console.print(api.dump_ast(file), markup=False)
        return
    program = api.compile(file)
    data = api.dump_spec(program) if stage is Stage.spec else export.lowered_stage(
        api.dump_lowered(program), "layers" if stage is Stage.graph else "problems")
    console.print(export.to_json(data), markup=False)


@command("eval")
def eval_command(
    file: FileArgument,
    mapping: Annotated[str, typer.Option("--mapping", "-m", help="name of a mapping block")],
    format: FormatOption = OutputFormat.table,
) -> None:
    """Evaluate a fixed `mapping` block: accesses, energy, cycles, utilisation, area."""
    from dslc.report.cost import render_cost

    cost = api.evaluate(api.compile(file), mapping)
    if format is OutputFormat.json:
        console.print(export.to_json(export.cost_to_json(cost)), markup=False)
    else:
        console.print(render_cost(cost, per_instance=console.width >= 150))


@command("map")
def map_command(
    file: FileArgument,
    network: Annotated[str, typer.Option("--network", "-n", help="network name")],
    layer: Annotated[str, typer.Option("--layer", "-l", help="layer name, e.g. layer1.0.a")],
    accelerator: Annotated[str, typer.Option("--accelerator", "-a", help="accelerator name")],
    format: FormatOption = OutputFormat.table,
    search: Annotated[str, typer.Option(help="auto, exhaustive, heuristic or random")
                      ] = "auto",
    budget: Annotated[int, typer.Option(help="mappings evaluated by the heuristic")] = 10000,
    objective: Annotated[str, typer.Option(
        help="energy, latency or edp, or a comma-separated lexicographic order such as "
             "latency,energy")] = "edp",
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    batch: Annotated[int, typer.Option(help="batch size N")] = 1,
    imperfect: Annotated[bool, typer.Option(
        help="also try padded (ceil) factorisations")] = False,
    constraints: Annotated[str | None, typer.Option(
        help="map-space constraints, the body of a constraints block, e.g. "
             "'GLB { factors [K 4] } PE { idle y }'")] = None,
) -> None:
    """Find the best mapping of one layer on one accelerator."""
    from dslc.report.mapping import render_layer_mapping

    options = api.mapper_settings(search=search, budget=budget, objective=objective,
                                  seed=seed, imperfect=imperfect)
    program = api.compile(file)
    if constraints is not None:
        options = api.mapper_settings(
            search=search, budget=budget, objective=objective, seed=seed,
            imperfect=imperfect,
            constraints=api.map_constraints(program, constraints, accelerator))
    _note_kernel_compile()
    found = api.map_layer(program, network, layer, accelerator, options=options, batch=batch)
    if format is OutputFormat.json:
        console.print(export.to_json(export.map_result_to_json(found.result, found.problem)),
                      markup=False)
        return
    console.print(render_layer_mapping(found, network, layer,
                                       per_instance=console.width >= 150))


@command("run")
def run_command(
    file: FileArgument,
    codesign: CodesignOption = None,
    format: FormatOption = OutputFormat.table,
    out: Annotated[Path | None, typer.Option("--out", "-o",
                                             help="directory for result.json and CSV files")
                   ] = None,
    cache: Annotated[Path | None, typer.Option(
        help="SQLite store of finished pairs (default: .dslc/ beside the spec)")] = None,
    fresh: Annotated[bool, typer.Option(
        help="forget this request's stored pairs (not other requests') and recompute")] = False,
    jobs: Annotated[int, typer.Option(help="worker processes for pair evaluations")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (needs the dask extra)")] = None,
    strategy: StrategyOption = None,
    max_pairs: MaxPairsOption = None,
    time_limit: TimeLimitOption = None,
) -> None:
    """Run a co-design request: map every layer of one network on one accelerator, or
    search network and accelerator spaces with the co-design planner."""
    from dslc.report.codesign import plot_pareto, render_outcome
    from dslc.report.progress import layer_progress, pair_progress
    from dslc.report.run import render_run

    quiet = format is OutputFormat.json
    note = ""
    shown: RenderableType
    program = api.compile(file)
    _note_kernel_compile()
    if api.is_single_design(program, codesign):
        with layer_progress(console, disable=quiet) as progress:
            design = api.run(program, codesign, progress=progress)
        written = export.write_design(out, design.result, design.problems) if out else ()
        data = export.network_result_to_json(design.result, design.problems)
        shown = render_run(design.result, design.problems, design.codesign,
                           design.options.objective_text)
    else:
        with pair_progress(console, disable=quiet) as progress:
            found = api.search(program, codesign, store=cache, fresh=fresh, jobs=jobs,
                               scheduler=scheduler, strategy=strategy, max_pairs=max_pairs,
                               time_limit_s=time_limit, progress=progress)
        written = export.write_codesign(out, found.outcome, found.notes) if out else ()
        if out is not None and plot_pareto(found.outcome, out / "pareto.png"):
            written = (*written, "pareto.png")
        elif out is not None:
            note = " (pareto.png needs the plot extra)"
        data = export.outcome_to_json(found.outcome, store_notes=found.notes)
        shown = render_outcome(found.outcome, reused=found.reused, store=found.store,
                               notes=found.notes)
    if quiet:
        console.print(export.to_json(data), markup=False)
        return
    console.print(shown)
    if out is not None:
        console.print(f"wrote {export.listing(written)} to {out}{note}", markup=False)


@command("plan")
def plan_command(file: FileArgument, codesign: CodesignOption = None,
                 format: FormatOption = OutputFormat.table, strategy: StrategyOption = None,
                 max_pairs: MaxPairsOption = None, time_limit: TimeLimitOption = None
                 ) -> None:
    """Print the co-design planner's plan (phases, what the constraints rule out, the most
    pairs the run evaluates) without evaluating any pair."""
    from dslc.report.codesign import render_plan

    the_plan = api.plan(api.compile(file), codesign, strategy=strategy, max_pairs=max_pairs,
                        time_limit_s=time_limit)
    if format is OutputFormat.json:
        console.print(export.to_json(export.plan_to_json(the_plan)), markup=False)
        return
    console.print(render_plan(the_plan))


def _shape_option(text: str | None) -> tuple[int, ...]:
    if text is None:
        raise UsageError("--torch needs --input, the input shape batch first (1,3,224,224)")
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"bad --input `{text}`: give sizes separated by commas, batch first "
                         "(1,3,224,224)") from None


@command("import")
def import_command(
    model: Annotated[Path | None, typer.Argument(help="an ONNX model (.onnx)")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="the .cd file to write (default: print it)")] = None,
    name: Annotated[str | None, typer.Option(
        help="the network's name (default: the file's or the factory's)")] = None,
    skip_unknown: Annotated[bool, typer.Option(
        "--skip-unknown", help="leave out operators dslc cannot express (listed at the top "
        "of the written file) instead of failing")] = False,
    torch: Annotated[str | None, typer.Option(
        "--torch", help="a PyTorch module factory, pkg.module:factory (needs the torch "
        "extra), instead of MODEL")] = None,
    input: Annotated[str | None, typer.Option(
        "--input", help="with --torch: the input shape, batch first, e.g. 1,3,224,224")
                     ] = None,
) -> None:
    """Import a model as a .cd network: an ONNX file, or a PyTorch module via ONNX."""
    if (model is None) == (torch is None):
        raise UsageError("give an ONNX model file or --torch pkg.module:factory (not both)")
    if torch is not None:
        imported = api.import_torch(torch, _shape_option(input), name=name,
                                    skip_unknown=skip_unknown)
    else:
        assert model is not None
        imported = api.import_onnx(model, name=name, skip_unknown=skip_unknown)
    if out is None:
        console.print(imported.text, markup=False, end="")
        return
    export.write_text(out, imported.text)
    console.print(f"wrote {out}: network `{imported.network.name}`, "
                  f"{len(imported.network.layers)} layers, {imported.macs:,} MACs, "
                  f"{imported.weights:,} weights", markup=False)


class ExportTarget(StrEnum):
    timeloop = "timeloop"
    accelforge = "accelforge"


@command("export")
def export_command(
    file: FileArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="directory to write into")],
    to: Annotated[ExportTarget, typer.Option("--to", help="the tool's format")
                  ] = ExportTarget.timeloop,
    mapping: Annotated[str | None, typer.Option(
        "--mapping", "-m", help="a mapping block to export")] = None,
    network: Annotated[str | None, typer.Option("--network", "-n", help="network name")
                       ] = None,
    layer: Annotated[str | None, typer.Option(
        "--layer", "-l", help="one layer (default: every distinct layer of the network)")
                     ] = None,
    accelerator: Annotated[str | None, typer.Option(
        "--accelerator", "-a", help="accelerator name")] = None,
    best: Annotated[bool, typer.Option(
        "--best", help="export the best mappings the mapper finds (the default without "
        "--mapping)")] = False,
    search: Annotated[str, typer.Option(help="auto, exhaustive, heuristic or random")
                      ] = "auto",
    objective: Annotated[str, typer.Option(help="energy, latency or edp")] = "edp",
    batch: Annotated[int, typer.Option(help="batch size N")] = 1,
) -> None:
    """Export problems, the architecture and mappings as another tool's files (Timeloop v3
    YAML: docs/interop.md)."""
    if to is ExportTarget.accelforge:
        raise UsageError("--to accelforge is not supported: its input format is not pinned "
                         "to a released version yet (docs/interop.md); use --to timeloop")
    if mapping is not None and (best or network or layer or accelerator):
        raise UsageError("--mapping exports that block; it takes no -n/-l/-a/--best")
    program = api.compile(file)
    options = api.mapper_settings(search=search, objective=objective)
    if mapping is None:
        _note_kernel_compile()
    files = api.export_timeloop(program, mapping=mapping, network_name=network, layer=layer,
                                accelerator_name=accelerator, options=options, batch=batch)
    for relative, text in files.items():
        export.write_text(out / relative, text)
    problems = sum(1 for name in files if name.startswith("prob/"))
    console.print(f"wrote {len(files)} files to {out}: {problems} "
                  f"problem{'s' if problems != 1 else ''} with their mappings, the "
                  "architecture, its energy and area tables (README.txt has the "
                  "timeloop-model commands)", markup=False)


@command("import-timeloop")
def import_timeloop_command(
    directory: Annotated[Path, typer.Argument(help="a directory of Timeloop v3 .yaml files")],
    format: FormatOption = OutputFormat.table,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="also write the study as a .cd spec (accelerator, einsum "
        "networks, mapping blocks)")] = None,
) -> None:
    """Read a Timeloop v3 study (architecture, problems, mappings) and evaluate each
    mapping with dslc's cost model."""
    from dslc.report.cost import render_cost

    study = api.import_timeloop(directory)
    if out is not None:
        export.write_text(out, export.study_to_cd(
            study.arch, [(layer.name, layer.problem, layer.mapping) for layer in study.layers],
            str(directory)))
    if format is OutputFormat.json:
        console.print(export.to_json({
            "accelerator": study.accelerator.model_dump(mode="json"),
            "layers": [{"name": layer.name, "cost": export.cost_to_json(layer.cost)}
                       for layer in study.layers]}), markup=False)
        return
    console.print(f"accelerator `{study.arch.name}`: {len(study.arch.levels)} memory levels, "
                  f"{study.arch.compute.instances} MAC units", markup=False)
    for layer in study.layers:
        console.print(render_cost(layer.cost, per_instance=console.width >= 150))
    if out is not None:
        console.print(f"wrote {out}", markup=False)


def main() -> None:
    """Entry point: run the app; what escapes a command's own handling (option parsing
    callbacks, typer itself) is reported the same way."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        console.print("interrupted", markup=False)
        sys.exit(INTERRUPTED)
    except Exception as exc:  # an unexpected exception is a bug in dslc, never the user's
        _report_bug(exc)
        sys.exit(BUG)


if __name__ == "__main__":
    main()
