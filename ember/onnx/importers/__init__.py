"""ONNX op importers, one module per op family; importing them fills the op table of ember.onnx._registry."""
from . import (  # noqa: F401
    attention, elementwise, grid, loss, ml, nn, quant, reduce, resample, rnn, sequence, shape, signal, text,
    training, vision,
)
