"""Saving and loading: the safetensors format with JSON metadata (no pickle), and atomic checkpoints.

A flat dict of tensors (a state_dict) is stored with its keys as tensor names, so the file is interchangeable with
``safetensors.torch.save_file``/``load_file``. Anything else (nested dicts, lists, numbers, strings) is described by a
JSON tree in the header's ``__metadata__["ember"]``, with tensors referenced by name. Loading reads only JSON and raw
bytes, so a file can never run code.
"""
import json
import os
import struct
import tempfile

import numpy as np

from . import dtypes as _dt
from .device import CPU, move
from .tensor import Tensor

__all__ = ["save", "load", "save_checkpoint", "load_checkpoint"]

_CODES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
          "float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64"}
_NAMES = {code: name for name, code in _CODES.items()}
_META_KEY = "ember"


def _is_flat_state_dict(obj):
    return isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _encode(obj, tensors, path):
    """The JSON tree of obj, moving tensors into `tensors` under unique names."""
    if isinstance(obj, Tensor):
        name = ".".join(path) or "tensor"
        while name in tensors:
            name += "_"
        tensors[name] = obj
        return {"__tensor__": name}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and "__tensor__" not in obj and "__items__" not in obj:
            return {k: _encode(v, tensors, path + [k]) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors, path), _encode(v, tensors, path + [str(k)])] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, _dt.dtype):
        return {"__dtype__": obj.name}
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} (supported: tensors, dicts, lists, "
                    "tuples, numbers, strings, None)")


def _decode(tree, tensors):
    if isinstance(tree, list):
        return [_decode(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        if "__items__" in tree:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in tree["__items__"]}
        if "__tuple__" in tree:
            return tuple(_decode(v, tensors) for v in tree["__tuple__"])
        if "__dtype__" in tree:
            return _dt.to_dtype(tree["__dtype__"])
        return {k: _decode(v, tensors) for k, v in tree.items()}
    return tree


def _serialise(obj, metadata=None):
    """The bytes of a safetensors file for obj."""
    tensors = {}
    meta = dict(metadata or {})
    if _is_flat_state_dict(obj):
        tensors = dict(obj)
        meta.setdefault("format", "pt")
    else:
        meta[_META_KEY] = json.dumps(_encode(obj, tensors, []))
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        arr = np.ascontiguousarray(move(t.data, CPU))
        raw = arr.tobytes()
        header[name] = {"dtype": _CODES[t.dtype.name], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the format recommends 8-byte alignment of the data
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def atomic_write(path, data):
    """Write bytes to path so that a crash leaves either the old file or the new one, never a partial file."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass


def save(obj, f, metadata=None):
    """Save tensors, state dicts or nested containers of them to a safetensors file (atomically)."""
    atomic_write(f, _serialise(obj, metadata))


def _read_header(buf, path):
    if len(buf) < 8:
        raise ValueError(f"load: {path} is not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise ValueError(f"load: {path} is not a safetensors file (header length {n} exceeds the file size)")
    try:
        return json.loads(bytes(buf[8:8 + n])), 8 + n
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"load: {path} has a corrupt safetensors header: {e}") from None


def load(f, map_location=None, weights_only=True):
    """Load what save() wrote (or any safetensors file: a dict of tensors). Never executes code from the file."""
    with open(f, "rb") as fh:
        buf = fh.read()
    header, start = _read_header(buf, f)
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        code = info["dtype"]
        if code not in _NAMES or (code == "BF16" and _dt.bfloat16 is None):
            raise ValueError(f"load: tensor {name!r} in {f} has unsupported dtype {code}")
        dt = _dt.to_dtype(_NAMES[code])
        lo, hi = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if hi - lo != count * dt.itemsize or start + hi > len(buf):
            raise ValueError(f"load: tensor {name!r} in {f} has inconsistent offsets {lo}..{hi} for shape {shape}")
        arr = np.frombuffer(buf, dtype=dt.np, count=count, offset=start + lo).reshape(shape).copy()
        if map_location is not None:
            from .device import to_device
            arr = move(arr, to_device(map_location))
        tensors[name] = Tensor._wrap(arr)
    if _META_KEY in meta:
        return _decode(json.loads(meta[_META_KEY]), tensors)
    return tensors


def save_checkpoint(path, model=None, optimizer=None, scheduler=None, epoch=None, **extra):
    """Atomically save model/optimizer/scheduler state, the epoch, the random state and any extra values."""
    from .ops.random import get_rng_state
    state = {"epoch": epoch, "rng_state": get_rng_state(), "extra": extra}
    if model is not None:
        state["model"] = model.state_dict()
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    save(state, path)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, restore_rng=True):
    """Load a checkpoint from save_checkpoint into the given objects; returns the whole checkpoint dict."""
    from .ops.random import set_rng_state
    state = load(path)
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng and "rng_state" in state:
        set_rng_state(state["rng_state"])
    return state
