"""The `dslc` command line (typer): each command parses options, calls dslc.api, renders.

Exit codes: 0 clean, 1 the input has errors (diagnostics, or a valid spec that cannot run
as asked), 2 usage errors (an unknown name or a bad option), 3 an internal error (a bug),
130 interrupted. Every command runs under `command`, which turns the API's `UserError`s
into those codes and any other exception into a bug report; nothing here computes, and
files are written by dslc.export.

Streams: stdout carries the result only (lint's diagnostics are its result); progress,
notes and errors go to stderr. With `--format json` stdout is one JSON document whatever
happens: the result, `{"diagnostics": [...]}` for spec errors, or `{"error": {...}}`.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.text import Text

from dslc import __version__, api
from dslc.diagnostics.codes import CODES, explain
from dslc.diagnostics.diagnostic import (
    CannotRunError,
    Diagnostic,
    DiagnosticError,
    Severity,
    UsageError,
    UserError,
    interrupted,
)
from dslc.diagnostics.render import (
    MAX_SHOWN_DIAGNOSTICS,
    error_to_json,
    group_identical,
    hidden_line,
    printable,
    render_concise,
    render_full,
    render_json,
    summary_line,
)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="dslc: hardware/software co-design of neural-network accelerators.")
console = Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
"""stdout: the result, nothing else. Neither emoji codes (`:x:`) nor markup (`[bold]`) are
ever substituted in what it prints, tables included: a file named `a:x:b.cd` does not
print as `a❌b.cd` (styles are given as `style=`, never as markup)."""
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False,
                      markup=False)
"""stderr: progress, notes and errors."""

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
    layers = "layers"


FileArgument = Annotated[Path, typer.Argument(help="spec file")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="output format")]
CodesignOption = Annotated[str | None, typer.Option(
    "--codesign", "-c", help="co-design request (default: the only one)")]
StrategyOption = Annotated[str | None, typer.Option(
    help="override the request's strategy (auto, exhaustive, semi_decoupled, random, "
         "differentiable)")]
MaxPairsOption = Annotated[int | None, typer.Option(
    "--max-pairs", help="evaluate at most this many pairs (overrides the request's)")]
TimeLimitOption = Annotated[float | None, typer.Option(
    "--time-limit", help="stop after this many seconds (overrides the request's)")]

AllowOutsideOption = Annotated[bool, typer.Option(
    "--allow-import-outside",
    help="let imports read .cd files outside the spec's directory tree (absolute paths, "
         "../); by default only the spec's directory and std/ are read")]

ForceOption = Annotated[bool, typer.Option(
    "--force", help="overwrite the files this command writes into --out if they exist "
    "(other files there are never touched)")]

P = ParamSpec("P")
R = TypeVar("R")


_ALL_DIAGNOSTICS_LINT = "--max-diagnostics 0 shows them all"
_ALL_DIAGNOSTICS_OTHER = "dslc lint --max-diagnostics 0 shows them all"
_PRINT_CHUNK = 256
"""Diagnostics printed per write."""


def _print_diagnostics(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic],
                       fmt: Format, files: int | None, out: Console,
                       limit: int = MAX_SHOWN_DIAGNOSTICS,
                       how: str = _ALL_DIAGNOSTICS_OTHER) -> None:
    """Diagnostics in `fmt` (the text formats: the first `limit` distinct ones, all for
    0, then a line counting the rest, saying `how` to see them), then lint's summary line
    (unless `files` is None)."""
    if fmt is Format.json:
        out.print(render_json(list(diagnostics)), markup=False)
        return
    groups = group_identical(list(diagnostics))
    shown = groups if limit == 0 else groups[:limit]
    # A few hundred diagnostics per write: rich's cost per printed line (about 85 us per
    # diagnostic) was most of the time of 150,000 of them, so text that is not styled (not
    # a terminal) is written as it is.
    styled = out.is_terminal
    end = "\n\n" if fmt is Format.full else "\n"  # full: a blank line after each
    for first in range(0, len(shown), _PRINT_CHUNK):
        chunk = Text()
        for diagnostic, others in shown[first:first + _PRINT_CHUNK]:
            text = render_full(diagnostic, others) if fmt is Format.full else \
                render_concise(diagnostic, others)
            head, newline, rest = text.partition("\n")
            # Only the head line is styled (and only on a terminal).
            chunk.append(head, style=_SEVERITY_STYLE[diagnostic.severity] if styled else "")
            chunk.append(newline + rest + end)
        if styled:
            out.print(chunk, end="")
        else:
            out.file.write(chunk.plain)
    if len(shown) < len(groups):
        out.print(hidden_line(len(groups) - len(shown), how), markup=False)
    if files is not None:
        out.print(summary_line(list(diagnostics), files), markup=False)


def _json_document(data: object) -> None:
    """The one JSON document of a `--format json` command, on stdout."""
    console.print(json.dumps(data, indent=2), markup=False)


def _report(exc: UserError, as_json: bool) -> None:
    """A user error on stderr, and as the JSON document on stdout under `--format json`."""
    if as_json:
        _json_document(error_to_json(exc))
    if isinstance(exc, DiagnosticError):
        _print_diagnostics(list(exc.diagnostics), Format.full, None, err_console)
        return
    reasons = exc.reasons if isinstance(exc, CannotRunError) else ()
    err_console.print(f"error: {printable(str(exc))}{':' if reasons else ''}",
                      style="bold red", markup=False)
    for reason in reasons:
        err_console.print(f"  - {printable(reason)}", markup=False)


def _report_bug(exc: BaseException, as_json: bool) -> None:
    message = f"internal error: {type(exc).__name__}: {exc}"
    if as_json:
        _json_document({"error": {"kind": "internal", "code": "E900", "message": message,
                                  "reasons": [], "exit_code": BUG}})
    err_console.print(f"error[E900]: {message}", style="bold red", markup=False)
    err_console.print("this is a bug in dslc; please report it with the spec that caused it",
                      markup=False)


def _report_interrupt(as_json: bool) -> None:
    if as_json:
        _json_document({"error": {"kind": "interrupted", "message": "interrupted",
                                  "reasons": [], "exit_code": INTERRUPTED}})
    err_console.print("interrupted", markup=False)


def _wants_json(args: list[str]) -> bool:
    """Whether a command line asks for `--format json` (in any of its spellings)."""
    for i, arg in enumerate(args):
        if arg in ("--format=json", "-fjson"):
            return True
        if arg in ("--format", "-f") and args[i + 1:i + 2] == ["json"]:
            return True
    return False


learn_app = typer.Typer(no_args_is_help=True,
                         help="learned models for co-design (needs the learn extra)")
app.add_typer(learn_app, name="learn")


def command(name: str | None = None, group: typer.Typer | None = None
            ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a command that reports the API's errors by kind: a `UserError` with its
    exit code, an interrupt with 130, anything else as a bug (exit 3)."""
    def register(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            as_json = str(kwargs.get("format", "")) == "json"
            try:
                return function(*args, **kwargs)
            except (typer.Exit, typer.Abort, typer.TyperException):
                raise  # typer's own exits and usage errors carry their codes
            except UserError as exc:
                _report(exc, as_json)
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                _report_interrupt(as_json)
                raise typer.Exit(INTERRUPTED) from None
            except Exception as exc:  # anything else is a bug in dslc, never the user's
                if interrupted(exc):  # a Ctrl-C the compiled kernel reported as its error
                    _report_interrupt(as_json)
                    raise typer.Exit(INTERRUPTED) from None
                _report_bug(exc, as_json)
                raise typer.Exit(BUG) from None
        (app if group is None else group).command(name=name)(guarded)
        return guarded
    return register


@contextmanager
def _writing(out: Path | None) -> Iterator[None]:
    """Writing results into `out`: an OS error (a full disk, a permission) is a
    CannotRunError naming the directory, not a bug."""
    try:
        yield
    except OSError as exc:
        raise CannotRunError(f"cannot write into {out}: {exc.strerror or exc}") from None


def _print_version(value: bool) -> None:
    if value:
        console.print(f"dslc {__version__}", markup=False)
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_print_version, is_eager=True,
        help="print the version and exit")] = False,
) -> None:
    """dslc: hardware/software co-design of neural-network accelerators."""


@contextmanager
def _kernel_compiled_elsewhere() -> Iterator[None]:
    """When the mapper's compiled kernel is not in numba's cache yet (the first run on a
    machine), compile it in a background process (`dslc compile-kernel`) and run this
    command on the numpy path meanwhile, which gives the same numbers: no 12-20 s pause
    before the first result. Says so on stderr."""
    from dslc.cost import kernel

    lock = kernel.claim_compile()
    if lock is None:
        yield
        return
    if lock:
        environment = {k: v for k, v in os.environ.items() if k != kernel.DISABLE_ENV}
        try:
            subprocess.Popen([sys.executable, "-m", "dslc", "compile-kernel", "--lock", lock],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=environment,
                             start_new_session=True)
        except OSError:
            with suppress(OSError):
                os.remove(lock)
            err_console.print("note: compiling the cost model's kernel (once per machine, "
                              "about 20 s)", markup=False)
            yield
            return
    err_console.print("note: the cost model's kernel is compiling in the background (once "
                      "per machine, from 20 s to minutes); this run uses the numpy path: the "
                      "same results, a little slower", markup=False)
    with kernel.deferred():
        yield


@command()
def lint(
    files: Annotated[list[Path], typer.Argument(
        help="spec files, or directories to check every .cd file under")],
    format: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.full,
    allow_import_outside: AllowOutsideOption = False,
    max_diagnostics: Annotated[int, typer.Option(
        "--max-diagnostics",
        help="distinct diagnostics printed in the text formats, the rest counted in one "
             "line (0: all; JSON lists all)")] = MAX_SHOWN_DIAGNOSTICS,
) -> None:
    """Check spec files: syntax, names, units, shapes, accelerators, mappings, spaces."""
    if max_diagnostics < 0:
        raise UsageError(f"--max-diagnostics must be 0 (all) or more, not {max_diagnostics}")
    result = api.lint(files, allow_outside_imports=allow_import_outside)
    _print_diagnostics(result.diagnostics, format, len(result.files), console,
                       limit=max_diagnostics, how=_ALL_DIAGNOSTICS_LINT)
    raise typer.Exit(1 if result.errors else 0)


@command("explain")
def explain_command(code: Annotated[str, typer.Argument(help="a diagnostic code, e.g. E201")]
                    ) -> None:
    """Explain a diagnostic code."""
    text = explain(code)
    if text is None:
        err_console.print(f"error: unknown code `{code}`; codes: {', '.join(sorted(CODES))}",
                          style="bold red", markup=False)
        raise typer.Exit(2)
    console.print(text, markup=False)


@command()
def dump(
    file: FileArgument,
    stage: Annotated[Stage, typer.Option("--stage", help="which intermediate form")] = Stage.spec,
    allow_import_outside: AllowOutsideOption = False,
) -> None:
    """Print an intermediate form: AST, spec models, layer graph or loop nests (JSON), or
    the table of layers (op, shapes, MACs, weights, totals)."""
    from dslc import export

    if stage is Stage.ast:
        console.print(api.dump_ast(file), markup=False)
        return
    program = api.compile(file, allow_outside_imports=allow_import_outside)
    if stage is Stage.layers:
        from dslc.report.layers import render_layers

        console.print(render_layers(api.layer_table(program)))
        return
    data = api.dump_spec(program) if stage is Stage.spec else export.lowered_stage(
        api.dump_lowered(program), "layers" if stage is Stage.graph else "problems")
    console.print(export.to_json(data), markup=False)


@command("eval")
def eval_command(
    file: FileArgument,
    mapping: Annotated[str, typer.Option("--mapping", "-m", help="name of a mapping block")],
    format: FormatOption = OutputFormat.table,
    allow_import_outside: AllowOutsideOption = False,
) -> None:
    """Evaluate a fixed `mapping` block: accesses, energy, cycles, utilisation, area."""
    from dslc import export
    from dslc.report.cost import render_cost

    program = api.compile(file, allow_outside_imports=allow_import_outside)
    cost = api.evaluate(program, mapping)
    if format is OutputFormat.json:
        console.print(export.to_json(export.cost_to_json(cost)), markup=False)
    else:
        console.print(render_cost(cost, per_instance=console.width >= 150))


@command("map")
def map_command(
    file: FileArgument,
    network: Annotated[str, typer.Option(
        "--network", "-n", help="network name, or NAME(param = value, ...) for a point")],
    layer: Annotated[str, typer.Option("--layer", "-l", help="layer name, e.g. layer1.0.a")],
    accelerator: Annotated[str, typer.Option(
        "--accelerator", "-a",
        help="accelerator name, or NAME(param = value, ...) for a point of a space")],
    format: FormatOption = OutputFormat.table,
    search: Annotated[str, typer.Option(help="auto, exhaustive, heuristic or random")
                      ] = "auto",
    budget: Annotated[int, typer.Option(
        help="mappings the heuristic evaluates (its starts' descents may run to five times it)"
    )] = 10000,
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
    allow_import_outside: AllowOutsideOption = False,
) -> None:
    """Find the best mapping of one layer on one accelerator."""
    from dslc import export
    from dslc.report.mapping import render_layer_mapping

    options = api.mapper_settings(search=search, budget=budget, objective=objective,
                                  seed=seed, imperfect=imperfect)
    program = api.compile(file, allow_outside_imports=allow_import_outside)
    network, network_point = api.design_point(program, network, "network")
    accelerator, accelerator_point = api.design_point(program, accelerator, "accelerator")
    if constraints is not None:
        options = api.mapper_settings(
            search=search, budget=budget, objective=objective, seed=seed,
            imperfect=imperfect,
            constraints=api.map_constraints(program, constraints, accelerator,
                                            accelerator_point))
    with _kernel_compiled_elsewhere():
        found = api.map_layer(program, network, layer, accelerator, options=options,
                              batch=batch, network_point=network_point,
                              accelerator_point=accelerator_point)
    network_ref = api.point_text(program, network, "network", found.network_point)
    accelerator_ref = api.point_text(program, accelerator, "accelerator",
                                     found.accelerator_point)
    for kind, given, ref in (("network", network_point, network_ref),
                             ("accelerator", accelerator_point, accelerator_ref)):
        if given is None and ref.endswith(")"):
            err_console.print(f"note: the {kind} is a space; mapped on its first point, "
                              f"{ref} (pick one with NAME(param = value, ...))",
                              markup=False)
    if format is OutputFormat.json:
        data = export.map_result_to_json(found.result, found.problem)
        data["design"] = {"network": network_ref, "accelerator": accelerator_ref}
        console.print(export.to_json(data), markup=False)
        return
    console.print(render_layer_mapping(found, network_ref, layer,
                                       per_instance=console.width >= 150,
                                       accelerator=accelerator_ref))


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
    jobs: Annotated[int, typer.Option(
        help="worker processes: the distinct layers of one design, or the pairs of a search")
    ] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (needs the dask extra)")] = None,
    strategy: StrategyOption = None,
    max_pairs: MaxPairsOption = None,
    time_limit: TimeLimitOption = None,
    allow_import_outside: AllowOutsideOption = False,
    force: ForceOption = False,
) -> None:
    """Run a co-design request: map every layer of one network on one accelerator, or
    search network and accelerator spaces with the co-design planner."""
    from dslc import export
    from dslc.report.codesign import plot_pareto, plot_trajectory, render_outcome
    from dslc.report.progress import layer_progress, pair_progress
    from dslc.report.run import plot_breakdown, render_run

    quiet = format is OutputFormat.json
    note = ""
    shown: RenderableType
    # Checked first, also for a request of one design, which uses only --jobs.
    api.check_search_options(jobs=jobs, strategy=strategy, max_pairs=max_pairs,
                             time_limit_s=time_limit)
    program = api.compile(file, allow_outside_imports=allow_import_outside)
    single = api.is_single_design(program, codesign)
    if out is not None:  # refused now, not after the search
        api.check_out_dir(out, export.DESIGN_FILES if single else export.CODESIGN_FILES,
                          force=force)
    if single:
        with _kernel_compiled_elsewhere(), \
                layer_progress(err_console, disable=not err_console.is_terminal) as progress:
            design = api.run(program, codesign, progress=progress, jobs=jobs)
        with _writing(out):
            written = export.write_design(out, design.result, design.problems,
                                          design.objective) if out else ()
            if out is not None and plot_breakdown(design.result, out / "breakdown.png"):
                written = (*written, "breakdown.png")
            elif out is not None:
                note = " (breakdown.png needs the plot extra)"
        data = export.network_result_to_json(design.result, design.problems,
                                             objective=design.objective)
        shown = render_run(design.result, design.problems, design.codesign,
                           design.options.objective_text)
    else:
        with _kernel_compiled_elsewhere(), \
                pair_progress(err_console, disable=not err_console.is_terminal) as progress:
            found = api.search(program, codesign, store=cache, fresh=fresh, jobs=jobs,
                               scheduler=scheduler, strategy=strategy, max_pairs=max_pairs,
                               time_limit_s=time_limit, progress=progress)
        with _writing(out):
            written = export.write_codesign(out, found.outcome, found.notes) if out else ()
            if out is not None and plot_pareto(found.outcome, out / "pareto.png"):
                written = (*written, "pareto.png")
                if plot_trajectory(found.outcome, out / "trajectory.png"):
                    written = (*written, "trajectory.png")
            elif out is not None:
                note = " (pareto.png needs the plot extra)"
        data = export.outcome_to_json(found.outcome, store_notes=found.notes)
        shown = render_outcome(found.outcome, reused=found.reused, store=found.store,
                               notes=found.notes, width=console.width)
    if quiet:
        console.print(export.to_json(data), markup=False)
    else:
        console.print(shown)
    if out is not None:  # a note: on stderr whatever the format (docs/cli.md, "Streams")
        err_console.print(f"wrote {export.listing(written)} to {out}{note}", markup=False)


@command("plan")
def plan_command(file: FileArgument, codesign: CodesignOption = None,
                 format: FormatOption = OutputFormat.table, strategy: StrategyOption = None,
                 max_pairs: MaxPairsOption = None, time_limit: TimeLimitOption = None,
                 allow_import_outside: AllowOutsideOption = False) -> None:
    """Print the co-design planner's plan (phases, what the constraints rule out, the most
    pairs the run evaluates) without evaluating any pair."""
    from dslc import export
    from dslc.report.codesign import render_plan

    api.check_search_options(strategy=strategy, max_pairs=max_pairs, time_limit_s=time_limit)
    program = api.compile(file, allow_outside_imports=allow_import_outside)
    the_plan = api.plan(program, codesign, strategy=strategy, max_pairs=max_pairs,
                        time_limit_s=time_limit)
    if format is OutputFormat.json:
        console.print(export.to_json(export.plan_to_json(the_plan)), markup=False)
        return
    console.print(render_plan(the_plan))


@command("evaluator", group=learn_app)
def learn_evaluator_command(
    file: FileArgument,
    codesign: CodesignOption = None,
    format: FormatOption = OutputFormat.table,
    cache: Annotated[Path | None, typer.Option(
        help="SQLite store of finished pairs (default: .dslc/ beside the spec); the trained "
             "evaluator is saved beside it")] = None,
    jobs: Annotated[int, typer.Option(help="worker processes for the exact costing")] = 1,
    allow_import_outside: AllowOutsideOption = False,
) -> None:
    """Train (or read back) the learned cost evaluator of a co-design request (its
    `differentiable` settings: training fraction, held-out pairs, seed) and report how well
    it predicts the exact model on pairs it was not trained on."""
    from dslc import export
    from dslc.report.codesign import render_evaluator
    from dslc.report.progress import pair_progress

    api.check_search_options(jobs=jobs)
    program = api.compile(file, allow_outside_imports=allow_import_outside)
    with _kernel_compiled_elsewhere(), \
            pair_progress(err_console, disable=not err_console.is_terminal) as progress:
        quality = api.learn_evaluator(program, codesign, store=cache, jobs=jobs,
                                      progress=progress)
    if format is OutputFormat.json:
        console.print(export.to_json(export.evaluator_json(quality)), markup=False)
        return
    console.print(render_evaluator(quality))


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
    from dslc import export

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
    with _writing(out):
        export.write_text(out, imported.text)
    err_console.print(f"wrote {out}: network `{imported.network.name}`, "
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
    allow_import_outside: AllowOutsideOption = False,
    force: ForceOption = False,
) -> None:
    """Export problems, the architecture and mappings as another tool's files (Timeloop v3
    or AccelForge 1.0.467 YAML: docs/interop.md)."""
    from dslc import export

    if mapping is not None and (best or network or layer or accelerator):
        raise UsageError("--mapping exports that block; it takes no -n/-l/-a/--best")
    api.check_out_dir(out, (), force=force)
    program = api.compile(file, allow_outside_imports=allow_import_outside)
    options = api.mapper_settings(search=search, objective=objective)
    with _kernel_compiled_elsewhere() if mapping is None else nullcontext():
        writer = (api.export_accelforge if to is ExportTarget.accelforge
                  else api.export_timeloop)
        files = writer(program, mapping=mapping, network_name=network, layer=layer,
                       accelerator_name=accelerator, options=options, batch=batch)
    api.check_out_dir(out, sorted(files), force=force)
    with _writing(out):
        for relative, text in files.items():
            export.write_text(out / relative, text)
    problems = sum(1 for name in files if name.startswith(("prob/", "workload/")))
    tables = ("the architecture (README.txt has the AccelForge call)"
              if to is ExportTarget.accelforge else "the architecture, its energy and area "
              "tables (README.txt has the timeloop-model commands)")
    err_console.print(f"wrote {len(files)} files to {out}: {problems} "
                      f"problem{'s' if problems != 1 else ''} with their mappings, {tables}",
                      markup=False)
    notes = api.export_notes(files) if to is ExportTarget.timeloop else ""
    if notes:
        err_console.print(notes, markup=False)


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
    from dslc import export
    from dslc.report.cost import render_cost

    study = api.import_timeloop(directory)
    if out is not None:
        with _writing(out):
            export.write_text(out, export.study_to_cd(
                study.arch,
                [(layer.name, layer.problem, layer.mapping) for layer in study.layers],
                str(directory)))
    if format is OutputFormat.json:
        console.print(export.to_json({
            "accelerator": study.accelerator.model_dump(mode="json"),
            "layers": [{"name": layer.name, "cost": export.cost_to_json(layer.cost)}
                       for layer in study.layers],
            "estimated": list(study.estimated)}), markup=False)
    else:
        console.print(f"accelerator `{study.arch.name}`: {len(study.arch.levels)} memory "
                      f"levels, {study.arch.compute.instances} MAC units", markup=False)
        for layer in study.layers:
            console.print(render_cost(layer.cost, per_instance=console.width >= 150))
    if study.estimated:  # a note: on stderr whatever the format
        err_console.print("no ERT entry or vector-access-energy gives the energies of "
                          f"{', '.join(f'`{name}`' for name in study.estimated)}: they are "
                          "dslc's estimate (Timeloop would use its own)", markup=False)
    if out is not None:
        err_console.print(f"wrote {out}", markup=False)


@command("compile-kernel")
def compile_kernel_command(
    lock: Annotated[Path | None, typer.Option(
        hidden=True, help="a lock file to remove when done (the background compile's)")
                    ] = None,
) -> None:
    """Compile the cost model's kernel into numba's cache now (after installing, say); the
    first `map` or `run` otherwise starts it in the background."""
    try:
        compiled = api.compile_kernel()
    finally:
        if lock is not None:
            with suppress(OSError):
                lock.unlink()
    err_console.print("compiled the cost model's kernel" if compiled else
                      "nothing to compile: numba is not installed (the fast extra) or "
                      "DSLC_NO_JIT is set", markup=False)


def main() -> None:
    """Entry point: run the app; what escapes a command's own handling (option parsing,
    typer itself) is reported the same way, and under `--format json` a usage error is a
    JSON document on stdout too."""
    as_json = _wants_json(sys.argv[1:])
    try:
        code = app(prog_name="dslc", standalone_mode=False)
    except typer.TyperException as exc:  # click's usage errors: bad options, missing args
        from typer import rich_utils

        rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
        exit_code = int(getattr(exc, "exit_code", 2))
        if as_json:
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            _json_document({"error": {"kind": "usage", "message": message, "reasons": [],
                                      "exit_code": exit_code}})
        sys.exit(exit_code)
    except typer.Abort:
        err_console.print("aborted", markup=False)
        sys.exit(1)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _report_interrupt(as_json)
        sys.exit(INTERRUPTED)
    except Exception as exc:  # an unexpected exception is a bug in dslc, never the user's
        if interrupted(exc):
            _report_interrupt(as_json)
            sys.exit(INTERRUPTED)
        _report_bug(exc, as_json)
        sys.exit(BUG)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
