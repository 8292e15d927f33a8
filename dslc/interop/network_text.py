"""An imported network as readable `.cd` text.

Owns `ImportedLayer` (one layer statement: an operator call with its tensor arguments and
keyword attributes, the source node it came from), `ImportedNetwork` (inputs, layers and the
header comments that say what the import did), `Names` (turning foreign names into unique
identifiers of the language) and `network_text` (the text). In: values the importers build.
Out: text. It does not check the network (the API compiles the text and treats errors as
bugs) and does not read any model format.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from dslc.ops.registry import NAMES as OPERATOR_NAMES

AttrValue = int | bool | str | tuple[int, ...]

RESERVED = frozenset({
    "accelerator", "allow", "block", "bypass", "codesign", "constraint", "constraints", "dims",
    "einsum", "factors", "for", "forbid", "from", "idle", "import", "in", "input", "keep",
    "layer", "mapping", "network", "on", "order", "output", "param", "repeat", "return",
    "spatial", "step", "template", "temporal", "weight", "true", "false", "prev", "same",
    "all", *OPERATOR_NAMES,
})
"""Words an imported name may not be: the grammar's keywords, literals and operator names."""


@dataclass(frozen=True, slots=True)
class ImportedLayer:
    """`layer NAME = OP(ARGS, ATTRS)`, from the source node `source` (`OpType name`)."""

    name: str
    op: str
    args: tuple[str, ...]
    attrs: tuple[tuple[str, AttrValue], ...]
    source: str


@dataclass(frozen=True, slots=True)
class ImportedNetwork:
    """A network as an importer read it: the header comments, inputs and layers."""

    name: str
    inputs: tuple[tuple[str, tuple[int, ...]], ...]
    layers: tuple[ImportedLayer, ...]
    header: tuple[str, ...]
    weights: int | None = None
    """The model's conv and dense weights, each distinct constant once (a weight tied
    between layers counts once); None when the importer does not count them."""


class Names:
    """Unique language identifiers for foreign names (`layer1.0/conv1` -> `layer1_0_conv1`);
    a name met again gets `_2`, `_3`, ..."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._next: dict[str, int] = {}
        """Per base, the first suffix not yet tried: the ones below it are taken (names are
        never given back), so the k-th `relu` does not try k suffixes again (100,000 nodes
        of one module scope took quadratic time: 35 s for 20,000)."""

    def claim(self, wanted: str, fallback: str = "t") -> str:
        base = identifier(wanted) or identifier(fallback) or "t"
        name, index = base, 2
        if base.endswith("_"):  # a reserved word: relu_1, relu_2, ...
            base, index = base[:-1], 1
            name = f"{base}_1"
        if name in self._taken:
            index = max(index, self._next.get(base, index))
            name, index = f"{base}_{index}", index + 1
            while name in self._taken:
                name, index = f"{base}_{index}", index + 1
            self._next[base] = index
        self._taken.add(name)
        return name


def identifier(text: str) -> str:
    """`text` as an identifier of the language (non-identifier characters become `_`), or ''
    when nothing is left; a reserved word or a leading digit gets a prefix."""
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", text)).strip("_")
    if not name:
        return ""
    if name[0].isdigit():
        name = f"t{name}"
    return f"{name}_" if name in RESERVED else name


def _value(value: AttrValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"[{', '.join(str(v) for v in value)}]"
    return str(value)


def layer_line(layer: ImportedLayer) -> str:
    """The layer statement, without indentation."""
    parts = [*layer.args, *(f"{key} = {_value(value)}" for key, value in layer.attrs)]
    return f"layer {layer.name} = {layer.op}({', '.join(parts)})"


def comment_text(text: str) -> str:
    """`text` safe in a comment: a model's names and producer string are the model's word,
    and a line break would end the comment (the rest read as spec), an escape sequence
    would reach the terminal that prints the file; both become U+FFFD."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def network_text(network: ImportedNetwork) -> str:
    """The `.cd` text: the header as comments, then the network block, one layer a line
    with its source node as a trailing comment."""
    lines = [f"# {line}" if line else "#" for text in network.header
             for line in textwrap.wrap(comment_text(text), 94, break_on_hyphens=False)
             or [""]]
    lines += ["", f"network {network.name} {{"]
    lines += [f"    input {name}: [{', '.join(str(d) for d in shape)}]"
              for name, shape in network.inputs]
    statements = [layer_line(layer) for layer in network.layers]
    width = min(max((len(s) for s in statements), default=0), 88)
    lines += [f"    {s.ljust(width)}  # {comment_text(layer.source)}"
              for s, layer in zip(statements, network.layers, strict=True)]
    lines.append("}")
    return "\n".join(lines) + "\n"
