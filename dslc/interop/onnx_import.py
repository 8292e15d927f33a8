"""ONNX graphs in: one `.cd` layer per operator, shapes from ONNX shape inference.

Owns `read_onnx(data, source, name, skip_unknown) -> ImportedNetwork` and the table of ONNX
operators it understands (`HANDLED`). In: the bytes of an ONNX model. Out: an
`ImportedNetwork` (dslc.interop.network_text) whose header says what was folded, skipped
and counted; problems are `DiagnosticError`s (E801 unreadable model, E802 operators dslc
cannot express, listed together with node names and counts, E803 a known operator used in a
way dslc cannot express). It does not compile the result (dslc.api does; a network that
does not compile comes from a model whose shapes contradict each other) and does not know
PyTorch. It reads the graph, not the weights: a constant's values are read only when they
matter (clip bounds, reduction axes), and data in external files never (their location
is the model's word and may name any file).

Checked before the pass (E801): the graph is one the ONNX standard allows (each value
produced once, every input produced before the node that reads it, required inputs
present), since the pass trusts node order and names.

Conventions: axis 0 of every activation is the batch and is dropped (dslc shapes exclude
it); a symbolic batch is set to 1. Convolution and dense weights are the constant operands
(initializers or Constant nodes); a constant operand of Add, Sub, Mul or Div (a bias or a
scale) is folded into the layer before it, as are Identity, Dropout and Cast; nodes with no
activation input (shape arithmetic) are constant folding. Batch normalisation that the
exporter left in the graph becomes a `batchnorm` layer; folded into a convolution its
parameters are that convolution's bias. Names: a convolution or dense layer is named after
its weight (`layer1.0.conv1.weight` -> `layer1_0_conv1`), other layers after the PyTorch
module scope the exporter recorded, else the node's name, else its output's name.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dslc.diagnostics.diagnostic import Diagnostic, DiagnosticError, error
from dslc.interop.network_text import AttrValue, ImportedLayer, ImportedNetwork, Names
from dslc.ops.window import extent
from dslc.spec.limits import MAX_DIM

Shape = tuple[int, ...]

ELEMENTWISE = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax",
    "Gelu": "gelu", "HardSwish": "hswish", "HardSigmoid": "hsigmoid",
    "LayerNormalization": "layernorm", "BatchNormalization": "batchnorm",
}
"""ONNX operators written as the language's elementwise functions."""

FOLDED = frozenset({"Identity", "Dropout", "Cast"})
"""Operators that pass their activation through unchanged."""

SHAPES = frozenset({"Shape", "Size"})
"""Operators whose output is a constant, since dslc's shapes are (an exporter's
`x.view(x.size(0), -1)` reads the shape of an activation)."""

OPERANDS = frozenset({"Add", "Sub", "Mul", "Div", "Concat", "MatMul", "Gemm"})
"""Operators whose inputs may be several activations (the others take one, the first)."""

HANDLED = frozenset({
    "Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "ReduceMean", "ReduceMax", "Add", "Sub", "Mul", "Div", "Concat", "Reshape", "Flatten",
    "Squeeze", "Unsqueeze", "Transpose", "Clip", "Constant", *ELEMENTWISE, *FOLDED, *SHAPES,
})
"""Every ONNX operator the importer knows (the docs list what each becomes)."""


DOMAINS = frozenset({"", "ai.onnx"})
"""The standard operator set's names: an operator of another domain (com.microsoft's, a
model's own functions) is unknown whatever its name."""


def _known(node: Any) -> bool:
    """Whether `node` is one of the standard operators the importer reads (a `Conv` of a
    custom domain was read as ONNX's)."""
    return node.op_type in HANDLED and node.domain in DOMAINS


class _Unsupported(Exception):
    """A known operator used in a way dslc cannot express (becomes E803)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


LAYOUT = frozenset({"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                    "Cast"})
"""Operators that rearrange a constant without changing its values or count: a constant
they compute is the constant they read (an exporter may transpose a weight for each of the
layers it feeds, and a tied weight must still count once)."""


@dataclass
class _Counts:
    weights: int = 0
    biases: int = 0
    norms: int = 0
    buffers: int = 0
    ops: Counter[str] = field(default_factory=Counter)
    folded: Counter[str] = field(default_factory=Counter)
    fused_norms: int = 0
    skipped: list[str] = field(default_factory=list)
    after_lost: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    counted: set[str] = field(default_factory=set)
    """Constants (their original names) already counted: a constant several layers read (a
    tied weight, one initializer feeding two MatMuls) is one set of parameters."""
    shared: dict[str, list[str]] = field(default_factory=dict)
    """Per weight read by more than one layer, the layers (dslc names) that read it."""
    per_layer: int = 0
    """Weights counted once per layer that reads them (dslc's count: its layers each hold
    their own weight)."""


def _diagnostic(code: str, message: str, source: str, hint: str = "",
                notes: Sequence[str] = ()) -> Diagnostic:
    return error(code, f"{source}: {message}", None, help=hint, notes=notes)


def _load(data: bytes, source: str) -> Any:
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises its own DecodeError and others
        raise DiagnosticError([_diagnostic(
            "E801", f"not an ONNX model ({type(exc).__name__}: {exc})", source,
            "pass an .onnx file, or a PyTorch module with --torch")]) from None
    if not model.graph.node:
        raise DiagnosticError([_diagnostic("E801", "the ONNX graph has no nodes", source)])
    _check_graph(model.graph, source)
    return model


REQUIRED_INPUTS = {"Conv": 2, "Gemm": 2, "MatMul": 2, "BatchNormalization": 5,
                   "LayerNormalization": 2, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2,
                   "Reshape": 2}
"""Inputs the ONNX operator schemas require of the operators read here (others need one)."""


def _check_graph(graph: Any, source: str) -> None:
    """E801 for a graph the ONNX standard does not allow, which the one pass in node order
    would misread: a name produced twice (the later value silently replaced the earlier),
    an input no earlier node, initializer or graph input produces (a cycle, nodes out of
    topological order: they were folded away as constants), a node without outputs, or a
    known operator with fewer inputs than its schema requires."""
    produced: dict[str, str] = {}
    problems: list[str] = []

    def produce(name: str, by: str) -> None:
        if name in produced:
            problems.append(f"`{name}` is produced twice ({produced[name]} and {by})")
        produced[name] = by

    for tensor in graph.initializer:
        produce(tensor.name, "an initializer")
    for value in graph.input:
        if value.name not in produced or produced[value.name] != "an initializer":
            produce(value.name, "a graph input")
    later = {o: i for i, node in enumerate(graph.node) for o in node.output if o}
    for index, node in enumerate(graph.node):
        label = f"{node.op_type} node `{node.name or index}`"
        if not [o for o in node.output if o]:
            problems.append(f"{label} has no outputs")
        required = REQUIRED_INPUTS.get(node.op_type, 1) if _known(node) else 0
        if node.op_type != "Constant" and len([i for i in node.input[:required] if i]) \
                < required:
            problems.append(f"{label} has {len([i for i in node.input if i])} inputs; "
                            f"{node.op_type} needs {required}")
        for name in node.input:
            if name and name not in produced:
                where = ("a later node (a cycle, or nodes out of topological order)"
                         if later.get(name, -1) >= index else "nothing in the graph")
                problems.append(f"{label} reads `{name}`, produced by {where}")
        for name in node.output:
            if name:
                produce(name, label)
        if len(problems) >= 5:
            break
    if problems:
        raise DiagnosticError([_diagnostic(
            "E801", "the graph is not a valid ONNX graph: " + "; ".join(problems[:5]), source,
            "check it with onnx.checker.check_model(model, full_check=True); ONNX graphs "
            "list their nodes in topological order and produce each value once")])


def _static_inputs(model: Any, source: str) -> None:
    """Give a symbolic batch (axis 0 of a graph input) the size 1; any other symbolic axis
    is E801 (dslc's shapes are concrete)."""
    initializers = {t.name for t in model.graph.initializer}
    problems = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        for axis, dim in enumerate(dims):
            if dim.HasField("dim_value") and not 0 < dim.dim_value <= MAX_DIM:
                problems.append(f"input `{value.name}` axis {axis} is {dim.dim_value}, "
                                f"outside 1 to {MAX_DIM:,}")
                continue
            if dim.HasField("dim_value"):
                continue
            if axis == 0:
                dim.Clear()
                dim.dim_value = 1
            else:
                problems.append(f"input `{value.name}` axis {axis} is "
                                f"`{dim.dim_param or '?'}`")
        if not dims:
            problems.append(f"input `{value.name}` has no shape")
    if problems:
        raise DiagnosticError([_diagnostic(
            "E801", "the model's inputs have symbolic or impossible sizes: "
            + "; ".join(problems), source,
            "export the model with a fixed input shape (dslc networks have concrete shapes)")])


def _static(values: Any) -> dict[str, Shape]:
    """The fully known shapes among ValueInfoProtos."""
    shapes: dict[str, Shape] = {}
    for value in values:
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type" or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(int(d.dim_value) for d in dims)
    return shapes


def _infer(model: Any, source: str) -> dict[str, Shape]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False,
                                                     strict_mode=False, data_prop=True)
    except Exception as exc:  # onnx raises InferenceError, ValidationError and others
        raise DiagnosticError([_diagnostic(
            "E801", "ONNX shape inference fails on the model "
            f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]})", source,
            "check it with onnx.checker.check_model(model, full_check=True)")]) from None
    graph = inferred.graph
    return _static((*graph.input, *graph.value_info, *graph.output))


def _shapes(model: Any, source: str) -> dict[str, Shape]:
    """Every tensor's shape, inferred from the inputs and initializers alone. The shapes a
    model records (value_info, the outputs' types) are the model's word: lenient shape
    inference kept them where they disagreed with its own, so a model whose input size was
    changed after export (stale value_info) imported with the old sizes, a convolution
    with auto_pad padded to reach them. A recorded shape that disagrees is E801; recorded
    shapes are used only where inference gives none (after an operator it does not know)."""
    import copy

    graph = model.graph
    recorded = _static((*graph.value_info, *graph.output))
    kept_info, kept_outputs = list(graph.value_info), [copy.deepcopy(o) for o in graph.output]
    del graph.value_info[:]
    for value in graph.output:
        value.type.tensor_type.ClearField("shape")
    try:
        shapes = _infer(model, source)
    finally:
        graph.value_info.extend(kept_info)
        for value, kept in zip(graph.output, kept_outputs, strict=True):
            value.CopyFrom(kept)
    wrong = [f"`{name}` is recorded as {list(shape)} but its inputs give "
             f"{list(shapes[name])}" for name, shape in recorded.items()
             if name in shapes and shapes[name] != shape]
    if wrong:
        raise DiagnosticError([_diagnostic(
            "E801", f"the model's recorded shapes disagree with its inputs ({len(wrong)} "
            f"tensor{'s' if len(wrong) != 1 else ''}): " + "; ".join(wrong[:3]), source,
            "was the input size changed after export? clear the stale shapes "
            "(del model.graph.value_info[:]) or export again with the new size")])
    if any(name not in shapes for name in recorded):
        shapes = {**_infer(model, source), **shapes}
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(int(d) for d in tensor.dims)
    return shapes


def _attributes(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pair(values: Sequence[int], what: str) -> tuple[int, int]:
    if len(values) != 2:
        raise _Unsupported(f"{what} has {len(values)} spatial axes; dslc's are 2-D",
                           "dslc convolutions and pools work on [C, H, W]")
    return int(values[0]), int(values[1])


def _positive(values: tuple[int, int], what: str) -> tuple[int, int]:
    if min(values) < 1 or max(values) > MAX_DIM:
        raise _Unsupported(f"{what} {list(values)} are not sizes (1 to {MAX_DIM:,})")
    return values


def _scalar(value: AttrValue | tuple[int, int]) -> AttrValue:
    """A pair written as one int when both are equal."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return value


def _explicit_pads(attrs: dict[str, Any]) -> list[int]:
    """The `pads` of a convolution or pool: [] under auto_pad SAME_UPPER or SAME_LOWER (the
    output size decides), zeros under VALID (which ignores `pads`)."""
    auto = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto_pad == "VALID":
        return [0, 0, 0, 0]
    if auto_pad != "NOTSET":
        return []
    return [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]


def _window_pad(in_hw: tuple[int, int], out_hw: tuple[int, int], kernel: tuple[int, int],
                stride: tuple[int, int], dilation: tuple[int, int], pads: Sequence[int],
                counts: _Counts, node_name: str, ceil: bool = False) -> tuple[int, int]:
    """dslc's symmetric pad per axis that gives the inferred output size: the ONNX pads
    when symmetric, else the closest symmetric pad that keeps the output size (noted). With
    `ceil` (a pool's `ceil_mode`) the sizes round up, as dslc's `ceil = true` does."""
    if pads and min(pads) < 0:
        raise _Unsupported(f"pads {list(pads)} crop the input (a negative pad)",
                           "dslc pads with zeros; crop with a Slice before the node")
    begins = list(pads[:2]) if pads else [0, 0]
    ends = list(pads[2:4]) if pads else [0, 0]
    chosen: list[int] = []
    noted = False
    for axis in range(2):
        b, e = begins[axis], ends[axis]
        span = dilation[axis] * (kernel[axis] - 1) + 1
        candidates = [b] if b == e else [(b + e + 1) // 2, (b + e) // 2, b, e]
        if not pads:  # auto_pad: the least pad that reaches the output size, if any does
            # (the output grows with the pad, so no larger pad can give it exactly)
            needed = (out_hw[axis] - 1) * stride[axis] + span - in_hw[axis]
            candidates = [max(0, (needed + 1) // 2)]
        fit = [p for p in candidates
               if extent(in_hw[axis], span, stride[axis], p, ceil) == out_hw[axis] >= 1]
        if not fit and ceil and b == e and \
                -(-(in_hw[axis] + 2 * b - span) // stride[axis]) + 1 == out_hw[axis]:
            raise _Unsupported(
                f"ceil_mode on axis {axis} gives an output of {out_hw[axis]} by ONNX's "
                "rule, whose last window starts in the trailing padding; PyTorch drops "
                f"such a window (an output of {out_hw[axis] - 1}), as dslc's `ceil = true` "
                "does", "pad less, or export the model from PyTorch again")
        if not fit:
            given = f"padding {b} before and {e} after" if pads else "auto_pad"
            raise _Unsupported(
                f"{given} on axis {axis} gives an output of {out_hw[axis]}, which no "
                "symmetric padding gives (asymmetric padding)",
                "dslc pads symmetrically" + ("" if ceil else " and rounds the output down "
                                              "(a pool's ceil_mode rounds it up)"))
        chosen.append(fit[0])
        noted = noted or b != e or not pads
    if noted:
        given = f"pads {list(pads)}" if pads else "auto_pad"
        counts.notes.append(f"{node_name}: {given} written as pad = {chosen} (the same "
                            "output size; dslc pads symmetrically)")
    return chosen[0], chosen[1]


class _Reader:
    """One pass over the graph's nodes in order (ONNX graphs are topologically sorted)."""

    def __init__(self, model: Any, source: str, name: str, skip_unknown: bool) -> None:
        self.model = model
        self.source = source
        self.skip_unknown = skip_unknown
        self.shapes = _shapes(model, source)
        graph = model.graph
        # TensorProtos, read as arrays only when a value matters (clip bounds, reduction
        # axes): dslc needs shapes, and a tensor's data may name an external file.
        self.constants: dict[str, Any] = {t.name: t for t in graph.initializer}
        self.const_names: set[str] = set(self.constants)
        self.origin: dict[str, str] = {}
        """Per constant computed by a `LAYOUT` operator from one constant, the constant it
        was computed from (followed to the first: `_original`)."""
        self.names = Names()
        self.tensor: dict[str, str] = {}      # ONNX activation name -> dslc tensor name
        self.inputs: list[tuple[str, Shape]] = []
        self.layers: list[ImportedLayer] = []
        self.counts = _Counts()
        self.unknown: dict[str, list[str]] = {}
        self.problems: list[Diagnostic] = []
        self.network_name = name
        self.tainted: set[str] = set()  # outputs of nodes that could not be imported
        self.lost: set[str] = set()  # skipped nodes' outputs without a usable shape
        self.read = {name for n in graph.node for name in n.input} | {
            value.name for value in graph.output}
        self.suppressed = 0
        # The batch is the first input's axis 0 (the last input's was taken: a second
        # input without a batch axis, [K, N], made every other tensor look unbatched).
        # Inputs without it are activations all the same (so what reads them is refused
        # with their shape), but are not declared: they cannot be written as dslc inputs.
        activations = [v.name for v in graph.input if v.name not in self.const_names]
        self.batch = next((self.shapes[n][0] for n in activations
                           if len(self.shapes.get(n, ())) >= 2), 1)
        for value_name in activations:
            shape = self.shapes.get(value_name, ())
            dslc_name = self.names.claim(value_name, "x")
            self.tensor[value_name] = dslc_name
            if len(shape) >= 2 and shape[0] == self.batch:
                self.inputs.append((dslc_name, shape[1:]))

    # -- helpers ----------------------------------------------------------------------------

    def shape(self, onnx_name: str) -> Shape:
        """The dslc shape (batch dropped) of an activation."""
        shape = self.shapes.get(onnx_name)
        if shape is None:
            raise _Unsupported(f"shape inference gave no shape for `{onnx_name}`",
                               "export the model with static shapes")
        if len(shape) < 2 or shape[0] != self.batch:
            raise _Unsupported(f"`{onnx_name}` has shape {list(shape)}, without the batch "
                               f"({self.batch}) as its first axis",
                               "dslc layers keep the batch; export with the batch axis kept")
        if not all(0 < d <= MAX_DIM for d in shape):
            raise _Unsupported(f"`{onnx_name}` has shape {list(shape)}, with sizes outside "
                               f"1 to {MAX_DIM:,}")
        return shape[1:]

    def is_act(self, onnx_name: str) -> bool:
        return onnx_name in self.tensor

    def const(self, onnx_name: str) -> Any:
        """The value of a constant, as an array. Data in an external file is never read:
        its location is the model's word, and may name any file."""
        import onnx
        import onnx.numpy_helper

        if onnx_name not in self.constants:
            raise _Unsupported(f"`{onnx_name}` is computed, not a constant dslc can read")
        tensor = self.constants[onnx_name]
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise _Unsupported(f"the value of `{onnx_name}` is stored in an external file, "
                               "which dslc does not read",
                               "store small constants (clip bounds, axes) in the model")
        try:
            return onnx.numpy_helper.to_array(tensor)
        except Exception as exc:  # a tensor whose data does not match its dims
            raise _Unsupported(f"constant `{onnx_name}` cannot be read ({type(exc).__name__}"
                               f": {str(exc)[:200]})") from None

    def const_shape(self, onnx_name: str) -> Shape:
        if onnx_name not in self.shapes:
            raise _Unsupported(f"constant `{onnx_name}` has no known shape")
        shape = self.shapes[onnx_name]
        if not all(0 < d <= MAX_DIM for d in shape):
            raise _Unsupported(f"constant `{onnx_name}` has shape {list(shape)}, with sizes "
                               f"outside 1 to {MAX_DIM:,}")
        return shape

    def numel(self, onnx_name: str) -> int:
        return math.prod(self.const_shape(onnx_name)) if onnx_name else 0

    def _original(self, onnx_name: str) -> str:
        """The constant `onnx_name` is a rearrangement of (itself when it is not one)."""
        return self.origin.get(onnx_name, onnx_name)

    def parameters(self, onnx_name: str) -> int:
        """The parameters of a constant operand, or 0 when another operand already counted
        them (the same constant, or a rearrangement of it: parameters are counted once
        however many layers read them, as PyTorch counts tied weights)."""
        if not onnx_name:
            return 0
        count = self.numel(onnx_name)
        original = self._original(onnx_name)
        if original in self.counts.counted:
            return 0
        self.counts.counted.add(original)
        return count

    def weight_of(self, layer: str, onnx_name: str, count: int) -> None:
        """Count a conv or dense layer's weight (`count` elements) once, and note which
        layers share it."""
        self.counts.per_layer += count
        self.counts.shared.setdefault(self._original(onnx_name), []).append(layer)
        self.counts.weights += self.parameters(onnx_name)

    def layer_name(self, node: Any, weight: str = "") -> str:
        if weight and weight in self.const_names and "." in weight:
            stem = weight.rsplit(".", 1)[0] if weight.endswith((".weight", ".bias")) else weight
            return self.names.claim(stem, node.op_type.lower())
        meta = {p.key: p.value for p in node.metadata_props}
        scopes = meta.get("pkg.torch.onnx.name_scopes")
        if scopes:
            parts = [p.strip(" '\"") for p in scopes.strip("[]").split(",")]
            parts = [p for p in parts if p]  # cumulative: '', 'layer1', 'layer1.0', op
            module = parts[-2] if len(parts) > 1 else ""
            op = re.sub(r"_\d+$", "", parts[-1]) if parts else ""
            classes = meta.get("pkg.torch.onnx.class_hierarchy", "").split(",")
            leaf = len(classes) > 1 and "torch.nn.modules." in classes[-2]
            if op and not op.startswith("_") and not (module and leaf):
                module = f"{module}.{op}" if module else op
            if module:
                return self.names.claim(module, node.op_type.lower())
        wanted = node.name or (node.output[0] if node.output else "")
        parts = [p for p in wanted.strip("/").split("/") if p]
        if len(parts) > 1 and parts[-1] == node.op_type:
            parts = parts[:-1]
        parts = [p for i, p in enumerate(parts)
                 if i + 1 >= len(parts) or not parts[i + 1].startswith(p + ".")]
        return self.names.claim("_".join(parts), node.op_type.lower())

    def emit(self, node: Any, op: str, args: Sequence[str],
             attrs: Sequence[tuple[str, AttrValue]] = (), weight: str = "") -> str:
        name = self.layer_name(node, weight)
        dslc_args = tuple(self.tensor[a] for a in args)
        label = f"{node.op_type} {node.name}".strip()
        rules = {p.key: p.value for p in node.metadata_props}.get(
            "pkg.onnxscript.rewriter.rule_name", "")
        self.counts.fused_norms += rules.count("FuseBatchNormInto")
        self.layers.append(ImportedLayer(name, op, dslc_args, tuple(attrs), label))
        self.tensor[node.output[0]] = name
        self.counts.ops[f"{node.op_type} as {op}"] += 1
        return name

    def alias(self, node: Any, onnx_input: str, why: str) -> None:
        self.tensor[node.output[0]] = self.tensor[onnx_input]
        self.counts.folded[why] += 1

    # -- the pass ---------------------------------------------------------------------------

    def run(self) -> ImportedNetwork:
        for node in self.model.graph.node:
            acts = [i for i in node.input if i and self.is_act(i)]
            if node.op_type == "Constant" and _known(node):
                attrs = _attributes(node)
                if "value" in attrs:
                    self.constants[node.output[0]] = attrs["value"]
                self.const_names.add(node.output[0])
                continue
            if not acts and any(i in self.lost for i in node.input):
                # reads what a skipped node left without a shape: left out too (it was
                # folded as a constant computation, a Conv's MACs with it)
                self.lost.update(node.output)
                self.counts.after_lost[node.op_type] += 1
                continue
            if not acts:  # shape arithmetic on constants: folded
                self.const_names.update(node.output)
                if node.op_type in LAYOUT and node.input and node.input[0] and \
                        node.output and _known(node):
                    self.origin[node.output[0]] = self._original(node.input[0])
                self.counts.folded["constant computations"] += 1
                continue
            if not _known(node):
                kind = f"{node.domain}.{node.op_type}" if node.domain not in DOMAINS \
                    else node.op_type
                self.unknown.setdefault(kind, []).append(node.name or node.output[0])
                self.tainted.update(node.output)
                self.skip(node, acts)
                continue
            try:
                self.convert(node, acts)
            except _Unsupported as exc:
                after_problem = any(i in self.tainted for i in node.input)
                self.tainted.update(node.output)
                if self.skip_unknown:
                    self.counts.notes.append(f"{node.name or node.op_type}: {exc}")
                elif after_problem:  # a consequence of an earlier problem: not repeated
                    self.suppressed += 1
                else:
                    self.problems.append(_diagnostic(
                        "E803", f"{node.op_type} node `{node.name or node.output[0]}`: {exc}",
                        self.source, exc.hint))
                self.skip(node, acts)
        if self.suppressed and self.problems:
            last = self.problems[-1]
            self.problems[-1] = dataclasses.replace(last, notes=(
                *last.notes, f"{self.suppressed} later node"
                f"{'s' if self.suppressed != 1 else ''} that depend on the nodes above fail "
                "the same way and are not listed"))
        self.check()
        return ImportedNetwork(self.network_name, tuple(self.inputs), tuple(self.layers),
                               self.header(), self.counts.weights)

    def skip(self, node: Any, acts: Sequence[str]) -> None:
        """Leave a node out: each output is an activation input of its shape passed
        through, else a new network input of its shape (what reads one without the batch
        axis is refused as usual); an output without a usable shape (none, or below rank
        2) is lost, and what reads only lost values is left out with it (`run`). Every
        output counts: a Split's second output was neither, so what read it was taken for
        constant computations and vanished."""
        label = f"{node.op_type} `{node.name or node.output[0]}`"
        outputs = [o for o in node.output if o]
        said = []
        for index, output in enumerate(outputs):
            which = f"output {index + 1} " if len(outputs) > 1 else ""
            shape = self.shapes.get(output)
            same = [a for a in acts if shape is not None and self.shapes.get(a) == shape]
            if same:
                self.tensor[output] = self.tensor[same[0]]
                said.append(f"{which}passes its input through")
            elif shape is None or len(shape) < 2:
                self.lost.add(output)
                said.append(f"{which or 'its output '}has no usable shape")
            else:
                name = self.names.claim(output, "skipped")
                self.tensor[output] = name
                self.inputs.append((name, shape[1:]))
                said.append(f"{which or 'its output '}is the input `{name}`")
        self.counts.skipped.append(f"{label} ({'; '.join(said)})")

    def check(self) -> None:
        if self.unknown:
            total = sum(len(v) for v in self.unknown.values())
            parts = []
            for op_type, nodes in sorted(self.unknown.items()):
                shown = ", ".join(f"`{n}`" for n in nodes[:5])
                more = f" and {len(nodes) - 5} more" if len(nodes) > 5 else ""
                parts.append(f"{op_type} x{len(nodes)} ({shown}{more})")
            diagnostic = _diagnostic(
                "E802", f"{total} node{'s' if total != 1 else ''} of "
                f"{len(self.unknown)} operator{'s' if len(self.unknown) != 1 else ''} dslc "
                f"cannot express: {'; '.join(parts)}", self.source,
                "pass --skip-unknown to import without them (each passes its input through "
                "or its output becomes a network input; the file's header lists them), or "
                "write them as einsum layers by hand")
            if not self.skip_unknown:
                self.problems.insert(0, diagnostic)
        if self.problems:
            raise DiagnosticError(self.problems)
        if not self.layers:
            raise DiagnosticError([_diagnostic(
                "E801", "no node of the graph computes on its inputs", self.source)])

    def header(self) -> tuple[str, ...]:
        c = self.counts
        opset = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}"
                          for o in self.model.opset_import)
        producer = " ".join(p for p in (self.model.producer_name,
                                        self.model.producer_version) if p)
        lines = [f"Imported from {self.source} by `dslc import` (opsets: {opset}"
                 f"{'; producer ' + producer if producer else ''}).",
                 "One layer per ONNX node; shapes from ONNX shape inference, batch axis "
                 f"dropped (the model's batch: {self.batch}); each line ends with its node.",
                 "Layers: " + ", ".join(f"{n} {k}" for k, n in sorted(c.ops.items())) + "."]
        if c.folded:
            lines.append("Folded into the layer before them: " + ", ".join(
                f"{n} {k}" for k, n in sorted(c.folded.items())) + ".")
        total = c.weights + c.biases + c.norms
        lines.append(
            f"Parameters: {total:,} = {c.weights:,} weights of conv and dense layers + "
            f"{c.biases:,} biases and folded scales + {c.norms:,} normalisation scales and "
            f"shifts (plus {c.buffers:,} running statistics); each constant once, however "
            "many layers read it.")
        shared = {w: layers for w, layers in c.shared.items() if len(layers) > 1}
        if shared:
            lines.append(
                f"Shared weights, {len(shared)}: " + "; ".join(
                    f"{w} read by {', '.join(layers)}" for w, layers in sorted(shared.items()))
                + f". Each counts once above; dslc's layers each hold their own, so its "
                f"weight count (`dslc dump --stage layers`) is {c.per_layer:,}.")
        if c.fused_norms:
            lines.append(f"The exporter folded {c.fused_norms} batch normalisations into the "
                         "layers before them (their scale and shift are in those layers' "
                         "weights and biases).")
        if c.skipped:
            lines.append(f"Skipped (--skip-unknown), {len(c.skipped)}: "
                         + "; ".join(c.skipped) + ".")
        if c.after_lost:
            lines.append(f"Left out with them, as they read only skipped outputs without a "
                         f"usable shape, {sum(c.after_lost.values())}: " + ", ".join(
                             f"{k} x{n}" for k, n in sorted(c.after_lost.items())) + ".")
        lines += c.notes
        return tuple(lines)

    # -- operators --------------------------------------------------------------------------

    def convert(self, node: Any, acts: list[str]) -> None:
        op = node.op_type
        attrs = _attributes(node)
        for index, extra in enumerate(node.output[1:], start=2):
            if extra and extra in self.read:  # training outputs (a mask, batch statistics)
                raise _Unsupported(f"its output {index} (`{extra}`) is used; dslc's layers "
                                   "have one output", "export the model for inference")
        if op not in OPERANDS:  # one activation, the first input; the rest are constants
            for index, name in enumerate(node.input):
                if name and (index == 0) != self.is_act(name):
                    raise _Unsupported(
                        f"input {index} (`{name}`) is "
                        + ("a constant" if index == 0 else "computed from activations")
                        + f"; dslc reads {op}'s first input as its activation and the "
                        "others (weights, biases, scales, shapes) as constants",
                        "an operand computed at run time has no dslc counterpart here")
        if op in SHAPES:
            self.const_names.update(node.output)
            self.counts.folded[f"{op} of an activation"] += 1
        elif op in FOLDED:
            self.alias(node, acts[0], op)
        elif op in ELEMENTWISE:
            if op == "BatchNormalization":
                self.counts.norms += self.parameters(node.input[1]) + \
                    self.parameters(node.input[2])
                self.counts.buffers += self.parameters(node.input[3]) + \
                    self.parameters(node.input[4])
            elif op == "LayerNormalization":
                self.counts.norms += sum(self.parameters(i) for i in node.input[1:3])
            self.shape(acts[0])
            self.emit(node, ELEMENTWISE[op], acts[:1])
        elif op == "Clip":
            self.clip(node, acts, attrs)
        elif op == "Conv":
            self.conv(node, acts, attrs)
        elif op in ("Gemm", "MatMul"):
            self.matmul(node, acts, attrs)
        elif op in ("MaxPool", "AveragePool"):
            self.pool(node, acts, attrs)
        elif op in ("GlobalAveragePool", "GlobalMaxPool"):
            self.global_pool(node, acts[0], "avgpool" if op == "GlobalAveragePool"
                             else "maxpool")
        elif op in ("ReduceMean", "ReduceMax"):
            self.reduce(node, acts, attrs)
        elif op in ("Add", "Sub", "Mul", "Div"):
            self.binary(node, acts)
        elif op == "Concat":
            self.concat(node, acts, attrs)
        elif op == "Transpose":
            self.transpose(node, acts, attrs)
        else:  # Reshape, Flatten, Squeeze, Unsqueeze
            self.reshape(node, acts, attrs)

    def clip(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        def bound(index: int, key: str) -> float | None:
            if len(node.input) > index and node.input[index]:
                value = self.const(node.input[index])
                if value.size != 1 or value.dtype.kind not in "biuf":
                    raise _Unsupported(f"the clip bound `{node.input[index]}` is "
                                       f"{value.size} values of type {value.dtype}, not one "
                                       "number", "ONNX's Clip bounds are scalars")
                return float(value.reshape(-1)[0])
            return float(attrs[key]) if key in attrs else None
        low, high = bound(1, "min"), bound(2, "max")
        self.shape(acts[0])
        if low == 0.0 and high == 6.0:
            self.emit(node, "relu6", acts[:1])
        elif low == 0.0 and (high is None or math.isinf(high)):
            self.emit(node, "relu", acts[:1])
        else:
            raise _Unsupported(f"clip to [{low}, {high}] is not relu or relu6",
                               "dslc's clipping functions are relu and relu6")

    def conv(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        x, weight = node.input[0], node.input[1]
        if not self.is_act(x) or self.is_act(weight):
            raise _Unsupported("the weight is computed from activations",
                               "dslc convolutions have constant weights")
        in_shape, out_shape = self.shape(x), self.shape(node.output[0])
        w_shape = self.const_shape(weight)
        if len(in_shape) != 3 or len(w_shape) != 4:
            raise _Unsupported(f"a {len(in_shape) - 1}-D convolution; dslc's are 2-D",
                               "dslc convolutions work on [C, H, W]")
        kernel = _pair(w_shape[2:], "the kernel")
        stride = _positive(_pair(attrs.get("strides", [1, 1]), "strides"), "strides")
        dilation = _positive(_pair(attrs.get("dilations", [1, 1]), "dilations"), "dilations")
        pads = _explicit_pads(attrs)
        pad = _window_pad(_pair(in_shape[1:3], "the input"),
                          _pair(out_shape[1:3], "the output"), kernel, stride, dilation,
                          pads, self.counts, node.name or node.output[0])
        groups = int(attrs.get("group", 1))
        channels, out_channels = in_shape[0], w_shape[0]
        if groups < 1 or channels % groups or out_channels % groups or \
                w_shape[1] * groups != channels or out_shape[0] != out_channels:
            raise _Unsupported(
                f"a weight of shape {list(w_shape)} in {groups} groups does not take "
                f"{channels} input channels to {out_shape[0]} output channels",
                "the weight's shape is [out, in / group, kh, kw]")
        self.counts.biases += self.parameters(node.input[2]) if len(node.input) > 2 else 0
        window: list[tuple[str, AttrValue]] = [("kernel", _scalar(kernel))]
        if stride != (1, 1):
            window.append(("stride", _scalar(stride)))
        if pad != (0, 0):
            window.append(("pad", _scalar(pad)))
        if dilation != (1, 1):
            window.append(("dilation", _scalar(dilation)))
        if groups == channels and channels > 1 and out_channels % channels == 0:
            multiplier = out_channels // channels
            extra: list[tuple[str, AttrValue]] = (
                [("multiplier", multiplier)] if multiplier > 1 else [])
            name = self.emit(node, "dwconv", [x], [*window, *extra], weight)
        else:
            grouped: list[tuple[str, AttrValue]] = [("groups", groups)] if groups > 1 else []
            name = self.emit(node, "conv", [x], [("out", out_channels), *window, *grouped],
                             weight)
        self.weight_of(name, weight, math.prod(w_shape))

    def matmul(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        a, b = node.input[0], node.input[1]
        trans_b = bool(attrs.get("transB", 0))
        if attrs.get("transA", 0):
            raise _Unsupported("transA = 1 (a transposed activation)",
                               "transpose the activation with its own node")
        if not self.is_act(a):
            raise _Unsupported("the first operand is a constant",
                               "dslc's dense layers take the activation first")
        self.shape(a)
        self.shape(node.output[0])
        addend = node.input[2] if len(node.input) > 2 and node.input[2] else ""
        if addend and self.is_act(addend):  # Y = A B + C with C an activation: a residual
            self.shape(addend)
        elif addend:
            self.counts.biases += self.parameters(addend)
        if self.is_act(b):
            a_shape, b_shape = self.shape(a), self.shape(b)
            if min(len(a_shape), len(b_shape)) < 2:
                raise _Unsupported(
                    f"the product of activations {list(a_shape)} and {list(b_shape)} (batch "
                    "axis dropped): dslc's matmul needs [.., M, K] and [.., K, N] after the "
                    "batch", "a Gemm of two activations has only [batch, K]; give the "
                    "operands a batch axis of their own (MatMul of [N, M, K] and [N, K, N])")
            if a_shape[:-2] != b_shape[:-2]:
                raise _Unsupported(
                    f"MatMul broadcasts {list(a_shape)} against {list(b_shape)} (batch axis "
                    "dropped): dslc's matmul needs equal leading axes",
                    "expand the operand with fewer leading axes in the model")
            # (only MatMul gets here: a Gemm's operands are [batch, K], refused above, so
            # there is no transB to write as transpose_b)
            self.emit(node, "matmul", [a, b])
            return
        w_shape = self.const_shape(b)
        if len(w_shape) != 2:
            raise _Unsupported(f"a constant operand of rank {len(w_shape)}",
                               "dslc's dense layers have a [K, N] weight")
        out = w_shape[0] if trans_b else w_shape[1]
        name = self.emit(node, "dense", [a], [("out", out)], b)
        self.weight_of(name, b, math.prod(w_shape))
        if addend and self.is_act(addend):  # it was dropped, and the residual edge with it
            total = self.names.claim(f"{name}_add")
            self.layers.append(ImportedLayer(total, "add", (name, self.tensor[addend]), (),
                                             f"{node.op_type} {node.name} (C = {addend})"))
            self.tensor[node.output[0]] = total
            self.counts.ops[f"{node.op_type} C as add"] += 1

    def pool(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        x = acts[0]
        in_shape, out_shape = self.shape(x), self.shape(node.output[0])
        if len(in_shape) != 3:
            raise _Unsupported("pooling over other than two spatial axes",
                               "dslc pools [C, H, W]")
        kernel = _positive(_pair(attrs.get("kernel_shape", []), "the window"), "the window")
        stride = _positive(_pair(attrs.get("strides", [1, 1]), "strides"), "strides")
        if tuple(attrs.get("dilations", [1, 1])) != (1, 1):
            raise _Unsupported("dilated pooling", "dslc's pools are not dilated")
        pads = _explicit_pads(attrs)
        ceil = bool(attrs.get("ceil_mode", 0))
        pad = _window_pad(_pair(in_shape[1:3], "the input"),
                          _pair(out_shape[1:3], "the output"), kernel, stride, (1, 1),
                          pads, self.counts, node.name or node.output[0], ceil)
        op = "maxpool" if node.op_type == "MaxPool" else "avgpool"
        out: list[tuple[str, AttrValue]] = [("kernel", _scalar(kernel)),
                                            ("stride", _scalar(stride))]
        if pad != (0, 0):
            out.append(("pad", _scalar(pad)))
        if ceil:
            out.append(("ceil", True))
        self.emit(node, op, [x], out)

    def global_pool(self, node: Any, x: str, op: str) -> str:
        if len(self.shape(x)) != 3:
            raise _Unsupported("global pooling over other than [C, H, W]")
        return self.emit(node, op, [x], [("global", True)])

    def reduce(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        x = acts[0]
        rank = len(self.shape(x)) + 1
        axes_value = attrs.get("axes")
        if axes_value is None and len(node.input) > 1 and node.input[1]:
            axes_value = [int(v) for v in self.const(node.input[1]).reshape(-1)]
        if any(not -rank <= int(a) < rank for a in axes_value or []):
            raise _Unsupported(f"axes {list(axes_value or [])} are outside the {rank} axes")
        axes = {int(a) % rank for a in (axes_value or [])}
        if rank != 4 or axes != {2, 3}:
            raise _Unsupported(f"{node.op_type} over axes {sorted(axes)} of a rank-{rank} "
                               "tensor; only the spatial axes of [N, C, H, W] are pooling",
                               "dslc expresses spatial reductions as global pooling")
        op = "avgpool" if node.op_type == "ReduceMean" else "maxpool"
        output = node.output[0]
        keep = bool(attrs.get("keepdims", 1))
        name = self.global_pool(node, x, op)
        if not keep:  # [C, 1, 1] -> [C]: one more, shape-only layer
            flat = self.names.claim(f"{name}_flat")
            self.layers.append(ImportedLayer(flat, "flatten", (name,), (),
                                             f"{node.op_type} {node.name} (keepdims = 0)"))
            self.tensor[output] = flat

    def binary(self, node: Any, acts: list[str]) -> None:
        out_shape = self.shape(node.output[0])
        if len(acts) == 1:
            constant = next(i for i in node.input if i != acts[0])
            if self.shape(acts[0]) != out_shape:
                raise _Unsupported("a constant operand that broadcasts the activation to "
                                   "another shape")
            self.counts.biases += self.parameters(constant)
            self.alias(node, acts[0], f"constant {node.op_type}")
            return
        if node.op_type not in ("Add", "Mul"):
            self.unknown.setdefault(f"{node.op_type} of two activations", []).append(
                node.name or node.output[0])
            self.skip(node, acts)
            return
        shapes = [self.shape(a) for a in acts]
        if len({len(s) for s in shapes}) != 1:
            raise _Unsupported(f"operands of ranks {sorted({len(s) for s in shapes})}",
                               "dslc broadcasts only between equal ranks")
        self.emit(node, node.op_type.lower(), acts)

    def concat(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        if len(acts) != len([i for i in node.input if i]):
            raise _Unsupported("a constant operand", "dslc concatenates activations")
        rank = len(self.shape(acts[0])) + 1
        for other in acts[1:]:
            self.shape(other)
        axis = int(attrs.get("axis", 1))
        if not -rank <= axis < rank:  # (shape inference does not stop such a model)
            raise _Unsupported(f"axis {axis} is outside the {rank} axes")
        axis %= rank
        if axis == 0:
            raise _Unsupported("concatenation along the batch axis")
        self.shape(node.output[0])
        extra: list[tuple[str, AttrValue]] = [("axis", axis - 1)] if axis > 1 else []
        self.emit(node, "concat", acts, extra)

    def transpose(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        rank = len(self.shape(acts[0])) + 1
        perm = [int(p) for p in attrs.get("perm", list(range(rank))[::-1])]
        if sorted(perm) != list(range(rank)):
            raise _Unsupported(f"perm {perm} is not a permutation of the {rank} axes")
        if perm[0] != 0:
            raise _Unsupported(f"perm {perm} moves the batch axis",
                               "dslc transposes keep the batch first")
        self.shape(node.output[0])
        self.emit(node, "transpose", acts[:1], [("perm", tuple(p - 1 for p in perm[1:]))])

    def reshape(self, node: Any, acts: list[str], attrs: dict[str, Any]) -> None:
        self.shape(acts[0])
        out_shape = self.shape(node.output[0])
        if node.op_type == "Flatten" and int(attrs.get("axis", 1)) == 1:
            self.emit(node, "flatten", acts[:1])
            return
        self.emit(node, "reshape", acts[:1], [("shape", out_shape)])


def read_onnx(data: bytes, source: str, name: str, skip_unknown: bool = False
              ) -> ImportedNetwork:
    """The network of an ONNX model (see the module docstring). `source` names the model in
    messages and in the header; `name` is the network's (an identifier)."""
    model = _load(data, source)
    _static_inputs(model, source)
    return _Reader(model, source, name, skip_unknown).run()
