"""Co-design request models: what to search, what to optimise, under which constraints.

A `CoDesignSpec` names network spaces and accelerator design spaces, the objective (an
expression over metrics, minimised or maximised), constraints, an accuracy source, the
strategy, an optional reference design and mapper settings. Metrics: energy (pJ), latency
(s), cycles, edp (pJ*s), area (mm2), accuracy (fraction).
"""

from __future__ import annotations

import csv
import io
import math
import re
import stat
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field

from dslc.spec.base import Point, Spec
from dslc.spec.constraints import MapConstraints
from dslc.spec.limits import (
    MAX_BATCH,
    MAX_BUDGET,
    MAX_CANDIDATES,
    MAX_COST_WEIGHT,
    MAX_COUNT,
    MAX_EPOCHS,
    MAX_SEARCH_PAIRS,
    MAX_STEPS,
    MIN_COST_WEIGHT,
)

Metric = Literal["energy", "latency", "cycles", "edp", "area", "accuracy"]
Strategy = Literal["auto", "exhaustive", "semi_decoupled", "random", "differentiable"]
MapperSearch = Literal["auto", "exhaustive", "heuristic", "random"]
LayerObjective = Literal["energy", "latency", "edp"]
"""What one layer's mapping can minimise in a request's `mapper` block."""
METRICS: tuple[Metric, ...] = get_args(Metric)
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
MAPPER_SEARCHES: tuple[MapperSearch, ...] = get_args(MapperSearch)
LAYER_OBJECTIVES: tuple[LayerObjective, ...] = get_args(LayerObjective)


class MetricRef(Spec):
    """A metric in an objective expression."""

    kind: Literal["metric"] = "metric"
    name: Metric
    """One of energy, latency, cycles, edp, area, accuracy."""


class Constant(Spec):
    """A number in an objective expression (in base units)."""

    kind: Literal["constant"] = "constant"
    value: float
    """Its value."""


class BinaryOp(Spec):
    """An arithmetic combination of two objective expressions."""

    kind: Literal["binary"] = "binary"
    op: Literal["+", "-", "*", "/", "^"]
    """The operator."""
    left: MetricRef | Constant | BinaryOp
    """Left operand."""
    right: MetricRef | Constant | BinaryOp
    """Right operand."""


ObjectiveExpr = MetricRef | Constant | BinaryOp


class ObjectiveSpec(Spec):
    """What to optimise."""

    sense: Literal["minimize", "maximize"] = "minimize"
    """Minimise or maximise the expression."""
    expression: ObjectiveExpr = MetricRef(name="edp")
    """The expression over metrics."""
    text: str = "edp"
    """The expression as written."""


class ConstraintSpec(Spec):
    """A bound on a metric, e.g. latency <= 5ms."""

    metric: Metric
    """The constrained metric."""
    op: Literal["<=", "<", ">=", ">", "=="]
    """The comparison."""
    value: float
    """The bound in base units (s, pJ, mm2, fraction)."""
    text: str
    """The constraint as written."""


class AccuracyTable(Spec):
    """Accuracy from a CSV file: columns are network params (or `network`) and `accuracy`."""

    path: str
    """The CSV path, resolved relative to the spec file."""


MAX_TABLE_BYTES = 16 * 1024 * 1024
"""Largest accuracy table read, in bytes (16 MiB)."""


class AccuracyTableError(ValueError):
    """An accuracy table that cannot be read; the message names the file, and the row and
    column where there is one (`file:row:column: problem`)."""


def read_accuracy_table(path: Path, shown: str | None = None
                        ) -> tuple[tuple[str, ...], list[tuple[int, dict[str, str]]]]:
    """An accuracy table's header and its non-blank rows (line number, cells by column),
    with every `accuracy` cell checked by `parse_accuracy`. Raises AccuracyTableError for
    a file that is not a regular file of at most MAX_TABLE_BYTES, invalid UTF-8, a CSV
    error, a row with fewer or more cells than the header, or an accuracy that is not one
    (not a number, NaN, negative, above 100%). Messages name the file as `shown` (default:
    the path)."""
    shown = str(path) if shown is None else shown
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise AccuracyTableError(f"{shown}: not a regular file")
        if info.st_size > MAX_TABLE_BYTES:
            raise AccuracyTableError(f"{shown}: {info.st_size:,} bytes, more than the limit "
                                     f"of {MAX_TABLE_BYTES:,}")
        data = path.read_bytes()[:MAX_TABLE_BYTES + 1]
    except OSError as exc:
        raise AccuracyTableError(f"{shown}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        row = data.count(b"\n", 0, exc.start) + 1
        column = data.count(b",", line_start, exc.start) + 1
        raise AccuracyTableError(f"{shown}:{row}:{column}: not valid UTF-8 (byte "
                                 f"0x{data[exc.start]:02x}); save the table as UTF-8") from None
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise AccuracyTableError(f"{shown}: not a CSV file ({exc})") from None
    if not lines:
        raise AccuracyTableError(f"{shown}: empty, it needs a header row")
    header = tuple(column.strip() for column in lines[0])
    rows: list[tuple[int, dict[str, str]]] = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            column = min(len(cells), len(header)) + 1
            what = (f"column `{header[len(cells)]}` missing" if len(cells) < len(header)
                    else "a cell past the last column")
            raise AccuracyTableError(f"{shown}:{number}:{column}: the row has {len(cells)} "
                                     f"cells and the header {len(header)} ({what})")
        values = dict(zip(header, (cell.strip() for cell in cells), strict=True))
        if "accuracy" in values and parse_accuracy(values["accuracy"]) is None:
            column = header.index("accuracy") + 1
            raise AccuracyTableError(
                f"{shown}:{number}:{column}: accuracy `{values['accuracy'][:40]}` is not an "
                "accuracy: a fraction in [0, 1], a percentage up to 100, or `90.1%`")
        rows.append((number, values))
    return header, rows

Dataset = Literal["digits", "mnist1d"]
DATASETS: dict[str, tuple[int, ...]] = {"digits": (1, 8, 8), "mnist1d": (1, 1, 40)}
"""The datasets `trained(...)` can train on, with the input shape (batch excluded) a network
must take: scikit-learn's 8x8 handwritten digits as [1, 8, 8] and MNIST-1D's 40-sample
signals as [1, 1, 40] (a 1-D signal is a one-row image: convolve it with `kernel = [1, k]`).
Both have 10 classes (dslc.learn.datasets loads them)."""
DATASET_CLASSES = 10
"""Classes of every dataset in DATASETS."""


def dataset_input_problem(shape: tuple[int, ...], dataset: str) -> str | None:
    """Why a network input of `shape` cannot take `dataset`'s samples (None when it can:
    the dataset's shape, the same up to size-1 axes, or the samples flattened)."""
    wanted = DATASETS[dataset]
    size = math.prod(wanted)
    if shape == wanted or shape == (size,) or \
            tuple(s for s in shape if s != 1) == tuple(s for s in wanted if s != 1):
        return None
    return (f"its input is [{', '.join(map(str, shape))}] but the samples are "
            f"[{', '.join(map(str, wanted))}]")


class TrainedAccuracy(Spec):
    """Accuracy from training each network on a dataset that ships inside a package: the
    test accuracy after `epochs` epochs from `seed` (dslc.learn.train)."""

    kind: Literal["trained"] = "trained"
    """Tells this source from a table (which has a `path`) in JSON."""
    dataset: Dataset
    """digits or mnist1d."""
    epochs: int = Field(default=10, gt=0, le=MAX_EPOCHS)
    """Passes over the training split."""
    seed: int = Field(default=1, ge=0, le=MAX_COUNT)
    """Seeds the initial weights and the order of the batches."""


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse_decimal(text: str) -> float | None:
    """A table's number written in decimal (`12`, `0.75`, `-3`, `1e-3`; spaces around it
    allowed), or None: Python's `float` alone would also read `1_0` as 10, `nan`,
    `infinity` and full-width digits."""
    stripped = text.strip()
    if not stripped.isascii() or _DECIMAL.fullmatch(stripped) is None:
        return None
    return float(stripped)


def parse_accuracy(text: str) -> float | None:
    """An accuracy as a table writes it, as a fraction: `0.901`, a percentage above 1
    (`90.1`) or with its sign (`90.1%`); None when the text is none of these."""
    stripped = text.strip()
    percent = stripped.endswith("%")
    value = parse_decimal(stripped.removesuffix("%"))
    if value is None or not math.isfinite(value) or value < 0:
        return None
    if percent or value > 1:
        # Rounded once from the decimal, as the language's `70%` is (dslc.sema.units): 70
        # and 70% read as 0.7, equal to a bound `accuracy >= 70%` and to 0.7.
        value = float(Fraction(repr(value)) / 100)
    return value if value <= 1 else None


class DesignPoint(Spec):
    """A concrete point of a named space."""

    space: str
    """The network or accelerator (space) name."""
    point: Point = ()
    """Its parameter values."""


class MapperSpec(Spec):
    """Settings of the mapping search."""

    search: MapperSearch = "auto"
    """auto, exhaustive, heuristic or random."""
    budget: int = Field(default=10000, gt=0, le=MAX_BUDGET)
    """Mappings evaluated per layer and accelerator by the heuristic search (its descents
    from its starts run to their ends within five times it: docs/design/mapper.md)."""
    seed: int = Field(default=1, ge=0, le=MAX_COUNT)
    """Seed of every random choice, for determinism."""
    imperfect: bool = False
    """Allow imperfect (ceil-covering) factorisations."""
    objective: LayerObjective | tuple[LayerObjective, ...] | None = None
    """Per-layer mapping objective (energy, latency, edp), or several in lexicographic
    order (`[latency, energy]`: the least latency, then the least energy among those);
    None follows the co-design one."""
    constraints: MapConstraints = MapConstraints()
    """Map-space constraints of this request (its `constraints` block), on top of each
    accelerator's own."""


class DifferentiableSpec(Spec):
    """Settings of the differentiable strategy (DANCE; docs/design/differentiable.md)."""

    cost_weight: float = Field(default=1.0, ge=MIN_COST_WEIGHT, le=MAX_COST_WEIGHT)
    """Weight of the expected cost in the search's loss: loss = accuracy loss + cost_weight
    x E[log objective] (+ constraint penalties). Without an accuracy source it only scales
    the loss; with one, a larger weight trades accuracy for cost."""
    weights: tuple[Annotated[float, Field(ge=MIN_COST_WEIGHT, le=MAX_COST_WEIGHT)], ...] = ()
    """Further cost weights to sweep (each a search of its own): the re-checked candidates
    of all of them give an accuracy-cost front."""
    steps: int = Field(default=300, gt=0, le=MAX_STEPS)
    """Gradient steps of the search."""
    candidates: int = Field(default=10, gt=0, le=MAX_CANDIDATES)
    """The search's best proposals (by the evaluator) evaluated with the exact model."""
    seed: int = Field(default=1, ge=0, le=MAX_COUNT)
    """Seed of the evaluator's samples and training and of the search."""
    train_fraction: float = Field(default=0.03, gt=0, le=1)
    """The pairs costed exactly to train the evaluator, as a fraction of all pairs (at
    least MIN_TRAIN of them)."""
    heldout_pairs: int = Field(default=300, gt=0, le=MAX_SEARCH_PAIRS)
    """Pairs (not trained on) costed exactly to report the evaluator's quality, as many
    again on accelerators never seen in training."""


class CoDesignSpec(Spec):
    """A co-design request."""

    name: str
    """The request's name."""
    networks: tuple[str, ...]
    """Network (space) names to search."""
    accelerators: tuple[str, ...]
    """Accelerator (design space) names to search."""
    batch: int = Field(default=1, gt=0, le=MAX_BATCH)
    """Batch size N."""
    objective: ObjectiveSpec = ObjectiveSpec()
    """The objective."""
    constraints: tuple[ConstraintSpec, ...] = ()
    """Constraints every reported design must meet."""
    accuracy: AccuracyTable | TrainedAccuracy | None = None
    """Where accuracies come from, besides networks that declare their own: a table, or
    training each network."""
    strategy: Strategy = "auto"
    """auto, exhaustive, semi_decoupled, random or differentiable."""
    reference: DesignPoint | None = None
    """The reference accelerator of the semi-decoupled strategy (None: the planner picks)."""
    max_pairs: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    """Most pairs the search evaluates (None: no cap); a capped answer is unverified unless
    it was certified first."""
    time_limit_s: float | None = Field(default=None, gt=0)
    """Most wall time the search takes, in seconds (None: no cap)."""
    top_k: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    """Networks kept after ranking on the reference (None: the planner decides)."""
    mapper: MapperSpec = MapperSpec()
    """Mapping-search settings."""
    differentiable: DifferentiableSpec = DifferentiableSpec()
    """Settings of the differentiable strategy (used when it is the strategy)."""
