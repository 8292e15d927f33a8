"""The analytical cost model: Timeloop's counting rules for energy, cycles, area and accesses.

`estimate.resolve_energies(accelerator) -> ArchModel` fills in missing energies and areas;
`model.evaluate(problem, accelerator, mapping) -> Cost` is the scalar reference;
`batched.BatchEvaluator(problem, accelerator, keep).evaluate(batch) -> BatchCost` is its
vectorised twin for the mapper; `result.cost_to_json(cost)` is the JSON form. The rules and
their limits are in docs/design/cost-model.md.
"""
