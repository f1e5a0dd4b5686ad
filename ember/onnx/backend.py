"""ember as an ONNX backend (onnx.backend.base.Backend): ``prepare``, ``run_model``, ``run_node``,
``supports_device``, the module-level functions onnx's backend test suite calls (as onnxruntime.backend)."""
import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from ..autograd import no_grad
from .loader import OnnxModule
from ._values import to_numpy

__all__ = ["EmberBackend", "EmberRep", "prepare", "run_model", "run_node", "supports_device", "is_compatible"]


class EmberRep(BackendRep):
    """A prepared model: ``run(inputs)`` returns its outputs as NumPy arrays (sequences as lists)."""

    def __init__(self, module):
        self.module = module

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            args, kw = (), inputs
        else:
            args, kw = (tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)), {}
        with no_grad():
            outs = self.module(*args, **kw)
        if not isinstance(outs, tuple):
            outs = (outs,)
        return tuple(_result(o) for o in outs)


def _result(v):
    if isinstance(v, list):
        return [_result(x) for x in v]
    return v if v is None else np.asarray(to_numpy(v))


class EmberBackend(Backend):
    """onnx.backend.base.Backend over ember.onnx.load (CPU)."""

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return supports_device(device)

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        if isinstance(model, (bytes, str)):
            model = onnx.load_model_from_string(model) if isinstance(model, bytes) else onnx.load(model)
        return EmberRep(OnnxModule(model))

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """Run one NodeProto on NumPy inputs (a list in the node's input order, or a dict by name)."""
        super().run_node(node, inputs, device=device, outputs_info=outputs_info)
        names = [n for n in node.input if n]
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in names]
        values = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in names]
        outs = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in node.output if n]
        graph = onnx.helper.make_graph([node], "run_node", values, outs)
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(node.domain or "", opset)])
        return EmberRep(OnnxModule(model)).run(list(inputs))

    @classmethod
    def supports_device(cls, device):
        return Device(device).type == DeviceType.CPU


prepare = EmberBackend.prepare
run_model = EmberBackend.run_model
run_node = EmberBackend.run_node
supports_device = EmberBackend.supports_device
is_compatible = EmberBackend.is_compatible
