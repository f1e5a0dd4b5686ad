"""Smoke tests of the benchmark suite: it runs every workload and writes its report. No timing assertions."""
import importlib.util
import inspect
import json
import math
import os
import re
import subprocess
import sys

import ember

from bench.__main__ import parse_args
from bench.workloads import MODES, WORKLOADS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, timeout=600):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)


def test_smoke_flags():
    args = parse_args(["--smoke", "--workloads", "mlp,lstm"])
    assert (args.steps, args.warmup, args.repeats) == (2, 1, 1)
    assert args.workloads == ["mlp", "lstm"]


def test_suite_smoke_all_workloads(tmp_path):
    out = tmp_path / "results.json"
    proc = _run(["-m", "bench", "--smoke", "--no-torch", "-q", "--out", str(out)])
    assert "| workload | mode | ember ms | torch ms | ratio |" in proc.stdout, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["config"]["frameworks"] == ["ember"]
    assert {"cpu", "cores", "numpy", "date"} <= set(report["machine"])
    rows = {(r["workload"], r["mode"]): r for r in report["results"]}
    assert set(rows) == {(w, m) for w in WORKLOADS for m in MODES}
    failed = {k: r["ember"]["error"] for k, r in rows.items() if "error" in r["ember"]}
    assert not failed, failed
    for key, row in rows.items():
        ember = row["ember"]
        assert math.isfinite(ember["median_ms"]) and ember["median_ms"] > 0, key
        assert ember["steps"] == 2 and ember["peak_rss_mib"] > 0, key
        assert f"| {key[0]} | {key[1]} |" in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_micro_smoke():
    proc = _run(["-m", "bench.micro", "--smoke", "--no-torch", "--cases", "add 16x16|matmul 16x16"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| add 16x16 | fwd+bwd |" in proc.stdout and "| matmul 16x16 | fwd |" in proc.stdout


def test_ember_bench_command_runs_the_suite_from_the_repository(tmp_path, monkeypatch, capfd):
    from ember.cli import main
    monkeypatch.chdir(REPO)
    out = tmp_path / "r.json"
    status = main(["bench", "--smoke", "--no-torch", "-q", "--workloads", "tiny_overhead", "--modes", "train",
                   "--out", str(out)])
    assert status == 0, capfd.readouterr()
    assert "| tiny_overhead | train |" in capfd.readouterr().out
    assert json.loads(out.read_text())["results"][0]["workload"] == "tiny_overhead"


def test_ember_bench_outside_the_repository_says_where_to_run_it(tmp_path, monkeypatch, capsys):
    from ember.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--smoke"]) == 1
    assert "repository root" in capsys.readouterr().err


def test_compile_smoke_adds_compiled_rows_and_cold_and_warm_compile_times(tmp_path):
    out = tmp_path / "results.json"
    proc = _run(["-m", "bench", "--smoke", "--no-torch", "-q", "--compile", "--workloads", "tiny_overhead",
                 "--modes", "train", "--out", str(out)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| workload | mode | ember compiled ms | / torch eager | torch.compile ms |" in proc.stdout
    assert "| tiny_overhead | train |" in proc.stdout.split("compiled steps")[1]
    report = json.loads(out.read_text())
    assert report["config"]["compile"] is True
    row = report["results"][0]
    compiled = row["ember_compiled"]
    assert "error" not in compiled, compiled
    assert compiled["steps"] == 4  # one process with a cold compile cache, one with a warm one, 2 steps each
    assert compiled["compile_cold_s"] is not None and compiled["compile_warm_s"] is not None
    assert row["compiled_loss_rel_diff"] <= 1e-4  # 2 compiled steps end at eager ember's loss
    default = inspect.signature(ember.compile).parameters["backend"].default
    assert compiled["compile_backend"] == default and f"ember.compile: backend {default!r}" in proc.stdout


def test_compiled_table_gives_both_ratios_and_the_compile_times():
    from bench.runner import format_compiled_table
    row = {"workload": "mlp", "mode": "train", "compiled_ratio": 0.5, "compiled_vs_torch_compile": 0.8,
           "compiled_loss_rel_diff": 0.01, "compiled_loss_step": 30,
           "ember_compiled": {"median_ms": 2.0, "compile_cold_s": 0.25, "compile_warm_s": 0.125},
           "torch_compiled": {"median_ms": 2.5, "compile_cold_s": 20.0, "compile_warm_s": 3.0}}
    table = format_compiled_table([row])
    assert "| mlp | train | 2.000 | 0.50 | 2.500 | 0.80 | 0.250 / 0.125 | 20.000 / 3.000 |" in table
    assert "compiled loss after 30 steps differs from eager ember's by 0.01" in table


def test_the_loss_compared_is_the_one_after_30_steps():
    """Issue 9 compares losses after 30 steps; a process runs warm-up + timed steps (35 by default)."""
    from bench.runner import measure
    longer = measure("ember", "tiny_overhead", "train", steps=4, warmup=30)
    exactly = measure("ember", "tiny_overhead", "train", steps=2, warmup=28)
    assert longer["checked_loss"] == (30, exactly["last_loss"]) != (30, longer["last_loss"])
    assert measure("ember", "tiny_overhead", "train", steps=2, warmup=1)["checked_loss"][0] == 3


def test_deploy_smoke_c_against_ember(tmp_path):
    """bench.deploy: the C rows are timed and equal ember's outputs; onnxruntime is skipped while ember.onnx.export
    is not available (or timed once it is)."""
    out = tmp_path / "deploy.json"
    proc = _run(["-m", "bench.deploy", "--smoke", "--no-torch", "--models", "mlp", "--out", str(out)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| model | batch | C -O2 ms |" in proc.stdout
    (row,) = json.loads(out.read_text())["results"]
    for key in ("c_O2", "c_O3", "c_native"):
        assert row["c"][key]["ms"] > 0 and row["c"][key]["max_abs_diff"] < 1e-4
    assert row["c"]["arena_kib"] <= row["c"]["intermediates_kib"]
    assert row["ort"].get("skipped") in (None, "skipped: ember.onnx.export not available",
                                         "skipped: onnxruntime not installed") and "error" not in row["ort"]


def test_drift_reports_the_compiled_and_pytorch_losses_against_eager_from_the_same_weights():
    """bench.drift: each run's loss and its relative difference from eager ember's; the first step's loss (before
    any update, the same weights and batch) agrees to float32 rounding."""
    has_torch = importlib.util.find_spec("torch") is not None
    proc = _run(["-m", "bench.drift", "tiny_overhead", "3"] + ([] if has_torch else ["--no-torch"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["step 1", "step 3"]
    runs = ["ember_compiled"] + (["torch"] if has_torch else [])
    for line in lines:
        assert all(f" {name} " in line for name in runs), line
    first = [float(x) for x in re.findall(r"\(([0-9.e+-]+)\)", lines[0])]
    assert len(first) == len(runs) and max(first) < 1e-6, lines[0]
