"""Interoperation with other tools: models in (ONNX, PyTorch through ONNX) and Timeloop v3
files out and in.

`network_text` writes an imported network as `.cd` text; `onnx_import` reads an ONNX graph
into it; `torch_export` turns a PyTorch module into ONNX; `timeloop` writes and reads
Timeloop v3 YAML. Optional dependencies (onnx, torch, PyYAML) are imported inside the
functions that need them, so the package imports without them.
"""
