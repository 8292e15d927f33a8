"""One co-design request, elaborated: the value every co-design stage (and every worker) takes.

In: a `CoDesignSpec` and the `DesignSpace`s it names (from a compiled program). Out: a
frozen `Request` holding the spec, those spaces, their `Designs`, the mapper options
(`mapper_options`: the one place that decides which objective layers are mapped by, and with
which map-space constraints; `Request.options_for` adds an accelerator's own) and the
accuracy of every network design that has one (declared in the network, read from the
request's accuracy table, or trained: dslc.codesign.trained). A `Request` is
self-contained and picklable: worker processes and Dask workers receive it as it is, never a
file path.

It does not evaluate pairs (dslc.codesign.evaluate) nor plan (dslc.codesign.planner).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dslc.codesign.designs import Design, Designs, Instances, designs_of
from dslc.codesign.metrics import load_accuracies
from dslc.codesign.store import ResultStore
from dslc.codesign.trained import Progress, trained_accuracies
from dslc.mapper.search import MapperOptions
from dslc.space import DesignSpace
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.codesign import (
    LAYER_OBJECTIVES,
    AccuracyTable,
    CoDesignSpec,
    LayerObjective,
    MetricRef,
    TrainedAccuracy,
)
from dslc.spec.network import NetworkSpec


def mapping_objective(spec: CoDesignSpec) -> LayerObjective | tuple[LayerObjective, ...]:
    """What each layer's mapping minimises: the request's `mapper { objective }` when given
    (one, or several in lexicographic order); else the co-design objective when it is a
    bare energy, latency or edp (minimised whatever the request's sense: a design's figures
    are those of its best mappings, which `maximize` then compares); else EDP (a layer's
    mapping cannot see accuracy or area, and EDP balances the two it can see)."""
    if spec.mapper.objective is not None:
        return spec.mapper.objective
    expression = spec.objective.expression
    if isinstance(expression, MetricRef):
        for objective in LAYER_OBJECTIVES:
            if expression.name == objective:
                return objective
    return "edp"


def mapper_options(spec: CoDesignSpec) -> MapperOptions:
    """The mapping-search options of a request (its `mapper` block, with its map-space
    constraints; each accelerator adds its own: `Request.options_for`)."""
    mapper = spec.mapper
    return MapperOptions(search=mapper.search, budget=mapper.budget, seed=mapper.seed,
                         objective=mapping_objective(spec), imperfect=mapper.imperfect,
                         constraints=mapper.constraints)


def options_for(options: MapperOptions, accelerator: AcceleratorSpec) -> MapperOptions:
    """The options to map layers on `accelerator` with: the request's, with the
    accelerator's own map-space constraints added before the request's."""
    return options.with_constraints(accelerator.constraints)


@dataclass(frozen=True, slots=True)
class Request:
    """A co-design request with everything needed to evaluate its pairs."""

    spec: CoDesignSpec
    networks: Mapping[str, DesignSpace[NetworkSpec]]
    """The network spaces the request names, by name."""
    accelerators: Mapping[str, DesignSpace[AcceleratorSpec]]
    """The accelerator design spaces the request names, by name."""
    network_designs: Designs
    accelerator_designs: Designs
    options: MapperOptions
    accuracies: Mapping[Design, float]
    """Accuracy (a fraction) of every network design that has one."""
    key: str
    """Identifies the request across processes: the program's source digest, the request's
    spec and the mapper options."""

    def instances(self) -> Instances:
        """A fresh cache of concrete specs for this request's designs."""
        return Instances(self.networks, self.accelerators)

    def options_for(self, accelerator: AcceleratorSpec) -> MapperOptions:
        """The mapper options on one accelerator design: the request's, with the
        accelerator's own map-space constraints (`options_for`)."""
        return options_for(self.options, accelerator)


def request_key(spec: CoDesignSpec, source_digest: str) -> str:
    """`Request.key`: the program's source digest, the request's spec and its mapper
    options."""
    text = "|".join([source_digest, spec.model_dump_json(), repr(mapper_options(spec))])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def make_request(spec: CoDesignSpec, networks: Mapping[str, DesignSpace[NetworkSpec]],
                 accelerators: Mapping[str, DesignSpace[AcceleratorSpec]], source_digest: str,
                 *, instances: Instances | None = None, store: ResultStore | None = None,
                 progress: Progress | None = None) -> Request:
    """The request for `spec` over the named spaces (taken from `networks` and
    `accelerators`). Builds every network design once to read its declared accuracy (kept
    in `instances` when given, so that evaluation does not build them again); raises
    DiagnosticError where a design does not build and AccuracyError for a bad table. With
    `accuracy = trained(...)` every network design is trained, or read back from `store`
    (None: trained in memory), and `progress` hears of it (dslc.codesign.trained); not with
    `strategy = differentiable`, which trains only the networks it proposes."""
    named_networks = {name: networks[name] for name in spec.networks}
    named_accelerators = {name: accelerators[name] for name in spec.accelerators}
    network_designs = designs_of([named_networks[n] for n in spec.networks], "network")
    accelerator_designs = designs_of([named_accelerators[a] for a in spec.accelerators],
                                     "accelerator")
    built = instances if instances is not None else Instances(named_networks,
                                                              named_accelerators)
    accuracies: dict[Design, float] = {}
    for design in network_designs.designs:
        declared = built.network(design).accuracy
        if declared is not None:
            accuracies[design] = declared
    options = mapper_options(spec)
    key = request_key(spec, source_digest)
    if isinstance(spec.accuracy, AccuracyTable):
        accuracies.update(load_accuracies(Path(spec.accuracy.path), network_designs.designs))
    elif isinstance(spec.accuracy, TrainedAccuracy) and spec.strategy != "differentiable":
        # The differentiable strategy trains a supernet instead, and only the networks it
        # proposes stand-alone (dslc.codesign.dance.strategy).
        accuracies.update(trained_accuracies(spec.accuracy, network_designs.designs, built,
                                             store, key, progress=progress))
    return Request(spec, named_networks, named_accelerators, network_designs,
                   accelerator_designs, options, accuracies, key)
