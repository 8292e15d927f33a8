"""The sliding window over the last two axes, shared by convolutions and pooling.

Owns the window attributes of `conv` and `dwconv` (`kernel`, `stride`, `pad`, `dilation`),
`same` padding, and the output-size rule with its problems: kernel, stride and dilation of at
least 1, padding of at least 0, and a kernel that fits its padded input. Pooling declares its
own attributes (their defaults differ) but uses the same rules.
"""

from __future__ import annotations

from dslc.ops.attributes import Attribute, Same
from dslc.ops.shape import Shape, ShapeProblem

Pair = tuple[int, int]

KERNEL = Attribute("kernel", "pair", "filter height and width (an int or [h, w])", True)
STRIDE = Attribute("stride", "pair", "stride (default 1)", default=1)
PAD = Attribute("pad", "pad_pair", "zero padding per side, or `same` (default 0)", default=0)
DILATION = Attribute("dilation", "pair", "dilation (default 1)", default=1)
ATTRIBUTES = (KERNEL, STRIDE, PAD, DILATION)
"""The window attributes of the convolutions, in the reference's order."""


def padding(pad: Pair | Same, kernel: Pair, dilation: Pair) -> Pair:
    """`pad` itself, or for `same` half the dilated kernel's reach (exact for odd kernels)."""
    if pad == "same":
        return (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)
    return pad


def output_size(layer: str, shape: Shape, kernel: Pair, stride: Pair, pad: Pair,
                dilation: Pair = (1, 1)) -> Pair | ShapeProblem:
    """Output height and width: floor((H + 2*pad - dilation*(R-1) - 1) / stride) + 1."""
    # Elaboration already enforces these bounds for source programs; specs built in Python
    # reach here unchecked, and a zero stride would divide by zero below.
    checks = (("kernel", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1),
              ("pad", pad, 0))
    for attribute, pair, minimum in checks:
        if min(pair) < minimum:
            return ShapeProblem(layer, attribute,
                                f"`{attribute}` must be at least {minimum}, got {list(pair)}")
    out: list[int] = []
    for axis, size in enumerate(shape[-2:]):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        padded = size + 2 * pad[axis]
        extent = (padded - span) // stride[axis] + 1
        if extent < 1:
            # The wording is pinned by the golden test E401_kernel_larger_than_input.
            return ShapeProblem(
                layer, "kernel",
                f"kernel {kernel[axis]} (spanning {span}) is larger than the padded "
                f"input ({size} + 2 x {pad[axis]} = {padded})",
                "use a smaller kernel or more padding")
        out.append(extent)
    return out[0], out[1]
