"""torch.cuda's questions and settings, answered for ember: CUDA means CuPy (``pip install ember[gpu]``) and a GPU.

Without CuPy, ember is "not compiled with CUDA" and answers as a CPU-only PyTorch does: ``is_available()`` is False,
``device_count()`` 0, ``is_bf16_supported()`` False, the memory counters 0, ``empty_cache()``, ``manual_seed()`` and
``manual_seed_all()`` do nothing; what needs a device (``current_device()``, ``get_device_name()``,
``synchronize()``, ``mem_get_info()``...) raises AssertionError("... not compiled with CUDA enabled"). With CuPy but
no GPU those raise RuntimeError. With a GPU, each call is CuPy's: device count and properties from the CUDA runtime,
``synchronize`` waits for the device, the memory counters read CuPy's memory pool.

Random numbers: ember draws the numbers of CUDA tensors from its one default generator (``ember.manual_seed`` seeds
it, as ``torch.manual_seed`` seeds every device), so with a GPU ``cuda.manual_seed`` seeds that generator too.
``is_bf16_supported()`` is always False: CuPy has no bfloat16 arrays (use float16 on the GPU).
"""
from ..device import cuda_available, device as _device
from ..ops.random import default_generator

__all__ = [
    "is_available", "device_count", "current_device", "set_device", "device", "get_device_name",
    "get_device_capability", "get_device_properties", "is_initialized", "init", "synchronize", "empty_cache",
    "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved", "reset_peak_memory_stats",
    "mem_get_info", "manual_seed", "manual_seed_all", "seed", "seed_all", "is_bf16_supported", "get_arch_list",
    "amp",
]

try:  # CuPy is ember's optional CUDA backend (pip install ember[gpu])
    import cupy as _cupy
except Exception:  # pragma: no cover - depends on the environment
    _cupy = None

_initialized = False


def is_available():
    """True when CuPy is installed and sees at least one GPU."""
    return cuda_available()


def device_count():
    """The number of GPUs CuPy sees (0 without CuPy or a driver)."""
    if _cupy is None:
        return 0
    try:
        return _cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no driver
        return 0


def _lazy_init():
    global _initialized
    if _initialized:
        return
    if _cupy is None:
        raise AssertionError("ember not compiled with CUDA enabled: CuPy is not installed (pip install ember[gpu])")
    if device_count() == 0:
        raise RuntimeError("No CUDA GPUs are available")
    _initialized = True


def is_initialized():
    """Whether ember has used CUDA in this process (False on a machine without it)."""
    return _initialized


def init():
    """Initialise CUDA (raises on a machine without it, as torch.cuda.init)."""
    _lazy_init()


def _index(device):
    if device is None:
        return current_device()
    if isinstance(device, str):
        device = _device(device)
    if isinstance(device, _device):
        if device.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {device}")
        return current_device() if device.index is None else device.index
    return int(device)


def current_device():
    """The index of the current GPU."""
    _lazy_init()
    return _cupy.cuda.runtime.getDevice()


def set_device(device):
    """Make a GPU current (a negative index does nothing, as in PyTorch)."""
    index = _index(device) if device is not None else -1
    if index >= 0:
        _lazy_init()
        _cupy.cuda.runtime.setDevice(index)


class device:
    """Context manager that makes a GPU current and restores the previous one (``with ember.cuda.device(1):``)."""

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx >= 0:
            self.prev_idx = current_device()
            if self.prev_idx != self.idx:
                set_device(self.idx)

    def __exit__(self, *exc):
        if self.idx >= 0 and self.prev_idx != self.idx:
            set_device(self.prev_idx)
        return False


def get_device_properties(device=None):
    """The GPU's properties (name, major, minor, total_memory, multi_processor_count) from the CUDA runtime."""
    _lazy_init()
    index = _index(device)
    p = _cupy.cuda.runtime.getDeviceProperties(index)
    name = p["name"].decode() if isinstance(p["name"], bytes) else p["name"]
    return _DeviceProperties(name, p["major"], p["minor"], p["totalGlobalMem"], p["multiProcessorCount"])


class _DeviceProperties:
    def __init__(self, name, major, minor, total_memory, multi_processor_count):
        self.name, self.major, self.minor = name, major, minor
        self.total_memory, self.multi_processor_count = total_memory, multi_processor_count

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1 << 20)}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    p = get_device_properties(device)
    return p.major, p.minor


def get_arch_list():
    """The GPU architectures ember's CUDA backend targets: [] without CuPy (CuPy compiles for the GPU it runs on)."""
    if _cupy is None or not is_available():
        return []
    major, minor = get_device_capability()
    return [f"sm_{major}{minor}"]


def synchronize(device=None):
    """Wait until the GPU has finished its work."""
    _lazy_init()
    with _cupy.cuda.Device(_index(device)):
        _cupy.cuda.runtime.deviceSynchronize()


def is_bf16_supported(including_emulation=True):
    """False: ember's CUDA arrays are CuPy's, which have no bfloat16 (without a GPU it is False in PyTorch too)."""
    return False


# --- memory: CuPy's memory pool ------------------------------------------------------------------------------------

def _pool_bytes(device, what):
    if _cupy is None or not is_available():
        return 0
    with _cupy.cuda.Device(_index(device)):
        pool = _cupy.get_default_memory_pool()
        return pool.used_bytes() if what == "used" else pool.total_bytes()


def empty_cache():
    """Give the GPU memory CuPy's pools keep for reuse back to the driver (nothing to do without a GPU)."""
    if _cupy is not None and is_available():
        _cupy.get_default_memory_pool().free_all_blocks()
        _cupy.get_default_pinned_memory_pool().free_all_blocks()


def memory_allocated(device=None):
    """Bytes of GPU memory held by tensors (CuPy's pool's used bytes); 0 without a GPU."""
    return _pool_bytes(device, "used")


def memory_reserved(device=None):
    """Bytes of GPU memory CuPy's pool holds (in use or cached); 0 without a GPU."""
    return _pool_bytes(device, "total")


def max_memory_allocated(device=None):
    """CuPy counts no peak: the pool's total bytes (which only grow until empty_cache) bound it from above; 0
    without a GPU."""
    return _pool_bytes(device, "total")


def max_memory_reserved(device=None):
    return _pool_bytes(device, "total")


def reset_peak_memory_stats(device=None):
    """Nothing to reset: CuPy keeps no peak counters (see max_memory_allocated)."""


def mem_get_info(device=None):
    """(free, total) bytes of the GPU, from the CUDA runtime."""
    _lazy_init()
    with _cupy.cuda.Device(_index(device)):
        return _cupy.cuda.runtime.memGetInfo()


# --- random numbers ------------------------------------------------------------------------------------------------

def manual_seed(seed):
    """Seed the numbers of CUDA tensors: ember's default generator, which draws them, when there is a GPU;
    nothing otherwise (as PyTorch on a machine without CUDA)."""
    if is_available():
        default_generator.manual_seed(int(seed))


def manual_seed_all(seed):
    """The same as manual_seed: ember has one generator for every GPU."""
    manual_seed(seed)


def seed():
    """Seed the CUDA numbers from the OS's entropy (the default generator, when there is a GPU)."""
    if is_available():
        default_generator.seed()


def seed_all():
    seed()


def initial_seed():
    _lazy_init()
    return default_generator.initial_seed()


def get_rng_state(device="cuda"):
    _lazy_init()
    return default_generator.get_state()


def set_rng_state(new_state, device="cuda"):
    _lazy_init()
    default_generator.set_state(new_state)


from . import amp  # noqa: E402,F401  (ember.cuda.amp, the deprecated aliases of ember.amp)
