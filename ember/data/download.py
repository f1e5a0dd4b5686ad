"""Downloading dataset files: verified before they get their final name, from the first mirror that serves the right
bytes, one process at a time.

A file is written to ``<name>.part``, its SHA-256 computed as it arrives, and renamed (atomically) to its name only
when the hash (and the announced length) match: a wrong, truncated or interrupted download never takes the name
that later runs trust, and its ``.part`` is removed. A mirror that fails or serves other bytes is reported and the
next one is tried. Processes that download the same file take turns on ``<name>.lock`` (fcntl.flock), so the
second finds the first's verified file instead of downloading it again. Large files show a progress bar on a
terminal (tqdm when installed).
"""
import contextlib
import hashlib
import http.client
import os
import sys
import time
import urllib.request

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, each process writes its own .part
    fcntl = None

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is optional
    tqdm = None

__all__ = ["fetch", "sha256_of"]

PROGRESS_MIN_BYTES = 1 << 20  # files smaller than this download without a progress bar
_CHUNK = 1 << 16


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 (hex) of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(name: str, sha256: str | None, urls: list[str], folder: str | os.PathLike, download: bool,
          timeout: float = 60.0) -> str:
    """The path of a verified file ``folder/name``: found there, or downloaded from the first of ``urls`` that
    serves bytes with the SHA-256 ``sha256`` (None: any bytes of the announced length). ``timeout`` is in seconds
    per network operation."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        if not download:
            raise RuntimeError(f"dataset file {path} not found; pass download=True or put the file there "
                               "(or set EMBER_DATA to the directory that holds it)")
        os.makedirs(folder, exist_ok=True)
        with _exclusive(path + ".lock"):
            if not os.path.exists(path):  # (another process may have downloaded it while this one waited)
                _download_from_mirrors(name, sha256, urls, path, timeout)
    _verify(path, sha256)
    return path


def _verify(path, sha256):
    actual = sha256_of(path) if sha256 is not None else None
    if actual != sha256:
        raise RuntimeError(f"{path}: SHA-256 mismatch (expected {sha256}, got {actual}); delete the file and retry")


@contextlib.contextmanager
def _exclusive(lock_path):
    """Hold an exclusive lock on lock_path (waits for another process that holds it)."""
    if fcntl is None:
        yield
        return
    with open(lock_path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _download_from_mirrors(name, sha256, urls, path, timeout):
    errors = []
    for url in urls:
        try:
            _download(url, path, sha256, timeout)
            return
        except (OSError, http.client.HTTPException, _BadContent) as e:
            errors.append(f"{url}: {type(e).__name__}: {e}" if not isinstance(e, _BadContent) else f"{url}: {e}")
    raise RuntimeError(f"could not download {name}:\n" + "\n".join(errors))


class _BadContent(Exception):
    """A server answered, but with other bytes than the file's (a wrong hash, or fewer bytes than announced)."""


def _download(url, path, sha256, timeout):
    """url's bytes into path, through a .part file that is renamed only once verified and removed otherwise."""
    part = path + ".part" if fcntl is not None else f"{path}.{os.getpid()}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as f:
            total = _content_length(r)
            with _progress(os.path.basename(path), total) as advance:
                while True:
                    chunk = r.read(_CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    advance(len(chunk))
            f.flush()
            os.fsync(f.fileno())
        if total is not None and size != total:
            raise _BadContent(f"received {size} bytes of the {total} announced (truncated)")
        if sha256 is not None and digest.hexdigest() != sha256:
            raise _BadContent(f"SHA-256 mismatch (expected {sha256}, got {digest.hexdigest()}, {size} bytes)")
        os.replace(part, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(part)


def _content_length(response):
    value = response.headers.get("Content-Length") if getattr(response, "headers", None) is not None else None
    return int(value) if value is not None and value.isdigit() else None


@contextlib.contextmanager
def _progress(name, total):
    """A function that advances a progress bar on stderr by n bytes: tqdm's, or a simple one; none for small files
    or when stderr is not a terminal."""
    if total is not None and total < PROGRESS_MIN_BYTES:
        yield lambda n: None
    elif tqdm is not None:
        with tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, disable=None,
                  file=sys.stderr) as bar:
            yield bar.update
    elif sys.stderr.isatty():
        bar = _SimpleBar(name, total, sys.stderr)
        yield bar.update
        bar.close()
    else:
        yield lambda n: None


class _SimpleBar:
    """A one-line progress bar: name, percentage (when the size is known) and MiB received, at most 10 times a
    second."""

    def __init__(self, name, total, stream):
        self.name, self.total, self.stream, self.done, self.shown = name, total, stream, 0, 0.0

    def update(self, n):
        self.done += n
        now = time.monotonic()
        if now - self.shown >= 0.1 or self.done == self.total:
            self.shown = now
            self._draw()

    def _draw(self):
        mib = f"{self.done / 2 ** 20:.1f} MiB"
        if self.total:
            frac = self.done / self.total
            line = f"{self.name}: {frac:4.0%} [{'#' * int(frac * 30):<30}] {mib} of {self.total / 2 ** 20:.1f} MiB"
        else:
            line = f"{self.name}: {mib}"
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self):
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
