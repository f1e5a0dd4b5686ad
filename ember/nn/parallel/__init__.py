"""torch.nn.parallel: DataParallel (without GPUs, PyTorch's pass-through wrapper) and DistributedDataParallel
(data parallelism across processes, over ember.distributed)."""
from ...device import cuda_available
from ..module import Module
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    """Run ``module`` on several GPUs, splitting the batch along ``dim``. Without GPUs it only holds the module and
    calls it, as PyTorch's: ``DataParallel(model)(x)`` is ``model(x)``, its state_dict keys start with ``module.``."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if cuda_available():
            raise NotImplementedError("DataParallel: splitting batches over GPUs is not built yet (without GPUs it "
                                      "calls the module)")
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
