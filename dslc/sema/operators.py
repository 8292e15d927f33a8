"""Signatures of the built-in network operators.

For each operator: how many tensor inputs it takes, its keyword attributes with their kinds
and defaults, and which are required. Elaboration (dslc.sema.network) binds a call against
its signature; docs/language/ is generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

ELEMENTWISE_FUNCTIONS = (
    "relu", "relu6", "sigmoid", "swish", "hswish", "hsigmoid", "gelu", "tanh", "softmax",
    "layernorm", "batchnorm", "identity",
)


@dataclass(frozen=True, slots=True)
class Attribute:
    """A keyword attribute. kind: pos_int, nonneg_int, pair, pad_pair, bool, int_list, int."""

    name: str
    kind: str
    required: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Signature:
    op: str
    min_inputs: int
    max_inputs: int | None
    attributes: tuple[Attribute, ...]
    doc: str

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


_WINDOW = (
    Attribute("kernel", "pair", True, "filter height and width (an int or [h, w])"),
    Attribute("stride", "pair", False, "stride (default 1)"),
    Attribute("pad", "pad_pair", False, "zero padding per side, or `same` (default 0)"),
    Attribute("dilation", "pair", False, "dilation (default 1)"),
)

SIGNATURES: dict[str, Signature] = {
    "conv": Signature("conv", 1, 1, (
        Attribute("out", "pos_int", True, "output channels"), *_WINDOW,
        Attribute("groups", "pos_int", False, "channel groups (default 1)"),
    ), "2-D convolution over a [C, H, W] tensor"),
    "dwconv": Signature("dwconv", 1, 1, (
        *_WINDOW, Attribute("multiplier", "pos_int", False, "filters per channel (default 1)"),
    ), "depthwise convolution"),
    "dense": Signature("dense", 1, 1, (
        Attribute("out", "pos_int", True, "output features"),
    ), "fully connected layer over the last axis"),
    "matmul": Signature("matmul", 2, 2, (
        Attribute("transpose_b", "bool", False, "take the second operand as [.., N, K]"),
    ), "product of two activations [.., M, K] x [.., K, N]"),
    "maxpool": Signature("maxpool", 1, 1, (
        Attribute("kernel", "pair", False, "window (required unless global)"),
        Attribute("stride", "pair", False, "stride (default: the kernel)"),
        Attribute("pad", "pad_pair", False, "padding per side"),
        Attribute("global", "bool", False, "pool the whole map to 1x1"),
    ), "max pooling"),
    "add": Signature("add", 2, None, (), "elementwise sum (residual connection)"),
    "mul": Signature("mul", 2, 2, (), "elementwise product"),
    "concat": Signature("concat", 2, None, (
        Attribute("axis", "nonneg_int", False, "axis to join along (default 0, channels)"),
    ), "concatenation"),
    "flatten": Signature("flatten", 1, 1, (), "flatten to one axis"),
    "reshape": Signature("reshape", 1, 1, (
        Attribute("shape", "int_list", True, "the new shape"),
    ), "reinterpret with a new shape"),
    "transpose": Signature("transpose", 1, 1, (
        Attribute("perm", "int_list", True, "input axis of each output axis"),
    ), "permute axes"),
}
SIGNATURES["avgpool"] = Signature("avgpool", 1, 1, SIGNATURES["maxpool"].attributes,
                                  "average pooling")
SIGNATURES["linear"] = Signature("linear", 1, 1, SIGNATURES["dense"].attributes,
                                 "alias of dense")
for _function in ELEMENTWISE_FUNCTIONS:
    SIGNATURES[_function] = Signature(_function, 1, 1, (), f"elementwise {_function}")

OPERATORS = tuple(sorted([*SIGNATURES, "einsum"]))
