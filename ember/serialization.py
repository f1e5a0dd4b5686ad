"""Saving and loading as PyTorch does (``save``/``load`` with ``weights_only``, ``map_location``, ``mmap``, an allowlist
of safe globals), in the safetensors format, with a ``safe_open`` reader that loads one tensor at a time.

Every file ``save`` writes is a safetensors file (an 8-byte header length, a JSON header, the tensors' bytes):

- a dict of tensors with string keys (a state_dict): the tensors under their keys and nothing else, so the file is
  interchangeable with ``safetensors.torch.save_file``/``load_file``;
- tensors in containers with numbers, strings, None, bools, dtypes and devices (an optimizer state dict, a training
  checkpoint): the tensors under their dotted paths and the container as a JSON tree in ``__metadata__["ember"]``
  that names them. Loading it reads JSON and raw bytes only;
- anything else (a whole ``nn.Module``, an instance of your own class): a pickle, base64 in
  ``__metadata__["ember.pickle"]``, whose tensors are references to the file's tensors. Loading it calls the
  constructors the pickle names, so ``load`` refuses it by default and names them: pass ``weights_only=False`` for a
  file you trust, or allow exactly those with ``add_safe_globals``/``safe_globals``. The restricted unpickler (after
  PyTorch's ``torch/_weights_only_unpickler.py``) then builds nothing outside the allowlist.

Tensors not on the CPU have their device in ``__metadata__["ember.devices"]``. Reading checks a file as the
safetensors library does before trusting any of it (the header length against the file size first, then UTF-8,
strict JSON, dtypes, shapes and offsets that tile the data exactly) and raises InvalidCheckpointError naming the
problem; tensors are read one at a time, or memory-mapped with ``mmap=True``.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import os
import pickle
import struct
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

import numpy as np

from . import dtypes as _dt
from ._safetensors import CODES, File, InvalidCheckpointError, atomic_write, invalid, is_unicode, safe_open, write
from .device import CPU, cuda_available, device, to_device
from .nn.module import Module
from .nn.parameter import Buffer, Parameter
from .ops.sparse import sparse_coo_tensor
from .tensor import Size, Tensor, from_numpy
from .types import Device, FileLike

__all__ = [
    "save", "load", "safe_open", "InvalidCheckpointError", "add_safe_globals", "get_safe_globals",
    "clear_safe_globals", "safe_globals", "get_unsafe_globals_in_checkpoint", "atomic_write",
]

# load's map_location: a device for every tensor, {saved location: new location}, or a function
# (tensor, saved location) -> the tensor placed (None: where it was saved)
MapLocation: TypeAlias = Device | dict[str, str] | Callable[[Tensor, str], Tensor | None]

_TREE, _PICKLE, _DEVICES = "ember", "ember.pickle", "ember.devices"
_KINDS = ("tensor", "parameter", "buffer", "ndarray")


# --- the allowlist ----------------------------------------------------------------------------------------------
_safe: set[Any] = set()
_BLOCKED_MODULES = ("sys", "os", "posix", "nt", "subprocess")  # never allowed, even when listed


def add_safe_globals(safe_globals: Iterable[Callable[..., Any] | tuple[Callable[..., Any], str]]) -> None:
    """Allow weights-only loading to build these classes and call these functions (or ``(obj, "module.name")``
    pairs, for an object saved under another name), as ``torch.serialization.add_safe_globals``."""
    for g in safe_globals:
        _global_name(g)  # checks the entry
    _safe.update(safe_globals)


def get_safe_globals() -> list[Callable[..., Any] | tuple[Callable[..., Any], str]]:
    """The list of globals added with add_safe_globals (or safe_globals, while inside it)."""
    return list(_safe)


def clear_safe_globals() -> None:
    """Forget every global added with add_safe_globals."""
    _safe.clear()


class safe_globals:
    """Context manager that allows these globals for weights-only loading inside the ``with`` block only."""

    def __init__(self, safe_globals: Iterable[Callable[..., Any] | tuple[Callable[..., Any], str]]) -> None:
        self.safe_globals = list(safe_globals)

    def __enter__(self) -> None:
        self._added = set(self.safe_globals) - _safe
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc: object) -> None:
        _safe.difference_update(self._added)


def _global_name(g):
    if isinstance(g, tuple):
        if len(g) != 2 or not isinstance(g[1], str):
            raise TypeError(f"add_safe_globals: expected an object or an (object, 'module.name') pair, got {g!r}")
        return g[1]
    name = getattr(g, "__qualname__", None)
    if name is None or getattr(g, "__module__", None) is None:
        raise TypeError(f"add_safe_globals: {g!r} is not a class or function (it has no module and name)")
    return f"{g.__module__}.{name}"


def _allowed_globals():
    """Every global weights-only loading may use: plain containers and ember's dtypes, devices and sizes, then the
    user's allowlist."""
    allowed = {"collections.OrderedDict": OrderedDict, "collections.Counter": Counter, "builtins.set": set,
               "builtins.frozenset": frozenset, "builtins.complex": complex, "builtins.slice": slice,
               "ember.device.device": device, "ember.tensor.Size": Size}
    rebuild_dtype = _dt.float32.__reduce__()[0]
    allowed[f"{rebuild_dtype.__module__}.{rebuild_dtype.__qualname__}"] = rebuild_dtype
    for g in _safe:
        allowed[_global_name(g)] = g[0] if isinstance(g, tuple) else g
    return allowed


# --- the restricted unpickler ------------------------------------------------------------------------------------
class _Op:
    pass


for _name in ("PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "NONE", "NEWTRUE", "NEWFALSE", "BININT",
              "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
              "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "EMPTY_LIST", "APPEND", "APPENDS", "LIST",
              "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
              "EMPTY_SET", "ADDITEMS", "FROZENSET", "GLOBAL", "STACK_GLOBAL", "REDUCE", "NEWOBJ", "NEWOBJ_EX",
              "BUILD", "BINPERSID", "BINGET", "LONG_BINGET", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
    setattr(_Op, _name, getattr(pickle, _name)[0])
_NUMBERS = {_Op.BININT: ("<i", 4), _Op.BININT1: ("<B", 1), _Op.BININT2: ("<H", 2), _Op.BINFLOAT: (">d", 8)}
_SIZED = {_Op.BINUNICODE: (4, str), _Op.SHORT_BINUNICODE: (1, str), _Op.BINUNICODE8: (8, str),
          _Op.BINBYTES: (4, bytes), _Op.SHORT_BINBYTES: (1, bytes), _Op.BINBYTES8: (8, bytes),
          _Op.BYTEARRAY8: (8, bytearray), _Op.LONG1: (1, int), _Op.LONG4: (4, int)}


class _Refused:
    """What a global is on the dry run (which calls nothing): its name."""

    def __init__(self, name):
        self.name = name


class _Unpickler:
    """A pickle reader that builds only what the allowlist names, after PyTorch's weights-only unpickler: globals
    come from the allowlist (never imported by name), NEWOBJ/REDUCE/BUILD only on allowed classes and functions,
    APPEND/SETITEM/ADDITEMS only on real lists, dicts and sets, persistent ids only for the file's tensors.
    With dry=True it calls nothing and lists the globals that are not allowed."""

    def __init__(self, data, persistent_load, dry=False):
        self.data, self.pos, self.persistent_load, self.dry = data, 0, persistent_load, dry
        self.allowed = _allowed_globals()
        self.allowed_ids = {id(v) for v in self.allowed.values()}
        self.refused = []

    def _read(self, n):
        end = self.pos + n
        if end > len(self.data):
            raise pickle.UnpicklingError("the pickle is truncated")
        chunk, self.pos = self.data[self.pos:end], end
        return chunk

    def _global(self, module, name):
        full = f"{module}.{name}"
        if module.split(".")[0] in _BLOCKED_MODULES:
            raise pickle.UnpicklingError(f"weights-only loading never allows GLOBAL {full} (module {module} is "
                                         "blocked)")
        if full in self.allowed:
            return self.allowed[full]
        if self.dry:
            self.refused.append(full)
            return _Refused(full)
        raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {full} is not an allowed global")

    def _check(self, obj, what):
        if not self.dry and id(obj) not in self.allowed_ids:
            raise pickle.UnpicklingError(f"{what} {obj!r}, which is not allowed (only allowlisted classes and "
                                         "functions)")

    def load(self):
        stack, metastack, memo = [], [], {}

        def pop_mark():
            nonlocal stack
            items, stack = stack, metastack.pop()
            return items

        def target(types, what):
            if not self.dry and type(stack[-1]) not in types:
                raise pickle.UnpicklingError(f"{what} on a {type(stack[-1]).__name__} is not allowed")
            return None if self.dry and type(stack[-1]) not in types else stack[-1]

        while True:
            op = self._read(1)[0]
            if op in _NUMBERS:
                fmt, n = _NUMBERS[op]
                stack.append(struct.unpack(fmt, self._read(n))[0])
            elif op in _SIZED:
                width, kind = _SIZED[op]
                n = int.from_bytes(self._read(width), "little")
                raw = self._read(n)
                if kind is str:
                    stack.append(raw.decode("utf-8", "surrogatepass"))
                elif kind is int:
                    stack.append(pickle.decode_long(raw))
                else:
                    stack.append(kind(raw))
            elif op == _Op.PROTO:
                self._read(1)
            elif op == _Op.FRAME:
                self._read(8)
            elif op == _Op.STOP:
                return stack.pop()
            elif op == _Op.MARK:
                metastack.append(stack)
                stack = []
            elif op == _Op.POP:
                stack.pop()
            elif op == _Op.POP_MARK:
                pop_mark()
            elif op == _Op.DUP:
                stack.append(stack[-1])
            elif op in (_Op.NONE, _Op.NEWTRUE, _Op.NEWFALSE):
                stack.append({_Op.NONE: None, _Op.NEWTRUE: True, _Op.NEWFALSE: False}[op])
            elif op in (_Op.EMPTY_LIST, _Op.EMPTY_DICT, _Op.EMPTY_SET, _Op.EMPTY_TUPLE):
                stack.append({_Op.EMPTY_LIST: list, _Op.EMPTY_DICT: dict, _Op.EMPTY_SET: set,
                              _Op.EMPTY_TUPLE: tuple}[op]())
            elif op in (_Op.LIST, _Op.TUPLE, _Op.FROZENSET):
                items = pop_mark()
                stack.append({_Op.LIST: list, _Op.TUPLE: tuple, _Op.FROZENSET: frozenset}[op](items))
            elif op == _Op.DICT:
                items = pop_mark()
                stack.append(dict(zip(items[::2], items[1::2])))
            elif op in (_Op.TUPLE1, _Op.TUPLE2, _Op.TUPLE3):
                n = {_Op.TUPLE1: 1, _Op.TUPLE2: 2, _Op.TUPLE3: 3}[op]
                if len(stack) < n:
                    raise pickle.UnpicklingError("the pickle's stack is too short")
                stack[-n:] = [tuple(stack[-n:])]
            elif op in (_Op.APPEND, _Op.APPENDS):
                items = [stack.pop()] if op == _Op.APPEND else pop_mark()
                lst = target((list,), "APPEND")
                if lst is not None:
                    lst.extend(items)
            elif op in (_Op.SETITEM, _Op.SETITEMS):
                items = stack[-2:] if op == _Op.SETITEM else pop_mark()
                if op == _Op.SETITEM:
                    del stack[-2:]
                d = target((dict, OrderedDict, Counter), "SETITEM")
                if d is not None:
                    for k, v in zip(items[::2], items[1::2]):
                        d[k] = v
            elif op == _Op.ADDITEMS:
                items = pop_mark()
                s = target((set,), "ADDITEMS")
                if s is not None:
                    s.update(items)
            elif op == _Op.GLOBAL:
                module = self._line()
                stack.append(self._global(module, self._line()))
            elif op == _Op.STACK_GLOBAL:
                name, module = stack.pop(), stack.pop()
                if type(module) is not str or type(name) is not str:
                    raise pickle.UnpicklingError("STACK_GLOBAL needs two strings")
                stack.append(self._global(module, name))
            elif op == _Op.REDUCE:
                args, func = stack.pop(), stack[-1]
                self._check(func, "REDUCE calls")
                if type(args) is not tuple:
                    raise pickle.UnpicklingError("REDUCE needs a tuple of arguments")
                stack[-1] = _Refused(None) if self.dry else func(*args)
            elif op in (_Op.NEWOBJ, _Op.NEWOBJ_EX):
                kwargs = stack.pop() if op == _Op.NEWOBJ_EX else {}
                args, cls = stack.pop(), stack.pop()
                self._check(cls, "NEWOBJ builds")
                if type(args) is not tuple or type(kwargs) is not dict:
                    raise pickle.UnpicklingError("NEWOBJ needs a tuple of arguments")
                if self.dry:
                    stack.append(_Refused(None))
                elif not isinstance(cls, type):
                    raise pickle.UnpicklingError(f"NEWOBJ needs a class, got {cls!r}")
                else:
                    stack.append(cls.__new__(cls, *args, **kwargs))
            elif op == _Op.BUILD:
                state, inst = stack.pop(), stack[-1]
                if not self.dry:
                    self._build(inst, state)
            elif op == _Op.BINPERSID:
                pid = stack.pop()
                stack.append(None if self.dry else self.persistent_load(pid))
            elif op in (_Op.BINGET, _Op.LONG_BINGET):
                i = self._read(1)[0] if op == _Op.BINGET else struct.unpack("<I", self._read(4))[0]
                if i not in memo:
                    raise pickle.UnpicklingError(f"the pickle refers to memo entry {i}, which it never stored")
                stack.append(memo[i])
            elif op in (_Op.BINPUT, _Op.LONG_BINPUT):
                i = self._read(1)[0] if op == _Op.BINPUT else struct.unpack("<I", self._read(4))[0]
                memo[i] = stack[-1]
            elif op == _Op.MEMOIZE:
                memo[len(memo)] = stack[-1]
            else:
                raise pickle.UnpicklingError(f"unsupported pickle opcode {bytes([op])!r}")

    def _line(self):
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise pickle.UnpicklingError("the pickle is truncated")
        line, self.pos = self.data[self.pos:end], end + 1
        return line.decode("utf-8")

    def _build(self, inst, state):
        if type(inst) not in (OrderedDict, Counter) and id(type(inst)) not in self.allowed_ids:
            raise pickle.UnpicklingError(f"BUILD sets the state of a {type(inst).__qualname__}, which is not "
                                         "allowed (only allowlisted classes)")
        if hasattr(inst, "__setstate__"):
            inst.__setstate__(state)
            return
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        if state:
            inst.__dict__.update(state)
        for k, v in (slots or {}).items():
            setattr(inst, k, v)


def _unpickle_weights_only(data, persistent_load, where):
    """The object of a pickle, built by the restricted unpickler once a dry run has found every global it needs
    allowed (so that a refusal names all of them at once)."""
    try:
        dry = _Unpickler(data, persistent_load, dry=True)
        dry.load()
        if not dry.refused:
            return _Unpickler(data, persistent_load).load()
    except InvalidCheckpointError:
        raise
    except pickle.UnpicklingError as e:
        raise pickle.UnpicklingError(f"Weights only load failed: {where}: {e}") from None
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise pickle.UnpicklingError(f"Weights only load failed: {where}: its pickle is malformed "
                                     f"({type(e).__name__}: {e})") from None
    raise pickle.UnpicklingError(_refusal_message(where, dry.refused))


def _refusal_message(where, names):
    names = list(dict.fromkeys(names))
    short = ", ".join(n[len("builtins."):] if n.startswith("builtins.") else n for n in names)
    listed = ", ".join(n.rsplit(".", 1)[-1] for n in names)
    return (f"Weights only load failed: {where} holds a pickled object (ember.save pickles what is not tensors and "
            f"containers of them, such as a whole nn.Module), and loading it needs these globals, which are not "
            f"allowed by default: {short}.\n"
            f"(1) If you trust the file, ember.load(..., weights_only=False) loads it. Only do this with a file from "
            f"a trusted source: unpickling can execute arbitrary code.\n"
            f"(2) To allow exactly these classes and functions, use ember.serialization.add_safe_globals([{listed}]) "
            f"or the ember.serialization.safe_globals([{listed}]) context manager.\n"
            f"(Saving model.state_dict() instead of the model gives a file that loads without either.)")


# --- writing -------------------------------------------------------------------------------------------------
class _NeedsPickle(Exception):
    pass


class _Tensors:
    """The tensors (and NumPy arrays) one file stores, each object once under one name."""

    def __init__(self):
        self.entries, self.by_id, self.devices = {}, {}, {}

    def add(self, obj, hint):
        """The (name, kind, flag) reference of obj, storing it the first time."""
        if id(obj) in self.by_id:
            return self.by_id[id(obj)]
        name = hint or "tensor"
        if not is_unicode(name):
            name = "tensor"
        while name in self.entries or name == "__metadata__":
            name += "_"
        if isinstance(obj, np.ndarray):
            ref = (name, "ndarray", False)
        else:
            kind = "parameter" if isinstance(obj, Parameter) else "buffer" if isinstance(obj, Buffer) else "tensor"
            ref = (name, kind, obj.persistent if kind == "buffer" else bool(obj.requires_grad))
            if obj.device != CPU:
                self.devices[name] = str(obj.device)
        self.entries[name] = obj
        self.by_id[id(obj)] = ref
        return ref


def _storable_array(obj):
    if not isinstance(obj, np.ndarray):
        return False
    try:
        return _dt.from_numpy_dtype(obj.dtype).name in CODES
    except TypeError:
        return False


_MARKERS = {"__tensor__", "__sparse__", "__items__", "__tuple__", "__dtype__", "__device__"}


def _encode(obj, tensors, path):
    """The JSON tree of obj with its tensors moved into `tensors`; _NeedsPickle for what JSON cannot describe."""
    if isinstance(obj, Tensor) and obj.is_sparse:  # its indices and values, rebuilt (and checked) on load
        data = obj._data
        return {"__sparse__": {"indices": _encode(data.indices, tensors, path + ["indices"]),
                               "values": _encode(data.values, tensors, path + ["values"]), "size": list(data.shape)}}
    if isinstance(obj, Tensor) or _storable_array(obj):
        name, kind, flag = tensors.add(obj, ".".join(path))
        ref = {"__tensor__": name}
        if kind != "tensor":
            ref["kind"] = kind
        if kind == "buffer":
            ref["persistent"] = flag
        elif flag:
            ref["requires_grad"] = True
        return ref
    t = type(obj)
    if t in (dict, OrderedDict):
        if all(type(k) is str for k in obj) and not _MARKERS.intersection(obj):
            return {k: _encode(v, tensors, path + [k]) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors, path), _encode(v, tensors, path + [str(k)])]
                              for k, v in obj.items()]}
    if t in (tuple, Size):
        return {"__tuple__": [_encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]}
    if t is list:
        return [_encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]
    if obj is None or t in (bool, int, float, str):
        return obj
    if isinstance(obj, (np.bool_, np.integer, np.floating)):
        return obj.item()
    if t is _dt.dtype:
        return {"__dtype__": obj.name}
    if t is device:
        return {"__device__": str(obj)}
    raise _NeedsPickle


def _name_hints(obj, tensors, path):
    """Give the tensors of a pickled object readable names (a module's state_dict keys) before pickling it."""
    if isinstance(obj, Module):
        for k, v in [*obj.named_parameters(), *obj.named_buffers()]:
            tensors.add(v, ".".join(path + [k]))
    elif type(obj) in (dict, OrderedDict, list, tuple) and len(path) < 8:
        for k, v in (obj.items() if isinstance(obj, dict) else enumerate(obj)):
            if isinstance(v, Tensor):
                tensors.add(v, ".".join(path + [str(k)]))
            else:
                _name_hints(v, tensors, path + [str(k)])


def _pickle(obj, tensors, pickle_module, protocol):
    _name_hints(obj, tensors, [])
    buf = io.BytesIO()
    pickler = (pickle_module or pickle).Pickler(buf, protocol)
    count = iter(range(1 << 62))

    def persistent_id(x):
        if isinstance(x, Tensor) or _storable_array(x):
            return ("ember",) + tensors.add(x, f"t{next(count)}")
        return None

    pickler.persistent_id = persistent_id
    try:
        pickler.dump(obj)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise TypeError(f"save: cannot store this {type(obj).__name__}: it is not made of tensors and containers, "
                        f"and pickling it failed ({e}). Save its state_dict() instead") from e
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --- save and load ---------------------------------------------------------------------------------------------
def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: int | None = None, *,
         metadata: Mapping[str, object] | None = None, _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False) -> None:
    """Save an object (tensors, a state dict, a checkpoint, any picklable object) to a file.

    Tensors, state dicts and containers of them with numbers, strings, None, bools, dtypes and devices are stored
    so that ``load`` reads them without running code; anything else is pickled and needs
    ``load(..., weights_only=False)`` or an allowlist (see ``ember.serialization``). The file is a safetensors
    file; a path is written atomically (a temporary file renamed into place).

    Args:
        obj (object): what to save.
        f (str or os.PathLike or file): a path, or a binary file object open for writing.
        pickle_module (module, optional): the module whose ``Pickler`` pickles objects that need it; ``pickle``
            when None. Default: None.
        pickle_protocol (int, optional): the pickle protocol, raised to at least 4. Default: None.
        metadata (Mapping[str, object], optional): extra entries for the header's ``__metadata__`` (stored as
            strings). Default: None.
        _use_new_zipfile_serialization (bool): accepted for PyTorch's programs; ignored. Default: True.
        _disable_byteorder_record (bool): accepted for PyTorch's programs; ignored. Default: False.

    PyTorch:
        ``torch.save``; same interface, but the file is safetensors, not PyTorch's zip archive: ``torch.load``
        cannot read it (a dict of tensors loads with ``safetensors.torch.load_file``). ``metadata`` is ember's own.

    Example:
        >>> ember.save({"w": ember.arange(3)}, "weights.pt")
        >>> ember.load("weights.pt")["w"]
        tensor([0, 1, 2])
    """
    tensors = _Tensors()
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta.setdefault("format", "pt")
    if {_TREE, _PICKLE, _DEVICES} & set(meta):
        raise ValueError(f"save: the metadata keys {_TREE!r}, {_PICKLE!r} and {_DEVICES!r} are ember's own")
    flat = (type(obj) in (dict, OrderedDict) and obj and "__metadata__" not in obj
            and all(type(k) is str and is_unicode(k) and isinstance(v, Tensor) for k, v in obj.items()))
    if flat:
        for k, v in obj.items():
            tensors.entries[k] = v
            if v.device != CPU:
                tensors.devices[k] = str(v.device)
    else:
        try:
            meta[_TREE] = json.dumps(_encode(obj, tensors, []))
        except (_NeedsPickle, RecursionError):
            tensors = _Tensors()
            meta.pop(_TREE, None)
            protocol = min(max(pickle_protocol or 4, 4), pickle.HIGHEST_PROTOCOL)
            meta[_PICKLE] = _pickle(obj, tensors, pickle_module, protocol)
    if tensors.devices:
        meta[_DEVICES] = json.dumps(tensors.devices)
    if isinstance(f, (str, bytes, os.PathLike)):
        atomic_write(f, lambda fh: write(fh, tensors.entries, meta))
    elif hasattr(f, "write"):
        write(f, tensors.entries, meta)
    else:
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")


def load(f: FileLike, map_location: MapLocation = None, pickle_module: Any = None, *, weights_only: bool | None = None,
         mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Load what ``save`` wrote, or any safetensors file, from a path or a binary file object.

    ``weights_only`` (the default) never runs code from the file: a pickled object loads only with the classes
    and functions allowed by ``add_safe_globals``/``safe_globals``, otherwise pickle.UnpicklingError names the ones
    it needs. A file that is not valid raises InvalidCheckpointError.

    Args:
        f (str or os.PathLike or file): a path, or a binary file object open for reading.
        map_location (device, str, dict or callable, optional): where tensors go: None (where each was saved), a
            device or a string, a dict from saved to new locations, or a function ``(tensor, saved_location) ->
            tensor``. Default: None.
        pickle_module (module, optional): the module whose ``Unpickler`` reads pickled objects (only with
            ``weights_only=False``). Default: None.
        weights_only (bool, optional): whether to refuse pickled objects outside the allowlist; True when None,
            unless a pickle_module is given. Default: None.
        mmap (bool, optional): whether to map the file's tensors instead of reading them (a path only).
            Default: None.
        **pickle_load_args: keyword arguments for the Unpickler (with ``weights_only=False``).

    Returns:
        object: the saved object, its tensors rebuilt (as Parameters and Buffers where they were).

    PyTorch:
        ``torch.load``; same interface and defaults, but it reads ember's (safetensors) files, not PyTorch's zip
        archives, and a ``map_location`` function receives tensors rather than storages.

    Example:
        >>> ember.save(nn.Linear(2, 1).state_dict(), "linear.pt")
        >>> sorted(ember.load("linear.pt"))
        ['bias', 'weight']
    """
    if weights_only is None:
        weights_only = pickle_module is None
    elif weights_only and pickle_module is not None:
        raise RuntimeError("load: a pickle_module cannot be used with weights_only=True")
    file = File(f, use_mmap=bool(mmap))
    try:
        return _load(file, map_location, pickle_module, weights_only, pickle_load_args)
    finally:
        file.close()


def _load(file, map_location, pickle_module, weights_only, pickle_load_args):
    where, meta = file.where, file.meta or {}
    devices = _json_meta(meta, _DEVICES, where, {})
    try:
        if type(devices) is not dict or not all(type(d) is str for d in devices.values()):
            raise TypeError
        devices = {name: str(to_device(d)) for name, d in devices.items()}
    except (RuntimeError, ValueError, TypeError):
        raise invalid(where, f"its {_DEVICES} metadata must map tensor names to device names") from None
    built = {}

    def tensor(name, kind="tensor", flag=False):
        if type(name) is not str or name not in file.tensors or kind not in _KINDS or type(flag) is not bool:
            raise invalid(where, f"it refers to a tensor {name!r} of kind {kind!r} that it does not hold")
        if (name, kind, flag) not in built:
            built[name, kind, flag] = _build_tensor(file, name, kind, flag, devices.get(name, "cpu"), map_location)
        return built[name, kind, flag]

    if _PICKLE in meta:
        try:
            data = base64.b64decode(meta[_PICKLE], validate=True)
        except (binascii.Error, ValueError) as e:
            raise invalid(where, f"its pickle is not base64 ({e})") from None

        def persistent_load(pid):
            if type(pid) is not tuple or len(pid) != 4 or pid[0] != "ember":
                raise pickle.UnpicklingError(f"persistent id {pid!r} is not a reference to one of the file's tensors")
            return tensor(*pid[1:])

        if weights_only:
            return _unpickle_weights_only(data, persistent_load, where)
        unpickler = (pickle_module or pickle).Unpickler(io.BytesIO(data), **pickle_load_args)
        unpickler.persistent_load = persistent_load
        return unpickler.load()
    if _TREE in meta:
        tree = _json_meta(meta, _TREE, where, None)
        try:
            return _decode(tree, tensor, where)
        except RecursionError:
            raise invalid(where, "its ember metadata is nested too deeply") from None
    return {name: tensor(name) for name in file.tensors}


def _json_meta(meta, key, where, default):
    if key not in meta:
        return default
    try:
        return json.loads(meta[key])
    except (ValueError, RecursionError) as e:
        raise invalid(where, f"its {key} metadata is not valid JSON ({e})") from None


def _build_tensor(file, name, kind, flag, saved, map_location):
    arr = file.array(name)
    if kind == "ndarray":
        return arr
    t = _place(from_numpy(arr), saved, map_location)
    try:
        if kind == "parameter":
            return Parameter(t, requires_grad=flag)
        if kind == "buffer":
            return Buffer(t, persistent=flag)
        return t.requires_grad_() if flag else t
    except RuntimeError as e:
        raise invalid(file.where, f"tensor {name!r}: {e}") from None


def _place(t, saved, map_location):
    """t (on the CPU) where map_location puts a tensor saved on `saved`."""
    target = saved
    if isinstance(map_location, dict):
        wanted = {str(to_device(k)): v for k, v in map_location.items()}
        target = wanted.get(str(to_device(saved)), saved)
    elif callable(map_location):
        out = map_location(t, saved)
        if out is not None:
            if not isinstance(out, Tensor):
                raise TypeError(f"load: map_location returned a {type(out).__name__}, not a tensor")
            return out
    elif map_location is not None:
        target = map_location
    dev = to_device(target)
    if dev.type == "cuda" and not cuda_available():
        raise RuntimeError("Attempting to deserialize object on a CUDA device but CUDA is not available to ember. "
                           "If you are running on a CPU-only machine, please use ember.load with "
                           "map_location='cpu' to map your tensors to the CPU.")
    return t if dev == CPU else t.to(dev)


def _decode(tree, tensor, where):
    if isinstance(tree, list):
        return [_decode(v, tensor, where) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "__tensor__" in tree:
        extra = set(tree) - {"__tensor__", "kind", "requires_grad", "persistent"}
        if extra:
            raise invalid(where, f"a tensor reference in its ember metadata has unknown fields {sorted(extra)}")
        kind = tree.get("kind", "tensor")
        flag = tree.get("persistent", True) if kind == "buffer" else tree.get("requires_grad", False)
        return tensor(tree["__tensor__"], kind, flag)
    if "__sparse__" in tree:
        fields = tree["__sparse__"]
        if type(fields) is not dict or set(fields) != {"indices", "values", "size"}:
            raise invalid(where, "__sparse__ in its ember metadata must hold indices, values and size")
        parts = [_decode(fields[k], tensor, where) for k in ("indices", "values")]
        try:
            return sparse_coo_tensor(*[p if isinstance(p, Tensor) else from_numpy(p) for p in parts],
                                     [int(n) for n in fields["size"]])
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            raise invalid(where, f"a sparse tensor in its ember metadata is not valid ({e})") from None
    if "__items__" in tree:
        items = tree["__items__"]
        if type(items) is not list or any(type(p) is not list or len(p) != 2 for p in items):
            raise invalid(where, "__items__ in its ember metadata must be a list of [key, value] pairs")
        try:
            return {_decode(k, tensor, where): _decode(v, tensor, where) for k, v in items}
        except TypeError as e:  # an unhashable key
            raise invalid(where, f"a key in its ember metadata is not usable ({e})") from None
    if "__tuple__" in tree:
        if type(tree["__tuple__"]) is not list:
            raise invalid(where, "__tuple__ in its ember metadata must be a list")
        return tuple(_decode(v, tensor, where) for v in tree["__tuple__"])
    if "__dtype__" in tree:
        try:
            return _dt.to_dtype(str(tree["__dtype__"]))
        except TypeError as e:
            raise invalid(where, str(e)) from None
    if "__device__" in tree:
        try:
            return to_device(str(tree["__device__"]))
        except (RuntimeError, ValueError) as e:
            raise invalid(where, f"bad device in its ember metadata ({e})") from None
    return {k: _decode(v, tensor, where) for k, v in tree.items()}


def get_unsafe_globals_in_checkpoint(f: FileLike) -> list[str]:
    """The globals a file's pickled object needs that weights-only loading does not allow now (empty for files
    with tensors and containers only), as ``torch.serialization.get_unsafe_globals_in_checkpoint``."""
    file = File(f)
    try:
        meta = file.meta or {}
        if _PICKLE not in meta:
            return []
        try:
            data = base64.b64decode(meta[_PICKLE], validate=True)
        except (binascii.Error, ValueError) as e:
            raise invalid(file.where, f"its pickle is not base64 ({e})") from None
        dry = _Unpickler(data, None, dry=True)
        try:
            dry.load()
        except (pickle.UnpicklingError, IndexError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise pickle.UnpicklingError(f"{file.where}: its pickle is malformed ({e})") from None
        return list(dict.fromkeys(dry.refused))
    finally:
        file.close()
