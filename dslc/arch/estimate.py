"""The estimator tables: energy, leakage and area of one memory or MAC from its size, width,
word and technology node, for the figures an accelerator spec leaves out.

In: plain numbers (bits, nm, Hz). Out: pJ per access, pJ per cycle, um^2. A first-order model
in the spirit of Accelergy's table plug-ins, not a circuit simulator. It does not know about
hierarchies, specs or which figures a spec gave (dslc.arch.resolve decides what to fill in)
and does not count accesses (dslc.cost.model).

Tables and their sources (also in docs/design/cost-model.md):

- SRAM read energy per 64-bit access at 45 nm, 0.9 V: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ
  (M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014).
  Between the points: log-log interpolation (exact at the three points). Below 8 KB:
  energy ~ sqrt(size), the CACTI-like bitline/wordline-length law, which also fits the first
  two points exactly (4x the size, 2x the energy). Above 1 MB: the slope of the last segment.
  Per access of `width_bits`: linear in the bits moved. Writes and updates are charged like
  reads (Horowitz gives reads only).
- DRAM: 1.3-2.6 nJ per 64-bit access (Horowitz, ISSCC 2014); we use the midpoint, 1.95 nJ per
  64 bits, i.e. 30.47 pJ/bit, for a memory without a size (unbounded = off-chip DRAM). DRAM
  energy is not scaled with the logic technology node.
- Integer multiply / add at 45 nm: 8-bit 0.2 / 0.03 pJ, 32-bit 3.1 / 0.1 pJ (Horowitz, ISSCC
  2014). A MAC of b bits = multiply + add of b bits; power law through the 8- and 32-bit points.
- Integer multiply / add area at 45 nm: 8-bit 282 / 36 um^2, 32-bit 3495 / 137 um^2 (the area
  column of Horowitz's ISSCC 2014 cost table, as reproduced in Han et al., "EIE", ISCA 2016);
  same power-law fit.
- SRAM area: 0.346 um^2 per 6T bit cell at 45 nm (Intel 45 nm, Bhattacharya et al., Intel
  Technology Journal 12(2), 2008), divided by an assumed 50% array efficiency (periphery,
  sense amplifiers, decoders) = 0.692 um^2 per bit. DRAM has no on-chip area.
- SRAM leakage: 12 uA per Mb at 0.5 V (Wang et al., a 1 Mb SRAM in Intel 65 nm ULP
  technology, JSSC 2008), i.e. 5.72 pW per bit; per cycle = power / clock. A low-leakage
  retention figure: treat leakage as a lower bound. Not node-scaled.
- Technology scaling from 45 nm: dynamic energy x (node / 45), area x (node / 45)^2 (first
  order: capacitance scales with feature size at roughly constant supply voltage after 45 nm).
"""

from __future__ import annotations

import math

REFERENCE_NODE_NM = 45.0
"""The node of the Horowitz tables; other nodes are scaled from it."""

SRAM_READ_PJ_PER_64_BITS: tuple[tuple[float, float], ...] = (
    (8 * 1024 * 8, 10.0),
    (32 * 1024 * 8, 20.0),
    (1024 * 1024 * 8, 100.0),
)
"""(capacity in bits, pJ per 64-bit read) at 45 nm: Horowitz, ISSCC 2014."""

SRAM_SMALL_SIZE_EXPONENT = 0.5
"""Energy ~ size^0.5 below the smallest table point (CACTI-like wire-length law)."""

DRAM_PJ_PER_BIT = 1950.0 / 64
"""Midpoint of Horowitz's 1.3-2.6 nJ per 64-bit DRAM access, per bit."""

INT_MULTIPLY_PJ: tuple[tuple[float, float], ...] = ((8, 0.2), (32, 3.1))
INT_ADD_PJ: tuple[tuple[float, float], ...] = ((8, 0.03), (32, 0.1))
"""(operand bits, pJ) at 45 nm: Horowitz, ISSCC 2014."""

INT_MULTIPLY_AREA_UM2: tuple[tuple[float, float], ...] = ((8, 282.0), (32, 3495.0))
INT_ADD_AREA_UM2: tuple[tuple[float, float], ...] = ((8, 36.0), (32, 137.0))
"""(operand bits, um^2) at 45 nm: Horowitz's ISSCC 2014 area column (via Han et al. 2016)."""

SRAM_CELL_UM2 = 0.346
"""6T SRAM bit cell at Intel 45 nm (Intel Technology Journal 12(2), 2008)."""

SRAM_ARRAY_EFFICIENCY = 0.5
"""Assumed fraction of an SRAM macro's area that is bit cells."""

SRAM_LEAKAGE_W_PER_BIT = 0.5 * 12e-6 / (1 << 20)
"""12 uA/Mb at 0.5 V (Wang et al., JSSC 2008, 65 nm ULP 1 Mb SRAM), in watts per bit."""


def _loglog(points: tuple[tuple[float, float], ...], x: float,
            small_exponent: float | None = None) -> float:
    """Piecewise power-law interpolation through `points` (sorted by x).

    Below the first point the exponent is `small_exponent` (or the first segment's); above the
    last point, the last segment's."""
    if x <= 0:
        return 0.0
    if len(points) == 1:
        return points[0][1]

    def exponent(i: int) -> float:
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        return math.log(y1 / y0) / math.log(x1 / x0)

    if x <= points[0][0]:
        k = small_exponent if small_exponent is not None else exponent(0)
        return float(points[0][1] * (x / points[0][0]) ** k)
    for i in range(len(points) - 1):
        if x <= points[i + 1][0]:
            return float(points[i][1] * (x / points[i][0]) ** exponent(i))
    last = len(points) - 2
    return float(points[-1][1] * (x / points[-1][0]) ** exponent(last))


def sram_access_energy_pj(size_bits: int, width_bits: int, technology_nm: float) -> float:
    """Energy of one access of `width_bits` to an SRAM of `size_bits` (read, write or update)."""
    per_64 = _loglog(SRAM_READ_PJ_PER_64_BITS, float(size_bits), SRAM_SMALL_SIZE_EXPONENT)
    return per_64 * width_bits / 64 * technology_nm / REFERENCE_NODE_NM


def dram_access_energy_pj(width_bits: int) -> float:
    """Energy of one DRAM access of `width_bits` (off-chip: not node-scaled)."""
    return DRAM_PJ_PER_BIT * width_bits


def mac_energy_pj(word_bits: int, technology_nm: float) -> float:
    """Integer multiply plus add of `word_bits`-bit operands."""
    dynamic = _loglog(INT_MULTIPLY_PJ, word_bits) + _loglog(INT_ADD_PJ, word_bits)
    return dynamic * technology_nm / REFERENCE_NODE_NM


def mac_area_um2(word_bits: int, technology_nm: float) -> float:
    """Area of an integer multiplier plus adder of `word_bits` bits."""
    area = _loglog(INT_MULTIPLY_AREA_UM2, word_bits) + _loglog(INT_ADD_AREA_UM2, word_bits)
    return area * (technology_nm / REFERENCE_NODE_NM) ** 2


def sram_area_um2(size_bits: int, technology_nm: float) -> float:
    """Area of an SRAM of `size_bits`: bit cells over the array efficiency, node-scaled."""
    return size_bits * SRAM_CELL_UM2 / SRAM_ARRAY_EFFICIENCY * \
        (technology_nm / REFERENCE_NODE_NM) ** 2


def sram_leakage_pj_per_cycle(size_bits: int, clock_hz: float) -> float:
    """Static energy of an SRAM of `size_bits` per cycle of `clock_hz` (not node-scaled)."""
    return SRAM_LEAKAGE_W_PER_BIT * size_bits / clock_hz * 1e12
