"""Network spec models: concrete layer graphs and network spaces.

A `NetworkSpec` is one concrete network (no free parameters): its inputs and its layers in
topological order, each layer naming its input tensors (graph inputs or earlier layers).
Activation shapes exclude the batch, which comes from the co-design request. Conventions:
feature maps are [C, H, W]; sequences are [S, D] (or [heads, S, D]); `dense` acts on the last
axis. Shapes are inferred later (dslc.graph); these models only carry what the user said.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from dslc.spec.base import Point, Spec

Pair = tuple[int, int]


class InputSpec(Spec):
    """A network input tensor."""

    name: str
    """The input's name."""
    shape: tuple[int, ...]
    """Its shape without batch, e.g. [3, 224, 224] for an image (C, H, W)."""


class _Layer(Spec):
    name: str
    """The layer's unique name within the network (dotted for template and repeat bodies)."""
    inputs: tuple[str, ...]
    """Names of the tensors it consumes: network inputs or earlier layers."""


class ConvLayer(_Layer):
    """A 2-D convolution (grouped when groups > 1)."""

    op: Literal["conv"] = "conv"
    out_channels: int = Field(gt=0)
    """Output channels K."""
    kernel: Pair
    """Filter height R and width S."""
    stride: Pair = (1, 1)
    """Vertical and horizontal stride."""
    pad: Pair = (0, 0)
    """Zero padding added on each side, vertically and horizontally."""
    dilation: Pair = (1, 1)
    """Filter dilation, vertically and horizontally."""
    groups: int = Field(default=1, gt=0)
    """Channel groups: 1 is a dense convolution; equal to the input channels is depthwise."""


class DepthwiseConvLayer(_Layer):
    """A depthwise convolution: each input channel is filtered by its own `multiplier` filters."""

    op: Literal["dwconv"] = "dwconv"
    kernel: Pair
    """Filter height R and width S."""
    stride: Pair = (1, 1)
    """Vertical and horizontal stride."""
    pad: Pair = (0, 0)
    """Zero padding on each side, vertically and horizontally."""
    dilation: Pair = (1, 1)
    """Filter dilation, vertically and horizontally."""
    multiplier: int = Field(default=1, gt=0)
    """Output channels per input channel."""


class DenseLayer(_Layer):
    """A fully connected layer over the last axis (leading axes are kept)."""

    op: Literal["dense"] = "dense"
    out_features: int = Field(gt=0)
    """Output features."""


class MatmulLayer(_Layer):
    """A product of two activations, [.., M, K] x [.., K, N] -> [.., M, N]."""

    op: Literal["matmul"] = "matmul"
    transpose_b: bool = False
    """Whether the second operand is given as [.., N, K] (as keys are in attention)."""


class PoolLayer(_Layer):
    """Max or average pooling over H and W; `global_pool` pools the whole map to 1x1."""

    op: Literal["maxpool", "avgpool"]
    kernel: Pair = (1, 1)
    """Window height and width (ignored when global)."""
    stride: Pair = (1, 1)
    """Vertical and horizontal stride."""
    pad: Pair = (0, 0)
    """Padding on each side."""
    global_pool: bool = False
    """Pool the whole feature map to 1x1."""
    ceil: bool = False
    """Round the output size up (PyTorch's `ceil_mode`): a last, partial window is kept
    when it starts inside the input or its leading padding."""


class AddLayer(_Layer):
    """Elementwise sum of tensors of equal shape (residual connections)."""

    op: Literal["add"] = "add"


class MulLayer(_Layer):
    """Elementwise product of tensors of equal shape (gating, squeeze-excite)."""

    op: Literal["mul"] = "mul"


class ConcatLayer(_Layer):
    """Concatenation along an axis (0 = channels)."""

    op: Literal["concat"] = "concat"
    axis: int = 0
    """The axis to join along, 0 being the first non-batch axis."""


class ElementwiseLayer(_Layer):
    """A shape-preserving function applied per element or per row (relu, softmax, ...)."""

    op: Literal["elementwise"] = "elementwise"
    function: str
    """The function: relu, relu6, sigmoid, swish, gelu, tanh, softmax, layernorm, batchnorm."""


class FlattenLayer(_Layer):
    """Flattens all axes into one."""

    op: Literal["flatten"] = "flatten"


class ReshapeLayer(_Layer):
    """Reinterprets the tensor with a new shape of the same size."""

    op: Literal["reshape"] = "reshape"
    shape: tuple[int, ...]
    """The new shape (without batch)."""


class TransposeLayer(_Layer):
    """Permutes the axes."""

    op: Literal["transpose"] = "transpose"
    perm: tuple[int, ...]
    """For each output axis, the input axis it comes from."""


class AffineTerm(Spec):
    """One term `coefficient * dim` of an affine index."""

    dim: str
    """The loop dimension."""
    coefficient: int
    """Its integer coefficient."""


class AffineIndex(Spec):
    """An affine index expression: sum of terms plus an offset, e.g. `2*p + r - 1`."""

    terms: tuple[AffineTerm, ...]
    """The dimension terms."""
    offset: int = 0
    """The constant offset."""


class EinsumTensor(Spec):
    """A tensor of an einsum layer with its role and index expressions."""

    name: str
    """The tensor's name (used for it in cost reports)."""
    role: Literal["input", "weight", "output"]
    """input: an activation from the graph; weight: a parameter; output: the result."""
    indices: tuple[AffineIndex, ...]
    """One affine index per tensor axis."""


class EinsumLayer(_Layer):
    """A general loop nest: output[...] += product of inputs and weights over all dims."""

    op: Literal["einsum"] = "einsum"
    dims: tuple[tuple[str, int], ...]
    """Loop dimensions and their bounds, in declaration order."""
    tensors: tuple[EinsumTensor, ...]
    """Its tensors; inputs bind to the layer's graph inputs in order."""


Layer = Annotated[
    ConvLayer | DepthwiseConvLayer | DenseLayer | MatmulLayer | PoolLayer | AddLayer
    | MulLayer | ConcatLayer | ElementwiseLayer | FlattenLayer | ReshapeLayer
    | TransposeLayer | EinsumLayer,
    Field(discriminator="op"),
]


class NetworkSpec(Spec):
    """One concrete network: a layer graph with no free parameters."""

    name: str
    """The network's name."""
    inputs: tuple[InputSpec, ...]
    """Its input tensors."""
    layers: tuple[Layer, ...]
    """Its layers in topological order."""
    accuracy: float | None = None
    """Published top-1 accuracy as a fraction, where the spec gives one."""
    point: Point = ()
    """The parameter values this network was instantiated with (empty for a fixed network)."""
