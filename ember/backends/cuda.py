"""torch.backends.cuda: ``is_built()`` (is CuPy, ember's CUDA backend, installed), the ``matmul`` settings
(``allow_tf32``, ``allow_fp16_reduced_precision_reduction``, ``allow_bf16_reduced_precision_reduction``) and the
scaled-dot-product-attention kernel switches. They are stored and change nothing in ember (see ember.backends)."""
try:  # CuPy is ember's optional CUDA backend (pip install ember[gpu])
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the environment
    _cupy = None

__all__ = ["is_built", "matmul", "flash_sdp_enabled", "enable_flash_sdp", "mem_efficient_sdp_enabled",
           "enable_mem_efficient_sdp", "math_sdp_enabled", "enable_math_sdp", "cudnn_sdp_enabled",
           "enable_cudnn_sdp"]


def is_built():
    """Whether ember can run on CUDA here: CuPy is installed (a GPU may still be missing: see cuda.is_available)."""
    return _cupy is not None


class _MatmulSettings:
    """torch.backends.cuda.matmul: unknown names raise AttributeError, as in PyTorch. allow_tf32 is the float32
    matmul precision read another way ('highest' is False)."""

    _names = ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction",
              "_precision")

    def __init__(self):
        self._precision = "highest"
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self):
        return self._precision != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value):
        self._precision = "high" if value else "highest"

    def __setattr__(self, name, value):
        if name not in self._names:
            raise AttributeError(f"Unknown attribute {name}")
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        raise AttributeError(f"Unknown attribute {name}")


matmul = _MatmulSettings()
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def flash_sdp_enabled():
    return _sdp["flash"]


def enable_flash_sdp(enabled):
    _sdp["flash"] = bool(enabled)


def mem_efficient_sdp_enabled():
    return _sdp["mem_efficient"]


def enable_mem_efficient_sdp(enabled):
    _sdp["mem_efficient"] = bool(enabled)


def math_sdp_enabled():
    return _sdp["math"]


def enable_math_sdp(enabled):
    _sdp["math"] = bool(enabled)


def cudnn_sdp_enabled():
    return _sdp["cudnn"]


def enable_cudnn_sdp(enabled):
    _sdp["cudnn"] = bool(enabled)
