"""A hostile fuzz campaign of the whole pipeline, past the front end.

    python benchmarks/fuzz_pipeline.py [--cases 3000] [--seed 1] [--timeout 20]
                                       [--cli-every 40] [--only SEED_NAME] [--show N]
                                       [--dump DIR] [--case I]

Takes valid specs (examples/*.cd and the small specs below: networks with params, repeats,
einsum, pooling and residuals; accelerators with design-space params and map-space
constraints; fixed mappings; co-design requests with objectives, constraints and
strategies), mutates them at the token level with values chosen to hurt (numbers replaced
by 0, 1, -1, huge, tiny, fractional values, units swapped; identifiers swapped with other
identifiers of the file; list elements dropped or duplicated; options replaced by other
legal values), and runs each mutant the way `dslc run` does: `api.compile`, every
`mapping` block through `api.evaluate`, every `codesign` through `api.run` (one design) or
`api.plan` and `api.search` (spaces; an in-memory store, a few pairs, a time limit), the
JSON export and the terminal report. Mapper budgets are capped (300) so that a case is
quick; a case gets `--timeout` seconds in a worker process (killed and restarted past it)
under a 3 GiB address-space limit. Every `--cli-every`-th mutant that ran also goes through
`dslc run --format json` as a subprocess.

Recorded, by class: a RuntimeWarning raised in dslc (an overflow, a cast of a value past
int64), a lower bound above the cost it bounds, an E900 diagnostic or a Python exception
other than a UserError (`bug:<type>@<innermost dslc frame>`), a timeout, a worker that
died, a NaN, infinity or negative number among energies, cycles, latencies and areas of
the output, a utilization above 1, and for the CLI sample an exit code of 3, a traceback,
or stdout that is not one JSON document. Deterministic for a seed: case i is mutant i of
the same list.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import math
import os
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BUDGET_CAP = 300
MAX_PAIRS = 12
TIME_LIMIT_S = 6.0

# ---- the seed specs --------------------------------------------------------------------------

SMALL_NET = """
template block(x, out, kernel) {
    layer a = conv(x, out = out, kernel = kernel, pad = same)
    layer b = conv(relu(a), out = out, kernel = 1)
    return relu(add(b, x))
}

network small {
    input x: [8, 16, 16]
    layer stem = conv(x, out = 8, kernel = 3, stride = 1, pad = 1)
    block r = repeat 2 from stem { block(prev, out = 8, kernel = 3) }
    layer p = maxpool(r, kernel = 2, stride = 2)
    layer e = einsum(p) {
        dims K = 4, C = 8, P = 6, Q = 8, R = 3
        output O[k, p, q]
        weight W[k, c, r]
        input I[c, p + r, q]
    }
    layer g = avgpool(e, global = true)
    layer fc = dense(flatten(g), out = 10)
    accuracy = 71.5%
}
"""

SMALL_ARRAY = """
accelerator arr {
    word  = 16b
    clock = 200MHz
    technology = 45nm
    memory DRAM { width = 64b, read = 200pJ, write = 200pJ, bandwidth = 30GB/s }
    memory GLB  { size = 32KiB, width = 64b, holds = [input, output, weight], buffering = 2 }
    fanout PE   { mesh = 4 x 4, dataflow = weight_stationary }
    memory RF   { size = 64 words, word = 8b, leakage = 1mW, holds = [weight, output] }
    compute MAC { energy = 1pJ, area = 100um2 }
}
"""

SEEDS: dict[str, str] = {
    "single": SMALL_NET + SMALL_ARRAY + """
codesign one {
    networks     = small
    accelerators = arr
    batch        = 2
    objective    = minimize edp
    strategy     = exhaustive
    mapper       { search = auto, budget = 200, seed = 1, objective = [latency, energy] }
}
""",
    "spaces": """
template mb(x, out, expand, kernel) {
    layer e = conv(x, out = channels(x) * expand, kernel = 1)
    layer d = dwconv(relu6(e), kernel = kernel, pad = same)
    layer p = conv(relu6(d), out = out, kernel = 1)
    return p
}

network sp {
    input x: [3, 32, 32]
    param k in {3, 5}
    param e in {2, 4}
    param d in 0..2
    layer stem = conv(x, out = 8, kernel = 3, stride = 2, pad = 1)
    block s = repeat d from stem { mb(prev, out = 8, expand = e, kernel = k) }
    layer head = dense(flatten(avgpool(s, global = true)), out = 10)
    accuracy = 70%
}

accelerator fam {
    param rows in {2, 4, 8}
    param glb  in 8KiB..32KiB step 8KiB
    param flow in {weight_stationary, output_stationary, row_stationary, free}
    param rf   in {16 words, 64 words}
    word  = 16b
    clock = 200MHz
    memory DRAM { width = 64b, read = 2nJ, write = 2nJ }
    memory GLB  { size = glb, width = 64b }
    fanout PE   { mesh = rows x 4, dataflow = flow }
    memory RF   { size = rf }
    compute MAC { energy = 1.5pJ }
}

codesign explore {
    networks     = sp
    accelerators = fam
    batch        = 1
    objective    = minimize energy * latency ^ 2
    constraint   latency <= 5ms
    constraint   area <= 6mm2
    constraint   accuracy >= 65%
    strategy     = semi_decoupled
    reference    = fam(rows = 4, glb = 16KiB, flow = weight_stationary, rf = 16 words)
    max_pairs    = 40
    top_k        = 3
    mapper       { search = heuristic, budget = 100, seed = 1 }
}
""",
    "constrained": SMALL_NET + """
accelerator pinned {
    word  = 16b
    clock = 1GHz
    memory DRAM { width = 64b, read = 2nJ, write = 2nJ }
    memory GLB  { size = 64KiB, width = 64b, holds = [input, output, weight] }
    fanout PE   { mesh = 8 x 8, dataflow { x = [C], y = [K], stationary = weight } }
    memory RF   { size = 64 words, holds = [weight, output] }
    compute MAC { energy = 1.5pJ }
    constraints {
        DRAM { order [K, ...] }
        GLB  { keep [input], factors [R all] }
        PE   { allow x [C], spatial y [K <= 8] }
        RF   { bypass [input] }
    }
}

mapping m for small.stem on pinned {
    DRAM { temporal [K 1, P 16] }
    GLB  { temporal [Q 16, R 3], keep [input, output, weight] }
    PE   { spatial x [C 8], spatial y [K 8] }
    RF   { temporal [S 3], keep [weight, output] }
}

codesign c {
    networks     = small
    accelerators = pinned
    batch        = 1
    objective    = maximize 1 / edp
    mapper       { search = random, budget = 150, seed = 3, imperfect = true,
                   constraints { GLB { order [..., C] } } }
}
""",
    "attention": """
network att {
    input x: [16, 32]
    param dm in {16, 32}
    layer q = dense(x, out = dm)
    layer k = dense(x, out = dm)
    layer v = dense(x, out = dm)
    layer s = softmax(matmul(q, k, transpose_b = true))
    layer c = matmul(s, v)
    layer o = layernorm(add(dense(c, out = 32), x))
    layer t = transpose(reshape(o, shape = [32, 16]), perm = [1, 0])
    layer cat = concat(t, x)
    layer f = gelu(dense(cat, out = 4))
}
""" + SMALL_ARRAY + """
accelerator tiny {
    param n in {1, 2}
    word = 8b
    clock = 1GHz
    memory DRAM { width = 8b }
    fanout PE { mesh = n x 1 }
    memory RF { size = 8 words }
    compute MAC { }
}

codesign a {
    networks     = att
    accelerators = [arr, tiny]
    objective    = minimize area * cycles - 0 + energy / 2
    constraint   cycles < 1000000000
    constraint   energy <= 1mJ
    strategy     = random
    max_pairs    = 3
    time_limit   = 30s
    mapper       { search = exhaustive, budget = 50, seed = 0, objective = energy }
}
""",
    "hostile": """
network h {
    input x: [16, 12, 12]
    param w in {4, 16}
    layer a = conv(x, out = w, kernel = 3, stride = 2, dilation = 2, groups = 1)
    layer b = dwconv(a, kernel = 1, stride = 1)
    layer c = dense(flatten(b), out = 1)
    accuracy = 50%
}

accelerator slow {
    param bw in {1e-9, 0.001, 4}
    param mesh in {1, 2, 4096}
    word  = 8b
    clock = 1000GHz
    memory DRAM { width = 8b, read_bandwidth = bw, write_bandwidth = 1e-9, leakage = 1mW }
    memory GLB  { size = 1KiB, width = 64b, buffering = 1024, bandwidth = bw }
    fanout PE   { mesh = mesh x 1, dataflow = output_stationary }
    memory RF   { size = 2 words, holds = [output] }
    fanout SUB  { mesh = 1 x 2, dataflow { x = [], y = [K], stationary = output } }
    memory R2   { size = 4 words, word = 16b }
    compute MAC { energy = 1e9pJ, leakage = 1e9pJ }
}

codesign hostile {
    networks     = h
    accelerators = slow
    batch        = 65536
    objective    = minimize edp ^ 8 * area ^ 8 / accuracy
    constraint   latency <= 1ns
    constraint   energy >= 0pJ
    strategy     = exhaustive
    mapper       { search = heuristic, budget = 64, seed = 9223372036854775807,
                   imperfect = true }
}
""",
}

EXAMPLE_WEIGHT = {"codesign.cd": 2, "crossing.cd": 1, "quickstart.cd": 1, "mapping.cd": 2,
                  "zoo.cd": 1, "dance.cd": 1}

# ---- mutation ----------------------------------------------------------------------------

TOKEN = re.compile(
    r"(?P<comment>#[^\n]*)|(?P<string>\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<unit>[A-Za-z%][A-Za-z0-9/]*)?"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<space>\s+)|(?P<punct>\.\.|<=|>=|//|.)")

NUMBERS = ["0", "1", "-1", "2", "3", "7", "1e18", "4611686018427387904", "10^40", "2^62",
           "1e-300", "0.5", "1.5", "0.001", "65537", "2147483647", "2147483648",
           "1e300", "-0", "(2^31-1)", "1e9", "100000", "63", "0.999999", "1e-9", "65536",
           "4294967296"]
UNITS = ["", "b", "B", "KiB", "MiB", "GiB", "words", "pJ", "fJ", "nJ", "MHz", "GHz",
         "ns", "ms", "s", "um2", "mm2", "%", "mW", "GB/s", "nm"]
OPTIONS = [
    ["minimize", "maximize"],
    ["energy", "latency", "cycles", "edp", "area", "accuracy"],
    ["auto", "exhaustive", "semi_decoupled", "random", "differentiable"],
    ["auto", "exhaustive", "heuristic", "random"],
    ["weight_stationary", "output_stationary", "input_stationary", "row_stationary", "free"],
    ["input", "output", "weight"],
    ["true", "false"],
    ["K", "C", "P", "Q", "R", "S", "N", "G"],
    ["temporal", "keep", "bypass", "factors", "order", "allow", "forbid"],
    ["conv", "dwconv", "dense", "maxpool", "avgpool", "add", "relu", "matmul", "softmax",
     "flatten", "concat", "layernorm"],
    ["x", "y"],
    ["DRAM", "GLB", "RF", "PE", "MAC"],
]


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    unit: str = ""


def tokenize(text: str) -> list[Token]:
    out = []
    for m in TOKEN.finditer(text):
        kind = m.lastgroup or "punct"
        if m.group("number") is not None:
            out.append(Token("number", m.group("number"), m.group("unit") or ""))
        else:
            out.append(Token(kind if kind != "unit" else "number", m.group(0)))
    return out


def render(tokens: list[Token]) -> str:
    return "".join(t.text + t.unit for t in tokens)


def mutate_once(tokens: list[Token], rng: random.Random) -> tuple[list[Token], str]:
    numbers = [i for i, t in enumerate(tokens) if t.kind == "number"]
    names = [i for i, t in enumerate(tokens) if t.kind == "name"]
    ident_pool = sorted({tokens[i].text for i in names})
    option_sites = [i for i in names
                    if any(tokens[i].text in group for group in OPTIONS)]
    choice = rng.choices(["number", "unit", "name", "option", "list", "number2"],
                         weights=[35, 8, 12, 20, 15, 10])[0]
    tokens = list(tokens)
    if choice in ("number", "number2") and numbers:
        i = rng.choice(numbers)
        new = rng.choice(NUMBERS)
        old = tokens[i]
        tokens[i] = Token("number", new, old.unit)
        if new.startswith("-") or "^" in new:
            tokens[i] = Token("number", f"({new})" if not new.startswith("(") else new, "")
            if old.unit:  # a quantity: scale the unit
                tokens[i] = Token("number", f"{tokens[i].text} * 1", old.unit)
        return tokens, f"number {old.text}{old.unit}->{tokens[i].text}{tokens[i].unit}"
    if choice == "unit" and numbers:
        i = rng.choice(numbers)
        old = tokens[i]
        tokens[i] = Token("number", old.text, rng.choice(UNITS))
        return tokens, f"unit {old.text}{old.unit}->{old.text}{tokens[i].unit}"
    if choice == "name" and names:
        i = rng.choice(names)
        old = tokens[i].text
        tokens[i] = Token("name", rng.choice(ident_pool))
        return tokens, f"name {old}->{tokens[i].text}"
    if choice == "option" and option_sites:
        i = rng.choice(option_sites)
        old = tokens[i].text
        group = next(g for g in OPTIONS if old in g)
        tokens[i] = Token("name", rng.choice(group))
        return tokens, f"option {old}->{tokens[i].text}"
    if choice == "list":
        opens = [i for i, t in enumerate(tokens) if t.text in "[{" and t.kind == "punct"]
        if opens:
            i = rng.choice(opens)
            close = {"[": "]", "{": "}"}[tokens[i].text]
            depth, j = 0, i
            while j < len(tokens):
                if tokens[j].text in "[{(" and tokens[j].kind == "punct":
                    depth += 1
                elif tokens[j].text in "]})" and tokens[j].kind == "punct":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j < len(tokens) and tokens[j].text == close:
                inner = tokens[i + 1:j]
                elements: list[list[Token]] = [[]]
                d = 0
                for t in inner:
                    if t.kind == "punct" and t.text in "[{(":
                        d += 1
                    elif t.kind == "punct" and t.text in "]})":
                        d -= 1
                    if d == 0 and t.kind == "punct" and t.text == ",":
                        elements.append([])
                    else:
                        elements[-1].append(t)
                if len(elements) >= 1 and any(e for e in elements):
                    k = rng.randrange(len(elements))
                    how = rng.choice(["drop", "dup", "dup", "empty"])
                    if how == "drop" and len(elements) > 1:
                        del elements[k]
                    elif how == "empty":
                        elements = [[]]
                    else:
                        elements.insert(k, elements[k])
                        how = "dup"
                    new_inner: list[Token] = []
                    for n, e in enumerate(elements):
                        if n:
                            new_inner.append(Token("punct", ","))
                        new_inner.extend(e)
                    return tokens[:i + 1] + new_inner + tokens[j:], f"list {how} at {i}"
    return mutate_once(tokens, rng) if numbers or names else (tokens, "none")


def seeds() -> list[tuple[str, Path, str]]:
    """(name, path the text is compiled as, text), weighted by repetition."""
    out = []
    for name, text in SEEDS.items():
        for _ in range(3):
            out.append((name, EXAMPLES / f"_fuzz_{name}.cd", text))
    for name, weight in EXAMPLE_WEIGHT.items():
        path = EXAMPLES / name
        for _ in range(weight):
            out.append((name, path, path.read_text()))
    return out


def mutants(count: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(case id, seed name, path, text) for `count` cases."""
    pool = seeds()
    cases = []
    for i in range(count):
        rng = random.Random(seed * 1_000_003 + i)
        name, path, text = pool[rng.randrange(len(pool))]
        tokens = tokenize(text)
        done = []
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            tokens, what = mutate_once(tokens, rng)
            done.append(what)
        cases.append((f"{i}", name, str(path), render(tokens), "; ".join(done)))
    return cases


# ---- the worker --------------------------------------------------------------------------

METRIC_KEY = re.compile(r"energy|cycles|latency|area|edp|reads|fills|updates|words|macs")


def check_numbers(data: Any, where: str, found: list[str]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            k = str(key)
            if isinstance(value, float | int) and not isinstance(value, bool):
                if isinstance(value, float) and math.isnan(value):
                    found.append(f"nan:{k}")
                elif METRIC_KEY.search(k) and value < 0:
                    found.append(f"negative:{k}")
                elif METRIC_KEY.search(k) and isinstance(value, float) and math.isinf(value):
                    found.append(f"inf:{k}")
                elif k == "utilization" and value > 1 + 1e-9:
                    found.append(f"utilization>1:{k}")
            else:
                check_numbers(value, f"{where}.{k}", found)
    elif isinstance(data, list | tuple):
        for value in data:
            check_numbers(value, where, found)


def bug_class(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in frames if "/dslc/" in f.filename]
    frame = inner[-1] if inner else (frames[-1] if frames else None)
    at = "?" if frame is None else f"{Path(frame.filename).name}:{frame.name}"
    return f"bug:{type(exc).__name__}@{at}"


def check_bounds(data: dict[str, Any], found: list[str]) -> None:
    """A layer's lower bounds never exceed its cost."""
    for layer in data.get("layers", []):
        if layer["bound_cycles"] > layer["cycles"]:
            found.append("bound>cost:cycles")
        if layer["bound_energy_pj"] > layer["energy_pj"] * (1 + 1e-9) + 1e-6:
            found.append("bound>cost:energy")


def run_case(path: str, text: str) -> dict[str, Any]:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _run_case(path, text)
    for warning in caught:
        if issubclass(warning.category, RuntimeWarning | OverflowError) and \
                "/dslc/" in warning.filename:
            result["classes"] = sorted({*result["classes"], f"warning:{warning.category.__name__}"
                                        f"@{Path(warning.filename).name}:{warning.lineno}"})
    return result


def _run_case(path: str, text: str) -> dict[str, Any]:
    from rich.console import Console  # noqa: TID251 - renders reports as the CLI does

    from dslc import api, export
    from dslc.diagnostics.diagnostic import UserError
    from dslc.report.codesign import render_outcome, render_plan
    from dslc.report.cost import render_cost
    from dslc.report.run import render_run

    console = Console(file=io.StringIO(), width=140)
    problems: list[str] = []
    stages: list[str] = []
    try:
        program = api.compile(path, text=text)
        codes = sorted({d.code for d in program.diagnostics})
        if "E900" in codes:
            return {"classes": ["E900:compile"], "stages": ["compile"]}
        if program.errors:
            return {"classes": [], "stages": ["diag"], "codes": codes}
        capped = {}
        for name, spec in program.codesigns.items():
            mapper = spec.mapper.model_copy(
                update={"budget": min(spec.mapper.budget, BUDGET_CAP)})
            capped[name] = spec.model_copy(update={"mapper": mapper})
        program = replace(program, codesigns=capped)
        for mapping in program.mappings:
            stages.append("evaluate")
            try:
                cost = api.evaluate(program, mapping)
                data = export.cost_to_json(cost)
                check_numbers(data, "eval", problems)
                console.print(render_cost(cost))
            except UserError as exc:
                stages.append(f"user:{type(exc).__name__}")
        for name in program.codesigns:
            try:
                if api.is_single_design(program, name):
                    stages.append("run")
                    design = api.run(program, name)
                    data = export.network_result_to_json(design.result, design.problems,
                                                         objective=design.objective)
                    check_numbers(data, "run", problems)
                    check_bounds(data, problems)
                    export.to_json(data)
                    console.print(render_run(design.result, design.problems,
                                             design.codesign, design.options.objective_text))
                else:
                    stages.append("plan")
                    plan = api.plan(program, name)
                    check_numbers(export.plan_to_json(plan), "plan", problems)
                    console.print(render_plan(plan))
                    stages.append("search")
                    spec = program.codesigns[name]
                    found = api.search(program, name, store=":memory:",
                                       max_pairs=min(spec.max_pairs or MAX_PAIRS, MAX_PAIRS),
                                       time_limit_s=TIME_LIMIT_S)
                    data = export.outcome_to_json(found.outcome, store_notes=found.notes)
                    check_numbers(data, "search", problems)
                    export.to_json(data)
                    export.outcome_csv_rows(found.outcome)
                    console.print(render_outcome(found.outcome, reused=found.reused,
                                                 store=found.store, notes=found.notes,
                                                 width=140))
            except UserError as exc:
                stages.append(f"user:{type(exc).__name__}")
    except UserError as exc:
        stages.append(f"user:{type(exc).__name__}")
    except (RecursionError, MemoryError) as exc:
        return {"classes": [bug_class(exc)], "stages": stages,
                "trace": traceback.format_exc()[-3000:]}
    except Exception as exc:  # what the campaign looks for
        return {"classes": [bug_class(exc)], "stages": stages,
                "trace": traceback.format_exc()[-3000:]}
    return {"classes": sorted(set(problems)), "stages": stages}


def worker() -> None:
    import resource

    limit = 3 * 1024 ** 3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything printed goes to stderr
    for line in sys.stdin:
        case = json.loads(line)
        started = time.perf_counter()
        result = run_case(case["path"], case["text"])
        result["seconds"] = round(time.perf_counter() - started, 2)
        protocol.write(json.dumps(result) + "\n")
        protocol.flush()


class Worker:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)

    def ask(self, path: str, text: str, timeout: float) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"path": path, "text": text}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return {"classes": ["timeout"], "stages": []}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return {"classes": [f"worker-died:{code}"], "stages": []}
        return json.loads(line)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def cli_case(path: str, text: str, timeout: float) -> list[str]:
    """`dslc run FILE --format json` on the mutant, written into a scratch copy of the
    examples folder (for relative tables)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / Path(path).name
        for table in EXAMPLES.glob("*.csv"):
            shutil.copy(table, tmp)
        text = re.sub(r"budget\s*=\s*[^,}\n]+", f"budget = {BUDGET_CAP}", text)
        target.write_text(text)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "dslc", "run", str(target), "--format", "json",
                 "--cache", ":memory:", "--max-pairs", str(MAX_PAIRS),
                 "--time-limit", str(TIME_LIMIT_S)],
                capture_output=True, text=True, timeout=timeout, cwd=tmp,
                env={**os.environ, "COLUMNS": "140"})
        except subprocess.TimeoutExpired:
            return ["cli-timeout"]
    found = []
    if done.returncode == 3 or "E900" in done.stdout:
        found.append("cli-E900")
    if "Traceback" in done.stderr or "Traceback" in done.stdout:
        found.append("cli-traceback")
    try:
        json.loads(done.stdout)
    except ValueError:
        found.append(f"cli-not-json:rc{done.returncode}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--cli-every", type=int, default=40)
    parser.add_argument("--only", default=None, help="only mutants of this seed spec")
    parser.add_argument("--show", type=int, default=2, help="examples shown per class")
    parser.add_argument("--dump", default=None, help="write failing mutants to this folder")
    parser.add_argument("--case", type=int, default=None, help="run one case, print all")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    cases = mutants(args.cases, args.seed)
    if args.only:
        cases = [c for c in cases if c[1] == args.only]
    if args.case is not None:
        cid, name, path, text, what = cases[args.case]
        print(f"case {cid} from {name}: {what}\n{text}")
        print(json.dumps(run_case(path, text), indent=1))
        return
    classes: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    stages: collections.Counter[str] = collections.Counter()
    work = Worker()
    started = time.perf_counter()
    ran = 0
    try:
        for n, (cid, name, path, text, what) in enumerate(cases):
            result = work.ask(path, text, args.timeout)
            ran += 1
            for stage in result.get("stages", []):
                stages[stage] += 1
            found = list(result["classes"])
            ran_pipeline = any(s in ("run", "search") for s in result.get("stages", []))
            if args.cli_every and ran_pipeline and n % args.cli_every == 0 and \
                    "timeout" not in found:
                found += cli_case(path, text, args.timeout + 20)
            for cls in found:
                classes[cls] += 1
                if len(examples[cls]) < args.show:
                    examples[cls].append(f"case {cid} ({name}): {what}"
                                         + (f"\n      {result['trace'].splitlines()[-1]}"
                                            if "trace" in result else ""))
                if args.dump:
                    folder = Path(args.dump)
                    folder.mkdir(parents=True, exist_ok=True)
                    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", cls)[:80]
                    (folder / f"{safe}.{cid}.cd").write_text(
                        f"# case {cid} from {name}: {what}\n# path {path}\n{text}")
                    if "trace" in result:
                        (folder / f"{safe}.{cid}.trace").write_text(result["trace"])
            if (n + 1) % 100 == 0:
                print(f"[{n + 1}/{len(cases)}] {time.perf_counter() - started:.0f}s "
                      f"{dict(classes)}", flush=True)
    finally:
        work.stop()
    elapsed = time.perf_counter() - started
    print(f"\n{ran} mutants in {elapsed:.0f}s (seed {args.seed})")
    print("stages reached:", dict(sorted(stages.items())))
    if not classes:
        print("no failures")
    for cls, count in classes.most_common():
        print(f"{count:6d}  {cls}")
        for example in examples[cls]:
            print(f"          {example}")


if __name__ == "__main__":
    main()
