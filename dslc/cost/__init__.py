"""The analytical cost model: Timeloop's counting rules for energy, cycles, area and accesses.

Everything here takes the resolved accelerator (`ArchModel`, from
`dslc.arch.resolve_accelerator`) and mapping IRs (dslc.mapping), never specs:
`model.evaluate(problem, arch, mapping) -> Cost` is the scalar reference;
`batched.BatchEvaluator(problem, arch, keep).evaluate(batch) -> BatchCost` is its vectorised
twin for the mapper (`kernel` its compiled engine); `result.Cost` is what a mapping costs
(its JSON form is dslc.export.cost_to_json). It never imports the mapper or the co-design
search. The rules and their limits are in docs/design/cost-model.md.
"""

COST_MODEL_VERSION = 8
"""The version of the figures a mapping gets. Bump it whenever a counting rule (here), an
estimator table (dslc.arch) or the mapper's search (dslc.mapper) can change any figure of
any mapping: co-design result stores key every pair by it (dslc.codesign.store), so results
of an older model are never read back as this one's. 6: outputs' first reads elided are
at most the outputs an instance touches and fills never negative (grouped convolutions),
a constant einsum index no longer miscounted by the compiled kernel, and `touched_words`
counts axes sharing a dim together (docs/design/cost-model.md, bounds.md). 7: bandwidth
cycles past 2^63 saturate at 2^62 in the mapper's models instead of wrapping negative (the
mapper took the slowest mappings for the fastest), and a union map space's parts share the
remembered candidates (the best of a union may differ). 8: a layer the mapper cannot search
as asked (`SearchLimitError`: the exhaustive search on a space it cannot enumerate, a sample
of splits none of which obeys the rules) no longer makes its pair infeasible: a store of 7
may hold such pairs as infeasible; past 64 keep combinations the least keeps are a choice;
and a sampled split table lists the splits that bounds (`<=`, `>=`) leave when they are few
(its samples under such bounds differ)."""
