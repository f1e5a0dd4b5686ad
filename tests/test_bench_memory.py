"""Smoke tests of bench.memory (peak memory and time against depth): it runs, reports and fits; no timing claims."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bench import memory as bench_memory

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args):
    return subprocess.run([sys.executable, "-m", "bench.memory", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300, env=dict(os.environ, PYTHONPATH=REPO))


def test_quick_run_reports_every_variant_and_writes_json(tmp_path):
    out = tmp_path / "memory.json"
    proc = _run(["--quick", "--no-torch", "-q", "--steps", "1", "--workloads", "mlp256", "--depths", "2,4",
                 "--out", str(out)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("| depth | ember plain MiB | ms | ember checkpoint MiB | ms | ember compiled MiB | ms | "
            "ember compiled_min MiB | ms | ckpt/plain peak (ember) |") in proc.stdout
    assert "fitted exponent of peak vs depth: ember plain" in proc.stdout
    report = json.loads(out.read_text())
    assert set(report) == {"mlp256"} and set(report["mlp256"]) == {"2", "4"}
    for rows in report.values():
        for row in rows.values():
            plain, ckpt = row["ember plain"], row["ember checkpoint"]
            assert plain["peak"] > 0 and plain["ms"] > 0 and ckpt["grad_diff"] == 0.0
            assert row["ember compiled_min"]["grad_diff"] < 1e-5 and row["ember compiled"]["peak"] > 0


@pytest.mark.parametrize("plain, recomputed", [("plain", "checkpoint"), ("compiled", "compiled_min")])
def test_recomputation_flattens_the_growth_of_the_peak(plain, recomputed):
    fw = bench_memory.load_framework("ember")
    peaks = {}
    for variant in (plain, recomputed):
        peaks[variant] = [bench_memory.measure(fw, bench_memory.mlp_case(fw, n, 16, 256), variant, 1)["peak"]
                          for n in (4, 16)]
    assert peaks[recomputed][1] < 0.6 * peaks[plain][1]
    assert bench_memory.exponent([4, 16], peaks[recomputed]) < bench_memory.exponent([4, 16], peaks[plain])


def test_exponent_and_segments():
    assert bench_memory.exponent([2, 4, 8], [3.0, 6.0, 12.0]) == pytest.approx(1.0)
    assert bench_memory.exponent([4, 16], [2.0, 4.0]) == pytest.approx(0.5)
    assert np.isnan(bench_memory.exponent([4], [1.0]))
    assert [bench_memory.segments(n) for n in (1, 8, 16, 64)] == [1, 3, 4, 8]


def test_plain_ember_peaks_no_higher_than_pytorch_on_the_mlp(torch):
    # (not on gpt: ember's GELU keeps its derivative beside its input for a faster backward, see the report)
    make = bench_memory.WORKLOADS["mlp256"][0]
    peaks = {}
    for name in ("ember", "torch"):
        fw = bench_memory.load_framework(name)
        fw.torch.manual_seed(0)
        result = bench_memory.measure(fw, make(fw, 2, True), "plain", 1)
        peaks[name] = result["peak"]
    assert 0 < peaks["ember"] <= peaks["torch"], peaks
