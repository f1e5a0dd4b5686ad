"""torch.nn.parallel: DataParallel (without GPUs, PyTorch's pass-through wrapper) and DistributedDataParallel
(data parallelism across processes, over ember.distributed)."""
from ...device import cuda_available
from ..module import Module
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    """Run a module on several GPUs, splitting the batch along ``dim``; without GPUs, only hold the module and call
    it, as PyTorch's does.

    ``DataParallel(model)(x)`` is ``model(x)``, and its state_dict keys start with ``module.``. Where a GPU is
    available it raises NotImplementedError: splitting batches over GPUs is not built yet.

    Args:
        module (Module): the module to run.
        device_ids (list of int, optional): the GPUs to use; ignored without GPUs (``device_ids`` is then []).
            Default: None.
        output_device (int, optional): the GPU that gathers the outputs; ignored without GPUs. Default: None.
        dim (int): the batch dimension to split. Default: 0.

    Shape:
        - Input: what ``module`` takes.
        - Output: what ``module`` returns.

    PyTorch:
        ``torch.nn.DataParallel``; the same pass-through without GPUs; with GPUs, not built yet (use
        DistributedDataParallel, as PyTorch recommends).

    Example:
        >>> model = nn.DataParallel(nn.Linear(3, 2))
        >>> model(ember.ones(4, 3)).shape
        ember.Size([4, 2])
        >>> list(model.state_dict())
        ['module.weight', 'module.bias']
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if cuda_available():
            raise NotImplementedError("DataParallel: splitting batches over GPUs is not built yet (without GPUs it "
                                      "calls the module)")
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
