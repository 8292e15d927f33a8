"""The differentiable co-design strategy (DANCE; docs/design/differentiable.md): the learned
cost evaluator (`evaluator.py`, over the features of `features.py`), the search with its
hardware generator (`search.py`) and the strategy's run with the exact re-check
(`strategy.py`). torch is imported inside the functions that need it; nothing here is
imported by `dslc lint`.
"""
