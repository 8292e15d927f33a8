"""The catalogue of diagnostic codes: stable code → title and explanation.

`dslc explain CODE` prints an entry; docs/diagnostics/ is generated from it (a test checks
that the two agree). Codes are stable: never renumber one, only add. Ranges: E1xx syntax,
E2xx names and imports, E3xx values and units, E4xx networks, E5xx accelerators, E6xx
mappings, E7xx spaces and co-design requests, E8xx models and files of other tools
(ONNX, PyTorch, Timeloop), W warnings, N notes, E9xx internal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    title: str
    explanation: str


_ENTRIES = [
    Code("E101", "unexpected character", """
A character that cannot start any token of the language, such as `$` or a single quote.
Strings use double quotes; units touch their number (`64KiB`); a mesh is written `14 x 12`
with spaces around the `x`.
"""),
    Code("E102", "unexpected token", """
The parser met a token that cannot come next. The label lists what could. Common causes: a
missing comma between call arguments (`conv(x, out = 3 kernel = 3)`), a property written
without `=`, or a statement keyword missing (`layer`, `param`, `input`).
"""),
    Code("E103", "unexpected end of input", """
The file ends inside a block, call or list. The diagnostic points at the innermost bracket
that was opened and never closed.
"""),
    Code("E104", "file is not valid UTF-8", """
Spec files must be UTF-8 (a byte-order mark is allowed). The diagnostic points at the first
byte that is not valid UTF-8. Re-save the file as UTF-8.
"""),
    Code("E105", "number too large", """
A number literal is beyond 1e300 (in base units for a quantity: bits, pJ, Hz, s, um2),
and cannot be represented. No hardware or network parameter needs such a value; check for
a typo.
"""),
    Code("E106", "nesting too deep", """
Expressions or blocks are nested more than 120 levels deep. Split the expression into named
layers or parameters.
"""),
    Code("E107", "file too large", """
Spec files are limited to four million characters. Split a large spec into files joined
with `import`.
"""),
    Code("E201", "undefined name", """
A name that is not defined where it is used: a layer, input, parameter, template, network or
accelerator, or a bare word that is not one of the allowed ones (a tensor role such as
`input`, `pad = same`). The help line suggests the closest defined name. Names are
case-sensitive; imports bring the names of another file into scope. (An unknown dataflow
preset is E505; an unknown strategy or mapper search is E705.)
"""),
    Code("E202", "duplicate definition", """
Two definitions share a name in one scope: two networks, accelerators, layers of a network,
components of an accelerator, parameters, or properties of a block. The second one is
reported, with the first pointed at. Rename one of them.
"""),
    Code("E203", "import not found", """
An `import` names a file that does not exist. `std/...` paths resolve to the shipped library
(`dslc/std/`, installed with the package); other paths resolve relative to the importing file.
"""),
    Code("E204", "import cycle", """
Files import each other in a cycle. Imports form a tree: move the shared definitions into a
file that both import.
"""),
    Code("E205", "unknown property", """
A property that this kind of block does not have, such as `sise` in a memory. The help line
suggests the closest valid property; docs/language/ lists every property of every block.
"""),
    Code("E206", "missing property", """
A required property is not given: a fanout needs `mesh`, a codesign block needs `networks`
and `accelerators`, an accelerator needs `word` and `clock` (or a memory needs its `word`).
"""),
    Code("E207", "unknown operator or function", """
A call names neither a built-in operator (conv, dwconv, dense, matmul, maxpool, avgpool, add,
mul, concat, relu-like functions, flatten, reshape, transpose, einsum), nor a built-in
function (channels, height, width, dim, min, max, ceil, floor, round, divisible), nor a
template.
"""),
    Code("E208", "unknown argument", """
A keyword argument that the operator, function or template does not take, or more positional
arguments than it accepts.
"""),
    Code("E209", "missing argument", """
A required argument is not given, e.g. `conv` without `out` or `kernel`, or a template
parameter with no default.
"""),
    Code("E210", "argument given twice", """
The same keyword argument appears twice in one call, or a positional argument is also given
by keyword.
"""),
    Code("E211", "wrong kind of name", """
A name refers to the wrong kind of thing: an accelerator where a network is expected, a
parameter where a layer is expected, a template where an operator's input is expected.
"""),
    Code("E212", "import refused", """
An `import` dslc will not read: a file that does not end in `.cd`, that is not a regular
file (a FIFO, a device such as `/dev/zero`, a directory), or that is larger than 16 MiB;
a `std/...` path that leaves the shipped library; or, unless you allow it, an absolute path
or a path that leaves the root file's directory tree (symbolic links resolved). A spec you
received cannot read your other files: `--allow-import-outside` (in Python,
`allow_outside_imports=True`) allows imports outside the tree. A refused file is not
opened.
"""),
    Code("E213", "too many imports", """
An import chain (a file importing a file importing ...) longer than 64 files, or a spec
whose imports load more than 500 files in all. Import shared files from the root instead
of through long chains.
"""),
    Code("E301", "unit mismatch", """
A quantity has the wrong dimension for its slot: a size where an energy is expected
(`read = 64KiB`), a frequency where a time is expected. Sizes are bits, bytes (`B`, `KiB`,
`MiB`) or `words`; energies `fJ`, `pJ`, `nJ`; frequencies `MHz`, `GHz`; times `ns`, `us`,
`ms`, `s`; areas `um2`, `mm2`; percentages `%`.
"""),
    Code("E302", "value out of range", """
A value outside what its slot allows: a non-positive kernel, stride or channel count,
`pad = same` for a kernel of even span (`dilation * (kernel - 1) + 1`: its padding cannot split
evenly between the two sides, and dslc pads both alike), a negative energy, a size that is
not a whole number of bits, a mesh of zero PEs, a percentage above 100%, or a value past the
stated limits (docs/language/guide.md, "Limits"): a dimension above 2^31-1, a layer of more
than 2^44 MACs per sample, a mesh axis above 65,536, a clock outside 1 Hz to 1 THz, an
energy above 1 mJ per action, a batch above 2^16, a memory above 2^60 bits, a co-design over
more than 100,000 network or accelerator designs or 10^7 pairs. The cost model counts in
64-bit integers and doubles; the limits keep every figure finite. `dslc import-timeloop`
reports a figure of a study past these limits with the same code, naming the file, the
component and the field.
"""),
    Code("E303", "wrong type", """
A value of the wrong type: a list where a number is expected, a string where a tensor is
expected, a fractional value where an integer is expected.
"""),
    Code("E304", "invalid arithmetic", """
An arithmetic operation that has no meaning: division by zero, adding a size to an energy,
multiplying two quantities, a negative or fractional exponent of a quantity.
"""),
    Code("E401", "shape mismatch", """
The shapes inferred along the network do not fit an operator: an `add` of tensors of
different shapes, a kernel larger than its padded input, a pool padded by more than half its
kernel (PyTorch refuses it too), channels not divisible by groups, a dense or matmul with
mismatched inner sizes, a reshape that changes the element count. For a
network space, every point is checked where the space is small, and a seeded sample
otherwise (a note says which).
"""),
    Code("E402", "invalid einsum", """
An einsum whose dims or tensors are inconsistent: an index that is not an affine expression
of the declared dims (with integer coefficients), an unknown dim, a missing output, an input
tensor with no graph input to bind, a dim bound that is not a positive integer.
"""),
    Code("E403", "invalid template or repeat", """
A template that calls itself (directly or indirectly), a `repeat` count that is not a
non-negative integer, or a template body whose `return` does not name a tensor.
"""),
    Code("E404", "invalid network structure", """
A network without inputs or layers, an input with a non-positive dimension, or a layer whose
value is not an operator call, template call or tensor.
"""),
    Code("E405", "network too large", """
A network expands to more than 100,000 layers once its templates and repeats are expanded
(`MAX_LAYERS`). A `repeat` whose first iteration's layers times its count would pass the
limit is reported at the `repeat`, with the count, before it is expanded; otherwise the
layer that passes the limit is. No real network comes near the limit: check the repeat
counts (each at most 10,000) and the templates they call.
"""),
    Code("E501", "tensor with no home", """
A tensor role (input, weight, output) is held by no memory, or the outermost memory (the
backing store, usually DRAM) does not hold every role. Every tensor must live somewhere, and
the outermost level must hold all of them.
"""),
    Code("E502", "mesh does not fit the dataflow", """
The fanout's mesh and its dataflow disagree: the dataflow unrolls dims on an axis of size 1.
(An empty list, `y = []`, on an axis of size > 1 is allowed: that axis stays idle, as
`idle y` in a `constraints` block says.)
"""),
    Code("E503", "memory too small", """
A memory cannot hold even the smallest possible tile: one word of a tensor it holds, times its
multiple buffering. Its size must be at least `buffering` words.
"""),
    Code("E504", "invalid accelerator structure", """
An accelerator needs exactly one `compute` block, declared last, at least one memory, and a
memory above its first fanout.
"""),
    Code("E505", "invalid dataflow", """
A dataflow that is neither a preset (weight_stationary, output_stationary, input_stationary,
row_stationary, free) nor an explicit block with `x`, `y` and optionally `stationary`.
"""),
    Code("E601", "unknown dimension in mapping", """
A mapping loop names a dimension that the layer's loop nest does not have. Built-in operators
use Timeloop's names: N (batch), K (output channels), C (input channels), P and Q (output rows
and columns), R and S (filter rows and columns), G (groups); einsum layers use their declared
dims.
"""),
    Code("E602", "unknown level in mapping", """
A mapping entry names a memory or fanout that the accelerator does not have, or names one
twice.
"""),
    Code("E603", "factors do not cover the bounds", """
For every dimension, the product of its factors over all levels (temporal and spatial) must
equal the dimension's bound (perfect factorisation). The message gives the product and the
bound. A mapping with `imperfect = true` may overshoot a bound: the dimension is padded (the
padded iterations take cycles, move padded data and spend MAC energy), as long as the padding
is less than one step of the dimension's outermost loop.
"""),
    Code("E604", "spatial loops do not fit the fanout", """
The product of the spatial factors on an axis exceeds the fanout's mesh on that axis, or the
dataflow does not allow a dimension on that axis.
"""),
    Code("E605", "tile over capacity", """
The tiles a memory keeps (times its multiple buffering) exceed its size. The message names
the tensors and how many words each needs.
"""),
    Code("E606", "invalid keep or bypass", """
A mapping keeps a tensor at a memory whose `holds` does not include it, names an unknown
tensor, or both keeps and bypasses the same tensor.
"""),
    Code("E607", "loops at the wrong kind of level", """
Spatial loops belong to fanouts (`spatial x [...]`, `spatial y [...]`); temporal loops, keep
and bypass belong to memories.
"""),
    Code("E608", "invalid mapping target", """
A mapping names a layer that the network does not have, or a layer without MACs (pooling,
add, ...) which has no loop nest to map.
"""),
    Code("E609", "invalid map-space constraint", """
A `constraints` block (in an accelerator, a co-design's `mapper` block or `dslc map
--constraints`) says something that has no meaning: a level the accelerator does not have
(in a request: that none of its accelerators has), a level constrained twice or a
directive given twice for one level, a directive at the wrong kind of level (`factors`,
`order`, `keep` and `bypass` belong to memories; `spatial x [...]` and `idle y` to fanouts),
a mesh axis other than `x` and `y`, a factor that is not a positive integer or `all`, a dim
or tensor listed twice, an `order` with two `...`, or two `constraints` blocks in one
accelerator or mapper.
"""),
    Code("E610", "constraints leave no mapping", """
The map-space constraints contradict each other or the accelerator, so no mapping obeys
them all: two different factors for one dim at one level (an accelerator's constraint and
a request's count together), a factor above 1 where the dim may not have a loop (`forbid`,
`allow`, `idle`, or an `order` without `...` that does not list it), factor bounds with no
value between them, fixed spatial factors whose product exceeds the mesh axis or that the
fanout's explicit dataflow does not unroll there, a tensor that must be both kept and
bypassed at one memory, more forced keeps than the memory has words, or dims whose fixed
factors above 1 force loops at a memory where no order of those loops obeys every `order`
written there (`order [K, ...]` and `order [C, ...]` with `factors [K 4, C 2]`: K and C
cannot both be outermost). Orders alone never conflict: only loops of factor > 1 count,
so `[K, ...]` and `[C, ...]` together allow every mapping in which K or C has no loop at
that memory, and the mapper searches exactly those. What depends on a layer (fixed factors
whose product does not divide the layer's bound, a whole-bound factor that forces a loop,
the smallest tiles of forced keeps over capacity) is reported when the layer is mapped, by
`dslc map` and `dslc run`, as an error naming the level and the dim.
"""),
    Code("E611", "keep or bypass the accelerator cannot do", """
A `constraints` block makes a memory keep a tensor role that its `holds` does not include,
or makes a tensor bypass the outermost memory: that memory is the backing store and keeps
every tensor.
"""),
    Code("E612", "mapping breaks its accelerator's constraints", """
A `mapping` block does not obey the map-space constraints of its accelerator's
`constraints` block, which apply to every mapping on that accelerator (as they bind the
mapper): a dim's temporal or spatial factor at a level other than the one fixed
(`factors [K 4]`, `spatial x [C 4]`), outside its bounds (`K <= 8`, `Q >= 2`) or not the
whole bound (`R all`); a loop of a dim the level may not have (`forbid`, `allow`, an
`idle` axis, an `order` without `...` that does not list it); loops in another order than
`order [...]` gives (only loops of factor > 1 count); a tensor not kept where `keep` makes
it stay, or kept where `bypass` sends it past. The error points at the mapping's loop (or
directive, or level) and, as a secondary label, at the constraint; change the mapping, or
the constraint. `dslc map` only ever finds mappings that obey them.
"""),
    Code("E701", "empty space", """
A parameter's domain is empty (`{}` or a range whose end is below its start), so the space
has no points.
"""),
    Code("E702", "point outside its space", """
A point (a reference accelerator, or a network or accelerator of a mapping) gives a parameter
a value that is not in its domain.
"""),
    Code("E703", "unknown parameter", """
A point names a parameter that the network or accelerator does not declare.
"""),
    Code("E704", "missing parameter", """
A point does not give a value to every parameter of its space.
"""),
    Code("E705", "invalid co-design request", """
An objective or constraint over an unknown metric, a constraint bound with the wrong unit,
an unknown strategy or mapper search, or a non-positive batch, budget or top-k. Metrics:
energy, latency, cycles, edp, area, accuracy.
"""),
    Code("E706", "accuracy source problem", """
An accuracy table that does not exist or cannot be read, a table that cannot serve the
searched networks (no `accuracy` column, a column that is neither `network` nor one of their
parameters, a parameter value outside its domain, an accuracy that does not parse: a
fraction, a percentage or `90.1%` are accepted; two rows naming the same network with
different accuracies), or an accuracy constraint with no accuracy
source (neither a table nor an `accuracy` property on the networks). A table that is not
valid UTF-8, a row with fewer or more cells than the header, and an accuracy that is `nan`,
negative or above 100% are reported at their row and column (`acc.csv:3:2: ...`); tables
are limited to 16 MiB. For `accuracy =
trained(dataset = .., ..)`: a dataset that is not `digits` or `mnist1d`, or a searched
network that does not have exactly one input of the dataset's shape ([1, 8, 8] for digits,
[1, 1, 40] for mnist1d; the same up to size-1 axes, or flattened, is accepted).
"""),
    Code("E801", "model cannot be read", """
`dslc import` could not read the model: the file does not exist, is not a regular file,
is not an ONNX model, has no nodes, is not a valid ONNX graph (a value produced twice, an
input nothing before the node produces: a cycle or nodes out of order, a node missing
required inputs), fails ONNX shape inference, its inputs have symbolic sizes other than
the batch or sizes outside 1 to 2^31-1 (dslc networks have concrete shapes; export the
model with a fixed input shape), or its shapes contradict each other so that the network
it gives does not check.
"""),
    Code("E802", "operators dslc cannot express", """
The model uses ONNX operators that have no dslc counterpart. One message lists every such
operator with its count and node names. `--skip-unknown` imports the rest: a skipped node
passes its input through when the shapes agree, else its output becomes a network input;
the written file's header lists what was skipped. docs/interop.md lists the operators the
importer understands.
"""),
    Code("E803", "operator used in a way dslc cannot express", """
A known ONNX operator with attributes or shapes dslc cannot express: a 1-D or 3-D
convolution, padding no symmetric padding reproduces, a transpose or
concatenation that moves the batch axis, a clip that is neither relu nor relu6, a reduction
over other axes than the spatial ones. `--skip-unknown` skips these nodes too.
"""),
    Code("E804", "PyTorch module cannot be exported", """
`dslc import --torch pkg.module:factory` could not import the module, call the factory
(without arguments), or export its result with `torch.onnx.export` on a zero input of the
`--input` shape (batch first).
"""),
    Code("E805", "Timeloop file cannot be read", """
`dslc import-timeloop` could not read a study: a file is not YAML, a required key
(`architecture`, `problem`, `dimensions`, a dim's bound, `mapping`, ...) is missing, a value
has the wrong form (a fraction for a count, a string for a list or a flag, a name that is
not an identifier, an unknown dim or data space, a mesh that does not match its instances),
or is one timeloop-model stops on or ignores: a mapping whose factors do not multiply to a
dim's bound (named with the dim, the product and the bound), a memory width that is not a
multiple of word bits x block size, a coefficient without `default`, a dim of more than one
character, an `instance` key that is neither a dim nor a coefficient, a component with fewer
instances than the one above it. Or the path given is not a directory, or the directory
lacks an architecture file (`*.arch.yaml`), problem files (`*.prob.yaml`) or the mapping
file beside a problem (`<layer>.map.yaml`).
Files that are links out of the study's directory, FIFOs or devices are refused without
being opened; files over 1 MiB, not UTF-8, or over 1,000,000 values once YAML aliases are
expanded are refused too (docs/interop.md).
A refusal about the text of a file points at its line: where the YAML parser stopped, the
value of the wrong form or out of range, the mapping that lacks a key, the entry or
component refused (E302 and E806 for a study's files too).
"""),
    Code("E806", "Timeloop feature without a dslc counterpart", """
Exporting: something Timeloop v3 cannot state, such as two fanouts directly below one
memory, imperfect (padded) factors, or two loops over one dim at one level. Importing:
something dslc cannot model, such as sparsity (densities, `commonDensity`, sparse
optimisations), residual factors (`K=4,3`), `skew` entries and options such as
`no_temporal_reuse`, an adder (`intadder`, which timeloop-model neglects) in the
architecture, a memory's cluster size (a width of several blocks with `block_size` given,
or `cluster_size`: Timeloop shares an access among a cluster's instances), a branching
architecture tree, components that are arrays of their own above a subtree, `power_gated_at`
naming another component, timeloopfe's `nodes` form, or a problem `shape` given by name
(a file of Timeloop's problem-shape directories, outside the study: copy it in). The
message names the file and the component; docs/interop.md lists them.
"""),
    Code("W201", "unused parameter", """
A parameter is declared but never used: every value of it gives the same network or
accelerator, so the space is larger than it needs to be.
"""),
    Code("W501", "memory cannot keep all its tensors", """
A memory is too small to keep one word of every tensor it holds at once (times buffering);
mappings will have to bypass some of them.
"""),
    Code("W601", "constraint on a dim or tensor no layer has", """
A co-design's mapper `constraints` name a dim or a tensor that no layer of the request's
networks has (checked on each network's first point), most likely a typo: a constraint on
a dim a layer lacks says nothing about that layer. Built-in operators use Timeloop's dim
names (N, K, C, P, Q, R, S, G); einsum layers their declared ones.
"""),
    Code("N701", "space checked on a sample", """
A note, not a problem: the space is too large to check every point, so a seeded sample of
points was checked (always including the first and the last point). The note gives the
sample size and the seed. Errors found at sampled points say at which point.
"""),
    Code("E900", "internal error", """
dslc itself failed: this is a bug, not a problem with your input. Please report it with the
spec file that triggered it.
"""),
]

CODES: dict[str, Code] = {
    entry.code: Code(entry.code, entry.title, entry.explanation.strip()) for entry in _ENTRIES
}


def explain(code: str) -> str | None:
    entry = CODES.get(code.upper())
    if entry is None:
        return None
    return f"{entry.code}: {entry.title}\n\n{entry.explanation}\n"
