"""Networks that run: a network spec (the value that is costed) as a PyTorch module.

Owns `NetworkModule(network)`, an `nn.Module` whose forward runs every layer of a concrete
`NetworkSpec` with the spec's shapes (batch first, then the spec's shape), and the
per-operator pieces it is made of, which the supernet (dslc.learn.supernet) reuses with
shared weights: `parameter_shapes(layer, inputs, output)` (what each layer learns),
`initialise(kind, tensor)` and `apply(layer, xs, params, ...)` (its forward as a function of
its inputs and parameters).

Every operator of the registry (dslc.ops) runs:

- `conv`: `conv2d` with the spec's stride, padding, dilation and groups; weight [K, C/g, R, S]
  and a bias [K]. `dwconv`: `conv2d` with groups = C; weight [C*m, 1, R, S], bias [C*m].
- `dense`/`linear`: over the last axis; weight [K, D], bias [K].
- `matmul`: `torch.matmul` (the second operand transposed with `transpose_b`).
- `maxpool`/`avgpool` over the last two axes (leading axes folded into channels; average
  pooling counts padding, as the cost model's windows do); `global = true` pools to 1x1.
- `add`/`mul` with the registry's broadcasting, `concat` along the axis, `flatten`,
  `reshape`, `transpose` (axes after the batch).
- elementwise functions; `softmax` and `layernorm` act on the last axis (layernorm with an
  affine [D] pair), `batchnorm` on the channel axis (axis 0 of the spec's shape; affine [C]
  pair and running statistics).
- `einsum`: `torch.einsum` when every index is a single dim with coefficient 1; otherwise
  each operand is gathered on the grid of all dims (affine indices, offsets dropped as the
  cost model drops them) and the products are summed into the output's positions, which
  holds batch x every dim's bound elements at once (fine for the small einsums this is for).
  Weight tensors are parameters of their projection spans.

Weights (the multipliers the cost model counts: conv, dwconv, dense and einsum weight
tensors) are exactly the spec's weight counts (`weight_elements`); biases and normalisation
parameters come on top and are not modelled by the cost model. It does not train
(dslc.learn.train) nor load data (dslc.learn.datasets).
"""

from __future__ import annotations

from dslc.learn import require

require("networks as PyTorch modules")  # a CannotRunError with the pip line, not an ImportError

import math
import string
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dslc.diagnostics.diagnostic import CannotRunError
from dslc.graph.layer_graph import build_graph
from dslc.ops.einsum import projection_span
from dslc.spec import network as spec

Shape = tuple[int, ...]
ParamShapes = dict[str, Shape]
"""A layer's learned tensors by kind: `weight` (multipliers, or one per einsum weight
tensor as `weight.<name>`), `bias`, `norm_weight` and `norm_bias`."""

BN_MOMENTUM = 0.1
BN_EPS = 1e-5
LN_EPS = 1e-5


def parameter_shapes(layer: spec.Layer, inputs: Sequence[Shape], output: Shape
                     ) -> ParamShapes:
    """What `layer` learns, given its input and output shapes (batch excluded)."""
    if isinstance(layer, spec.ConvLayer):
        c = inputs[0][0] // layer.groups
        return {"weight": (layer.out_channels, c, *layer.kernel), "bias": (layer.out_channels,)}
    if isinstance(layer, spec.DepthwiseConvLayer):
        k = inputs[0][0] * layer.multiplier
        return {"weight": (k, 1, *layer.kernel), "bias": (k,)}
    if isinstance(layer, spec.DenseLayer):
        return {"weight": (layer.out_features, inputs[0][-1]), "bias": (layer.out_features,)}
    if isinstance(layer, spec.ElementwiseLayer):
        if layer.function == "layernorm":
            return {"norm_weight": (output[-1],), "norm_bias": (output[-1],)}
        if layer.function == "batchnorm":
            return {"norm_weight": (output[0],), "norm_bias": (output[0],)}
    if isinstance(layer, spec.EinsumLayer):
        bounds = dict(layer.dims)
        return {f"weight.{t.name}": tuple(projection_span(i, bounds) for i in t.indices)
                for t in layer.tensors if t.role == "weight"}
    return {}


def is_weight(kind: str) -> bool:
    """Whether a parameter kind is a multiplier weight (what the cost model counts)."""
    return kind == "weight" or kind.startswith("weight.")


def initialise(kind: str, tensor: torch.Tensor) -> None:
    """PyTorch's default initialisation of a parameter of this kind, in place: weights
    Kaiming-uniform (as nn.Linear and nn.Conv2d), normalisation scales 1 and shifts 0;
    biases 0 here (`initialise_bias` draws them as PyTorch does, from the fan-in)."""
    with torch.no_grad():
        if kind == "norm_weight":
            tensor.fill_(1.0)
        elif kind in ("norm_bias", "bias"):
            tensor.zero_()
        elif tensor.dim() >= 2:
            nn.init.kaiming_uniform_(tensor, a=math.sqrt(5))
        else:
            bound = 1 / math.sqrt(max(1, tensor.numel()))
            tensor.uniform_(-bound, bound)


def initialise_bias(bias: torch.Tensor, fan_in: int) -> None:
    """A bias as nn.Linear and nn.Conv2d initialise it: uniform within 1/sqrt(fan-in)."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    with torch.no_grad():
        bias.uniform_(-bound, bound)


def fan_in(layer: spec.Layer, shapes: ParamShapes) -> int:
    """The fan-in of a layer's weight (for its bias' initialisation)."""
    weight = shapes.get("weight")
    return math.prod(weight[1:]) if weight else 0


_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "swish": F.silu,
    "hswish": F.hardswish, "hsigmoid": F.hardsigmoid, "gelu": F.gelu, "tanh": torch.tanh,
    "identity": lambda x: x,
}


def _pool(layer: spec.PoolLayer, x: torch.Tensor) -> torch.Tensor:
    if layer.global_pool:
        if layer.op == "maxpool":
            return x.amax(dim=(-2, -1), keepdim=True)
        return x.mean(dim=(-2, -1), keepdim=True)
    lead = x.shape[:-2]
    folded = x.reshape(lead[0], -1, *x.shape[-2:])  # leading axes as channels
    if layer.op == "maxpool":
        out = F.max_pool2d(folded, layer.kernel, layer.stride, layer.pad,
                           ceil_mode=layer.ceil)
    else:
        out = F.avg_pool2d(folded, layer.kernel, layer.stride, layer.pad,
                           ceil_mode=layer.ceil, count_include_pad=True)
    return out.reshape(*lead, *out.shape[-2:])


def _batchnorm(x: torch.Tensor, params: Mapping[str, torch.Tensor],
               running: tuple[torch.Tensor, torch.Tensor] | None, training: bool
               ) -> torch.Tensor:
    if running is None:  # batch statistics always (the supernet's shared layers)
        return F.batch_norm(x, None, None, params["norm_weight"], params["norm_bias"],
                            True, BN_MOMENTUM, BN_EPS)
    return F.batch_norm(x, running[0], running[1], params["norm_weight"],
                        params["norm_bias"], training, BN_MOMENTUM, BN_EPS)


def _einsum_letters(layer: spec.EinsumLayer) -> dict[str, str] | None:
    """A letter per dim when every index is one dim with coefficient 1 and every dim of the
    output indexes an operand too (torch.einsum refuses an output letter that no operand
    has: `O[c] += W[k] * I[k]` repeats the sum along C, which the general path does)."""
    if len(layer.dims) > len(string.ascii_letters) - 1:
        return None
    operand_dims: set[str] = set()
    for tensor in layer.tensors:
        for index in tensor.indices:
            if len(index.terms) != 1 or index.terms[0].coefficient != 1:
                return None
            if tensor.role != "output":
                operand_dims.add(index.terms[0].dim)
    output = next(t for t in layer.tensors if t.role == "output")
    if any(index.terms[0].dim not in operand_dims for index in output.indices):
        return None
    letters = [c for c in string.ascii_letters if c != "z"]
    return {dim: letters[i] for i, (dim, _) in enumerate(layer.dims)}


def _grid_index(index: spec.AffineIndex, dims: Sequence[tuple[str, int]]) -> torch.Tensor:
    """An affine index's value at every point of the dims' grid, shifted to start at 0."""
    value = torch.zeros([bound for _, bound in dims], dtype=torch.long)
    for term in index.terms:
        position = next(i for i, (dim, _) in enumerate(dims) if dim == term.dim)
        bound = dims[position][1]
        axis_shape = [1] * len(dims)
        axis_shape[position] = bound
        value = value + term.coefficient * torch.arange(bound).reshape(axis_shape)
    return value - value.min()


def _einsum(layer: spec.EinsumLayer, xs: Sequence[torch.Tensor],
            params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    operands = [t for t in layer.tensors if t.role != "output"]
    output = next(t for t in layer.tensors if t.role == "output")
    batch = xs[0].shape[0] if xs else 1
    values: list[torch.Tensor] = []
    inputs = iter(xs)
    for tensor in operands:
        values.append(next(inputs) if tensor.role == "input"
                      else params[f"weight.{tensor.name}"])
    letters = _einsum_letters(layer)
    if letters is not None:
        terms = []
        for tensor in operands:
            axes = "".join(letters[i.terms[0].dim] for i in tensor.indices)
            terms.append(("z" + axes) if tensor.role == "input" else axes)
        out_axes = "".join(letters[i.terms[0].dim] for i in output.indices)
        result = torch.einsum(f"{','.join(terms)}->z{out_axes}", *values)
        if not xs:
            result = result.expand(batch, *result.shape[1:])
        return result
    dims = layer.dims
    grid = [bound for _, bound in dims]
    product: torch.Tensor | None = None
    for tensor, value in zip(operands, values, strict=True):
        grids = [_grid_index(i, dims) for i in tensor.indices]
        where: tuple[slice | torch.Tensor, ...] = (slice(None), *grids) \
            if tensor.role == "input" else tuple(grids)
        gathered = value[where]
        product = gathered if product is None else product * gathered
    bounds = dict(dims)
    out_shape = tuple(projection_span(i, bounds) for i in output.indices)
    flat = torch.zeros((), dtype=torch.long)
    for affine, size in zip(output.indices, out_shape, strict=True):
        flat = flat * size + _grid_index(affine, dims)
    flat = flat.expand(grid).reshape(-1)
    assert product is not None  # an einsum without inputs or weights has no operands
    if product.dim() == len(grid):
        product = product.unsqueeze(0)
    product = product.expand(batch, *grid).reshape(batch, -1)
    result = product.new_zeros(batch, math.prod(out_shape))
    result.index_add_(1, flat, product)
    return result.reshape(batch, *out_shape)


def apply(layer: spec.Layer, xs: Sequence[torch.Tensor], params: Mapping[str, torch.Tensor],
          *, running: tuple[torch.Tensor, torch.Tensor] | None = None,
          training: bool = False) -> torch.Tensor:
    """The layer's output for inputs `xs` (batch first) and its parameters by kind
    (`parameter_shapes`). `running` holds a batchnorm's running mean and variance (None:
    batch statistics); `training` updates them."""
    if isinstance(layer, spec.ConvLayer):
        return F.conv2d(xs[0], params["weight"], params.get("bias"), layer.stride, layer.pad,
                        layer.dilation, layer.groups)
    if isinstance(layer, spec.DepthwiseConvLayer):
        return F.conv2d(xs[0], params["weight"], params.get("bias"), layer.stride, layer.pad,
                        layer.dilation, xs[0].shape[1])
    if isinstance(layer, spec.DenseLayer):
        return F.linear(xs[0], params["weight"], params.get("bias"))
    if isinstance(layer, spec.MatmulLayer):
        b = xs[1].transpose(-1, -2) if layer.transpose_b else xs[1]
        return torch.matmul(xs[0], b)
    if isinstance(layer, spec.PoolLayer):
        return _pool(layer, xs[0])
    if isinstance(layer, spec.AddLayer):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total
    if isinstance(layer, spec.MulLayer):
        total = xs[0]
        for x in xs[1:]:
            total = total * x
        return total
    if isinstance(layer, spec.ConcatLayer):
        return torch.cat(list(xs), dim=layer.axis + 1)
    if isinstance(layer, spec.FlattenLayer):
        return xs[0].flatten(1)
    if isinstance(layer, spec.ReshapeLayer):
        return xs[0].reshape(xs[0].shape[0], *layer.shape)
    if isinstance(layer, spec.TransposeLayer):
        return xs[0].permute(0, *(axis + 1 for axis in layer.perm))
    if isinstance(layer, spec.EinsumLayer):
        return _einsum(layer, xs, params)
    if isinstance(layer, spec.ElementwiseLayer):
        x = xs[0]
        if layer.function == "softmax":
            return torch.softmax(x, dim=-1)
        if layer.function == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), params["norm_weight"], params["norm_bias"],
                                LN_EPS)
        if layer.function == "batchnorm":
            return _batchnorm(x, params, running, training)
        if layer.function in _ACTIVATIONS:
            return _ACTIVATIONS[layer.function](x)
        raise CannotRunError(f"layer `{layer.name}`: the elementwise function "
                             f"`{layer.function}` has no PyTorch form in dslc (a bug)")
    raise CannotRunError(f"layer `{layer.name}`: operator `{layer.op}` has no PyTorch form "
                         "in dslc (a bug)")


def _key(name: str) -> str:
    """A layer name as a module key (`.` is not allowed in one)."""
    return name.replace(".", "__")


class NetworkModule(nn.Module):
    """A concrete network as a PyTorch module: `forward(*inputs)` (one tensor per network
    input, batch first) returns the last layer's output."""

    def __init__(self, network: spec.NetworkSpec) -> None:
        super().__init__()
        graph = build_graph(network)
        if graph.problems:
            problem = graph.problems[0]
            raise CannotRunError(f"network `{network.name}` has no shapes to build a module "
                                 f"from: layer `{problem.layer}`: {problem.message}")
        self.network = network
        self.input_names = tuple(i.name for i in network.inputs)
        self.shapes: dict[str, Shape] = {name: tuple(shape)
                                         for name, shape in graph.shapes.items()}
        self.params = nn.ParameterDict()
        self.kinds: dict[str, dict[str, str]] = {}
        """By layer name: each parameter kind's key in `params`."""
        for layer in network.layers:
            inputs = [self.shapes[name] for name in layer.inputs]
            shapes = parameter_shapes(layer, inputs, self.shapes[layer.name])
            keys: dict[str, str] = {}
            for kind, shape in shapes.items():
                key = f"{_key(layer.name)}__{_key(kind)}"
                tensor = torch.empty(shape)
                if kind == "bias":
                    initialise_bias(tensor, fan_in(layer, shapes))
                else:
                    initialise(kind, tensor)
                self.params[key] = nn.Parameter(tensor)
                keys[kind] = key
            self.kinds[layer.name] = keys
            if isinstance(layer, spec.ElementwiseLayer) and layer.function == "batchnorm":
                channels = self.shapes[layer.name][0]
                self.register_buffer(f"{_key(layer.name)}__mean", torch.zeros(channels))
                self.register_buffer(f"{_key(layer.name)}__var", torch.ones(channels))

    def layer_parameters(self, name: str) -> dict[str, torch.Tensor]:
        """A layer's parameters by kind."""
        return {kind: self.params[key] for kind, key in self.kinds[name].items()}

    def weight_elements(self, name: str | None = None) -> int:
        """Multiplier weights (what the cost model counts) of one layer, or of all."""
        names = [name] if name is not None else [layer.name for layer in self.network.layers]
        return sum(self.params[key].numel() for n in names
                   for kind, key in self.kinds[n].items() if is_weight(kind))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"network `{self.network.name}` takes {len(self.input_names)} "
                             f"inputs, {len(inputs)} given")
        values: dict[str, torch.Tensor] = dict(zip(self.input_names, inputs, strict=True))
        out = inputs[0]
        for layer in self.network.layers:
            running = None
            if isinstance(layer, spec.ElementwiseLayer) and layer.function == "batchnorm":
                running = (getattr(self, f"{_key(layer.name)}__mean"),
                           getattr(self, f"{_key(layer.name)}__var"))
            out = apply(layer, [values[name] for name in layer.inputs],
                        self.layer_parameters(layer.name), running=running,
                        training=self.training)
            values[layer.name] = out
        return out
