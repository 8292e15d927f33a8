"""Rich rendering of a cost evaluation (the `dslc eval` JSON object) as terminal tables.

Input is the JSON-ready dict of `dslc.cost.result.cost_to_json` (layer, accelerator, macs,
cycles, utilization, energy_pj, levels with per-tensor counts); output is rich renderables.
It computes nothing but shares and unit scaling for display.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _energy(pj: float) -> str:
    for unit, factor in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= factor:
            return f"{pj / factor:,.3f} {unit}"
    return f"{pj:,.3f} pJ"


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def cost_renderable(cost: dict[str, Any]) -> Group:
    """A summary line, a per-level energy table and a per-tensor access table."""
    total = float(cost["energy_pj"]) or 1.0
    head = Text()
    head.append(f"{cost['layer']}", style="bold")
    head.append(f" on {cost['accelerator']}: ")
    head.append(f"{_count(cost['macs'])} MACs, {_count(cost['cycles'])} cycles, "
                f"utilisation {100 * float(cost['utilization']):.1f}%, "
                f"energy {_energy(float(cost['energy_pj']))}")
    if "area_mm2" in cost:
        head.append(f", area {float(cost['area_mm2']):.3f} mm2")

    levels = Table(title="energy by level", title_justify="left")
    levels.add_column("level")
    levels.add_column("instances", justify="right")
    levels.add_column("used", justify="right")
    levels.add_column("energy", justify="right")
    levels.add_column("share", justify="right")
    for level in cost["levels"]:
        levels.add_row(level["name"], str(level["instances"]), str(level["utilized_instances"]),
                       _energy(float(level["energy_pj"])),
                       f"{100 * float(level['energy_pj']) / total:.1f}%")
    mac_energy = cost.get("mac_energy_pj")
    if mac_energy is not None:
        levels.add_row("MAC", "", "", _energy(float(mac_energy)),
                       f"{100 * float(mac_energy) / total:.1f}%")

    tensors = Table(title="accesses by level and tensor (totals; per instance in brackets)",
                    title_justify="left")
    for column in ("level", "tensor", "tile words", "reads", "fills", "updates", "energy"):
        tensors.add_column(column, justify="left" if column in ("level", "tensor") else "right")
    for level in cost["levels"]:
        for name, counts in level["tensors"].items():
            tensors.add_row(
                level["name"], name, _count(counts["tile_words"]),
                f"{_count(counts['reads'])} ({_count(counts['reads_per_instance'])})",
                f"{_count(counts['fills'])} ({_count(counts['fills_per_instance'])})",
                f"{_count(counts['updates'])} ({_count(counts['updates_per_instance'])})",
                _energy(float(counts["energy_pj"])))
    return Group(head, levels, tensors)
