"""Progress bars for long commands: mapping a network's layers, evaluating co-design pairs.

In: the console to draw on and whether to draw at all. Out: a context manager yielding the
callback the API takes (`progress=`), which moves a transient rich bar. Nothing is computed
here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


@contextmanager
def layer_progress(console: Console, *, disable: bool) -> Iterator[
        Callable[[int, int, str], None]]:
    """A bar over distinct layers: the callback takes (done, total, layer name)."""
    with Progress(TextColumn("mapping {task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True, disable=disable) as bar:
        task = bar.add_task("layers", total=None)

        def update(done: int, total: int, layer: str) -> None:
            bar.update(task, completed=done, total=total, description=layer)

        yield update


@contextmanager
def pair_progress(console: Console, *, disable: bool) -> Iterator[
        Callable[[str, int, int, float], None]]:
    """A bar over co-design pairs: the callback takes (phase, done, total, best so far)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("best {task.fields[best]}"), TimeRemainingColumn(),
                  console=console, transient=True, disable=disable) as bar:
        task = bar.add_task("pairs", total=None, best="-")

        def update(phase: str, done: int, total: int, best: float) -> None:
            bar.update(task, completed=done, total=total, description=phase,
                       best="-" if best == float("inf") else f"{best:.4g}")

        yield update
