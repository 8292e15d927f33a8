"""The programmatic facade: what the CLI calls, and what notebooks use.

`compile(path or text) -> Program` reads a spec file (and its imports) and elaborates it,
once; every other function takes that `Program`, a frozen value: `lint`, `network` and
`accelerator` (a point of a space, built), `evaluate` (a `mapping` block's cost),
`map_layer` (options from `mapper_settings`, constraints from `map_constraints`), `run` (a
co-design of one network and one accelerator), `plan` and `search` (the co-design planner
over spaces), the `dump_*` intermediate forms, and `import_onnx` and `import_torch` (models
as checked `.cd` text, dslc.interop).

Errors come by kind, all `UserError`s (dslc.diagnostics.diagnostic): `DiagnosticError` for
a spec with errors (diagnostics with spans), `UsageError` for a name that does not exist or
a bad option (the message lists what exists), `CannotRunError` for a valid spec that cannot
run as asked (no mapping fits, an unreadable accuracy table or result store). Anything else
escaping from here is a bug. Functions here return data and never print.

The mapper, the cost model and the co-design planner (numpy, numba) are imported by the
functions that use them, not here: `compile` and `lint` load none of them
(tests/test_coldstart.py checks `dslc lint` imports no numpy, numba or networkx).
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dslc.arch import ArchModel, resolve_accelerator
from dslc.diagnostics.diagnostic import (
    CannotRunError,
    Diagnostic,
    DiagnosticError,
    InternalError,
    UsageError,
    did_you_mean,
    error,
    sorted_diagnostics,
)
from dslc.graph.layer_graph import build_graph
from dslc.interop.network_text import ImportedNetwork, identifier, network_text
from dslc.lower.lower import lower_graph, lower_network
from dslc.lower.problem import Problem
from dslc.mapping.mapping import Mapping as MappingIR
from dslc.mapping.mapping import mapping_from_spec
from dslc.sema.constraints import constraints_from_text
from dslc.sema.loader import load
from dslc.sema.program import Program, elaborate
from dslc.space import DesignSpace, GivenPoint
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.base import ParamValue, Point, SpaceSpec
from dslc.spec.codesign import STRATEGIES, CoDesignSpec, TrainedAccuracy
from dslc.spec.constraints import MapConstraints
from dslc.spec.limits import MAX_BATCH, MAX_BUDGET, MAX_COUNT
from dslc.spec.network import NetworkSpec
from dslc.syntax.ast import Ident

if TYPE_CHECKING:
    from dslc.codesign.designs import Instances
    from dslc.codesign.learned import EvaluatorQuality
    from dslc.codesign.planner import Budget, Outcome, Plan
    from dslc.codesign.request import Request
    from dslc.codesign.store import ResultStore
    from dslc.cost.result import Cost
    from dslc.interop.timeloop import StudyLayer
    from dslc.mapper.network import MapCache, NetworkMapResult
    from dslc.mapper.search import MapperOptions, MapResult

TEXT_NAME = "<text>.cd"
"""How a program compiled from text without a path is named in diagnostics."""


@dataclass(frozen=True, slots=True)
class LintResult:
    """Diagnostics of every linted file, in a deterministic order."""

    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def ok(self) -> bool:
        return not self.errors


MAX_JOBS = 1024
"""Most worker processes `search` starts (`--jobs`)."""


def _check_range(what: str, value: int, low: int, high: int) -> None:
    """UsageError unless low <= value <= high (an option's stated range)."""
    if not low <= value <= high:
        raise UsageError(f"{what} must be between {low:,} and {high:,}, got {value:,}")


def check_out_dir(directory: Path, names: Sequence[str], *, force: bool = False) -> None:
    """Before a command computes what it writes into `directory`: UsageError when it cannot
    be written (an existing file, not writable, under a file) or when one of `names` (the
    files the command writes, relative) exists and `force` is not given; nothing outside
    `directory` is ever written (a name leaving it is refused)."""
    root = directory.resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out {directory} is an existing file, not a directory; give a "
                         "directory to write into")
    existing = root
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {directory}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {directory}: {existing} is not writable")
    clashes = []
    for name in names:
        target = (root / name).resolve()
        if root not in target.parents:
            raise UsageError(f"--out {directory}: `{name}` would be written outside it")
        if target.exists() or target.is_symlink():
            clashes.append(name)
    if clashes and not force:
        raise UsageError(f"--out {directory} already has {', '.join(sorted(clashes))}; give "
                         "--force to overwrite them, or another directory")


def compile(path: str | Path | None = None, *, text: str | bytes | None = None,
            allow_outside_imports: bool = False) -> Program:
    """Read and elaborate a spec file and its imports, or spec `text` (then `path`, when
    given, names it for diagnostics and relative imports, and is not read). Diagnostics are
    on the result; the other functions raise DiagnosticError for a program with errors.
    Imports stay inside the root file's directory tree (and `std/...`) unless
    `allow_outside_imports` (E212; dslc.sema.loader)."""
    if path is None and text is None:
        raise UsageError("compile needs a spec file's path or the spec's text")
    data = text.encode() if isinstance(text, str) else text
    with _collector_paused():
        program = elaborate(load(TEXT_NAME if path is None else path, data,
                                 allow_outside=allow_outside_imports))
    return program if path is not None else replace(program, root=None)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a spec is read and elaborated. Parsing
    and elaboration allocate an object or more per token, AST node and layer, nearly all of
    which live until the program is built and none of which form cycles: the collector's
    passes over them found nothing and were a third or more of `dslc lint`'s time on a
    large file (docs/performance.md, "Lint on large inputs"). Reference counting still
    frees everything that is dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def spec_files(paths: Sequence[str | Path]) -> tuple[Path, ...]:
    """The files `paths` name: a file as given, a directory as every `.cd` file under it
    (sorted; hidden files and directories such as `.venv` and `.git` skipped)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(
                p for p in path.rglob("*.cd")
                if p.is_file() and not any(part.startswith(".")
                                           for part in p.relative_to(path).parts)))
        else:
            found.append(path)
    return tuple(found)


def lint(paths: Sequence[str | Path], *, allow_outside_imports: bool = False) -> LintResult:
    """Check each file independently (with its imports); a directory stands for every
    `.cd` file under it."""
    files = spec_files(paths)
    found: list[Diagnostic] = []
    for path in files:
        found.extend(compile(path, allow_outside_imports=allow_outside_imports).diagnostics)
    return LintResult(tuple(str(p) for p in files), tuple(sorted_diagnostics(found)))


def _clean(program: Program) -> Program:
    if program.errors:
        raise DiagnosticError(program.errors)
    return program


def _named(table: Mapping[str, Any], name: str, kind: str, where: Program) -> Any:
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        hint = did_you_mean(name, table)
        raise UsageError(f"no {kind} `{name}` in {_source(where)} "
                         f"({hint + ' ' if hint else ''}{kind}s: {known})")
    return table[name]


def _source(program: Program) -> str:
    return program.files[-1] if program.files else TEXT_NAME


def _space_point(space: DesignSpace[Any], point: GivenPoint | None) -> GivenPoint:
    """The given point, or the space's first when none is given."""
    return space.point_at(0) if point is None else point


def network(program: Program, name: str, point: GivenPoint | None = None) -> NetworkSpec:
    """The concrete network `name` at `point` (default: the space's first point)."""
    space: DesignSpace[NetworkSpec] = _named(_clean(program).networks, name, "network",
                                             program)
    return space.instantiate(_space_point(space, point))


def accelerator(program: Program, name: str, point: GivenPoint | None = None
                ) -> AcceleratorSpec:
    """The concrete accelerator `name` at `point` (default: the space's first point)."""
    space: DesignSpace[AcceleratorSpec] = _named(_clean(program).accelerators, name,
                                                 "accelerator", program)
    return space.instantiate(_space_point(space, point))


def design_point(program: Program, text: str, kind: str) -> tuple[str, Point | None]:
    """A design named on the command line: `NAME` (None: no point given) or
    `NAME(param = value, ...)`, values written as in the spec (`64KiB`,
    `weight_stationary`); every parameter with several values must be given. `kind` is
    `network` or `accelerator`. UsageError for an unknown name, parameter or value."""
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", text, re.S)
    if match is None:
        article = "an" if kind.startswith("a") else "a"
        raise UsageError(f"`{text}` is not {article} {kind} name or "
                         "`NAME(param = value, ...)`")
    name, args = match.groups()
    table = _clean(program).networks if kind == "network" else program.accelerators
    space: DesignSpace[Any] = _named(table, name, kind, program)
    if args is None:
        return name, None
    given: dict[str, ParamValue] = {}
    for part in filter(None, (p.strip() for p in args.split(","))):
        key, equals, value = (x.strip() for x in part.partition("="))
        param = next((p for p in space.params if p.name == key), None)
        if not equals or param is None:
            names = ", ".join(p.name for p in space.params) or "none"
            raise UsageError(f"`{part}` is not `param = value` for a parameter of `{name}` "
                             f"(its parameters: {names})")
        if key in given:  # as a spec's call would be E210: never the last one silently
            raise UsageError(f"`{key}` is given twice in `{text.strip()}`")
        wanted = value.replace(" ", "")
        for candidate, label in zip(param.values, param.labels, strict=True):
            if wanted in (label.replace(" ", ""), str(candidate)):
                given[key] = candidate
                break
        else:
            raise UsageError(f"`{value}` is not a value of `{key}` in `{name}` (its values: "
                             f"{', '.join(param.labels)})")
    return name, space.resolve(given)


def point_text(program: Program, name: str, kind: str, point: Point) -> str:
    """How a spec writes a design at `point`: `name` or `name(p = v, ...)`."""
    table = program.networks if kind == "network" else program.accelerators
    space: DesignSpace[Any] = table[name]
    if not point:
        return name
    pairs = (f"{key} = {text}" for (key, _), text in zip(point, space.texts(point),
                                                          strict=True))
    return f"{name}({', '.join(pairs)})"


def evaluate(program: Program, mapping: str) -> Cost:
    """The cost of the `mapping` block named `mapping` (dslc.cost.model).

    Raises UsageError when no such mapping exists, CannotRunError (InvalidMappingError)
    when the mapping cannot run."""
    from dslc.cost.model import evaluate as evaluate_mapping

    spec = _named(_clean(program).mappings, mapping, "mapping", program)
    network_spec = program.networks[spec.network].instantiate(spec.network_point)
    arch = resolve_accelerator(
        program.accelerators[spec.accelerator].instantiate(spec.accelerator_point))
    problem = lower_network(network_spec, batch=spec.batch).problem(spec.layer)
    if problem is None:  # elaboration rejects a layer without a loop nest
        raise InternalError(f"mapping `{mapping}` names `{spec.layer}`, which has no loop nest")
    return evaluate_mapping(problem, arch, mapping_from_spec(spec, problem, arch))


def mapper_settings(*, search: str = "auto", budget: int = 10000,
                    objective: str | Sequence[str] = "edp", seed: int = 1,
                    imperfect: bool = False,
                    constraints: MapConstraints | None = None) -> MapperOptions:
    """Mapping-search options from plain values; UsageError for a bad one. `objective` is
    one name or several in lexicographic order (a sequence, or comma-separated:
    `latency,energy`); `constraints` are map-space constraints (`map_constraints`)."""
    from dslc.mapper.search import MapperOptions, objectives_named, search_named

    _check_range("the budget", budget, 1, MAX_BUDGET)
    _check_range("the seed", seed, 0, MAX_COUNT)
    try:
        return MapperOptions(search=search_named(search), budget=budget,
                             objective=objectives_named(objective), seed=seed,
                             imperfect=imperfect,
                             constraints=constraints or MapConstraints())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def map_constraints(program: Program, text: str, accelerator_name: str,
                    accelerator_point: GivenPoint | None = None) -> MapConstraints:
    """Map-space constraints given as text, the body of a `constraints` block (`GLB {
    factors [K 4] } PE { idle y }`, as `dslc map --constraints` takes it), checked against
    the accelerator (at its point) and its own constraints. Raises DiagnosticError (spans
    into the text, named `--constraints`) or UsageError for an unknown accelerator."""
    return constraints_from_text(text, accelerator(program, accelerator_name,
                                                   accelerator_point))


@dataclass(frozen=True, slots=True)
class LayerMapping:
    """`map_layer`'s answer: the search result with the problem and accelerator it is for."""

    result: MapResult
    problem: Problem
    arch: ArchModel
    """The accelerator, resolved (its spec is `arch.spec`)."""
    network_point: Point = ()
    """The network's point (empty for a fixed network)."""
    accelerator_point: Point = ()
    """The accelerator's point (empty for a fixed accelerator)."""


def map_layer(program: Program, network_name: str, layer: str, accelerator_name: str, *,
              options: MapperOptions | None = None, batch: int = 1,
              network_point: GivenPoint | None = None,
              accelerator_point: GivenPoint | None = None) -> LayerMapping:
    """The best mapping of one layer of a network on an accelerator, within the
    accelerator's map-space constraints and those of `options`.

    Raises UsageError for an unknown network, layer or accelerator, or constraints in
    `options` that name a dim or tensor the layer does not have; NoValidMappingError (a
    CannotRunError) when nothing fits or the constraints leave nothing for this layer."""
    from dslc.mapper.search import MapperOptions, map_problem

    _check_range("the batch", batch, 1, MAX_BATCH)
    network_spec = network(program, network_name, network_point)
    accelerator_spec = accelerator(program, accelerator_name, accelerator_point)
    full_network = program.networks[network_name].resolve(
        _space_point(program.networks[network_name], network_point))
    full_accelerator = program.accelerators[accelerator_name].resolve(
        _space_point(program.accelerators[accelerator_name], accelerator_point))
    lowered = lower_network(network_spec, batch=batch)
    problem = lowered.problem(layer) if layer in {x.name for x in lowered.layers} else None
    if problem is None:
        mac_layers = [x.name for x in lowered.layers if x.problem is not None]
        known = did_you_mean(layer, mac_layers) or "layers: " + ", ".join(mac_layers)
        raise UsageError(f"`{network_name}` has no layer `{layer}` with MACs ({known})")
    options = options or MapperOptions()
    _check_constraint_names(options.constraints, problem, layer)
    arch = resolve_accelerator(accelerator_spec)
    return LayerMapping(map_problem(problem, arch,
                                    options.with_constraints(accelerator_spec.constraints)),
                        problem, arch, full_network, full_accelerator)


def _check_constraint_names(constraints: MapConstraints, problem: Problem, layer: str) -> None:
    """UsageError when constraints given for one layer name a dim or tensor it lacks."""
    dims = [name for entry in constraints.slots for name in
            (*(rule.dim for rule in entry.factors), *(entry.allow or ()), *entry.forbid)]
    dims += [name for entry in constraints.orders for name in (*entry.outer, *entry.inner)]
    for name in dims:
        if name not in problem.dims:
            hint = did_you_mean(name, problem.dims) or f"its dims: {', '.join(problem.dims)}"
            raise UsageError(f"the constraints name dim `{name}`, which layer `{layer}` does "
                             f"not have ({hint})")
    tensors = {t.name for t in problem.tensors} | {t.role for t in problem.tensors}
    for entry in constraints.keeps:
        for name in (*entry.keep, *entry.bypass):
            if name not in tensors:
                hint = did_you_mean(name, tensors) or f"its tensors: {', '.join(sorted(tensors))}"
                raise UsageError(f"the constraints name tensor `{name}`, which layer "
                                 f"`{layer}` does not have ({hint})")


def codesign_names(program: Program) -> tuple[str, ...]:
    """The co-design requests of a program, sorted."""
    return tuple(sorted(_clean(program).codesigns))


def _codesign(program: Program, codesign: str | None) -> CoDesignSpec:
    names = sorted(_clean(program).codesigns)
    if codesign is None:
        if not names:
            raise UsageError(f"{_source(program)} has no co-design request: add a `codesign` "
                             "block, or map one layer with `dslc map` and cost a fixed "
                             "mapping with `dslc eval`")
        if len(names) != 1:
            raise UsageError(f"{_source(program)} has {len(names)} co-design requests; name "
                             f"one with --codesign ({', '.join(names)})")
        codesign = names[0]
    spec: CoDesignSpec = _named(program.codesigns, codesign, "co-design request", program)
    return spec


def is_single_design(program: Program, codesign: str | None = None) -> bool:
    """Whether a request names one network and one accelerator (no spaces)."""
    spec = _codesign(program, codesign)
    sizes = [program.networks[n].size for n in spec.networks] + \
        [program.accelerators[a].size for a in spec.accelerators]
    return len(spec.networks) == 1 and len(spec.accelerators) == 1 and all(
        s == 1 for s in sizes)


def _with_strategy(spec: CoDesignSpec, strategy: str | None) -> CoDesignSpec:
    if strategy is None:
        return spec
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy `{strategy}` ({', '.join(STRATEGIES)})")
    return spec.model_copy(update={"strategy": strategy})


def request(program: Program, codesign: str | None = None, *, strategy: str | None = None,
            instances: Instances | None = None, store: ResultStore | str | Path | None = None,
            progress: Callable[[str, int, int, float], None] | None = None) -> Request:
    """A co-design request, elaborated for the planner and its workers (see
    dslc.codesign.request); `strategy` overrides the request's. With `accuracy =
    trained(...)` its networks are trained or read back from `store` (an open ResultStore, a
    path, or None: `default_store`; ":memory:" keeps nothing), and `progress` hears of
    it; not for the differentiable strategy, which trains during its search (no store is
    opened here)."""
    from dslc.codesign.request import make_request
    from dslc.codesign.store import ResultStore

    spec = _with_strategy(_codesign(program, codesign), strategy)
    # The differentiable strategy trains only what it proposes, later (make_request trains
    # nothing for it): no store is opened, so `dslc plan` writes none beside the spec.
    if isinstance(store, ResultStore) or not isinstance(spec.accuracy, TrainedAccuracy) or \
            spec.strategy == "differentiable":
        opened = store if isinstance(store, ResultStore) else None
        return make_request(spec, program.networks, program.accelerators, program.digest,
                            instances=instances, store=opened, progress=progress)
    results = ResultStore(_store_path(program, spec.name, store))
    try:
        return make_request(spec, program.networks, program.accelerators, program.digest,
                            instances=instances, store=results, progress=progress)
    finally:
        results.close()


def check_search_options(*, jobs: int = 1, strategy: str | None = None,
                         max_pairs: int | None = None, time_limit_s: float | None = None
                         ) -> None:
    """UsageError for a `search` option outside its stated range (`--jobs`, `--strategy`,
    `--max-pairs`, `--time-limit`). `search` and `plan` check them; `dslc run` checks them
    before it reads the spec, also when the request is one design, which uses only
    `--jobs`."""
    _check_range("--jobs", jobs, 1, MAX_JOBS)
    if strategy is not None and strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy `{strategy}` ({', '.join(STRATEGIES)})")
    if max_pairs is not None:
        _check_range("--max-pairs", max_pairs, 1, MAX_COUNT)
    if time_limit_s is not None and not (0 < time_limit_s < math.inf):
        raise UsageError(f"--time-limit must be a positive number of seconds, got "
                         f"{time_limit_s:g}")


def _budget(spec: CoDesignSpec, max_pairs: int | None, time_limit_s: float | None) -> Budget:
    """The request's work caps, overridden by the caller's where given."""
    from dslc.codesign.planner import Budget

    check_search_options(max_pairs=max_pairs, time_limit_s=time_limit_s)
    return Budget(spec.max_pairs if max_pairs is None else max_pairs,
                  spec.time_limit_s if time_limit_s is None else time_limit_s)


def plan(program: Program, codesign: str | None = None, *, strategy: str | None = None,
         max_pairs: int | None = None, time_limit_s: float | None = None) -> Plan:
    """The co-design planner's plan for a request, without evaluating any pair: it builds
    every design and bounds every pair, so the plan says which pairs the constraints rule
    out and how many pairs the run evaluates at most."""
    from dslc.codesign.bounds import prepare
    from dslc.codesign.designs import Instances
    from dslc.codesign.planner import make_plan

    instances = Instances(program.networks, program.accelerators)
    the_request = request(program, codesign, strategy=strategy, instances=instances)
    spec = the_request.spec
    prepared = prepare(the_request, instances)
    return make_plan(spec, the_request.network_designs, the_request.accelerator_designs,
                     prepared.bounds, _budget(spec, max_pairs, time_limit_s))


@dataclass(frozen=True, slots=True)
class CoDesignRun:
    """`search`'s answer: the plan's outcome and the request it answers."""

    codesign: str
    outcome: Outcome
    options: MapperOptions
    store: str | None
    """The result store's path (None: in memory)."""
    reused: int
    """Pairs read back from the store instead of evaluated."""
    notes: tuple[str, ...] = ()
    """What the store held but did not trust (rows of another cost model version, or of an
    older dslc's store): those pairs were computed again."""

    def to_pandas(self) -> Any:
        """Every evaluated pair as a pandas DataFrame, the columns of `pairs.csv` (one per
        design parameter among them; needs pandas)."""
        from dslc import export

        return _data_frame(export.pair_csv_columns(self.outcome),
                           export.outcome_csv_rows(self.outcome))


def _data_frame(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Any:
    """A pandas DataFrame of CSV-shaped rows (empty cells as missing values)."""
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("to_pandas needs pandas: pip install 'dslc[pandas]'") from None
    frame = pd.DataFrame([[None if cell == "" else cell for cell in row] for row in rows],
                         columns=list(columns))
    return frame.convert_dtypes()


def default_store(program: Program, codesign: str) -> Path | None:
    """Where a co-design's results persist by default: `.dslc/<file>.<codesign>.sqlite`
    beside the root spec file (None, in memory, for a program compiled from text without a
    path)."""
    if program.root is None:
        return None
    return program.root.parent / ".dslc" / f"{program.root.stem}.{codesign}.sqlite"


def _store_path(program: Program, codesign: str, store: str | Path | None) -> Path | None:
    """The result store's path: `default_store` for None, None (memory) for ":memory:"."""
    if store is None:
        return default_store(program, codesign)
    return None if str(store) == ":memory:" else Path(store)


def search(program: Program, codesign: str | None = None, *,
           store: str | Path | None = None, fresh: bool = False, jobs: int = 1,
           scheduler: str | None = None, strategy: str | None = None,
           max_pairs: int | None = None, time_limit_s: float | None = None,
           progress: Callable[[str, int, int, float], None] | None = None) -> CoDesignRun:
    """Run the co-design planner on a request over spaces. Finished pairs persist in the
    SQLite `store` (default: `default_store`; ":memory:" keeps nothing) as they finish, so
    an interrupted search resumes and runs sharing a store share pairs; `fresh` forgets
    this request's pairs first and reads back nothing stored before (dslc.codesign.store).
    `strategy`, `max_pairs` and `time_limit_s` override the request's. Workers (`jobs` >
    1, or a Dask `scheduler`) receive the elaborated request. A KeyboardInterrupt stops the
    workers and propagates."""
    from dslc.codesign.bounds import prepare
    from dslc.codesign.designs import Instances
    from dslc.codesign.evaluate import PairEvaluator, ResultStore
    from dslc.codesign.planner import execute, make_plan
    from dslc.codesign.request import request_key

    _check_range("--jobs", jobs, 1, MAX_JOBS)
    instances = Instances(program.networks, program.accelerators)
    spec = _with_strategy(_codesign(program, codesign), strategy)
    budget = _budget(spec, max_pairs, time_limit_s)
    store_path = _store_path(program, spec.name, store)
    results = ResultStore(store_path)
    try:
        if fresh:
            results.forget(request_key(spec, program.digest))
        # Trained accuracies are read back from (or written to) the same store as pairs.
        the_request = request(program, codesign, strategy=strategy, instances=instances,
                              store=results, progress=progress)
        prepared = prepare(the_request, instances)
        evaluator = PairEvaluator(the_request, results, instances,
                                  lowered=dict(prepared.lowered), archs=dict(prepared.archs))
        try:
            the_plan = make_plan(spec, the_request.network_designs,
                                 the_request.accelerator_designs, prepared.bounds, budget)
            if the_plan.strategy == "differentiable":
                from dslc.codesign.dance.strategy import run_differentiable

                outcome = run_differentiable(
                    the_plan, evaluator, bounds=prepared.bounds, jobs=jobs,
                    scheduler=scheduler, progress=progress,
                    directory=None if store_path is None else store_path.parent)
            else:
                outcome = execute(the_plan, spec, the_request.network_designs,
                                  the_request.accelerator_designs, evaluator,
                                  bounds=prepared.bounds, jobs=jobs, scheduler=scheduler,
                                  progress=progress)
        finally:
            evaluator.close()  # its worker processes or Dask client, kept across phases
    finally:
        results.close()
    return CoDesignRun(spec.name, outcome, the_request.options,
                       None if store_path is None else str(store_path), evaluator.reused,
                       results.notes)


def learn_evaluator(program: Program, codesign: str | None = None, *,
                    store: str | Path | None = None, jobs: int = 1,
                    progress: Callable[[str, int, int, float], None] | None = None
                    ) -> EvaluatorQuality:
    """Train the learned cost evaluator of a request (dslc.codesign.dance.evaluator) with its
    `differentiable` settings, or read it back from beside the store, and measure it on
    held-out pairs and on accelerators never trained on. Needs the learn extra (torch);
    raises UsageError for a request over several accelerator spaces."""
    from dslc.codesign.dance.evaluator import Settings, needs_torch, train_evaluator
    from dslc.codesign.designs import Instances
    from dslc.codesign.evaluate import PairEvaluator, ResultStore

    needs_torch()
    _check_range("--jobs", jobs, 1, MAX_JOBS)
    instances = Instances(program.networks, program.accelerators)
    the_request = request(program, codesign, instances=instances)
    spec = the_request.spec
    if len(spec.accelerators) != 1:
        raise UsageError(f"co-design `{spec.name}` searches {len(spec.accelerators)} "
                         "accelerator spaces; the evaluator encodes one")
    store_path = _store_path(program, spec.name, store)
    results = ResultStore(store_path)
    settings = spec.differentiable
    try:
        evaluator = PairEvaluator(the_request, results, instances)
        try:
            _, quality, _, _ = train_evaluator(
                evaluator, Settings(settings.train_fraction, settings.heldout_pairs,
                                    settings.seed),
                directory=None if store_path is None else store_path.parent, jobs=jobs,
                progress=progress)
        finally:
            evaluator.close()
    finally:
        results.close()
    return quality


@dataclass(frozen=True, slots=True)
class DesignRun:
    """`run`'s answer for a co-design of one network and one accelerator."""

    codesign: str
    result: NetworkMapResult
    problems: dict[str, Problem]
    """Problems by key (for dim names in reports)."""
    options: MapperOptions
    objective: str = ""
    """The request's objective as written (`minimize edp`)."""

    def to_pandas(self) -> Any:
        """The layers as a pandas DataFrame, the columns of `layers.csv` (needs pandas)."""
        from dslc import export

        return _data_frame(export.LAYER_CSV_COLUMNS,
                           export.run_csv_rows(self.result, self.problems))


def run(program: Program, codesign: str | None = None, *,
        progress: Callable[[int, int, str], None] | None = None,
        cache: MapCache | None = None, jobs: int = 1) -> DesignRun:
    """Run a co-design request of one network and one accelerator: map every layer, the
    distinct layers in `jobs` worker processes (the same results whatever `jobs`).

    Raises UsageError for an unknown or ambiguous request, or one over spaces (that is
    `search`'s job), NoValidMappingError (a CannotRunError) when a layer fits nowhere."""
    from dslc.codesign.request import mapper_options, options_for
    from dslc.mapper.network import map_network

    _check_range("--jobs", jobs, 1, MAX_JOBS)
    spec = _codesign(program, codesign)
    if not is_single_design(program, spec.name):
        raise UsageError(f"co-design `{spec.name}` searches network or accelerator spaces: "
                         "use `search` (the co-design planner)")
    options = mapper_options(spec)
    network_spec = program.networks[spec.networks[0]].instantiate()
    accelerator_spec = program.accelerators[spec.accelerators[0]].instantiate()
    arch = resolve_accelerator(accelerator_spec)
    lowered = lower_network(network_spec, batch=spec.batch)
    result = map_network(lowered, arch, options_for(options, accelerator_spec), cache=cache,
                         progress=progress, jobs=jobs)
    problems = {key: shared.problem for key, shared in lowered.distinct().items()}
    return DesignRun(spec.name, result, problems, options,
                     f"{spec.objective.sense} {spec.objective.text}")


WARM_UP_SPEC = """
network warm_up {
    input x: [2, 4, 4]
    layer conv = conv(x, out = 4, kernel = 3, pad = 1)
    layer fc = dense(flatten(conv), out = 2)
}
accelerator warm_up_array {
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = 16KiB, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 16 words }
    compute MAC { }
}
codesign warm_up_run { networks = warm_up accelerators = warm_up_array }
"""
"""A small design whose mapping calls every entry point of the compiled kernel."""


def compile_kernel() -> bool:
    """Compile the cost model's kernel into numba's disk cache now (the first run on a
    machine does this otherwise), by mapping a small design with every search. False when
    there is no kernel to compile (numba not installed, or DSLC_NO_JIT set)."""
    from dslc.cost import kernel

    if not kernel.available():
        return False
    program = compile(text=WARM_UP_SPEC)
    run(program)
    for search, imperfect in (("exhaustive", False), ("heuristic", True), ("random", False)):
        map_layer(program, "warm_up", "conv", "warm_up_array",
                  options=mapper_settings(search=search, budget=100, imperfect=imperfect))
    return True


# ---- models in (`dslc import`) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportedModel:
    """`import_onnx`'s and `import_torch`'s answer: the `.cd` text, and the network it
    compiles to (checked)."""

    text: str
    network: NetworkSpec
    header: tuple[str, ...]
    """What the import did: the comments at the top of `text`, one entry each."""
    macs: int
    """MACs of one sample (batch 1)."""
    weights: int
    """The model's multiplier weights (no biases or normalisation parameters), each
    distinct weight once: a weight several layers share (tied) counts once, where dslc's
    layers each hold their own (`dslc dump --stage layers` counts it per layer)."""


def _needs(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise CannotRunError(f"this needs the `{module}` package: pip install "
                             f"'dslc[{extra}]'")


def _checked_import(imported: ImportedNetwork, source: str) -> ImportedModel:
    """The text checked by compiling it. The importer takes the model's word for its
    shapes, so a model that contradicts itself (a weight that does not fit its input, a
    reshape to the wrong size) can give a network that does not check: that is E801 with
    the checker's first errors, and no file is written."""
    from dslc.sema.network import MAX_LAYERS

    if len(imported.layers) > MAX_LAYERS:
        raise DiagnosticError([error(
            "E405", f"{source}: {len(imported.layers):,} layers, more than a network may "
            f"have ({MAX_LAYERS:,})", None)])
    text = network_text(imported)
    program = compile(text=text)
    if program.errors:
        raise DiagnosticError([error(
            "E801", f"{source}: the network the model gives does not check: "
            + "; ".join(d.message for d in program.errors[:3]), None,
            help="the model's shapes may contradict each other: check it with "
            "onnx.checker.check_model(model, full_check=True); if it passes, this is a "
            "bug in dslc's importer, please report it")])
    spec = network(program, imported.name)
    graph = build_graph(spec)
    weights = graph.total_weights() if imported.weights is None else imported.weights
    return ImportedModel(text, spec, imported.header, graph.total_macs(), weights)


def _network_name(name: str | None, stem: str) -> str:
    if name is not None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"`{name}` is not a network name (letters, digits and _)")
        return name
    return identifier(stem) or "imported"


def import_onnx(model: str | Path | bytes, *, name: str | None = None,
                skip_unknown: bool = False, source: str | None = None) -> ImportedModel:
    """Read an ONNX model (a path or its bytes) into a network (dslc.interop.onnx_import).

    Raises DiagnosticError (E801 unreadable, E802 operators dslc cannot express, E803 a use
    of a known operator it cannot express), CannotRunError without the onnx extra."""
    _needs("onnx", "onnx")
    from dslc.interop.onnx_import import read_onnx

    if isinstance(model, bytes):
        data, where = model, source or "<onnx>"
    else:
        where = source or str(model)
        data = _model_bytes(Path(model))
    stem = Path(where).stem if not isinstance(model, bytes) else "imported"
    return _checked_import(read_onnx(data, where, _network_name(name, stem), skip_unknown),
                           where)


MAX_MODEL_BYTES = 2**31 - 1
"""Largest ONNX file read: protobuf's limit on one message (larger models keep their
weights in external files, which dslc does not read: it needs shapes only)."""


def _model_bytes(path: Path) -> bytes:
    """A model file's bytes: a regular file (a FIFO blocked, /dev/zero was read until memory
    ran out) of at most MAX_MODEL_BYTES."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise DiagnosticError([error("E801", f"cannot read {path}: not a regular file",
                                         None)])
        if info.st_size > MAX_MODEL_BYTES:
            raise DiagnosticError([error(
                "E801", f"cannot read {path}: {info.st_size:,} bytes, more than protobuf's "
                f"limit of {MAX_MODEL_BYTES:,}", None,
                help="save the weights as external data (dslc reads only the graph)")])
        with path.open("rb") as stream:
            return stream.read(MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise DiagnosticError([error("E801", f"cannot read {path}: {exc.strerror}",
                                     None)]) from None


MAX_TORCH_INPUT_ELEMENTS = 2**28
"""Most elements of the zero input `import_torch` traces a module on (1 GiB of float32;
ImageNet's 1x3x224x224 is 150,528): torch allocates it and every activation, so a mistyped
`--input 1,3,100000,100000` asked for 120 GB before anything was checked."""


def import_torch(target: str, input_shape: Sequence[int], *, name: str | None = None,
                 skip_unknown: bool = False) -> ImportedModel:
    """Export the module `pkg.module:factory` builds to ONNX on an input of `input_shape`
    (batch first) and import that (dslc.interop.torch_export). Raises as `import_onnx`, and
    DiagnosticError E804 when the module cannot be built or exported."""
    _needs("torch", "torch")
    _needs("onnx", "torch")
    from dslc.interop.torch_export import export_torch

    if not input_shape or any(d < 1 for d in input_shape):
        raise UsageError(f"bad input shape {list(input_shape)}: give positive sizes, batch "
                         "first, e.g. 1,3,224,224")
    if math.prod(input_shape) > MAX_TORCH_INPUT_ELEMENTS:
        raise UsageError(f"input shape {list(input_shape)}: {math.prod(input_shape):,} "
                         f"elements, more than the {MAX_TORCH_INPUT_ELEMENTS:,} dslc traces "
                         "the module on (torch allocates the zero input and every "
                         "activation); shapes only need a small batch")
    data = export_torch(target, input_shape)
    stem = target.rpartition(":")[2]
    return import_onnx(data, name=_network_name(name, stem), skip_unknown=skip_unknown,
                       source=f"{target} (torch {list(input_shape)})")


# ---- Timeloop (`dslc export --to timeloop`, `dslc import-timeloop`) ---------------------------


def _needs_yaml() -> None:
    _needs("yaml", "timeloop")


def export_timeloop(program: Program, *, mapping: str | None = None,
                    network_name: str | None = None, layer: str | None = None,
                    accelerator_name: str | None = None,
                    options: MapperOptions | None = None, batch: int = 1) -> dict[str, str]:
    """Timeloop v3 files (relative path -> text; dslc.interop.timeloop) for one `mapping`
    block, or for the best mappings the mapper finds of one layer (`layer`) or of every
    distinct layer of a network (`layer` None) on an accelerator.

    Raises UsageError for unknown names or a missing choice, DiagnosticError E806 for what
    Timeloop cannot state, CannotRunError when a layer has no valid mapping."""
    _check_range("the batch", batch, 1, MAX_BATCH)
    _needs_yaml()
    from dslc.interop.timeloop import export_study
    from dslc.mapper.search import MapperOptions

    arch, layers = _study_layers(program, mapping, network_name, layer, accelerator_name,
                                 options, batch)
    notes: list[str] = []
    if mapping is None and accelerator_name is not None:
        # The mapper's mappings: one that Timeloop cannot state is searched again.
        searched = (options or MapperOptions()).with_constraints(
            accelerator(program, accelerator_name).constraints)
        layers = tuple(_one_axis_per_dim(found, arch, searched, notes) for found in layers)
    return export_study(arch, layers, tuple(notes))


def export_notes(files: Mapping[str, str]) -> str:
    """What a Timeloop export of the mapper's mappings changed (README.txt's part under
    its heading, the heading included), or "" when nothing."""
    from dslc.interop.timeloop import NOTES_HEADING

    readme = files.get("README.txt", "")
    return readme[readme.index(NOTES_HEADING):].rstrip() if NOTES_HEADING in readme else ""


def _one_axis_per_dim(found: StudyLayer, arch: ArchModel, options: MapperOptions,
                      notes: list[str]) -> StudyLayer:
    """`found`, or when its mapping unrolls a dim on both axes of one fanout (Timeloop has
    one spatial loop per dim and level: E806), the best mapping of its layer with that dim
    on one axis only: searched with the dim forbidden on Y, and on X, the better kept (the
    search's objective), until no dim is on both; a line for `notes` says so."""
    from dslc.cost.model import evaluate as evaluate_mapping
    from dslc.interop.timeloop import StudyLayer
    from dslc.mapper.search import map_problem
    from dslc.spec.constraints import SlotConstraint

    first, extra, changes = found, MapConstraints(), []
    while True:
        # A dim on X and on Y of one fanout (two fanouts below one memory are E806 anyway).
        doubled = sorted({(loop.fanout, found.problem.dims[loop.dim])
                          for level in found.mapping.levels for loop in level.spatial
                          if sum(other.dim == loop.dim and other.fanout == loop.fanout
                                 for other in level.spatial) > 1})
        if not doubled:
            break
        fanout, dim = doubled[0]
        tries = []
        for axis in ("y", "x"):
            more = MapConstraints(slots=(*extra.slots, SlotConstraint(
                target=fanout, axis=axis, forbid=(dim,), origin="dslc export --to timeloop")))
            with contextlib.suppress(CannotRunError):
                result = map_problem(found.problem, arch, replace(
                    options, constraints=options.constraints.combined(more)))
                tries.append((_scores(options, result.cost), axis, more, result))
        if not tries:
            raise DiagnosticError([error(
                "E806", f"layer {found.name}: every mapping unrolls {dim} on both axes of "
                f"`{fanout}`; Timeloop has one loop per dim and level", None,
                help="export another layer, or a mapping block")])
        scores, axis, extra, result = min(tries, key=lambda t: t[0])
        found = StudyLayer(found.name, found.problem, result.mapping)
        changes.append((fanout, dim, axis))
    if changes:
        before = _scores(options, evaluate_mapping(first.problem, arch, first.mapping))[0]
        after = scores[0]  # the last search's, of the mapping written
        notes.append(f"layer {found.name}: the best mapping found unrolls "
                     + " and ".join(f"{dim} on both axes of `{fanout}`"
                                    for fanout, dim, _ in changes)
                     + ", which Timeloop cannot state; written: the best with "
                     + " and ".join(f"{dim} not on {axis.upper()}" for _, dim, axis in changes)
                     + f" ({options.objective_text} {after / before:.3f}x the best found)")
    return found


def _scores(options: MapperOptions, cost: Cost) -> tuple[float, ...]:
    """A cost's scores under the search's objectives (lexicographic: the first decides)."""
    import numpy as np

    energy, cycles = np.array([cost.energy_pj]), np.array([float(cost.cycles)])
    return tuple(float(score(energy, cycles)[0]) for score in options.scorers())


def export_accelforge(program: Program, *, mapping: str | None = None,
                      network_name: str | None = None, layer: str | None = None,
                      accelerator_name: str | None = None,
                      options: MapperOptions | None = None, batch: int = 1
                      ) -> dict[str, str]:
    """AccelForge 1.0.467 files (relative path -> text; dslc.interop.accelforge) for the
    same choices as `export_timeloop`.

    Raises as `export_timeloop` does (E806 for what AccelForge cannot state)."""
    _needs_yaml()
    from dslc.interop.accelforge import export_study

    return export_study(*_study_layers(program, mapping, network_name, layer,
                                       accelerator_name, options, batch))


def _study_layers(program: Program, mapping: str | None, network_name: str | None,
                  layer: str | None, accelerator_name: str | None,
                  options: MapperOptions | None, batch: int
                  ) -> tuple[ArchModel, tuple[StudyLayer, ...]]:
    """The accelerator and the (layer, problem, mapping) triples an export writes."""
    from dslc.interop.timeloop import StudyLayer
    from dslc.mapper.network import map_network
    from dslc.mapper.search import MapperOptions

    if mapping is not None:
        spec = _named(_clean(program).mappings, mapping, "mapping", program)
        network_spec = program.networks[spec.network].instantiate(spec.network_point)
        arch = resolve_accelerator(
            program.accelerators[spec.accelerator].instantiate(spec.accelerator_point))
        problem = lower_network(network_spec, batch=spec.batch).problem(spec.layer)
        if problem is None:
            raise InternalError(f"mapping `{mapping}` names a layer without a loop nest")
        ir = mapping_from_spec(spec, problem, arch)
        return arch, (StudyLayer(spec.layer, problem, ir),)
    if network_name is None or accelerator_name is None:
        raise UsageError("name a mapping block, or a network and an accelerator (and "
                         "optionally a layer) to export the best mappings")
    if layer is not None:
        found = map_layer(program, network_name, layer, accelerator_name, options=options,
                          batch=batch)
        return found.arch, (StudyLayer(layer, found.problem, found.result.mapping),)
    accelerator_spec = accelerator(program, accelerator_name)
    arch = resolve_accelerator(accelerator_spec)
    lowered = lower_network(network(program, network_name), batch=batch)
    options = (options or MapperOptions()).with_constraints(accelerator_spec.constraints)
    result = map_network(lowered, arch, options)
    layers = []
    for key, (problem, names) in lowered.distinct().items():
        layer_result = next(x for x in result.layers if x.problem_key == key)
        layers.append(StudyLayer(names[0], problem, layer_result.result.mapping))
    return arch, tuple(layers)


@dataclass(frozen=True, slots=True)
class TimeloopLayer:
    """One layer of an imported Timeloop study and its cost under dslc's model."""

    name: str
    problem: Problem
    mapping: MappingIR
    cost: Cost


@dataclass(frozen=True, slots=True)
class TimeloopStudy:
    """`import_timeloop`'s answer."""

    accelerator: AcceleratorSpec
    arch: ArchModel
    layers: tuple[TimeloopLayer, ...]
    estimated: tuple[str, ...] = ()
    """Components whose energies are dslc's estimate: the study gives none
    (dslc.interop.timeloop `Study.estimated`)."""


def import_timeloop(directory: str | Path) -> TimeloopStudy:
    """Read a Timeloop v3 study (a directory of .yaml files, dslc.interop.timeloop) and
    evaluate each layer's mapping with dslc's cost model.

    Raises DiagnosticError E805/E806, CannotRunError for a mapping that cannot run."""
    _needs_yaml()
    from dslc.cost.model import evaluate as evaluate_mapping
    from dslc.interop.timeloop import read_files, read_study

    study = read_study(read_files(Path(directory)))
    try:
        arch = resolve_accelerator(study.accelerator)
    except ValueError as exc:
        raise CannotRunError(f"the architecture in {directory} cannot be built",
                             [str(exc)]) from None
    layers = []
    for layer in study.layers:
        try:
            cost = evaluate_mapping(layer.problem, arch, layer.mapping)
        except CannotRunError as exc:  # which of the study's mappings, among many
            raise CannotRunError(f"the mapping of layer {layer.name} ({layer.name}.map.yaml "
                                 f"in {directory}) cannot run", exc.reasons) from None
        layers.append(TimeloopLayer(layer.name, layer.problem, layer.mapping, cost))
    return TimeloopStudy(study.accelerator, arch, tuple(layers), study.estimated)


def dump_spec(program: Program) -> dict[str, Any]:
    """Every elaborated spec model as JSON-ready data (spaces at their first point)."""
    _clean(program)
    out: dict[str, Any] = {"networks": {}, "accelerators": {}, "mappings": {}, "codesigns": {}}
    spaces: list[tuple[str, Mapping[str, DesignSpace[Any]]]] = [
        ("networks", program.networks), ("accelerators", program.accelerators)]
    for key, table in spaces:
        for name, space in sorted(table.items()):
            out[key][name] = {
                "space": SpaceSpec(name=name, params=space.params).model_dump(mode="json"),
                "size": space.size,
                "first_point": space.instantiate(space.point_at(0)).model_dump(mode="json"),
            }
    for name, mapping in sorted(program.mappings.items()):
        out["mappings"][name] = mapping.model_dump(mode="json")
    for name, codesign in sorted(program.codesigns.items()):
        out["codesigns"][name] = codesign.model_dump(mode="json")
    return out


def dump_lowered(program: Program, batch: int = 1) -> dict[str, Any]:
    """Per network (spaces at their first point): the layer graph with shapes, and the
    loop nests (problems) with the layers that share each one."""
    _clean(program)
    out: dict[str, Any] = {}
    for name, space in sorted(program.networks.items()):
        network_spec = space.instantiate(space.point_at(0))
        graph = build_graph(network_spec)
        lowered = lower_graph(graph, batch)
        layers = []
        for layer in lowered.layers:
            record: dict[str, Any] = {
                "name": layer.name, "op": graph.layer(layer.name).op,
                "inputs": list(graph.layer(layer.name).inputs),
                "shape": list(graph.shapes[layer.name]),
            }
            if layer.problem is not None:
                record["macs"] = layer.problem.macs
                record["problem_key"] = layer.problem.key
            elif layer.movement is not None:
                record["input_words"] = layer.movement.input_words
                record["output_words"] = layer.movement.output_words
            layers.append(record)
        problems = []
        for key, (problem, names) in lowered.distinct().items():
            problems.append({
                "key": key, "op": problem.op, "macs": problem.macs,
                "dims": dict(zip(problem.dims, problem.bounds, strict=True)),
                "tensors": {t.name: {"role": t.role, "axes": [
                    " + ".join(f"{c}*{problem.dims[d]}" if c != 1 else problem.dims[d]
                               for d, c in axis.terms) for axis in t.axes]}
                    for t in problem.tensors},
                "layers": list(names),
            })
        out[name] = {"inputs": {i.name: list(i.shape) for i in network_spec.inputs},
                     "macs": lowered.macs, "layers": layers, "problems": problems}
    return out


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One layer of `layer_table`: what it computes and moves (batch 1)."""

    name: str
    op: str
    inputs: tuple[tuple[int, ...], ...]
    """The shapes it consumes, batch excluded."""
    output: tuple[int, ...]
    macs: int
    weights: int
    """Parameter elements (multipliers only)."""


def layer_table(program: Program) -> dict[str, tuple[LayerRow, ...]]:
    """Per network (spaces at their first point), every layer in order with its op, input
    and output shapes, MACs and weights (`dslc dump --stage layers`)."""
    _clean(program)
    out: dict[str, tuple[LayerRow, ...]] = {}
    for name, space in sorted(program.networks.items()):
        graph = build_graph(space.instantiate(space.point_at(0)))
        out[name] = tuple(
            LayerRow(stats.name, stats.op, graph.input_shapes(stats.name),
                     graph.shape(stats.name), stats.macs, stats.weight_elements)
            for stats in graph.all_stats())
    return out


def dump_ast(path: str | Path) -> str:
    """The AST of a spec file (parsed, not elaborated), one node per line, indented."""
    workspace = load(path)
    if any(d.is_error for d in workspace.diagnostics):
        raise DiagnosticError([d for d in workspace.diagnostics if d.is_error])
    root = next(f for f in workspace.files if f.path == workspace.root)
    return _format_ast(root.module)


def _format_ast(node: object, indent: int = 0) -> str:
    from dataclasses import fields, is_dataclass

    pad = "  " * indent
    if isinstance(node, tuple):
        return "\n".join(_format_ast(item, indent) for item in node)
    if not is_dataclass(node):
        return f"{pad}{node!r}"
    name = type(node).__name__
    if isinstance(node, Ident):
        return f"{pad}Ident {node.text!r}"
    span = getattr(node, "span", None)
    where = f" @{span.file.line_col(span.start)[0]}:{span.file.line_col(span.start)[1]}" \
        if span is not None else ""
    lines = [f"{pad}{name}{where}"]
    for f in fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if value is None or value == ():
            continue
        if isinstance(value, str | int | float | bool):
            lines.append(f"{pad}  {f.name}: {value!r}")
        else:
            lines.append(f"{pad}  {f.name}:")
            lines.append(_format_ast(value, indent + 2))
    return "\n".join(lines)
