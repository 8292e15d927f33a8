"""Shape inference and lowering of the language's own operators against PyTorch.

Each case writes one layer in a `.cd` spec, compiles it with `api.compile`, lowers it with
`lower_network` (batch 2) and builds the torch module with the same attributes. Compared:
the output shape; the MACs (torch's `FlopCounterMode`, which counts 2 per MAC, and the
registry's workload); the loop bounds (derived by hand from torch's shapes); the weight and
output tensors' sizes against torch's `numel`; the input: the Problem's bounding box per axis
(Timeloop's padded, strided box: docs/design/cost-model.md) against the hand formula, and the
elements the projections reach inside the unpadded input (padding is not data) against the
elements torch actually reads (the non-zeros of the input's gradient under random weights).
Cases torch refuses are refused by the language with a coded diagnostic, a span and a hint.

The fast run is seeded and deterministic; the large sweep is marked slow.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from dslc import api  # noqa: E402
from dslc.graph.layer_graph import build_graph  # noqa: E402
from dslc.lower.lower import lower_network  # noqa: E402
from dslc.lower.problem import Problem  # noqa: E402
from dslc.ops.registry import for_layer  # noqa: E402

BATCH = 2


@dataclass
class Case:
    """One layer: its spec text, the torch computation and what lowering should give."""

    label: str
    inputs: dict[str, tuple[int, ...]]
    call: str
    run: Callable[..., object]
    """(*input tensors with the batch) -> output tensor; parameters random."""
    weights: int
    """torch's multiplier parameters (biases excluded)."""
    bounds: dict[str, int]
    """The loop bounds by hand, from torch's attributes and output shape (batch included)."""
    pads: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Per input, the padding of each axis (0 where none)."""
    boxes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Per input, the bounding box per axis the loop nest should span (batch included)."""

    def spec(self) -> str:
        lines = [f"    input {name}: [{', '.join(map(str, shape))}]"
                 for name, shape in self.inputs.items()]
        return "network n {\n" + "\n".join(lines) + f"\n    layer y = {self.call}\n}}\n"


def _pair(values: tuple[int, int]) -> str:
    return str(values[0]) if values[0] == values[1] else f"[{values[0]}, {values[1]}]"


def _window_box(out: int, kernel: int, stride: int, dilation: int) -> int:
    return (out - 1) * stride + (kernel - 1) * dilation + 1


def _out(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


# --- generators -----------------------------------------------------------------------------

def _window(rng: random.Random, sizes: tuple[int, int]
            ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]] | None:
    """Kernel, stride, pad, dilation per axis that give an output of at least 1 (or None)."""
    for _ in range(20):
        kernel = (rng.randint(1, 7), rng.randint(1, 7))
        stride = (rng.randint(1, 4), rng.randint(1, 4))
        pad = (rng.randint(0, 3), rng.randint(0, 3))
        dilation = (rng.randint(1, 3), rng.randint(1, 3))
        if rng.random() < 0.5:  # square attributes, written as one int
            kernel, stride = (kernel[0],) * 2, (stride[0],) * 2
            pad, dilation = (pad[0],) * 2, (dilation[0],) * 2
        if all(_out(sizes[a], kernel[a], stride[a], pad[a], dilation[a]) >= 1 for a in (0, 1)):
            return kernel, stride, pad, dilation
    return None


def _window_text(kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int] | str,
                 dilation: tuple[int, int]) -> str:
    pad_text = pad if isinstance(pad, str) else _pair(pad)
    return (f"kernel = {_pair(kernel)}, stride = {_pair(stride)}, pad = {pad_text}, "
            f"dilation = {_pair(dilation)}")


def conv_case(rng: random.Random) -> Case | None:
    groups = rng.choice([1, 1, 1, 2, 3, 4])
    c, k = groups * rng.randint(1, 4), groups * rng.randint(1, 4)
    h, w = rng.randint(1, 40), rng.randint(1, 40)
    found = _window(rng, (h, w))
    if found is None:
        return None
    kernel, stride, pad, dilation = found
    pad_text: tuple[int, int] | str = pad
    same_odd = all(dilation[a] * (kernel[a] - 1) % 2 == 0 for a in (0, 1))
    if same_odd and rng.random() < 0.3:
        pad = (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)
        pad_text = "same"
        if any(_out((h, w)[a], kernel[a], stride[a], pad[a], dilation[a]) < 1 for a in (0, 1)):
            return None
    module = torch.nn.Conv2d(c, k, kernel, stride=stride, dilation=dilation, groups=groups,
                             bias=False, padding="same" if pad_text == "same" and stride ==
                             (1, 1) else pad, dtype=torch.float64)
    p, q = _out(h, kernel[0], stride[0], pad[0], dilation[0]), \
        _out(w, kernel[1], stride[1], pad[1], dilation[1])
    bounds = {"N": BATCH, "K": k // groups, "C": c // groups, "P": p, "Q": q,
              "R": kernel[0], "S": kernel[1]}
    if groups > 1:
        bounds["G"] = groups
    call = f"conv(x, out = {k}, {_window_text(kernel, stride, pad_text, dilation)}" + \
        (f", groups = {groups})" if groups > 1 or rng.random() < 0.2 else ")")
    box = (BATCH, c, _window_box(p, kernel[0], stride[0], dilation[0]),
           _window_box(q, kernel[1], stride[1], dilation[1]))
    return Case(f"conv {call} on {[c, h, w]}", {"x": (c, h, w)}, call, module,
                module.weight.numel(), bounds, {"x": (0, 0, *pad)}, {"x": box})


def dwconv_case(rng: random.Random) -> Case | None:
    c, m = rng.randint(1, 8), rng.choice([1, 1, 2, 3])
    h, w = rng.randint(1, 40), rng.randint(1, 40)
    found = _window(rng, (h, w))
    if found is None:
        return None
    kernel, stride, pad, dilation = found
    module = torch.nn.Conv2d(c, c * m, kernel, stride=stride, padding=pad, dilation=dilation,
                             groups=c, bias=False, dtype=torch.float64)
    p, q = _out(h, kernel[0], stride[0], pad[0], dilation[0]), \
        _out(w, kernel[1], stride[1], pad[1], dilation[1])
    bounds = {"N": BATCH, "C": c, "P": p, "Q": q, "R": kernel[0], "S": kernel[1]}
    if m > 1:
        bounds["M"] = m
    call = f"dwconv(x, {_window_text(kernel, stride, pad, dilation)}" + \
        (f", multiplier = {m})" if m > 1 or rng.random() < 0.2 else ")")
    box = (BATCH, c, _window_box(p, kernel[0], stride[0], dilation[0]),
           _window_box(q, kernel[1], stride[1], dilation[1]))
    return Case(f"{call} on {[c, h, w]}", {"x": (c, h, w)}, call, module,
                module.weight.numel(), bounds, {"x": (0, 0, *pad)}, {"x": box})


def dense_case(rng: random.Random) -> Case:
    rank = rng.choice([1, 2, 3, 3])
    shape = tuple(rng.randint(1, 12) for _ in range(rank))
    out = rng.randint(1, 40)
    flat = rank == 3 and rng.random() < 0.5
    module = torch.nn.Linear(math.prod(shape) if flat else shape[-1], out, bias=False,
                             dtype=torch.float64)
    spelling = rng.choice(["dense", "linear"])
    if flat:
        call = f"{spelling}(flatten(x), out = {out})"
        bounds = {"N": BATCH, "K": out, "C": math.prod(shape)}

        def run(x: object) -> object:
            return module(x.flatten(1))  # type: ignore[attr-defined]
        return Case(f"{call} on {list(shape)}", {"x": shape}, call, run,
                    module.weight.numel(), bounds)
    lead = dict(zip(("S",) if rank == 2 else ("H", "S"), shape[:-1], strict=False)) \
        if rank > 1 else {}
    bounds = {"N": BATCH, **lead, "K": out, "C": shape[-1]}
    call = f"{spelling}(x, out = {out})"
    return Case(f"{call} on {list(shape)}", {"x": shape}, call, module,
                module.weight.numel(), bounds)


def matmul_case(rng: random.Random) -> Case:
    lead = tuple(rng.randint(1, 5) for _ in range(rng.choice([0, 0, 1, 2])))
    m, n, k = rng.randint(1, 20), rng.randint(1, 20), rng.randint(1, 20)
    transpose = rng.random() < 0.5
    a, b = (*lead, m, k), ((*lead, n, k) if transpose else (*lead, k, n))

    def run(x: object, y: object) -> object:
        return torch.matmul(x, y.transpose(-1, -2) if transpose else y)  # type: ignore

    names = ("H",) if len(lead) == 1 else tuple(f"A{i}" for i in range(len(lead)))
    bounds = {"B": BATCH, **dict(zip(names, lead, strict=True)), "M": m, "N": n, "K": k}
    flag = ", transpose_b = true" if transpose else \
        (", transpose_b = false" if rng.random() < 0.3 else "")
    call = f"matmul(a, b{flag})"
    return Case(f"{call} on {list(a)} x {list(b)}", {"a": a, "b": b}, call, run, 0, bounds)


def einsum_case(rng: random.Random) -> Case | None:
    """A strided, dilated 1-D or 2-D convolution written as an einsum (no padding)."""
    two_d = rng.random() < 0.5
    c, k = rng.randint(1, 6), rng.randint(1, 6)
    kernel = tuple(rng.randint(1, 7) for _ in range(2 if two_d else 1))
    stride = tuple(rng.randint(1, 4) for _ in kernel)
    dilation = tuple(rng.randint(1, 3) for _ in kernel)
    out = tuple(rng.randint(1, 12) for _ in kernel)
    spans = tuple(_window_box(o, r, s, d)
                  for o, r, s, d in zip(out, kernel, stride, dilation, strict=True))
    if max(spans) > 60:
        return None

    def term(coefficient: int, dim: str) -> str:
        return dim if coefficient == 1 else f"{coefficient}*{dim}"

    if two_d:
        dims = f"K = {k}, C = {c}, P = {out[0]}, Q = {out[1]}, R = {kernel[0]}, " \
            f"S = {kernel[1]}"
        index = f"{term(stride[0], 'p')} + {term(dilation[0], 'r')}, " \
            f"{term(stride[1], 'q')} + {term(dilation[1], 's')}"
        tensors = f"output O[k, p, q] weight W[k, c, r, s] input I[c, {index}]"
        module = torch.nn.Conv2d(c, k, kernel, stride=stride, dilation=dilation, bias=False,
                                 dtype=torch.float64)
        bounds = {"N": BATCH, "K": k, "C": c, "P": out[0], "Q": out[1], "R": kernel[0],
                  "S": kernel[1]}
    else:
        dims = f"K = {k}, C = {c}, P = {out[0]}, R = {kernel[0]}"
        index = f"{term(stride[0], 'p')} + {term(dilation[0], 'r')}"
        tensors = f"output O[k, p] weight W[k, c, r] input I[c, {index}]"
        module = torch.nn.Conv1d(c, k, kernel, stride=stride, dilation=dilation, bias=False,
                                 dtype=torch.float64)
        bounds = {"N": BATCH, "K": k, "C": c, "P": out[0], "R": kernel[0]}
    call = f"einsum(x) {{ dims {dims} {tensors} }}"
    shape = (c, *spans)
    return Case(f"{call} on {list(shape)}", {"x": shape}, call, module,
                module.weight.numel(), bounds, {"x": (0,) * (len(shape) + 1)},
                {"x": (BATCH, *shape)})


GENERATORS: tuple[Callable[[random.Random], Case | None], ...] = (
    conv_case, conv_case, conv_case, dwconv_case, dwconv_case, dense_case, matmul_case,
    einsum_case, einsum_case)


def cases(seed: int, count: int) -> list[Case]:
    rng = random.Random(seed)
    found: list[Case] = []
    while len(found) < count:
        case = rng.choice(GENERATORS)(rng)
        if case is not None:
            found.append(case)
    return found


# --- the comparison -------------------------------------------------------------------------

def _reached(problem: Problem, tensor: str, pads: tuple[int, ...], shape: tuple[int, ...]
             ) -> int:
    """Elements of the unpadded tensor the projections reach: per axis, the values of the
    affine index (shifted by the axis's padding) that fall inside it, multiplied (the axes'
    dims are disjoint, so the set of reached elements is their product)."""
    axes = problem.tensor(tensor).axes
    used = [d for axis in axes for d, _ in axis.terms]
    assert len(used) == len(set(used)), "axes share a dim: the product rule does not hold"
    total = 1
    for axis, pad, size in zip(axes, pads, shape, strict=True):
        values = {sum(c * i for (_, c), i in zip(axis.terms, point, strict=True))
                  for point in itertools.product(*(range(problem.bounds[d])
                                                   for d, _ in axis.terms))}
        total *= sum(1 for v in values if 0 <= v - pad < size)
    return total


def compare(case: Case) -> list[str]:
    """Every way dslc's shape and loop nest differ from torch's, as readable lines."""
    torch.manual_seed(0)
    program = api.compile(text=case.spec())
    if program.errors:
        return [f"refused: {d.code} {d.message}" for d in program.errors]
    network = api.network(program, "n")
    graph = build_graph(network)
    lowered = lower_network(network, BATCH)
    problems = lowered.problems
    if len(problems) != 1:
        return [f"{len(problems)} problems"]
    problem = problems[0]
    tensors = [torch.randn((BATCH, *shape), dtype=torch.float64, requires_grad=True)
               for shape in case.inputs.values()]
    with FlopCounterMode(display=False) as counter:
        out = case.run(*tensors)
    assert isinstance(out, torch.Tensor)
    out.backward(torch.randn_like(out))
    wrong: list[str] = []

    def check(what: str, ours: object, theirs: object) -> None:
        if ours != theirs:
            wrong.append(f"{what}: dslc {ours}, torch {theirs}")

    check("output shape", graph.shapes["y"], tuple(out.shape[1:]))
    check("MACs", problem.macs, counter.get_total_flops() // 2)
    layer = next(layer for layer in network.layers if layer.name == "y")
    inputs = tuple(graph.shapes[name] for name in layer.inputs)
    workload = for_layer(layer).workload(layer, inputs, graph.shapes["y"])
    check("workload MACs", workload.macs * BATCH, counter.get_total_flops() // 2)
    check("workload weights", workload.weights, case.weights)
    check("bounds", dict(zip(problem.dims, problem.bounds, strict=True)), case.bounds)
    check("output elements", problem.tensor_size(problem.output), out.numel())
    weights = [t for t in problem.tensors if t.role == "weight"]
    check("weight elements", sum(problem.tensor_size(t) for t in weights), case.weights)
    activations = [t for t in problem.tensors if t.role == "input"]
    check("inputs", len(activations), len(tensors))
    # The layer's own inputs (a dense on flatten(x) reads the flattened tensor).
    for tensor, name, shape, given in zip(activations, case.inputs, inputs, tensors,
                                          strict=False):
        full = (BATCH, *shape)
        box = tuple(axis.extent(problem.bounds) for axis in tensor.axes)
        check(f"{name} bounding box", box, case.boxes.get(name, full))
        assert given.grad is not None
        read = int(torch.count_nonzero(given.grad))
        pads = case.pads.get(name, (0,) * len(full))
        check(f"{name} elements read", _reached(problem, tensor.name, pads, full), read)
    return wrong


FAST_CASES = cases(seed=2026, count=150)


@pytest.mark.parametrize("case", FAST_CASES, ids=lambda c: c.label[:80])
def test_layer_matches_torch(case: Case) -> None:
    assert compare(case) == []


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 9))
def test_layer_matches_torch_sweep(seed: int) -> None:
    wrong = {case.label: found for case in cases(seed=seed, count=1500)
             if (found := compare(case))}
    assert wrong == {}


# --- pooling: shapes (no MACs, no loop nest) ------------------------------------------------

@dataclass
class PoolCase:
    label: str
    shape: tuple[int, ...]
    call: str
    module: object


def pool_case(rng: random.Random) -> PoolCase | None:
    kind = rng.choice(["maxpool", "avgpool"])
    shape = (rng.randint(1, 6), rng.randint(1, 40), rng.randint(1, 40))
    if rng.random() < 0.1:
        module = torch.nn.AdaptiveMaxPool2d(1) if kind == "maxpool" else \
            torch.nn.AdaptiveAvgPool2d(1)
        return PoolCase(f"{kind} global on {list(shape)}", shape,
                        f"{kind}(x, global = true)", module)
    kernel = (rng.randint(1, 7), rng.randint(1, 7))
    if rng.random() < 0.5:
        kernel = (kernel[0], kernel[0])
    stride = None if rng.random() < 0.4 else (rng.randint(1, 4), rng.randint(1, 4))
    pad = (rng.randint(0, kernel[0] // 2), rng.randint(0, kernel[1] // 2))
    ceil = rng.random() < 0.3
    text = f"{kind}(x, kernel = {_pair(kernel)}" + \
        (f", stride = {_pair(stride)}" if stride else "") + \
        (f", pad = {_pair(pad)}" if pad != (0, 0) or rng.random() < 0.3 else "") + \
        (", ceil = true" if ceil else "") + ")"
    effective = stride or kernel
    if any(_out(shape[1 + a], kernel[a], effective[a], pad[a], 1) < 1 for a in (0, 1)):
        return None
    module = (torch.nn.MaxPool2d if kind == "maxpool" else torch.nn.AvgPool2d)(
        kernel, stride=stride, padding=pad, ceil_mode=ceil)
    return PoolCase(f"{text} on {list(shape)}", shape, text, module)


def compare_pool(case: PoolCase) -> list[str]:
    program = api.compile(text="network n {\n    input x: [" + ", ".join(map(str, case.shape))
                          + f"]\n    layer y = {case.call}\n}}\n")
    if program.errors:
        return [f"refused: {d.code} {d.message}" for d in program.errors]
    network = api.network(program, "n")
    graph = build_graph(network)
    x = torch.randn((BATCH, *case.shape), dtype=torch.float64)
    out = case.module(x)  # type: ignore[operator]
    lowered = lower_network(network, BATCH)
    movement = lowered.movements[0]
    wrong = []
    if graph.shapes["y"] != tuple(out.shape[1:]):
        wrong.append(f"output shape: dslc {graph.shapes['y']}, torch {tuple(out.shape[1:])}")
    if movement.output_words != out.numel():
        wrong.append(f"output words: dslc {movement.output_words}, torch {out.numel()}")
    return wrong


def pool_cases(seed: int, count: int) -> list[PoolCase]:
    rng = random.Random(seed)
    found: list[PoolCase] = []
    while len(found) < count:
        case = pool_case(rng)
        if case is not None:
            found.append(case)
    return found


@pytest.mark.parametrize("case", pool_cases(seed=2027, count=40), ids=lambda c: c.label[:80])
def test_pool_matches_torch(case: PoolCase) -> None:
    assert compare_pool(case) == []


@pytest.mark.slow
def test_pool_matches_torch_sweep() -> None:
    wrong = {case.label: found for case in pool_cases(seed=1, count=3000)
             if (found := compare_pool(case))}
    assert wrong == {}


# --- what torch refuses, the language refuses -----------------------------------------------

@dataclass
class Refusal:
    label: str
    inputs: dict[str, tuple[int, ...]]
    call: str
    torch_call: Callable[[], object]
    """Builds and runs the torch module on inputs of these shapes; it must raise."""


def refusal_case(rng: random.Random) -> Refusal:
    h, w = rng.randint(1, 12), rng.randint(1, 12)
    kind = rng.choice(["kernel", "kernel", "groups", "dwkernel", "poolkernel", "poolpad",
                       "matmul"])
    if kind in ("kernel", "dwkernel", "poolkernel"):
        axis = rng.randint(0, 1)
        pad = (rng.randint(0, 3), rng.randint(0, 3))
        dilation = (rng.randint(1, 3), rng.randint(1, 3)) if kind != "poolkernel" else (1, 1)
        size = (h, w)[axis]
        # the smallest kernel whose span passes the padded input, on one axis
        kernel_axis = (size + 2 * pad[axis]) // dilation[axis] + 2
        kernel = (kernel_axis, 1) if axis == 0 else (1, kernel_axis)
        if kind == "poolkernel":
            pad = (min(pad[0], kernel[0] // 2), min(pad[1], kernel[1] // 2))
            call = f"maxpool(x, kernel = {_pair(kernel)}, pad = {_pair(pad)})"
            c = rng.randint(1, 4)
            return Refusal(f"{call} on {[c, h, w]}", {"x": (c, h, w)}, call,
                           lambda: torch.nn.MaxPool2d(kernel, padding=pad)(
                               torch.zeros(1, c, h, w)))
        c = rng.randint(1, 4)
        text = f"kernel = {_pair(kernel)}, pad = {_pair(pad)}, dilation = {_pair(dilation)}"
        groups, out = (c, c) if kind == "dwkernel" else (1, rng.randint(1, 4))
        call = f"dwconv(x, {text})" if kind == "dwkernel" else f"conv(x, out = {out}, {text})"
        return Refusal(f"{call} on {[c, h, w]}", {"x": (c, h, w)}, call,
                       lambda: torch.nn.Conv2d(c, out, kernel, padding=pad, dilation=dilation,
                                               groups=groups)(torch.zeros(1, c, h, w)))
    if kind == "groups":
        groups = rng.randint(2, 5)
        c, k = rng.randint(1, 12), rng.randint(1, 12)
        if c % groups == 0 and k % groups == 0:
            k += 1
        call = f"conv(x, out = {k}, kernel = 1, groups = {groups})"
        return Refusal(f"{call} on {[c, h, w]}", {"x": (c, h, w)}, call,
                       lambda: torch.nn.Conv2d(c, k, 1, groups=groups)(torch.zeros(1, c, h, w)))
    if kind == "poolpad":
        kernel = rng.randint(1, 5)
        pad = kernel // 2 + rng.randint(1, 2)
        call = f"{rng.choice(['maxpool', 'avgpool'])}(x, kernel = {kernel}, pad = {pad})"
        module = torch.nn.MaxPool2d if call.startswith("max") else torch.nn.AvgPool2d
        return Refusal(f"{call} on {[2, h, w]}", {"x": (2, h, w)}, call,
                       lambda: module(kernel, padding=pad)(torch.zeros(1, 2, h, w)))
    m, k, n = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 9)
    other = k + rng.randint(1, 3)
    transpose = rng.random() < 0.5
    b = (n, other) if transpose else (other, n)
    call = "matmul(a, b, transpose_b = true)" if transpose else "matmul(a, b)"
    return Refusal(f"{call} on {[m, k]} x {list(b)}", {"a": (m, k), "b": b}, call,
                   lambda: torch.matmul(torch.zeros(1, m, k), torch.zeros(1, *b).transpose(
                       -1, -2) if transpose else torch.zeros(1, *b)))


def refused(case: Refusal) -> list[str]:
    """What is wrong with the language's refusal of a case torch refuses ([] when right)."""
    try:
        case.torch_call()
    except (RuntimeError, ValueError):
        pass
    else:
        return ["torch accepts it"]
    lines = [f"    input {name}: [{', '.join(map(str, shape))}]"
             for name, shape in case.inputs.items()]
    program = api.compile(text="network n {\n" + "\n".join(lines)
                          + f"\n    layer y = {case.call}\n}}\n")
    if not program.errors:
        return ["dslc accepts it"]
    return [f"{d.code} {d.message}: {why}" for d in program.errors for why in (
        "internal" if d.code == "E900" else "",
        "no span" if d.span is None else "",
        "no hint" if not d.help else "") if why]


def refusals(seed: int, count: int) -> list[Refusal]:
    rng = random.Random(seed)
    return [refusal_case(rng) for _ in range(count)]


@pytest.mark.parametrize("case", refusals(seed=2028, count=40), ids=lambda c: c.label[:80])
def test_language_refuses_what_torch_refuses(case: Refusal) -> None:
    assert refused(case) == []


@pytest.mark.slow
def test_language_refuses_what_torch_refuses_sweep() -> None:
    wrong = {case.label: found for case in refusals(seed=1, count=2000)
             if (found := refused(case))}
    assert wrong == {}


# --- einsum with any affine indices, against a brute-force loop -----------------------------

def _affine(rng: random.Random, names: list[str]) -> str:
    """An index like `2*p - r + 1`: one or two dims (repeats allowed), signs, an offset."""
    text = ""
    for position in range(rng.randint(1, 2)):
        coefficient, dim = rng.choice([1, 1, 2, 3, -1, -2]), rng.choice(names)
        sign = "-" if coefficient < 0 else ("+" if position else "")
        magnitude = abs(coefficient)
        text += f" {sign} " + (dim if magnitude == 1 else f"{magnitude}*{dim}")
    return (text + rng.choice(["", "", " + 1", " - 2"])).strip()


def _values(index: str, names: list[str], bounds: list[int]) -> list[int]:
    """The index's value at every point of the nest, in `itertools.product` order."""
    return [eval(index, {}, dict(zip(names, point, strict=True)))
            for point in itertools.product(*(range(b) for b in bounds))]


def _first_touches_countable(indices: list[str], names: list[str], bounds: list[int],
                             span: tuple[int, ...]) -> bool:
    """Whether the output's index is one-to-one over the dims it uses or covers its box
    without gaps (what the cost model's first-touch counts need; dslc.ops.einsum refuses
    the rest with E401), worked out here from the index text alone: the dims it uses are
    those whose unit step moves some axis; their points' elements against their count and
    against the box."""
    def at(point: dict[str, int]) -> tuple[int, ...]:
        return tuple(eval(index, {}, point) for index in indices)

    origin = at(dict.fromkeys(names, 0))
    used = [(n, b) for n, b in zip(names, bounds, strict=True)
            if at({**dict.fromkeys(names, 0), n: 1}) != origin]
    elements = {at({**dict.fromkeys(names, 0), **dict(zip([n for n, _ in used], point,
                                                            strict=True))})
                for point in itertools.product(*(range(b) for _, b in used))}
    return (len(elements) == math.prod(b for _, b in used)
            or len(elements) == math.prod(span))


def compare_einsum(seed: int) -> list[str]:
    """A random einsum: its shape, MACs and tensor boxes against a brute-force loop, and
    the values the `learn` extra computes for it (skipped without it)."""
    rng = random.Random(seed)
    names = ["k", "c", "p", "r"][:rng.randint(2, 4)]
    bounds = [rng.randint(1, 4) for _ in names]
    roles = {"O": [_affine(rng, names) for _ in range(rng.randint(1, 2))],
             "W": [_affine(rng, names) for _ in range(rng.randint(1, 2))],
             "I": [_affine(rng, names) for _ in range(rng.randint(1, 2))]}
    used = {name for indices in roles.values() for i in indices for name in names
            if name in i.replace("*", " ").split()}
    if used != set(names):
        return []  # a dim that indexes no tensor is refused (E402), not compared
    values = {t: [_values(i, names, bounds) for i in indices] for t, indices in roles.items()}
    spans = {t: tuple(max(v) - min(v) + 1 for v in axes) for t, axes in values.items()}
    dims = ", ".join(f"{n.upper()} = {b}" for n, b in zip(names, bounds, strict=True))
    call = (f"einsum(x) {{ dims {dims} output O[{', '.join(roles['O'])}] "
            f"weight W[{', '.join(roles['W'])}] input I[{', '.join(roles['I'])}] }}")
    text = (f"network n {{\n    input x: [{', '.join(map(str, spans['I']))}]\n"
            f"    layer y = {call}\n}}\n")
    program = api.compile(text=text)
    countable = _first_touches_countable(roles["O"], names, bounds, spans["O"])
    if program.errors:
        if all(d.code == "E402" and "indexes no tensor" in d.message for d in program.errors):
            return []  # terms that cancel (`c - c`) leave a dim indexing nothing: refused
        if not countable and all(d.code == "E401" and "leaves gaps and maps several"
                                 in d.message for d in program.errors):
            return []  # the cost model cannot count its first touches: refused, rightly
        return [f"{call}: refused: {d.code} {d.message}" for d in program.errors]
    if not countable:
        return [f"{call}: accepted, though its output has gaps and collisions"]
    network = api.network(program, "n")
    problem = lower_network(network, 1).problems[0]
    wrong = []
    if build_graph(network).shapes["y"] != spans["O"]:
        wrong.append(f"{call}: output shape")
    if problem.macs != math.prod(bounds):
        wrong.append(f"{call}: MACs")
    for name, span in spans.items():
        if problem.tensor_size(problem.tensor(name)) != math.prod(span):
            wrong.append(f"{call}: {name} box")
    try:
        from dslc.learn.modules import NetworkModule
    except ImportError:
        return wrong
    module = NetworkModule(network).double()
    x = torch.randn(1, *spans["I"], dtype=torch.float64)
    weight = next(iter(module.layer_parameters("y").values())).detach()
    expected = torch.zeros(spans["O"], dtype=torch.float64)
    shifted = {t: [[v - min(axis) for v in axis] for axis in axes]
               for t, axes in values.items()}
    for point in range(math.prod(bounds)):
        o, w, i = (tuple(axis[point] for axis in shifted[t]) for t in ("O", "W", "I"))
        expected[o] += weight[w] * x[0][i]
    if not torch.allclose(module(x)[0].detach(), expected):
        wrong.append(f"{call}: values")
    return wrong


def test_einsum_matches_a_loop() -> None:
    wrong = [line for seed in range(40) for line in compare_einsum(seed)]
    assert wrong == []


@pytest.mark.slow
def test_einsum_matches_a_loop_sweep() -> None:
    wrong = [line for seed in range(40, 1040) for line in compare_einsum(seed)]
    assert wrong == []
