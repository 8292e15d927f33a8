"""The sliding window over the last two axes, shared by convolutions and pooling.

Owns the window attributes of `conv` and `dwconv` (`kernel`, `stride`, `pad`, `dilation`),
`same` padding (refused for a window of even span, whose padding cannot split evenly between
the two sides), and the output-size rule with its problems: kernel, stride and dilation of at
least 1, padding of at least 0, and a kernel that fits its padded input. Pooling declares its
own attributes (their defaults differ) but uses the same rules.
"""

from __future__ import annotations

from dslc.ops.attributes import Attribute, AttributeReader, Same
from dslc.ops.shape import Shape, ShapeProblem

Pair = tuple[int, int]

KERNEL = Attribute("kernel", "pair", "filter height and width (an int or [h, w])", True)
STRIDE = Attribute("stride", "pair", "stride (default 1)", default=1)
PAD = Attribute("pad", "pad_pair", "zero padding per side, or `same` (the size at stride 1; "
                "a kernel of odd span only) (default 0)", default=0)
DILATION = Attribute("dilation", "pair", "dilation (default 1)", default=1)
ATTRIBUTES = (KERNEL, STRIDE, PAD, DILATION)
"""The window attributes of the convolutions, in the reference's order."""


def padding(pad: Pair | Same, kernel: Pair, dilation: Pair) -> Pair:
    """`pad` itself, or for `same` half the dilated kernel's reach (exact for odd spans)."""
    if pad == "same":
        return (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)
    return pad


def bind_pad(attrs: AttributeReader, attribute: Attribute, kernel: Pair, dilation: Pair
             ) -> Pair:
    """The padding per side a call gives, `same` resolved by `padding`.

    `same` keeps the size at stride 1 only when the dilated kernel's span is odd: an even span
    needs an odd number of padding rows, which PyTorch's `padding='same'` splits unevenly (the
    extra row after) but dslc, which pads both sides alike, cannot. Half of it would lose a
    row silently (a 2x2 `same` convolution of a 10x10 input gave 9x9), so it is refused.
    """
    pad = attrs.pad_pair(attribute)
    if pad == "same":
        for axis, name in enumerate(("height", "width")):
            span = dilation[axis] * (kernel[axis] - 1) + 1
            if span % 2 == 0:
                raise attrs.invalid(
                    attribute,
                    f"`{attribute.name} = same` cannot keep the {name}: the kernel spans "
                    f"{span} (kernel {kernel[axis]}, dilation {dilation[axis]}), so it needs "
                    f"{span - 1} row(s) of padding, which do not split evenly between the two "
                    "sides (dslc pads both sides alike)",
                    f"write the padding per side (`{attribute.name} = {(span - 1) // 2}` "
                    f"loses a row, `{attribute.name} = {span // 2}` adds one), or use a "
                    "kernel of odd span")
    return padding(pad, kernel, dilation)


def extent(size: int, span: int, stride: int, pad: int, ceil: bool = False) -> int:
    """Window positions along one axis: floor((size + 2 pad - span) / stride) + 1, as
    PyTorch's convolutions and pools compute it; with `ceil` (a pool's `ceil_mode`) the
    division rounds up, less a last window that would start past the input and its leading
    padding (PyTorch's `pooling_output_shape`). Below 1 when no window fits."""
    reach = size + 2 * pad - span
    if not ceil:
        return reach // stride + 1
    positions = -(-reach // stride) + 1
    if positions > 1 and (positions - 1) * stride >= size + pad:
        positions -= 1
    return positions


def output_size(layer: str, shape: Shape, kernel: Pair, stride: Pair, pad: Pair,
                dilation: Pair = (1, 1), ceil: bool = False) -> Pair | ShapeProblem:
    """Output height and width: floor((H + 2*pad - dilation*(R-1) - 1) / stride) + 1, or
    with `ceil` rounded up (`extent`)."""
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
        positions = extent(size, span, stride[axis], pad[axis], ceil)
        if positions < 1:
            # The wording is pinned by the golden test E401_kernel_larger_than_input.
            return ShapeProblem(
                layer, "kernel",
                f"kernel {kernel[axis]} (spanning {span}) is larger than the padded "
                f"input ({size} + 2 x {pad[axis]} = {padded})",
                "use a smaller kernel or more padding")
        out.append(positions)
    return out[0], out[1]
