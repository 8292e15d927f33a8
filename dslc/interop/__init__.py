"""Interoperation with other tools: models in (ONNX, PyTorch through ONNX), Timeloop v3
files out and in, AccelForge 1.0.467 files out.

`network_text` writes an imported network as `.cd` text; `onnx_import` reads an ONNX graph
into it; `torch_export` turns a PyTorch module into ONNX; `timeloop` writes and reads
Timeloop v3 YAML; `accelforge` writes AccelForge's. Optional dependencies (onnx, torch,
PyYAML) are imported inside the functions that need them, so the package imports without
them; AccelForge itself is never imported (it needs Python >= 3.12).
"""
