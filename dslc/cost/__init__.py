"""The analytical cost model: Timeloop's counting rules for energy, cycles, area and accesses.

Everything here takes the resolved accelerator (`ArchModel`, from
`dslc.arch.resolve_accelerator`) and mapping IRs (dslc.mapping), never specs:
`model.evaluate(problem, arch, mapping) -> Cost` is the scalar reference;
`batched.BatchEvaluator(problem, arch, keep).evaluate(batch) -> BatchCost` is its vectorised
twin for the mapper (`kernel` its compiled engine); `result.Cost` is what a mapping costs
(its JSON form is dslc.export.cost_to_json). It never imports the mapper or the co-design
search. The rules and their limits are in docs/design/cost-model.md.
"""
