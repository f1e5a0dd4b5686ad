"""Deployment without Python: a model as standalone C (``export_c``; ``ember export MODEL --format c``).

``export_c(model, x, "out/")`` writes model.c, model.h, main.c, a Makefile and weights.bin; ``make -C out/``
builds ``out/model``, which runs the model on a raw float32 file: ``out/model in.bin out.bin``.
"""
from .c_graph import ExportError
from .c_model import CExport, build_c, export_c, run_c

__all__ = ["export_c", "build_c", "run_c", "CExport", "ExportError"]
