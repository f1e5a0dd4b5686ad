"""The built documentation site as a reader sees it: no broken internal link, and in headless Chromium (Debian's
``chromium`` package; skipped without it) the home page, a reference page, a tutorial and the page of internals
load with no console message, and the search page finds ``cross_entropy``.

The site is ``build/docs`` (what ``.ci/run`` builds) or, where that is absent, built here when Sphinx is installed
(``pip install '.[docs]'``); without either the tests skip.
"""
import functools
import html.parser
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    built = pathlib.Path(os.environ.get("EMBER_DOCS_HTML", ROOT / "build" / "docs"))
    if (built / "index.html").exists():
        return built
    pytest.importorskip("sphinx", reason="the docs build needs pip install '.[docs]'")
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going", "-b", "html",
                           str(ROOT / "docs"), str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the docs build failed:\n{done.stdout}\n{done.stderr}"
    return out


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])


@functools.lru_cache(maxsize=None)
def _parse(path):
    page = _Page()
    page.feed(pathlib.Path(path).read_text(encoding="utf-8"))
    return page


def test_no_broken_internal_link(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    broken = []
    for page in pages:
        for link in _parse(page).links:
            parts = urllib.parse.urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue  # external: not checked (the site is built and read offline)
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in _parse(target).ids:
                broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])


def test_every_reference_page_is_built(site):
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    from ember_names import PAGES
    missing = [p for p in PAGES if not (site / "api" / f"{p}.html").exists()]
    assert not missing
    text = (site / "api" / "nn.functional.html").read_text(encoding="utf-8")
    assert 'id="ember.nn.functional.cross_entropy"' in text


# --- in a browser ------------------------------------------------------------------------------------------------

def _chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on the loopback interface, as a reader's browser gets it (search reads pages with
    fetch, which browsers refuse for file:// URLs)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _load(url, tmp_path):
    """(the DOM after scripts ran, the console messages) of url in headless Chromium."""
    done = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=5000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


@pytest.mark.parametrize("path, expected", [
    ("index.html", "A deep-learning framework you can read end to end"),
    ("api/nn.functional.html", "ember.nn.functional.cross_entropy"),
    ("tutorials/cnn_digits.html", "A CNN on Digits, the PyTorch way"),
    ("internals.html", "The bytes of the arrays the interpreter holds"),  # its figures are made by the build
])
def test_page_loads_without_console_messages(server, path, expected, tmp_path):
    dom, console = _load(f"{server}/{path}", tmp_path)
    assert expected in dom
    assert not console, f"{path}: console messages:\n" + "\n".join(console)


def test_search_finds_cross_entropy(server, tmp_path):
    dom, console = _load(f"{server}/search.html?q=cross_entropy", tmp_path)
    assert 'href="api/nn.functional.html#ember.nn.functional.cross_entropy"' in dom
    assert not console, "search: console messages:\n" + "\n".join(console)
