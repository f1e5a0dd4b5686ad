"""Every Python example in the README and docs/ runs, and prints what its comments say it prints."""
import contextlib
import io
import pathlib
import re

import pytest

from helpers import skip_without_optional_imports

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks():
    for doc in DOCS:
        if doc.exists():
            for i, code in enumerate(BLOCK.findall(doc.read_text())):
                yield pytest.param(code, id=f"{doc.name}-{i}")


def _expected_prints(code):
    """Comments of the form `print(...)  # <output>` state the expected output of that line."""
    return [m.group(1).strip() for m in re.finditer(r"^print\(.*\)\s+#\s*(.+)$", code, re.M)]


@pytest.mark.parametrize("code", list(_blocks()))
def test_doc_example_runs(code, tmp_path, monkeypatch):
    skip_without_optional_imports(code)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<doc example>", "exec"), {"__name__": "__doc_example__"})
    printed = [line.strip() for line in out.getvalue().splitlines()]
    for expected in _expected_prints(code):
        assert expected in printed, f"expected output {expected!r} not among {printed}"
