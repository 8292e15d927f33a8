"""Learning for co-design (docs/design/differentiable.md): the learned cost evaluator
(`evaluator.py`, over the features of `features.py`) and the differentiable search with its
hardware generator (`search.py`). torch is imported inside the functions that need it.
"""
