"""Terminal rendering of one layer's best mapping (what `dslc map` prints).

In: `dslc.api.LayerMapping` (the search result, its problem and accelerator). Out: a rich
group: how much of the map space was searched, the cost table, the loop nest and the
pasteable `mapping` block (both texts come from dslc.export). It computes nothing.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from dslc.api import LayerMapping
from dslc.export import format_loop_nest, mapping_to_cd, mapspace_text
from dslc.report.cost import render_cost


def render_layer_mapping(found: LayerMapping, network: str, layer: str, *,
                         per_instance: bool = False, accelerator: str | None = None
                         ) -> Group:
    """The search's size, the cost table, the loop nest and a `mapping` block to paste;
    `network` and `accelerator` are written as the block refers to them (with the point
    of a space: `net(width = 8)`)."""
    result, problem = found.result, found.problem
    return Group(
        Text(f"searched {result.evaluated:,} of {mapspace_text(result)} mappings "
             f"({result.search})"),
        render_cost(result.cost, per_instance=per_instance), Text(""),
        Text(format_loop_nest(result.mapping, problem)), Text(""),
        Text(mapping_to_cd(result.mapping, problem, found.arch,
                           f"best_{layer.replace('.', '_')}", f"{network}.{layer}",
                           accelerator)))
