"""Networks that run and train: PyTorch modules from network specs, the shipped datasets,
stand-alone training and the weight-sharing supernet (docs/design/differentiable.md).

Everything here needs the `learn` extra (`pip install -e ".[learn]"`: torch, scikit-learn,
mnist1d). This file imports none of them: `require()` is what callers outside the package
call before importing a submodule, so that without the extra they get a `CannotRunError`
that says how to install it, never an ImportError. `dslc lint` never imports this package.
"""

from __future__ import annotations

import importlib

from dslc.diagnostics.diagnostic import CannotRunError

INSTALL = 'pip install -e ".[learn]"'
"""How to install what this package needs (from a checkout; `pip install "dslc[learn]"`
from a wheel)."""
_NEEDED = ("torch", "sklearn")


def require(what: str = "training networks") -> None:
    """Raise CannotRunError, saying how to install the `learn` extra, when torch or
    scikit-learn cannot be imported."""
    for module in _NEEDED:
        try:
            importlib.import_module(module)
        except ImportError:
            raise CannotRunError(
                f"{what} needs PyTorch and scikit-learn (the `learn` extra; `{module}` is "
                f"not installed): {INSTALL}",
                (f"install it with {INSTALL} (torch==2.13.0, the CPU build)",)) from None
