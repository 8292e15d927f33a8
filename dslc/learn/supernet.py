"""The weight-sharing supernet over a network space, with architecture parameters.

Owns `Supernet(space, dataset, *, seed)`: one `nn.Module` standing for every network of a
`DesignSpace` of networks, and `SupernetError` (a CannotRunError) for a space it cannot
share weights over. In: a network space whose points build (dslc.space) and a dataset name
(dslc.learn.datasets). Out: logits of any point's network with inherited weights, the
architecture parameters and their distributions, accuracies of points.

- **Architecture parameters.** One logit vector per space parameter (`arch_logits[i]` over
  `param_values[i]`, declaration order), initialised to zeros (uniform). `sample(tau,
  generator)` draws a hard one-hot per parameter by Gumbel-softmax with the straight-through
  estimator: the forward value is the one-hot, the gradient that of the soft sample.
- **Shared weights.** Every point's network is built (`space.instantiate`, kept); layers
  are matched by name across points. Each learned tensor of a layer name (weight, bias,
  normalisation scale and shift) is one bank of the largest shape any point needs, axis by
  axis. A point's layer takes from the bank its leading slice on every axis (output
  channels, input channels, features), except the kernel axes of conv and dwconv weights,
  which are centre-cropped (a 3x3 kernel is the middle of the 5x5 bank, as in
  once-for-all). A flattened map's dense weights therefore share channel by channel while
  the map's height and width stay the same across points. Depth (a `repeat` count) changes
  which layer names a point has; the layers a point lacks are absent from its forward.
  Batch normalisation in the supernet always uses the batch's statistics (no running
  averages, which would mix sub-networks), so `accuracy` evaluates in batches of 512.
- **Forward.** `forward(x, choice)` runs the point the one-hots choose (argmax of each) and
  multiplies its logits by the product of the chosen one-hot entries: 1 in value, so the
  output is that network's, but the gradient reaches every architecture parameter (the
  single-path straight-through estimator of GDAS, Dong and Yang, CVPR 2019).
- **Training.** `train_weights(epochs, ...)` trains the shared weights by single-path
  sampling: each mini-batch trains one point drawn uniformly (or from the architecture
  distribution); `arch_step` takes one gradient step on the architecture parameters for a
  batch (the caller's optimiser, and an extra differentiable term such as a cost, to add).

Weight sharing works when every layer name has one operator across the space and its non-
sliceable attributes (stride, padding, dilation, groups) do not vary in ways that change the
bank's meaning: convolutions whose `groups` vary, dwconv multipliers that vary, elementwise
layers whose function varies and einsum layers whose tensors vary are refused with a
`SupernetError` naming the layer. Everything the shipped digits and mnist1d spaces and the
examples use is covered. It does not train stand-alone networks (dslc.learn.train) nor cost
anything (dslc.codesign).
"""

from __future__ import annotations

from dslc.learn import require

require("the supernet")  # a CannotRunError with the pip line, not an ImportError

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dslc.diagnostics.diagnostic import CannotRunError
from dslc.graph.layer_graph import build_graph
from dslc.learn.datasets import Dataset, load
from dslc.learn.modules import apply, fan_in, initialise, initialise_bias, parameter_shapes
from dslc.learn.train import EVAL_BATCH, check_input, deterministic
from dslc.space import DesignSpace
from dslc.spec.base import ParamValue
from dslc.spec.network import (
    ConvLayer,
    DepthwiseConvLayer,
    EinsumLayer,
    ElementwiseLayer,
    Layer,
    NetworkSpec,
)

Shape = tuple[int, ...]
Point = dict[str, ParamValue]


class SupernetError(CannotRunError):
    """A network space the supernet cannot share weights over."""


def _signature(layer: Layer) -> tuple[object, ...]:
    """What must be equal between two points' layers of one name for them to share a bank
    (beyond the op): attributes the slicing does not absorb."""
    if isinstance(layer, ConvLayer):
        return (layer.groups,)
    if isinstance(layer, DepthwiseConvLayer):
        return (layer.multiplier,)
    if isinstance(layer, EinsumLayer):
        return (tuple(t.model_dump_json() for t in layer.tensors),)
    if isinstance(layer, ElementwiseLayer):
        return (layer.function,)
    return ()


def _take(bank: torch.Tensor, shape: Shape, crop_axes: tuple[int, ...]) -> torch.Tensor:
    """The part of a bank a layer of `shape` uses: leading slices, centre crops on
    `crop_axes`."""
    index: list[slice] = []
    for axis, (have, want) in enumerate(zip(bank.shape, shape, strict=True)):
        if axis in crop_axes:
            start = (have - want) // 2
            index.append(slice(start, start + want))
        else:
            index.append(slice(0, want))
    return bank[tuple(index)]


def _crop_axes(layer: Layer, kind: str) -> tuple[int, ...]:
    if kind == "weight" and isinstance(layer, ConvLayer | DepthwiseConvLayer):
        return (2, 3)
    return ()


class Supernet(nn.Module):
    """Every network of a space, sharing weights, with architecture parameters."""

    def __init__(self, space: DesignSpace[NetworkSpec], dataset: str | Dataset, *,
                 seed: int) -> None:
        super().__init__()
        self.space = space
        self.data = load(dataset) if isinstance(dataset, str) else dataset
        self.dataset = self.data.name
        self.seed = seed
        self.param_names: tuple[str, ...] = tuple(p.name for p in space.params)
        """The space's parameters, in declaration order (DesignSpace.params)."""
        self.param_values: tuple[tuple[ParamValue, ...], ...] = tuple(
            tuple(p.values) for p in space.params)
        """Each parameter's values, in the order of its logits."""
        self.arch_logits = nn.ParameterList(
            [nn.Parameter(torch.zeros(len(values))) for values in self.param_values])
        if space.size == 0:
            raise SupernetError(f"network space `{space.name}` has no points")
        self._networks: dict[tuple[int, ...], NetworkSpec] = {}
        self._shapes: dict[tuple[int, ...], dict[str, Shape]] = {}
        banks: dict[str, dict[str, list[int]]] = {}
        ops: dict[str, tuple[str, tuple[object, ...]]] = {}
        first: dict[str, Layer] = {}
        for index in range(space.size):
            digits = self._digits_of(index)
            network = space.instantiate(space.point_at(index))
            if index == 0:
                check_input(network, self.data)
            graph = build_graph(network)
            shapes = {name: tuple(shape) for name, shape in graph.shapes.items()}
            self._networks[digits] = network
            self._shapes[digits] = shapes
            for layer in network.layers:
                kind_of: tuple[str, tuple[object, ...]] = (layer.op, _signature(layer))
                if ops.setdefault(layer.name, kind_of) != kind_of:
                    raise SupernetError(
                        f"network space `{space.name}`: layer `{layer.name}` is "
                        f"`{ops[layer.name][0]}` at one point and `{layer.op}` (or the same "
                        "operator with other groups, multiplier, function or indices) at "
                        "another; the supernet shares weights only between layers of one "
                        "operator and those attributes",
                        ("give layers that differ in kind different names",))
                first.setdefault(layer.name, layer)
                needed = parameter_shapes(layer, [shapes[n] for n in layer.inputs],
                                          shapes[layer.name])
                for kind, shape in needed.items():
                    have = banks.setdefault(layer.name, {}).setdefault(kind, list(shape))
                    if len(have) != len(shape):
                        raise SupernetError(f"layer `{layer.name}`'s {kind} changes rank "
                                            "across the space")
                    banks[layer.name][kind] = [max(a, b) for a, b in zip(have, shape,
                                                                          strict=True)]
        self.banks = nn.ParameterDict()
        self._keys: dict[str, dict[str, str]] = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for name in sorted(banks):
                shapes_of = {kind: tuple(shape) for kind, shape in banks[name].items()}
                for kind in sorted(shapes_of):
                    tensor = torch.empty(shapes_of[kind])
                    if kind == "bias":
                        initialise_bias(tensor, fan_in(first[name], shapes_of))
                    else:
                        initialise(kind, tensor)
                    key = f"{name.replace('.', '__')}__{kind.replace('.', '__')}"
                    self.banks[key] = nn.Parameter(tensor)
                    self._keys.setdefault(name, {})[kind] = key

    # ---- points and choices --------------------------------------------------------------

    def _digits_of(self, index: int) -> tuple[int, ...]:
        digits: list[int] = []
        for values in reversed(self.param_values):
            index, digit = divmod(index, len(values))
            digits.append(digit)
        return tuple(reversed(digits))

    def digits(self, point: Mapping[str, object]) -> tuple[int, ...]:
        """The value index of each parameter at `point` (matched as DesignSpace does)."""
        resolved = dict(self.space.resolve(dict(point)))  # type: ignore[arg-type]
        return tuple(values.index(resolved[name])
                     for name, values in zip(self.param_names, self.param_values,
                                             strict=True))

    def point(self, digits: Sequence[int]) -> Point:
        """The point of value indices `digits`."""
        return {name: values[d] for name, values, d in zip(self.param_names,
                                                            self.param_values, digits,
                                                            strict=True)}

    def network(self, point: Mapping[str, object]) -> NetworkSpec:
        """The concrete network at `point`."""
        return self._networks[self.digits(point)]

    def choice(self, point: Mapping[str, object]) -> list[torch.Tensor]:
        """The one-hots that choose `point` (no gradient)."""
        return [F.one_hot(torch.tensor(d), len(values)).float()
                for d, values in zip(self.digits(point), self.param_values, strict=True)]

    def probabilities(self) -> list[torch.Tensor]:
        """The architecture distribution: softmax of each parameter's logits."""
        return [torch.softmax(logits, dim=0) for logits in self.arch_logits]

    def sample(self, tau: float, generator: torch.Generator) -> list[torch.Tensor]:
        """A hard one-hot per parameter, Gumbel-softmax with temperature `tau` and the
        straight-through estimator (forward: the one-hot; gradient: the soft sample's)."""
        hard: list[torch.Tensor] = []
        for logits in self.arch_logits:
            uniform = torch.rand(logits.shape, generator=generator).clamp(1e-10, 1 - 1e-10)
            gumbel = -torch.log(-torch.log(uniform))
            soft = torch.softmax((logits + gumbel) / tau, dim=0)
            one_hot = F.one_hot(soft.argmax(), len(logits)).to(soft.dtype)
            hard.append(one_hot - soft.detach() + soft)
        return hard

    def argmax_point(self) -> Point:
        """The most probable value of every parameter."""
        return self.point([int(logits.argmax()) for logits in self.arch_logits])

    def expected_point(self) -> dict[str, float | ParamValue]:
        """Each numeric parameter's expected value under the architecture distribution
        (a symbol's most probable value)."""
        found: dict[str, float | ParamValue] = {}
        for name, values, probs in zip(self.param_names, self.param_values,
                                       [p.detach() for p in self.probabilities()],
                                       strict=True):
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                found[name] = float(sum(float(p) * float(v)
                                        for p, v in zip(probs, values, strict=True)))
            else:
                found[name] = values[int(probs.argmax())]
        return found

    # ---- forward ---------------------------------------------------------------------------

    def _run(self, digits: tuple[int, ...], x: torch.Tensor) -> torch.Tensor:
        network = self._networks[digits]
        shapes = self._shapes[digits]
        values: dict[str, torch.Tensor] = {
            network.inputs[0].name: x.reshape(x.shape[0], *network.inputs[0].shape)}
        out = x
        for layer in network.layers:
            keys = self._keys.get(layer.name, {})
            params = {}
            if keys:
                needed = parameter_shapes(layer, [shapes[n] for n in layer.inputs],
                                          shapes[layer.name])
                params = {kind: _take(self.banks[keys[kind]], shape, _crop_axes(layer, kind))
                          * self._scale(keys[kind], kind, shape)
                          for kind, shape in needed.items()}
            out = apply(layer, [values[n] for n in layer.inputs], params, running=None)
            values[layer.name] = out
        return out.reshape(out.shape[0], -1)

    def _scale(self, key: str, kind: str, shape: Shape) -> float:
        """The factor a weight slice is used with: sqrt(bank fan-in / slice fan-in), so
        that every sub-network's weights start at the scale PyTorch initialises a network
        of its own shape with (a 1x1 kernel cut from a 5x5 bank would otherwise be 5 times
        too small); 1 for biases and normalisation parameters."""
        if not (kind == "weight" and len(shape) >= 2):
            return 1.0
        bank = self.banks[key].shape
        return math.sqrt(math.prod(bank[1:]) / math.prod(shape[1:]))

    def forward(self, x: torch.Tensor, choice: list[torch.Tensor]) -> torch.Tensor:
        """The logits of the point `choice` selects (argmax of each one-hot), times the
        product of the chosen entries (1, carrying the architecture gradient)."""
        digits = tuple(int(c.argmax()) for c in choice)
        logits = self._run(digits, x)
        gate = torch.ones(())
        for c, d in zip(choice, digits, strict=True):
            gate = gate * c[d]
        return logits * gate

    def logits(self, x: torch.Tensor, point: Mapping[str, object]) -> torch.Tensor:
        """The logits of the network at `point` with the shared weights (no gate)."""
        return self._run(self.digits(point), x)

    # ---- training and evaluation ------------------------------------------------------------

    def train_weights(self, epochs: int, *, seed: int, batch: int = 32, lr: float = 3e-3,
                      sampling: str = "uniform", tau: float = 1.0,
                      split: str = "train") -> list[float]:
        """Train the shared weights by single-path sampling, `epochs` passes over `split`
        (the training split, or its `fit` part when `validation` is kept for estimates):
        each mini-batch trains one point, drawn uniformly (`uniform`) or from the
        architecture distribution (`arch`, Gumbel-softmax at `tau`); the architecture
        parameters do not move. Returns each epoch's mean loss."""
        if sampling not in ("uniform", "arch"):
            raise CannotRunError(f"unknown sampling `{sampling}` (uniform, arch)")
        weights = list(self.banks.parameters())
        optimizer = torch.optim.Adam(weights, lr=lr)
        generator = torch.Generator().manual_seed(seed)
        x, y = self.data.split(split)
        losses: list[float] = []
        with deterministic():
            torch.manual_seed(seed)
            self.train()
            for _ in range(epochs):
                permutation = torch.randperm(len(y), generator=generator)
                total, count = 0.0, 0
                for first in range(0, len(y), batch):
                    rows = permutation[first:first + batch]
                    if len(rows) < 2:
                        continue
                    if sampling == "uniform":
                        digits = tuple(int(torch.randint(0, len(values), (1,),
                                                         generator=generator))
                                       for values in self.param_values)
                        logits = self._run(digits, x[rows])
                    else:
                        with torch.no_grad():
                            choice = self.sample(tau, generator)
                        logits = self.forward(x[rows], choice)
                    loss = F.cross_entropy(logits, y[rows])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
                    total += float(loss.detach()) * len(rows)
                    count += len(rows)
                losses.append(total / max(count, 1))
        return losses

    def arch_step(self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
                  *, tau: float, generator: torch.Generator,
                  extra: torch.Tensor | None = None) -> tuple[float, list[torch.Tensor]]:
        """One gradient step of `optimizer` (over the architecture parameters, or whatever
        the caller gave it) on the cross-entropy of a Gumbel-softmax sample's logits for
        (x, y), plus `extra` (a differentiable term the caller built, e.g. a cost of
        `self.probabilities()`). Returns the loss and the sampled one-hots."""
        choice = self.sample(tau, generator)
        loss = F.cross_entropy(self.forward(x, choice), y)
        if extra is not None:
            loss = loss + extra
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        return float(loss.detach()), [c.detach() for c in choice]

    def accuracy(self, point: Mapping[str, object], split: str = "test") -> float:
        """The accuracy of the network at `point` with the shared (inherited) weights, on
        `split` (train, test, fit or validation), evaluated in batches of EVAL_BATCH with batch
        statistics."""
        x, y = self.data.split(split)
        digits = self.digits(point)
        correct = 0
        with torch.no_grad(), deterministic():
            for start in range(0, len(y), EVAL_BATCH):
                logits = self._run(digits, x[start:start + EVAL_BATCH])
                correct += int((logits.argmax(dim=1) == y[start:start + EVAL_BATCH]).sum())
        return correct / len(y)


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two equally long sequences (ties counted as neither)."""
    if len(a) != len(b):
        raise ValueError("kendall_tau needs sequences of one length")
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_a) *
                            (concordant + discordant + ties_b))
    return (concordant - discordant) / denominator if denominator else 0.0
