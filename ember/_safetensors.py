"""The safetensors file format: a file checked as the safetensors library checks it (the header length against the
file size before anything else, then UTF-8, strict JSON, dtypes, shapes, and offsets that tile the data exactly),
read one tensor at a time (``safe_open``) or memory-mapped, written, and written atomically with the temp files of
killed writers cleaned up. ember.serialization builds ``save``/``load`` on it.
"""
from __future__ import annotations

import contextlib
import io
import json
import mmap as _mmap
import os
import re
import socket
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from . import dtypes as _dt
from .device import CPU, to_device
from .tensor import Tensor, from_numpy
from .types import Device, FileLike

__all__ = ["InvalidCheckpointError", "File", "safe_open", "write", "atomic_write", "CODES", "MAX_HEADER"]

# safetensors dtype codes and their sizes in bits; the code of each ember dtype
_BITS = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
         "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32,
         "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}
CODES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
         "float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64"}
_DTYPES = {code: getattr(_dt, name) for name, code in CODES.items() if getattr(_dt, name) is not None}
MAX_HEADER = 100_000_000  # the safetensors library's limit
_USIZE = 2 ** 64
_MAX_DEPTH = 127  # serde_json's recursion limit, as the safetensors library parses headers


class InvalidCheckpointError(ValueError, RuntimeError):
    """A file that is not a valid safetensors/ember file (raised before anything from it is used)."""


def invalid(where, reason):
    """The InvalidCheckpointError for the file `where`, saying what is wrong with it."""
    return InvalidCheckpointError(f"load: {where} is not a valid checkpoint: {reason}")


# --- reading ---------------------------------------------------------------------------------------------------
def _strict_pairs(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _check_strings_and_depth(tree):
    """What Python's json accepts but the safetensors library (serde_json) refuses: lone surrogates (``"\\ud800"``,
    valid Python strings but not Unicode) and containers nested more than _MAX_DEPTH deep."""
    todo = [(tree, 1)]
    while todo:
        x, depth = todo.pop()
        if isinstance(x, (dict, list)):
            if depth > _MAX_DEPTH:
                raise ValueError(f"it is nested more than {_MAX_DEPTH} levels deep")
            todo.extend((v, depth + 1) for v in (x.values() if isinstance(x, dict) else x))
            if isinstance(x, dict):
                todo.extend((k, depth) for k in x)
        elif isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"the string {x!r} is not valid Unicode (a lone surrogate)") from None


def _usize_list(value, what, length=None):
    if type(value) is not list or (length is not None and len(value) != length):
        raise ValueError(f"{what} must be a list of {length or 'any number of'} non-negative integers, got "
                         f"{value!r}"[:300])
    for v in value:
        if type(v) is not int or not 0 <= v < _USIZE:
            raise ValueError(f"{what} must hold non-negative integers, got {v!r}")
    return value


def _parse_header(raw, where):
    """{name: (dtype code, shape, begin, end)} in header order, the metadata (or None), and the data's length."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise invalid(where, f"its header is not UTF-8 ({e})") from None
    try:
        header = json.loads(text, object_pairs_hook=_strict_pairs, parse_constant=_no_constant)
        _check_strings_and_depth(header)
    except RecursionError:
        raise invalid(where, f"its header is not valid JSON: it is nested more than {_MAX_DEPTH} levels deep") from None
    except ValueError as e:
        raise invalid(where, f"its header is not valid JSON: {e}") from None
    if type(header) is not dict:
        raise invalid(where, f"its header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (type(metadata) is not dict or any(type(v) is not str for v in metadata.values())):
        raise invalid(where, "its __metadata__ must map strings to strings")
    tensors = {}
    for name, info in header.items():
        try:
            if type(info) is not dict:
                raise ValueError(f"its entry must be an object with dtype, shape and data_offsets, got {info!r}"[:300])
            for field in ("dtype", "shape", "data_offsets"):
                if field not in info:
                    raise ValueError(f"it has no {field}")
            code = info["dtype"]
            if type(code) is not str or code not in _BITS:
                raise ValueError(f"unknown dtype {code!r} (safetensors dtypes: {', '.join(_BITS)})")
            shape = tuple(_usize_list(info["shape"], "shape"))
            begin, end = _usize_list(info["data_offsets"], "data_offsets", 2)
        except ValueError as e:
            raise invalid(where, f"tensor {name!r}: {e}") from None
        tensors[name] = (code, shape, begin, end)
    size = 0
    for name, (code, shape, begin, end) in sorted(tensors.items(), key=lambda kv: kv[1][2:]):
        if begin != size or end < begin:
            problem = ("ends before it begins" if end < begin else "overlaps the tensor before it" if begin < size
                       else "leaves a gap after the tensor before it")
            raise invalid(where, f"tensor {name!r} has data_offsets [{begin}, {end}], which {problem} (the data "
                                 f"must tile the file from offset 0, so this one must begin at {size})")
        bits = int(np.prod(shape, dtype=object)) * _BITS[code]
        if bits % 8 or bits // 8 != end - begin:
            raise invalid(where, f"tensor {name!r} of dtype {code} and shape {list(shape)} needs {bits / 8:g} bytes "
                                 f"but its data_offsets [{begin}, {end}] hold {end - begin}")
        size = end
    return tensors, metadata, size


class File:
    """A safetensors file opened for reading: the header is read and checked at once (its length against the file
    size before anything else), each tensor is read when asked for (positional reads, or views of a copy-on-write
    memory map with mmap=True). A stream that cannot seek is read up to what its header declares."""

    def __init__(self, f, use_mmap=False):
        self.owned = isinstance(f, (str, bytes, os.PathLike))
        self.where = os.fsdecode(f) if self.owned else getattr(f, "name", None) or f"<{type(f).__name__}>"
        self.map = None
        if self.owned:
            self.f = self.handle = open(f, "rb", buffering=0)
            st = os.fstat(self.f.fileno())
            self.base, self.size = 0, st.st_size if stat.S_ISREG(st.st_mode) else None
        elif use_mmap:
            raise ValueError("load: mmap=True needs a file path, not a file object")
        elif not hasattr(f, "read"):
            raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
        else:
            self.f, self.handle = f, None
            seekable = getattr(f, "seekable", lambda: False)()
            self.base = f.tell() if seekable else 0
            self.size = f.seek(0, io.SEEK_END) - self.base if seekable else None
        try:
            self._open(use_mmap)
        except BaseException:
            self.close()
            raise

    def _open(self, use_mmap):
        where = self.where
        if self.size is None:  # a pipe or a device: read exactly what the header declares
            self.f = self._slurp()
            self.base, self.size = 0, len(self.f.getbuffer())
        if self.size < 8:
            raise invalid(where, f"it is {self.size} bytes long, too short for a safetensors header")
        first = self._read(0, 8)
        (n,) = struct.unpack("<Q", first)
        if n > MAX_HEADER or 8 + n > self.size:
            raise invalid(where, _bad_length(first, n, self.size))
        self.tensors, self.meta, data = _parse_header(self._read(8, n), where)
        self.start = 8 + n
        if self.start + data != self.size:
            raise invalid(where, f"its header describes {data} bytes of tensor data after the {self.start}-byte "
                                 f"header, but the file has {self.size - self.start}")
        if use_mmap and self.size:
            self.map = _mmap.mmap(self.f.fileno(), 0, access=_mmap.ACCESS_COPY)

    def _slurp(self):
        """The bytes of a stream that cannot seek, checked as they come: the header length first, then no more
        than the header declares (and one byte to see that nothing follows)."""
        first = _read_stream(self.f, 8)
        if len(first) < 8:
            raise invalid(self.where, f"it is {len(first)} bytes long, too short for a safetensors header")
        (n,) = struct.unpack("<Q", first)
        if n > MAX_HEADER:
            raise invalid(self.where, _bad_length(first, n, None))
        head = _read_stream(self.f, n)
        if len(head) < n:
            raise invalid(self.where, f"it ends inside its {n}-byte header")
        _, _, data = _parse_header(head, self.where)
        body = _read_stream(self.f, data + 1)
        return io.BytesIO(first + head + body)

    def _read(self, offset, n):
        self.f.seek(self.base + offset)
        out = _read_stream(self.f, n)
        if len(out) != n:
            raise invalid(self.where, "it was truncated while being read")
        return out

    def metadata(self):
        return None if self.meta is None else dict(self.meta)

    def array(self, name):
        """A NumPy array of the tensor's data (read now, or a view of the memory map)."""
        code, shape, begin, end = self.tensors[name]
        dt = _DTYPES.get(code)
        if dt is None:
            raise TypeError(f"load: tensor {name!r} in {self.where} has dtype {code}, which ember does not support "
                            f"(it supports {', '.join(_DTYPES)})")
        if self.map is not None:
            return np.ndarray(shape, dt.np, buffer=self.map, offset=self.start + begin)
        out = np.empty(end - begin, np.uint8)
        self.f.seek(self.base + self.start + begin)
        if _read_into(self.f, out) != out.size:
            raise invalid(self.where, "it was truncated while being read")
        return out.view(dt.np).reshape(shape)

    def close(self):
        if self.owned:
            self.handle.close()
        elif getattr(self, "size", None) is not None:
            with contextlib.suppress(OSError, ValueError):
                self.f.seek(self.base + self.size)


def _bad_length(first, n, size):
    if first[:4] == b"PK\x03\x04" or first[:1] == b"\x80":
        return ("it looks like a PyTorch file (a zip archive or a pickle, what torch.save writes). ember reads "
                "safetensors: convert it with safetensors.torch.save_file(torch.load(path), 'model.safetensors')")
    if n > MAX_HEADER:
        return f"its first 8 bytes give a header length of {n}, over safetensors' limit of {MAX_HEADER}"
    return f"its first 8 bytes give a header length of {n}, but only {size - 8} bytes follow them"


def _read_stream(f, n):
    chunks = []
    while n > 0:
        chunk = f.read(min(n, 1 << 26))
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_into(f, out):
    view, got = memoryview(out), 0
    if not hasattr(f, "readinto"):
        data = _read_stream(f, out.size)
        out[:len(data)] = np.frombuffer(data, np.uint8)
        return len(data)
    while got < out.size:
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


class safe_open:
    """Read a safetensors file one tensor at a time, as ``safetensors.safe_open``::

        with ember.serialization.safe_open("model.safetensors") as f:
            names = f.keys()
            w = f.get_tensor(names[0])   # reads this tensor only

    The header is checked when the file opens; no tensor is read before it is asked for. framework is accepted for
    compatibility (tensors are ember tensors); device places them.
    """

    def __init__(self, filename: FileLike, framework: str = "pt", device: Device = "cpu") -> None:
        self._file = File(filename)
        self._device = to_device(device)

    def __enter__(self) -> safe_open:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def keys(self) -> list[str]:
        """The tensors' names, sorted."""
        return sorted(self._file.tensors)

    def offset_keys(self) -> list[str]:
        """The tensors' names in the order of their data in the file."""
        return sorted(self._file.tensors, key=lambda k: self._file.tensors[k][2:])

    def metadata(self) -> dict[str, str] | None:
        """The header's ``__metadata__`` (a dict of strings), or None."""
        return self._file.metadata()

    def get_tensor(self, name: str) -> Tensor:
        """The tensor called name, read from the file now."""
        if name not in self._file.tensors:
            raise KeyError(f"safe_open: no tensor {name!r} in {self._file.where}")
        t = from_numpy(self._file.array(name))
        return t if self._device == CPU else t.to(self._device)

    def get_slice(self, name: str) -> _Slice:
        """A view that reads part of a tensor: ``get_shape()``, ``get_dtype()`` and indexing."""
        if name not in self._file.tensors:
            raise KeyError(f"safe_open: no tensor {name!r} in {self._file.where}")
        return _Slice(self, name)


class _Slice:
    def __init__(self, reader: safe_open, name: str) -> None:
        self._reader, self._name = reader, name

    def get_shape(self) -> list[int]:
        return list(self._reader._file.tensors[self._name][1])

    def get_dtype(self) -> str:
        return self._reader._file.tensors[self._name][0]

    def __getitem__(self, index: Any) -> Tensor:
        return self._reader.get_tensor(self._name)[index]


# --- writing ---------------------------------------------------------------------------------------------------
def is_unicode(s):
    """Whether s is valid Unicode (a Python string may hold lone surrogates)."""
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _array(obj):
    """The C-contiguous CPU NumPy array of a tensor or array, flattened (a 0-d one has its one element)."""
    arr = obj if isinstance(obj, np.ndarray) else obj.detach().cpu().numpy()
    return np.ascontiguousarray(arr.reshape(-1))


def write(f, entries, metadata):
    """Write a safetensors file of entries ({name: tensor or NumPy array}) and metadata (strings) to f."""
    header, offset = {}, 0
    for name, obj in entries.items():
        nbytes = int(np.prod(obj.shape, dtype=np.int64)) * obj.dtype.itemsize
        code = CODES[obj.dtype.name if isinstance(obj, Tensor) else _dt.from_numpy_dtype(obj.dtype).name]
        header[name] = {"dtype": code, "shape": list(obj.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    if metadata:
        header["__metadata__"] = metadata
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the format recommends 8-byte alignment of the data
    if len(head) > MAX_HEADER:
        raise ValueError(f"save: the file's header would be {len(head)} bytes, over safetensors' limit of "
                         f"{MAX_HEADER} (a large pickled object: save its state_dict instead)")
    f.write(struct.pack("<Q", len(head)) + head)
    for obj in entries.values():
        f.write(memoryview(_array(obj).view(np.uint8)))


# --- atomic writes, and the temp files of writers that died -----------------------------------------------------
_STALE_AFTER = 600  # seconds without a write after which a temp file whose writer may be alive counts as stale
_TEMP = re.compile(r"^\.tmp-.*~(\d+)~([A-Za-z0-9-]*)~[a-z0-9_]{8}$")
_OLD_TEMP = re.compile(r"^\.tmp-.+-[a-z0-9_]{8}$")  # ember before the writer's pid was in the name
_writing: set[str] = set()  # the temp files this process is writing now
_lock = threading.Lock()


def _host():
    return re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:32]


def _pid_alive(pid):
    if os.name == "nt":
        return True  # unknown: only age counts
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_stale_temps(directory):
    """Remove the temp files that writers killed mid-write (kill -9, a power cut) left in directory: those whose
    writer on this machine is dead, and any not written to for _STALE_AFTER seconds."""
    host, now = _host(), time.time()
    try:
        entries = [e for e in os.scandir(directory) if e.name.startswith(".tmp-")]
    except OSError:
        return
    for entry in entries:
        path = entry.path
        m = _TEMP.match(entry.name)
        if not (m or _OLD_TEMP.match(entry.name)):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            dead = m is not None and m.group(2) == host and (int(m.group(1)) == os.getpid()
                                                             or not _pid_alive(int(m.group(1))))
            with _lock:
                if (dead or age > _STALE_AFTER) and path not in _writing:
                    os.unlink(path)
        except OSError:
            pass  # gone already, or not ours to remove


def _file_mode(path):
    """The mode of the file at path, or the one open() would give a new file (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    with _lock:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | bytes | os.PathLike, data: bytes | Callable[[IO[bytes]], object]) -> None:
    """Write to path so that a crash leaves the old file or the new one, never a partial file: into a temp file in
    the same directory (named after this process, so a later save can remove it if this one is killed), fsync,
    rename. data is bytes or a function that writes to the open file."""
    path = os.fsdecode(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    _clean_stale_temps(directory)
    mode = _file_mode(path)
    prefix = f".tmp-{os.path.basename(path)[:100]}~{os.getpid()}~{_host()}~"
    with _lock:
        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
        _writing.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            with contextlib.suppress(OSError, AttributeError):  # mkstemp's 0600 would stay after the rename
                os.fchmod(f.fileno(), mode)
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _lock:
            _writing.discard(tmp)
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
