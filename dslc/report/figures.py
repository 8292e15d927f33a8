"""Writing the report's matplotlib figures as PNG files.

In: a function that builds a figure (called only when matplotlib is installed) and a path.
Out: whether the file was written. It does not build figures (run.py and codesign.py do)
and writes no timestamp into the file, so the same figure gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def save_png(build_figure: Callable[[], object], path: Path, *, dpi: int) -> bool:
    """Build the figure and write it to `path` as a PNG; False without matplotlib (the
    `plot` extra), in which case nothing is built."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure = build_figure()
    figure.savefig(path, dpi=dpi, metadata={"Software": None})  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    return True
