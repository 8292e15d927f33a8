"""Units of the `.cd` language: each unit's dimension and factor to the base unit.

Base units: bits (sizes), words (sizes counted in the level's word), pJ (energy), Hz
(frequency), s (time), um2 (area), nm (length), fraction (percentages), bits/s (bandwidth),
W (power), cycles. A quantity is checked by dimension where it is used; conversion between
words and bits needs the word size and happens in elaboration, not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

DIMENSION_NAMES = {
    "size": "a size (bits, bytes or words)",
    "words": "a size in words",
    "energy": "an energy (fJ, pJ, nJ)",
    "frequency": "a frequency (MHz, GHz)",
    "time": "a time (ns, us, ms, s)",
    "area": "an area (um2, mm2)",
    "length": "a length (nm)",
    "fraction": "a percentage",
    "bandwidth": "a bandwidth (GB/s) or words per cycle",
    "power": "a power (W, mW)",
    "cycles": "a number of cycles",
}


@dataclass(frozen=True, slots=True)
class Unit:
    dimension: str
    factor: float
    """Multiply a value in this unit by `factor` to get the base unit."""


UNITS: dict[str, Unit] = {
    "b": Unit("size", 1), "bits": Unit("size", 1),
    "B": Unit("size", 8), "bytes": Unit("size", 8),
    "Kib": Unit("size", 1024), "Mib": Unit("size", 1024**2),
    "Kb": Unit("size", 1000), "Mb": Unit("size", 1000**2),
    "KiB": Unit("size", 8 * 1024), "MiB": Unit("size", 8 * 1024**2),
    "GiB": Unit("size", 8 * 1024**3),
    "KB": Unit("size", 8 * 1000), "MB": Unit("size", 8 * 1000**2), "GB": Unit("size", 8e9),
    "words": Unit("words", 1), "word": Unit("words", 1),
    "fJ": Unit("energy", 1e-3), "pJ": Unit("energy", 1.0), "nJ": Unit("energy", 1e3),
    "uJ": Unit("energy", 1e6), "mJ": Unit("energy", 1e9), "J": Unit("energy", 1e12),
    "Hz": Unit("frequency", 1), "kHz": Unit("frequency", 1e3),
    "MHz": Unit("frequency", 1e6), "GHz": Unit("frequency", 1e9),
    "ps": Unit("time", 1e-12), "ns": Unit("time", 1e-9), "us": Unit("time", 1e-6),
    "ms": Unit("time", 1e-3), "s": Unit("time", 1.0),
    "um2": Unit("area", 1.0), "mm2": Unit("area", 1e6),
    "nm": Unit("length", 1.0),
    "%": Unit("fraction", 0.01),
    "GB/s": Unit("bandwidth", 8e9), "MB/s": Unit("bandwidth", 8e6),
    "GiB/s": Unit("bandwidth", 8 * 1024**3),
    "W": Unit("power", 1.0), "mW": Unit("power", 1e-3), "uW": Unit("power", 1e-6),
    "cycles": Unit("cycles", 1.0),
}


def in_base_units(value: float, factor: float) -> float:
    """`value` (as written, in a unit) times the unit's `factor`, rounded once from the exact
    product of the decimals both are written as: `70%` is 0.7, what a table's `70`, `70%` or
    `0.7` reads as (70 x 0.01 is 0.7000000000000001, above it, so `accuracy >= 70%` broke a
    network listed at 70), and `5us` is 5e-06, the latency of 1,000 cycles at 200 MHz (5 x
    1e-6 is below it). Infinite when the product overflows a double."""
    if factor == 1 or not math.isfinite(value) or (_whole(value) and _whole(factor)):
        # Both exact as doubles already (64 KiB, 200 MHz): their product rounds once.
        return value * factor
    try:
        return float(Fraction(repr(value)) * Fraction(repr(factor)))
    except OverflowError:
        return math.inf


def _whole(number: float) -> bool:
    """Whether `number` is an integer a double holds exactly."""
    return float(number).is_integer() and abs(number) <= 2**53


def format_quantity(value: float, dimension: str) -> str:
    """A readable rendering of a base-unit value (for messages and reports)."""
    scales: dict[str, list[tuple[str, float]]] = {
        "size": [("MiB", 8 * 1024**2), ("KiB", 8 * 1024), ("B", 8), ("b", 1)],
        "energy": [("nJ", 1e3), ("pJ", 1.0), ("fJ", 1e-3)],
        "frequency": [("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3), ("Hz", 1)],
        "time": [("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)],
        "area": [("mm2", 1e6), ("um2", 1.0)],
        "fraction": [("%", 0.01)],
    }
    for unit, factor in scales.get(dimension, []):
        if abs(value) >= factor or unit == scales[dimension][-1][0]:
            scaled = value / factor
            text = f"{scaled:.6g}"
            return f"{text}{' ' if unit.isalpha() and len(unit) > 3 else ''}{unit}"
    return f"{value:.6g}"
