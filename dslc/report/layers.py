"""The layer table of `dslc dump --stage layers`: per network, each layer's op, input and
output shapes, MACs and weights, and the totals.

In: `dslc.api.layer_table`'s rows. Out: rich tables. It computes nothing but the sums.
"""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table

from dslc.api import LayerRow
from dslc.report.cost import format_count


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape)


def render_layers(networks: dict[str, tuple[LayerRow, ...]]) -> RenderableType:
    """One table per network (batch 1; shapes without the batch)."""
    tables = []
    for name, rows in networks.items():
        table = Table(title=f"{name}: {len(rows)} layers", title_justify="left",
                      box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
        cells = [[row.name, row.op, ", ".join(_shape(s) for s in row.inputs),
                  _shape(row.output), format_count(row.macs) if row.macs else "-",
                  format_count(row.weights) if row.weights else "-"] for row in rows]
        total = ["total", "", "", "", format_count(sum(r.macs for r in rows)),
                 format_count(sum(r.weights for r in rows))]
        headers = ["layer", "op", "inputs", "output", "MACs", "weights"]
        for index, header in enumerate(headers):
            # Never cut: only the inputs column wraps (at its commas) when space is short.
            width = max(len(c[index]) for c in [headers, *cells, total])
            table.add_column(header, justify="right" if index >= 4 else "left",
                             no_wrap=header != "inputs",
                             min_width=None if header == "inputs" else width)
        for row_cells in cells:
            table.add_row(*row_cells)
        table.add_section()
        table.add_row(*total, style="bold")
        tables.append(table)
    return Group(*tables)
