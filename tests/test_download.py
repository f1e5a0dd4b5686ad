"""Dataset downloads (ember/data/download.py) against a local HTTP server: verified before renamed, mirror fallback,
no .part left behind, one download for concurrent processes, progress bars."""
import hashlib
import http.server
import io
import multiprocessing as mp
import os
import threading
import time

import pytest

from ember.data import download

PAYLOAD = bytes(range(256)) * 64  # 16 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """/good/NAME: the payload; /wrong/NAME: other bytes (HTTP 200); /trunc/NAME: half of the announced bytes;
    /stall/NAME: headers, then nothing for 2 s; /slow/NAME: the payload after 0.5 s; /missing/NAME: 404."""

    requests = {}

    def do_GET(self):
        kind = self.path.split("/")[1]
        _Handler.requests[kind] = _Handler.requests.get(kind, 0) + 1
        if kind == "missing":
            self.send_error(404)
            return
        body = b"not the file" * 100 if kind == "wrong" else PAYLOAD
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "stall":
            time.sleep(2.0)
        if kind == "slow":
            time.sleep(0.5)
        self.wfile.write(body[:len(body) // 2] if kind == "trunc" else body)
        self.wfile.flush()
        if kind == "trunc":
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _files(folder):
    return sorted(os.listdir(folder))


def test_bad_mirrors_are_skipped_and_only_verified_bytes_get_the_name(server, tmp_path):
    urls = [f"{server}/{kind}/f.bin" for kind in ("missing", "wrong", "trunc", "stall", "good")]
    path = download.fetch("f.bin", SHA, urls, str(tmp_path), download=True, timeout=0.3)
    assert open(path, "rb").read() == PAYLOAD
    assert _files(tmp_path) == ["f.bin", "f.bin.lock"]  # no .part


def test_when_every_mirror_fails_nothing_is_left_under_the_name(server, tmp_path):
    urls = [f"{server}/{kind}/f.bin" for kind in ("wrong", "trunc", "stall")]
    with pytest.raises(RuntimeError, match="could not download f.bin") as err:
        download.fetch("f.bin", SHA, urls, str(tmp_path), download=True, timeout=0.3)
    lines = str(err.value).splitlines()[1:]
    assert "wrong/f.bin: SHA-256 mismatch" in lines[0]
    assert "trunc/f.bin: received 8192 bytes of the 16384 announced (truncated)" in lines[1]
    assert "stall/f.bin: " in lines[2] and "timed out" in lines[2]
    assert _files(tmp_path) == ["f.bin.lock"]  # neither the bad bytes nor a .part
    # and a later run is not poisoned: it downloads again
    assert download.fetch("f.bin", SHA, [f"{server}/good/f.bin"], str(tmp_path), download=True)


def test_an_interrupted_download_leaves_no_part(server, tmp_path, monkeypatch):
    def interrupt(n):
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(download, "_progress", lambda name, total: _Yield(interrupt))
    with pytest.raises(KeyboardInterrupt):
        download.fetch("f.bin", SHA, [f"{server}/good/f.bin"], str(tmp_path), download=True)
    assert _files(tmp_path) == ["f.bin.lock"]


class _Yield:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        return False


def _fetch_after(barrier, url, folder):
    barrier.wait()
    download.fetch("f.bin", SHA, [url], folder, download=True)


def test_concurrent_processes_download_once(server, tmp_path):
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(2)
    before = _Handler.requests.get("slow", 0)
    procs = [ctx.Process(target=_fetch_after, args=(barrier, f"{server}/slow/f.bin", str(tmp_path)))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0]
    assert _Handler.requests["slow"] - before == 1  # the second process waited and found the verified file
    assert open(tmp_path / "f.bin", "rb").read() == PAYLOAD and _files(tmp_path) == ["f.bin", "f.bin.lock"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("bar", ["simple", "tqdm"])
def test_large_files_show_a_progress_bar_on_a_terminal(bar, server, tmp_path, monkeypatch):
    if bar == "simple":
        monkeypatch.setattr(download, "tqdm", None)
    elif download.tqdm is None:
        pytest.skip("tqdm is not installed")
    monkeypatch.setattr(download, "PROGRESS_MIN_BYTES", 1000)
    for stream, folder in [(_Terminal(), "tty"), (io.StringIO(), "pipe")]:
        monkeypatch.setattr("sys.stderr", stream)
        download.fetch("f.bin", SHA, [f"{server}/good/f.bin"], str(tmp_path / folder), download=True)
        shown = stream.getvalue()
        if folder == "pipe":
            assert shown == ""
        elif bar == "simple":
            assert shown.endswith("\rf.bin: 100% [##############################] 0.0 MiB of 0.0 MiB\n")
        else:
            assert "f.bin: 100%" in shown and "16.0k/16.0k" in shown
    monkeypatch.setattr(download, "PROGRESS_MIN_BYTES", 1 << 20)  # a small file: no bar
    stream = _Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    download.fetch("f.bin", SHA, [f"{server}/good/f.bin"], str(tmp_path / "small"), download=True)
    assert stream.getvalue() == ""
