"""PyTorch modules out to ONNX, for the ONNX importer.

Owns `export_torch(target, input_shape) -> bytes`: `target` is `pkg.module:factory` (a
function or class returning a `torch.nn.Module`, called without arguments; the current
directory is importable), exported in eval mode with `torch.onnx.export(dynamo=True)` on a
zero input of `input_shape` (batch first). The exporter's optimiser folds batch
normalisation into the convolution before it, as inference does. Problems are
`DiagnosticError`s with code E804 (cannot import, build or export the module). It does not
read the ONNX it returns (dslc.interop.onnx_import does) and never downloads weights.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from dslc.diagnostics.diagnostic import DiagnosticError, error


def _problem(target: str, message: str, hint: str = "") -> DiagnosticError:
    return DiagnosticError([error("E804", f"{target}: {message}", None, help=hint)])


def _factory(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise _problem(target, "expected `pkg.module:factory`",
                       "name a module and a function or class in it, e.g. models:resnet18")
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may raise anything while importing
        raise _problem(target, f"cannot import `{module_name}` ({type(exc).__name__}: "
                       f"{exc})", "run from the directory that holds the module, or "
                       "install its package") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    found = getattr(module, attribute, None)
    if found is None or not callable(found):
        raise _problem(target, f"`{module_name}` has no callable `{attribute}`")
    return found


def export_torch(target: str, input_shape: Sequence[int]) -> bytes:
    """The ONNX bytes of the module `target` builds, traced on zeros of `input_shape`."""
    import torch

    factory = _factory(target)
    try:
        model = factory()
    except Exception as exc:  # the user's factory may raise anything
        raise _problem(target, f"calling it failed ({type(exc).__name__}: {exc})",
                       "the factory is called without arguments") from None
    if not isinstance(model, torch.nn.Module):
        raise _problem(target, f"it returned a {type(model).__name__}, not a "
                       "torch.nn.Module")
    model.eval()
    quiet = io.StringIO()
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with (warnings.catch_warnings(), contextlib.redirect_stdout(quiet),
              contextlib.redirect_stderr(quiet), torch.no_grad()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (torch.zeros(*input_shape),), dynamo=True,
                                        verbose=False)
    except Exception as exc:  # the exporter raises many kinds
        raise _problem(target, f"torch.onnx.export failed on input {list(input_shape)} "
                       f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                       "check the input shape (batch first, e.g. 1,3,224,224)") from None
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    if program is None:
        raise _problem(target, "torch.onnx.export returned nothing")
    data: bytes = program.model_proto.SerializeToString()
    return data
