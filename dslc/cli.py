"""The `dslc` command line (typer). Parses options, calls dslc.api, renders, sets exit codes.

Exit codes: 0 clean, 1 the input has errors, 2 usage errors, 3 an internal error (a bug).
Nothing here computes: every result comes from dslc.api.
"""

from __future__ import annotations

import sys
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
    try:
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
    except DiagnosticError as exc:
        _print_diagnostics(list(exc.diagnostics), Format.full, 1)
        raise typer.Exit(1) from None


@app.command(name="eval")
def eval_command(
    file: Annotated[Path, typer.Argument(help="spec file")],
    mapping: Annotated[str, typer.Option("--mapping", "-m", help="name of a mapping block")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="output format")
                      ] = OutputFormat.table,
) -> None:
    """Evaluate a fixed `mapping` block: accesses, energy, cycles, utilisation, area."""
    from dslc.cost.model import InvalidMappingError
    from dslc.cost.result import cost_to_json
    from dslc.report.cost import render_cost

    try:
        cost = api.evaluate(file, mapping)
    except DiagnosticError as exc:
        _print_diagnostics(list(exc.diagnostics), Format.full, 1)
        raise typer.Exit(1) from None
    except KeyError as exc:
        console.print(f"error: {exc.args[0]}", style="bold red", markup=False)
        raise typer.Exit(2) from None
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
