"""Elaboration of `codesign` blocks into `CoDesignSpec`.

Checks that the named networks and accelerators exist, that the objective and constraints
use known metrics with the right units, that the strategy and mapper settings are valid
(the mapping objective: one, or a lexicographic list; the map-space `constraints` block,
read and checked by dslc.sema.constraints against each searched accelerator's first point),
that a reference point lies inside one of the named design spaces, that an accuracy
constraint has an accuracy source, and that `trained(...)` names a dataset, valid epochs
and seed, and networks whose input fits the dataset. It does not run anything (dslc.codesign does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from dslc.diagnostics.diagnostic import (
    Diagnostic,
    DiagnosticError,
    Label,
    did_you_mean,
    error,
)
from dslc.diagnostics.span import Span
from dslc.sema.constraints import (
    Spans,
    check_constraints,
    components_of,
    read_constraints,
    unknown_names,
)
from dslc.sema.evaluate import (
    EvalContext,
    EvalError,
    Qty,
    Scope,
    Sym,
    TableRef,
    Value,
    as_bool,
    as_int,
    as_number,
    as_quantity,
    as_symbol,
    describe,
    evaluate,
    fail,
    within,
)
from dslc.sema.spaces import Declarations, Declared, point_values
from dslc.sema.units import UNITS
from dslc.spec.codesign import (
    DATASETS,
    LAYER_OBJECTIVES,
    MAPPER_SEARCHES,
    METRICS,
    STRATEGIES,
    AccuracyTable,
    AccuracyTableError,
    BinaryOp,
    CoDesignSpec,
    Constant,
    ConstraintSpec,
    DesignPoint,
    DifferentiableSpec,
    MapperSpec,
    MetricRef,
    ObjectiveExpr,
    ObjectiveSpec,
    TrainedAccuracy,
    dataset_input_problem,
    parse_accuracy,
    parse_decimal,
    read_accuracy_table,
)
from dslc.spec.constraints import MapConstraints
from dslc.spec.limits import (
    MAX_BATCH,
    MAX_BUDGET,
    MAX_CANDIDATES,
    MAX_COST_WEIGHT,
    MAX_COUNT,
    MAX_EPOCHS,
    MAX_EXPONENT,
    MAX_SEARCH_DESIGNS,
    MAX_SEARCH_PAIRS,
    MAX_STEPS,
    MIN_COST_WEIGHT,
)
from dslc.syntax import ast

CODESIGN_PROPERTIES = {
    "networks": "the network (space) or list of them to search",
    "accelerators": "the accelerator (design space) or list of them to search",
    "batch": "batch size (default 1)",
    "objective": "`minimize EXPR` or `maximize EXPR` over energy, latency, cycles, edp, area, "
                 "accuracy (default: minimize edp)",
    "accuracy": "accuracy source: `table(\"file.csv\")`, or "
                "`trained(dataset = digits, epochs = 10, seed = 1)` (datasets: digits, "
                "mnist1d; needs the `learn` extra)",
    "strategy": "auto, exhaustive, semi_decoupled, random or differentiable (default auto)",
    "reference": "the semi-decoupled reference accelerator, e.g. `acc(rows = 14)`",
    "top_k": "networks kept after ranking on the reference (default: the planner decides)",
    "max_pairs": "stop after evaluating this many pairs (the answer is then unverified unless "
                 "certified by then)",
    "time_limit": "stop after this much wall time, e.g. `1800s` (as max_pairs)",
    "mapper": "mapping-search settings block",
    "differentiable": "settings block of the differentiable strategy (DANCE): "
                      "`differentiable { cost_weight = 1, steps = 300 }`",
}
DIFFERENTIABLE_PROPERTIES = {
    "cost_weight": "weight of the expected log objective in the search's loss, 1e-6 to 1e6 "
                   "(default 1): loss = accuracy loss + cost_weight x E[log objective]",
    "weights": "further cost weights to sweep, each 1e-6 to 1e6, e.g. `[0.01, 0.1]` (each a "
               "search; their re-checked candidates give an accuracy-cost front)",
    "steps": "gradient steps of each search (default 300)",
    "candidates": "proposals re-checked with the exact model per search, 1 to 10 "
                  "(default 10)",
    "seed": "seed of the evaluator's samples, its training and the search (default 1)",
    "train_fraction": "pairs costed exactly to train the evaluator, a fraction of all "
                      "pairs (default 0.03; at least 64 pairs)",
    "heldout_pairs": "pairs costed exactly to measure the evaluator, and as many on "
                     "accelerators never trained on (default 300)",
}
MAPPER_PROPERTIES = {
    "search": "auto, exhaustive, heuristic or random",
    "budget": "mappings evaluated per layer and accelerator by the heuristic",
    "seed": "random seed",
    "imperfect": "allow imperfect (ceil) factorisations (true/false)",
    "objective": "per-layer mapping objective: energy, latency or edp, or a list of them in "
                 "lexicographic order, e.g. `[latency, energy]`",
    "constraints": "map-space constraints block `constraints { LEVEL { ... } }`, on top of "
                   "each accelerator's own",
}
CONSTRAINT_UNITS = {"latency": ("time", "s"), "energy": ("energy", "pJ"),
                    "area": ("area", "mm2"), "accuracy": ("fraction", "%")}


def elaborate_codesign(decl: ast.CoDesignDecl, program: Declarations, file: Path) -> CoDesignSpec:
    sink: list[Diagnostic] = []
    fields: dict[str, object] = {"name": decl.name.text}
    mapper_node: ast.SubBlock | None = None
    seen: set[str] = set()
    constraints: list[ConstraintSpec] = []
    ctx = EvalContext()
    for node in decl.body:
        try:
            if isinstance(node, ast.ConstraintStmt):
                constraints.append(_constraint(node))
                continue
            name = node.name.text
            if name not in CODESIGN_PROPERTIES:
                raise fail("E205", f"unknown co-design property `{name}`", node.name.span,
                           help=did_you_mean(name, CODESIGN_PROPERTIES) or
                           "valid: " + ", ".join(CODESIGN_PROPERTIES))
            if name in seen:
                raise fail("E202", f"property `{name}` given twice", node.name.span)
            seen.add(name)
            if isinstance(node, ast.SubBlock):
                if name == "differentiable":
                    fields["differentiable"] = _differentiable(node)
                    continue
                if name != "mapper":
                    raise fail("E303", f"`{name}` takes a value, not a block", node.span)
                mapper_node = node
                fields["mapper"] = _mapper(node)
                continue
            if name in ("mapper", "differentiable"):
                raise fail("E303", f"`{name}` is a block: `{name} {{ ... }}`", node.span)
            if name == "objective":
                fields["objective"] = _objective(node.value)
            elif name == "reference":
                fields["reference"] = _reference(node.value, program)
            elif name == "accuracy" and isinstance(node.value, ast.Call) and \
                    node.value.func.text == "trained":
                fields["accuracy"] = _trained(node.value)
            else:
                value = evaluate(node.value, Scope({}), ctx)
                fields.update(_simple(name, value, node, program, file))
        except EvalError as exc:
            sink.append(exc.diagnostic)
    sink.extend(_too_many_designs(decl, fields, program))
    for required in ("networks", "accelerators"):
        if required not in seen:
            sink.append(error("E206", f"co-design `{decl.name.text}` has no `{required}`",
                              decl.name.span, help=f"add `{required} = ...`"))
    reference = fields.get("reference")
    if isinstance(reference, DesignPoint) and "accelerators" in fields and \
            reference.space not in fields["accelerators"]:  # type: ignore[operator]
        node = next(n for n in decl.body if isinstance(n, ast.Property)
                    and n.name.text == "reference")
        sink.append(error("E705", f"the reference `{reference.space}` is not one of the "
                          "searched accelerators", node.value.span,
                          help="add it to `accelerators` or pick a point of one of them"))
    uses_accuracy = any(c.metric == "accuracy" for c in constraints)
    # `seen`, not `fields`: an accuracy table that failed is reported already.
    if uses_accuracy and "accuracy" not in seen and "networks" in fields:
        missing = [n for n in fields["networks"]  # type: ignore[attr-defined]
                   if not _declares_accuracy(program, n)]
        if missing:
            node = next(c for c in decl.body if isinstance(c, ast.ConstraintStmt)
                        and _metric_name(c.left) == "accuracy")
            sink.append(error("E706", "an accuracy constraint needs an accuracy source",
                              node.span, help=f"network `{missing[0]}` declares no `accuracy`;"
                              " add `accuracy = table(\"file.csv\")`"))
    table = fields.get("accuracy")
    if isinstance(table, AccuracyTable) and "networks" in fields:
        node = next(n for n in decl.body if isinstance(n, ast.Property)
                    and n.name.text == "accuracy")
        names: Sequence[str] = fields["networks"]  # type: ignore[assignment]
        sink.extend(check_accuracy_table(
            Path(table.path), [program.networks[n] for n in names if n in program.networks],
            node.value.span))
    if fields.get("strategy") == "differentiable" and \
            len(fields.get("accelerators", ())) > 1:  # type: ignore[arg-type]
        node = next(n for n in decl.body if isinstance(n, ast.Property)
                    and n.name.text == "accelerators")
        sink.append(error("E705", "the differentiable strategy searches one accelerator "
                          "space", node.value.span,
                          help="its hardware generator proposes values of one space's "
                          "parameters: name one accelerator (space)"))
    if isinstance(table, TrainedAccuracy) and "networks" in fields:
        node = next(n for n in decl.body if isinstance(n, ast.Property)
                    and n.name.text == "accuracy")
        names = fields["networks"]  # type: ignore[assignment]
        sink.extend(check_trained_inputs(
            table, [program.networks[n] for n in names if n in program.networks],
            node.value.span))
    mapper = fields.get("mapper")
    if isinstance(mapper, MapperSpec) and mapper_node is not None and "accelerators" in fields:
        found = _map_constraints(decl, mapper_node, fields, program, sink)
        if not found.empty:
            fields["mapper"] = mapper.model_copy(update={"constraints": found})
    if sink:
        raise DiagnosticError(sink)
    fields["constraints"] = tuple(constraints)
    return CoDesignSpec(**fields)


TRAINED_ARGUMENTS = {"dataset": "digits or mnist1d", "epochs": "passes over the training "
                     "split (default 10)", "seed": "seed of the weights and batch order "
                     "(default 1)"}


def _trained(call: ast.Call) -> TrainedAccuracy:
    """`trained(dataset = NAME, epochs = N, seed = N)`: keywords only, dataset required."""
    fields: dict[str, object] = {}
    for arg in call.args:
        if arg.keyword is None:
            raise fail("E208", "`trained` takes keyword arguments only", arg.span,
                       help="e.g. `trained(dataset = digits, epochs = 10, seed = 1)`")
        key = arg.keyword.text
        if key not in TRAINED_ARGUMENTS:
            raise fail("E205", f"`trained` has no argument `{key}`", arg.keyword.span,
                       help=did_you_mean(key, TRAINED_ARGUMENTS) or
                       "arguments: " + ", ".join(TRAINED_ARGUMENTS))
        if key in fields:
            raise fail("E202", f"argument `{key}` given twice", arg.keyword.span)
        value = evaluate(arg.value, Scope({}), EvalContext())
        span = arg.value.span
        if key == "dataset":
            if not isinstance(value, Sym):
                raise fail("E706", f"a dataset is a name, found {describe(value)}", span,
                           help="datasets: " + ", ".join(DATASETS))
            if value.name not in DATASETS:
                raise fail("E706", f"unknown dataset `{value.name}`", span,
                           help=did_you_mean(value.name, DATASETS) or
                           "datasets: " + ", ".join(DATASETS))
            fields[key] = value.name
        elif key == "epochs":
            fields[key] = as_int(value, span, "the epochs", minimum=1, maximum=MAX_EPOCHS)
        else:
            fields[key] = as_int(value, span, "the seed", minimum=0, maximum=MAX_COUNT)
    if "dataset" not in fields:
        raise fail("E209", "`trained` needs a `dataset`", call.span,
                   help="datasets: " + ", ".join(DATASETS))
    return TrainedAccuracy(**fields)


def check_trained_inputs(source: TrainedAccuracy, networks: Sequence[Declared], span: Span
                         ) -> list[Diagnostic]:
    """E706 for a network that cannot take the dataset's samples: not one input, or an
    input whose shape (where it is a constant) is not the dataset's (`dataset_input_problem`:
    equal, equal up to size-1 axes, or flattened)."""
    found: list[Diagnostic] = []
    for entry in networks:
        inputs = [s for s in entry.decl.body if isinstance(s, ast.InputStmt)]
        name = entry.decl.name.text
        if len(inputs) != 1:
            found.append(error("E706", f"network `{name}` has {len(inputs)} inputs; training "
                               f"on `{source.dataset}` needs exactly one", span,
                               related=[Label(entry.decl.name.span, "declared here")]))
            continue
        try:
            sizes = [evaluate(item, Scope({}), EvalContext()) for item in inputs[0].shape.items]
        except EvalError:
            continue  # reported where the network is elaborated
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
            continue  # a shape that depends on parameters: checked when trained
        problem = dataset_input_problem(tuple(sizes), source.dataset)  # type: ignore[arg-type]
        if problem is not None:
            wanted = DATASETS[source.dataset]
            found.append(error(
                "E706", f"network `{name}` cannot train on `{source.dataset}`: {problem}",
                span, related=[Label(inputs[0].shape.span, "this input")],
                help=f"give it `input x: [{', '.join(map(str, wanted))}]`"))
    return found


def _too_many_designs(decl: ast.CoDesignDecl, fields: dict[str, object],
                      program: Declarations) -> list[Diagnostic]:
    """E302 when a request searches more network or accelerator designs than
    MAX_SEARCH_DESIGNS, or more pairs than MAX_SEARCH_PAIRS: the planner builds every
    design and bounds every pair before it evaluates one, whatever `max_pairs` says."""
    sizes: dict[str, int] = {}
    for name, table in (("networks", program.networks),
                        ("accelerators", program.accelerators)):
        listed = fields.get(name)
        if isinstance(listed, tuple):
            sizes[name] = sum(table[item].size for item in listed if item in table)
    found: list[Diagnostic] = []
    for name, size in sizes.items():
        if size > MAX_SEARCH_DESIGNS:
            node = next(n for n in decl.body if isinstance(n, ast.Property)
                        and n.name.text == name)
            found.append(error(
                "E302", f"co-design `{decl.name.text}` searches {size:,} {name[:-1]} designs, "
                f"more than the limit of {MAX_SEARCH_DESIGNS:,}", node.value.span,
                label=f"{size:,} designs: the product of the parameters' domains",
                help="narrow the parameters' domains, or split the search into requests over "
                     "parts of the space; dslc/spec/limits.py and docs/language/guide.md list "
                     "the limits"))
    pairs = math.prod(sizes.values()) if len(sizes) == 2 else 0
    if not found and pairs > MAX_SEARCH_PAIRS:
        found.append(error(
            "E302", f"co-design `{decl.name.text}` searches {sizes['networks']:,} networks x "
            f"{sizes['accelerators']:,} accelerators = {pairs:,} pairs, more than the limit "
            f"of {MAX_SEARCH_PAIRS:,}", decl.name.span,
            help="every pair is bounded before any is evaluated (max_pairs does not change "
                 "that): narrow the parameters' domains, or split the search; "
                 "dslc/spec/limits.py and docs/language/guide.md list the limits"))
    return found


def check_accuracy_table(path: Path, networks: Sequence[Declared], span: Span
                         ) -> list[Diagnostic]:
    """E706 for an accuracy table that cannot serve these networks: unreadable, without an
    `accuracy` column, a column that is neither `network` nor a parameter of one of them,
    nothing that says which network a row is for, a network name that is not one of them,
    a parameter value outside its domain, or an accuracy that does not parse (a fraction,
    a percentage above 1, or `90.1%` are accepted). One diagnostic per kind of problem."""
    shown = path.name
    try:
        header_row, read = read_accuracy_table(path, shown)
    except AccuracyTableError as exc:
        return [error("E706", f"cannot read the accuracy table: {exc}", span)]
    header = list(header_row)
    header = [column.strip() for column in header]
    domains: dict[str, set[str]] = {}
    for entry in networks:
        for param in entry.params():
            domains.setdefault(param.name, set()).update(
                str(v) for v in param.values)
            domains[param.name].update(param.labels)
    valid = ", ".join(["network", "accuracy", *sorted(domains)])
    found: list[Diagnostic] = []
    if "accuracy" not in header:
        return [error("E706", f"the accuracy table `{shown}` has no `accuracy` column", span,
                      help=f"its columns: {', '.join(header) or 'none'}; valid: {valid}")]
    unknown = [c for c in header if c not in ("network", "accuracy") and c not in domains]
    if unknown:
        found.append(error(
            "E706", f"the accuracy table `{shown}` has a column `{unknown[0]}` that is not a "
            "parameter of the searched networks", span,
            help=f"valid columns: {valid}"))
    if "network" not in header and not any(c in domains for c in header):
        found.append(error(
            "E706", f"the accuracy table `{shown}` does not say which network a row is for",
            span, help="add a `network` column or one column per network parameter"))
    names = {entry.name for entry in networks}
    for kind in ("accuracy", "network", "param"):
        for number, cells in read:
            problem = ""
            if kind == "accuracy" and parse_accuracy(cells.get("accuracy", "")) is None:
                problem = (f"accuracy `{cells.get('accuracy', '')}` does not parse "
                           "(a fraction, a percentage, or `90.1%`)")
            elif kind == "network" and cells.get("network") and \
                    cells["network"].split("(")[0].strip() not in names:
                problem = (f"`{cells['network']}` is not one of the searched networks "
                           f"({', '.join(sorted(names))})")
            elif kind == "param":
                bad = [(c, v) for c, v in cells.items() if c in domains and v and
                       v not in domains[c] and not _number_in(v, domains[c])]
                if bad:
                    problem = (f"`{bad[0][0]} = {bad[0][1]}` is not a value of the parameter "
                               f"(values: {', '.join(sorted(domains[bad[0][0]]))})")
            if problem:
                found.append(error("E706", f"accuracy table `{shown}`, line {number}: "
                                   f"{problem}", span))
                break
    found.extend(_conflicting_rows(shown, read, span))
    return found


def _conflicting_rows(shown: str, rows: Sequence[tuple[int, dict[str, str]]], span: Span
                      ) -> list[Diagnostic]:
    """E706 for two rows that name the same network (every cell but the accuracy equal, a
    number by its value) with different accuracies: which one counts would be the row
    order's accident."""
    first: dict[tuple[tuple[str, str], ...], tuple[int, float | None, str]] = {}
    for number, cells in rows:
        key = tuple(sorted((column, _canonical(text)) for column, text in cells.items()
                           if column != "accuracy"))
        written = cells.get("accuracy", "")
        accuracy = parse_accuracy(written)
        if key not in first:
            first[key] = (number, accuracy, written)
        elif first[key][1] != accuracy:
            line, _, before = first[key]
            named = ", ".join(f"{c} = {cells[c]}" for c, _ in key) or "every network"
            return [error("E706", f"accuracy table `{shown}`, lines {line} and {number} "
                          f"both give the accuracy of `{named}`, differently ({before} and "
                          f"{written})", span, help="keep one row per network")]
    return []


def _canonical(text: str) -> str:
    """A cell as a key: a number by its value (`4` and `4.0` are the same network)."""
    number = parse_decimal(text)
    return text if number is None else repr(number)


def _number_in(text: str, values: set[str]) -> bool:
    number = parse_decimal(text)
    return number is not None and any(parse_decimal(value) == number for value in values)


def _map_constraints(decl: ast.CoDesignDecl, mapper: ast.SubBlock, fields: dict[str, object],
                     program: Declarations, sink: list[Diagnostic]) -> MapConstraints:
    """The request's `mapper { constraints { ... } }`: every level it names must be a level
    of one of the searched accelerators; it is checked against the first point of each
    (with that accelerator's own constraints), and its dims and tensors against the layers
    of the first point of each network (W601)."""
    blocks = [n for n in mapper.body if isinstance(n, ast.ConstraintsBlock)]
    if not blocks:
        return MapConstraints()
    for extra in blocks[1:]:
        sink.append(error("E609", "the mapper has two `constraints` blocks", extra.name.span,
                          related=(Label(blocks[0].name.span, "first block here"),),
                          help="put every constraint in one block"))
    accelerators: tuple[str, ...] = fields["accelerators"]  # type: ignore[assignment]
    components: dict[str, set[str]] = {}
    for name in accelerators:
        entry = program.accelerators[name]
        assert isinstance(entry.decl, ast.AcceleratorDecl)
        for level, kind in components_of(entry.decl).items():
            components.setdefault(level, set()).add(kind)
    where = f"accelerator `{accelerators[0]}`" if len(accelerators) == 1 else \
        "any accelerator of the request"
    origin = f"the mapper of `{decl.name.text}`"
    found, spans = read_constraints(blocks[0].targets, Scope({}), origin,
                                    {k: frozenset(v) for k, v in components.items()}, where,
                                    sink)
    for name in accelerators:
        try:
            space = program.accelerator_space(name)
            accelerator = space.instantiate(space.point_at(0))
        except DiagnosticError:
            continue  # a broken accelerator is reported where it is declared
        check_constraints(found, spans, accelerator.hierarchy, sink,
                          context=accelerator.constraints,
                          where=f"accelerator `{name}`" if len(accelerators) > 1 else "")
    sink.extend(_unknown_names(spans, fields, program))
    return found


def _unknown_names(spans: Spans, fields: dict[str, object], program: Declarations
                   ) -> list[Diagnostic]:
    """W601 for the dims and tensors the request's constraints name that no layer of the
    first point of any of its networks has."""
    from dslc.lower.lower import lower_network

    networks: tuple[str, ...] = fields.get("networks", ())  # type: ignore[assignment]
    dims: set[str] = set()
    tensors: set[str] = set()
    for name in networks:
        try:
            space = program.network_space(name)
            lowered = lower_network(space.instantiate(space.point_at(0)),
                                    batch=int(fields.get("batch", 1)))  # type: ignore[call-overload]
        except DiagnosticError:
            return []  # a broken network is reported where it is declared
        for problem, _ in lowered.distinct().values():
            dims.update(problem.dims)
            tensors.update(t.name for t in problem.tensors)
    if not networks or not dims:
        return []
    what = f"`{networks[0]}`" if len(networks) == 1 else "the request's networks"
    return unknown_names(spans, dims, tensors, what)


def _choice(value: Value, span: Span, what: str, allowed: Sequence[str]) -> str:
    """One of the co-design keywords (a strategy, a search); anything else is E705."""
    try:
        return as_symbol(value, span, what, allowed)
    except EvalError as exc:
        found = exc.diagnostic
        message = f"unknown {what.removeprefix('a ')} `{value.name}`" \
            if isinstance(value, Sym) else found.message
        raise EvalError(error("E705", message, span, label=found.label,
                              help=found.help)) from None


def _declares_accuracy(program: Declarations, network: str) -> bool:
    entry = program.networks.get(network)
    if entry is None:
        return False
    body = entry.decl.body
    return any(isinstance(s, ast.Property) and s.name.text == "accuracy" for s in body)


def _names(value: Value, node: ast.Property) -> tuple[str, ...]:
    items = value if isinstance(value, tuple) else (value,)
    names = []
    for item in items:
        if not isinstance(item, Sym):
            raise fail("E303", f"expected names, found {describe(item)}", node.value.span)
        names.append(item.name)
    if not names:
        raise fail("E701", f"`{node.name.text}` is empty", node.value.span)
    return tuple(names)


def _simple(name: str, value: Value, node: ast.Property, program: Declarations,
            file: Path) -> dict[str, object]:
    span = node.value.span
    if name in ("networks", "accelerators"):
        names = _names(value, node)
        table = program.networks if name == "networks" else program.accelerators
        other = program.accelerators if name == "networks" else program.networks
        # Point at the offending entry of a written list.
        written = node.value.items if isinstance(node.value, ast.ListExpr) else ()
        spans = [i.span for i in written] if len(written) == len(names) else [span] * len(names)
        for item, span in zip(names, spans, strict=True):
            if item not in table:
                if item in other:
                    raise fail("E211", f"`{item}` is not a{'' if name == 'networks' else 'n'} "
                               f"{name[:-1]}", span, label="this is a" + (
                                   "n accelerator" if name == "networks" else " network"))
                raise fail("E201", f"undefined {name[:-1]} `{item}`", span,
                           help=did_you_mean(item, table))
        return {name: names}
    if name == "batch":
        return {"batch": as_int(value, span, "the batch", minimum=1, maximum=MAX_BATCH)}
    if name == "top_k":
        return {"top_k": as_int(value, span, "top_k", minimum=1, maximum=MAX_COUNT)}
    if name == "max_pairs":
        return {"max_pairs": as_int(value, span, "max_pairs", minimum=1, maximum=MAX_COUNT)}
    if name == "time_limit":
        limit = as_quantity(value, span, "the time limit", ["time"])
        if limit.value <= 0:
            raise fail("E302", "the time limit must be positive", span)
        return {"time_limit_s": limit.value}
    if name == "strategy":
        return {"strategy": _choice(value, span, "a strategy", STRATEGIES)}
    if name == "accuracy":
        if not isinstance(value, TableRef):
            raise fail("E706", "accuracy must be `table(\"file.csv\")`", span)
        path = (file.parent / value.path).resolve()
        if not path.is_file():
            raise fail("E706", f"accuracy table `{value.path}` not found", span,
                       help="the path is relative to the spec file")
        return {"accuracy": AccuracyTable(path=str(path))}
    raise fail("E900", f"unhandled co-design property `{name}` (a bug in dslc)", span)


def _metric_name(expr: ast.Expr) -> str | None:
    return expr.ident.text if isinstance(expr, ast.Name) else None


def _objective(expr: ast.Expr) -> ObjectiveSpec:
    sense = "minimize"
    if isinstance(expr, ast.Objective):
        sense, expr = expr.sense, expr.expr
    return ObjectiveSpec(sense=sense, expression=_objective_expr(expr),
                         text=expr.span.text)


def _objective_expr(expr: ast.Expr) -> ObjectiveExpr:
    if isinstance(expr, ast.Name):
        if expr.ident.text not in METRICS:
            raise fail("E705", f"unknown metric `{expr.ident.text}`", expr.span,
                       help=did_you_mean(expr.ident.text, METRICS) or
                       "metrics: " + ", ".join(METRICS))
        return MetricRef(name=expr.ident.text)
    if isinstance(expr, ast.Number):
        return Constant(value=float(expr.value))
    if isinstance(expr, ast.Binary) and expr.op == "^":
        exponent = expr.right
        power: float = 0.0
        if isinstance(exponent, ast.Unary) and isinstance(exponent.operand, ast.Number):
            power = -exponent.operand.value
        elif isinstance(exponent, ast.Number):
            power = exponent.value
        if abs(power) > MAX_EXPONENT:
            raise fail("E705", f"an objective's exponent must be between -{MAX_EXPONENT} and "
                       f"{MAX_EXPONENT}, found {power:g}", exponent.span,
                       label="the objective would overflow",
                       help="a metric raised further overflows a double; rank by a lower "
                            "power (the order of pairs is the same for any positive power "
                            "of one metric)")
    if isinstance(expr, ast.Binary):
        return BinaryOp(op=expr.op if expr.op != "//" else "/",
                        left=_objective_expr(expr.left), right=_objective_expr(expr.right))
    if isinstance(expr, ast.Unary):
        return BinaryOp(op="*", left=Constant(value=-1.0), right=_objective_expr(expr.operand))
    raise fail("E705", "an objective is an arithmetic expression of metrics", expr.span,
               help="e.g. `minimize edp` or `minimize energy * latency ^ 2`")


def _constraint(node: ast.ConstraintStmt) -> ConstraintSpec:
    metric = _metric_name(node.left)
    if metric is None or metric not in METRICS:
        raise fail("E705", "a constraint compares a metric with a bound", node.left.span,
                   help=did_you_mean(metric or "", METRICS) or
                   "metrics: " + ", ".join(METRICS))
    value = evaluate(node.right, Scope({}), EvalContext())
    if metric in CONSTRAINT_UNITS:
        dimension, unit = CONSTRAINT_UNITS[metric]
        if not isinstance(value, Qty) or value.dimension != dimension:
            raise fail("E301", f"a bound on {metric} needs a unit like `{unit}`",
                       node.right.span, label=f"found {describe(value)}")
        # Quantities evaluate in base units (um2 for areas); metrics report areas in mm2.
        bound = value.value / UNITS["mm2"].factor if metric == "area" else value.value
    else:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail("E303", f"a bound on {metric} is a plain number", node.right.span)
        bound = float(value)
    return ConstraintSpec(metric=metric, op=node.op, value=bound,
                          text=node.span.text)


def _reference(expr: ast.Expr, program: Declarations) -> DesignPoint:
    if isinstance(expr, ast.Name):
        name, args = expr.ident, None
    elif isinstance(expr, ast.Call):
        name, args = expr.func, expr.args
    else:
        raise fail("E303", "a reference is an accelerator, e.g. `acc(rows = 14)`", expr.span)
    if name.text not in program.accelerators:
        raise fail("E201", f"undefined accelerator `{name.text}`", name.span,
                   help=did_you_mean(name.text, program.accelerators))
    entry = program.accelerators[name.text]
    values = point_values(entry, args, expr.span)
    return DesignPoint(space=name.text, point=entry.point_spec(values))


def _mapper(node: ast.SubBlock) -> MapperSpec:
    fields: dict[str, object] = {}
    for item in node.body:
        if isinstance(item, ast.ConstraintsBlock):
            continue  # read once the accelerators are known (`_map_constraints`)
        if isinstance(item, ast.SubBlock) or item.name.text not in MAPPER_PROPERTIES:
            raise fail("E205", f"unknown mapper property `{item.name.text}`", item.name.span,
                       help=did_you_mean(item.name.text, MAPPER_PROPERTIES) or
                       "valid: " + ", ".join(MAPPER_PROPERTIES))
        key = item.name.text
        value = evaluate(item.value, Scope({}), EvalContext())
        span = item.value.span
        if key == "search":
            fields[key] = _choice(value, span, "a mapper search", MAPPER_SEARCHES)
        elif key == "budget":
            fields[key] = as_int(value, span, "the budget", minimum=1, maximum=MAX_BUDGET)
        elif key == "seed":
            fields[key] = as_int(value, span, "the seed", minimum=0, maximum=MAX_COUNT)
        elif key == "imperfect":
            fields[key] = as_bool(value, span, "imperfect")
        else:
            fields[key] = _objectives(value, item.value)
    return MapperSpec(**fields)


def _differentiable(node: ast.SubBlock) -> DifferentiableSpec:
    """The `differentiable { ... }` block (DIFFERENTIABLE_PROPERTIES)."""
    fields: dict[str, object] = {}
    for item in node.body:
        if not isinstance(item, ast.Property) or \
                item.name.text not in DIFFERENTIABLE_PROPERTIES:
            name = item.name.text
            raise fail("E205", f"unknown differentiable property `{name}`", item.name.span,
                       help=did_you_mean(name, DIFFERENTIABLE_PROPERTIES) or
                       "valid: " + ", ".join(DIFFERENTIABLE_PROPERTIES))
        key = item.name.text
        if key in fields:
            raise fail("E202", f"property `{key}` given twice", item.name.span)
        value = evaluate(item.value, Scope({}), EvalContext())
        span = item.value.span
        if key in ("steps", "heldout_pairs"):
            fields[key] = as_int(value, span, f"`{key}`", minimum=1,
                                 maximum=MAX_STEPS if key == "steps" else MAX_SEARCH_PAIRS)
        elif key == "seed":
            fields[key] = as_int(value, span, "the seed", minimum=0, maximum=MAX_COUNT)
        elif key == "candidates":
            fields[key] = as_int(value, span, "`candidates`", minimum=1,
                                 maximum=MAX_CANDIDATES)
        elif key == "weights":
            items = value if isinstance(value, tuple) else (value,)
            written = item.value.items if isinstance(item.value, ast.ListExpr) and \
                len(item.value.items) == len(items) else [item.value] * len(items)
            fields[key] = tuple(_cost_weight(v, w.span, "a cost weight")
                                for v, w in zip(items, written, strict=True))
        elif key == "train_fraction":
            fraction = _positive(value, span, "the training fraction")
            if fraction > 1:
                raise fail("E302", f"the training fraction is at most 1, got {fraction:g}",
                           span, help="e.g. `train_fraction = 0.03` (3% of the pairs)")
            fields[key] = fraction
        else:
            fields[key] = _cost_weight(value, span, "the cost weight")
    return DifferentiableSpec(**fields)


def _cost_weight(value: Value, span: Span, what: str) -> float:
    """A cost weight, within MIN_COST_WEIGHT and MAX_COST_WEIGHT (E302)."""
    return within(float(as_number(value, span, what)), span, what, MIN_COST_WEIGHT,
                  MAX_COST_WEIGHT)


def _positive(value: Value, span: Span, what: str) -> float:
    number = as_number(value, span, what)
    if not number > 0:
        raise fail("E705", f"{what} must be positive, got {number:g}", span)
    return float(number)


def _objectives(value: Value, written: ast.Expr) -> str | tuple[str, ...]:
    """A mapping objective, or a list of them in lexicographic order."""
    if not isinstance(value, tuple):
        return _choice(value, written.span, "a mapping objective", LAYER_OBJECTIVES)
    items = written.items if isinstance(written, ast.ListExpr) and \
        len(written.items) == len(value) else [written] * len(value)
    if not value:
        raise fail("E705", "the objective list is empty", written.span,
                   help="e.g. `[latency, energy]`")
    found: list[str] = []
    for item, expr in zip(value, items, strict=True):
        name = _choice(item, expr.span, "a mapping objective", LAYER_OBJECTIVES)
        if name in found:
            raise fail("E705", f"`{name}` is listed twice", expr.span)
        found.append(name)
    return found[0] if len(found) == 1 else tuple(found)
