"""torch.nn.modules.module: ember's Module and the global module hooks under PyTorch's module path."""
from ..module import (  # noqa: F401
    Module, RemovableHandle, register_module_forward_hook, register_module_forward_pre_hook,
    register_module_full_backward_hook, register_module_full_backward_pre_hook,
)
