"""The resolved accelerator: every figure the mapping IR, the cost model and the mapper read.

`resolve.resolve_accelerator(spec) -> ArchModel` walks an `AcceleratorSpec`'s hierarchy once
and fills in the energies, leakage and areas it leaves out from the estimator tables
(`estimate`, with their published sources); `model` holds the frozen value types
(`ArchModel`, `LevelModel`, `FanoutModel`, `ComputeModel`). Everything downstream
(dslc.mapping, dslc.cost, dslc.mapper) takes an `ArchModel`, never a spec. This package
imports only dslc.spec; it counts no accesses and knows no mappings.
"""

from dslc.arch.model import ArchModel, ComputeModel, FanoutModel, LevelModel
from dslc.arch.resolve import resolve_accelerator

__all__ = ["ArchModel", "ComputeModel", "FanoutModel", "LevelModel", "resolve_accelerator"]
