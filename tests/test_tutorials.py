"""Every tutorial of docs/tutorials runs as a reader runs it: its Python blocks in order in one namespace, its bash
blocks in the same directory, and each ``print(...)  # <output>`` comment is checked against what was printed.

A block shown as a file (```` ```{code-block} python ```` with ``:caption: NAME``) is written to NAME, for a later
bash block to run (a script that ``ember launch -n 2`` starts on two processes); a page that starts several
processes (``ember launch``, ``mpiexec``, ``--nproc``) is skipped without mpi4py (``pip install 'ember[mpi]'``)."""
import contextlib
import io
import os
import pathlib
import re
import subprocess
import sys

import pytest

from helpers import skip_without_optional_imports

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
BLOCK = re.compile(r"```(python|bash|\{code-block\} python\n:caption: [\w.-]+\n)\n(.*?)```", re.S)
FILE = re.compile(r"\{code-block\} python\n:caption: ([\w.-]+)\n")
PROCESSES = re.compile(r"\bember launch\b|\bmpiexec\b|--nproc\b")
EXPECTED = re.compile(r"^print\(.*\)\s+#\s*(.+)$", re.M)


def _run_bash(code):
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(["bash", "-e", "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, f"bash block failed ({done.returncode}):\n{code}\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__tutorial__"}
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no code block"
    skip_without_optional_imports("\n".join(code for language, code in blocks if language != "bash"))
    if any(PROCESSES.search(code) for language, code in blocks if language == "bash"):
        pytest.importorskip("mpi4py", reason="starts several processes: pip install 'ember[mpi]'")
    for language, code in blocks:
        file = FILE.fullmatch(language)
        if file:
            (tmp_path / file.group(1)).write_text(code)
            continue
        if language == "bash":
            _run_bash(code)
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"<{page.name}>", "exec"), namespace)
        printed = [line.strip() for line in out.getvalue().splitlines()]
        for expected in (m.group(1).strip() for m in EXPECTED.finditer(code)):
            assert expected in printed, f"{page.name}: expected output {expected!r} not among {printed}"
