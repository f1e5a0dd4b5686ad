"""Compiling generated C into a shared library, cached on disk and loaded with ctypes.

The compiler is found when needed: the ``CC`` environment variable (a command, possibly with arguments), else
``cc`` or ``gcc`` on the PATH. A library is keyed by a hash of its source, the compiler (its resolved path, size
and modification time: no process is started to ask its version), the flags and the machine (``-march=native``
code is only valid on the CPU it was made for), and lives in ``EMBER_CACHE_DIR`` (default ``~/.cache/ember``) as
``c/<key>.so`` beside its source. It is compiled in a private temporary directory and moved into place with
``os.replace``, so processes that compile the same library at once each get a whole file and a warm start (the
file exists) runs no compiler at all. Loaded libraries are also kept per process. ``build_all`` compiles several
libraries at once on threads (a graph's libraries are independent); a thread asking for a library another thread
is compiling waits for it.
"""
import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading

__all__ = ["CompileError", "find_compiler", "cache_dir", "cached", "build", "build_all", "load", "FLAGS"]

FLAGS = ("-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-std=c99", "-ffp-contract=off",
         "-fno-math-errno", "-fno-trapping-math")
# -std=c99 -ffp-contract=off: no fused multiply-adds the code does not ask for, so that arithmetic rounds as
# NumPy's does (the same bits); -fno-math-errno -fno-trapping-math: nothing reads errno or the floating-point
# exception flags, so sqrt and the branch-free selects of the math helpers vectorise
_NO_OPENMP = "-fopenmp"
_loaded = {}  # key -> ctypes library
_lock = threading.Lock()
_compiling = {}  # key -> threading.Event set when the thread compiling that library is done
_compiling_lock = threading.Lock()
_machine = []


class CompileError(RuntimeError):
    """The C compiler failed on generated source (a bug in ember: the message has the compiler's output)."""


def find_compiler():
    """The compiler command as a list (``CC``, else cc or gcc on the PATH), or None when there is none."""
    cc = os.environ.get("CC", "").strip()
    if cc:
        argv = shlex.split(cc)
        path = shutil.which(argv[0])
        return [path] + argv[1:] if path else None
    for name in ("cc", "gcc"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def cache_dir():
    """Where compiled libraries live: EMBER_CACHE_DIR, default ~/.cache/ember."""
    return os.environ.get("EMBER_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "ember")


def _identity(compiler):
    """The compiler as the cache key sees it: its resolved path, size and modification time, and its arguments."""
    path = os.path.realpath(compiler[0])
    st = os.stat(path)
    return f"{path}:{st.st_size}:{st.st_mtime_ns}:{' '.join(compiler[1:])}"


def _machine_key():
    """The CPU model and flags (what -march=native compiles for), read once."""
    if not _machine:
        text = platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith(("model name", "flags")):
                        text += line
                    if line.strip() == "":
                        break
        except OSError:
            text += platform.processor()
        _machine.append(text)
    return _machine[0]


def _key(source, compiler, flags):
    h = hashlib.sha256()
    for part in (source, _identity(compiler), " ".join(flags), _machine_key()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _path(key):
    return os.path.join(cache_dir(), "c", f"{key}.so")


def cached(source, compiler, flags=FLAGS):
    """Whether the cache holds source's library (compiled by this compiler with these flags)."""
    return os.path.exists(_path(_key(source, compiler, flags)))


def build(source, compiler, flags=FLAGS):
    """The path of the shared library of source, compiled now unless the cache has it (or another thread of this
    process is compiling it: then when it is done)."""
    key = _key(source, compiler, flags)
    path = _path(key)
    if os.path.exists(path):
        return path
    directory = os.path.dirname(path)
    with _compiling_lock:
        done = _compiling.get(key)
        if done is None:
            _compiling[key] = threading.Event()
    if done is not None:
        done.wait()
        if os.path.exists(path):
            return path
        return build(source, compiler, flags)  # that thread failed: compile here, raising its error
    try:
        return _compile(source, compiler, flags, directory, key, path)
    finally:
        with _compiling_lock:
            _compiling.pop(key).set()


def build_all(sources, compiler, flags=FLAGS):
    """Start compiling each source (those not cached) on a thread of its own; returns a function that waits for
    them all and raises the first CompileError or OSError of a failed one."""
    threads, errors = [], []

    def run(source):
        try:
            build(source, compiler, flags)
        except (CompileError, OSError) as e:
            errors.append(e)

    for source in dict.fromkeys(sources):
        if cached(source, compiler, flags):
            continue  # no thread to start (a warm start's ~3 ms)
        t = threading.Thread(target=run, args=(source,), daemon=True)
        t.start()
        threads.append(t)

    def wait():
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    return wait


def _compile(source, compiler, flags, directory, key, path):
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=f".{key}.") as tmp:
        src = os.path.join(tmp, "kernels.c")
        with open(src, "w") as f:
            f.write(source)
        out = os.path.join(tmp, "kernels.so")
        result = _run(compiler + list(flags) + [src, "-o", out, "-lm"])
        if result.returncode != 0 and _NO_OPENMP in flags and "openmp" in result.stderr.lower():
            # a compiler without OpenMP (Apple's clang): the same code on one thread
            result = _run(compiler + [f for f in flags if f != _NO_OPENMP] + [src, "-o", out, "-lm"])
        if result.returncode != 0:
            raise CompileError(f"ember.compile: the C compiler failed ({' '.join(compiler)}):\n{result.stderr}")
        os.replace(src, os.path.join(directory, f"{key}.c"))  # beside the library, for reading
        os.replace(out, path)
    return path


def _run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


def load(source, compiler, flags=FLAGS):
    """The ctypes library of source (compiled and cached as ``build`` does), loaded once per process."""
    key = _key(source, compiler, flags)
    with _lock:
        lib = _loaded.get(key)
        if lib is None:
            lib = _loaded[key] = ctypes.CDLL(build(source, compiler, flags))
        return lib
