"""``export_c``: a model as a standalone C program (model.c, model.h, main.c, a Makefile and weights.bin), and
helpers to build and run one from Python (tests, benchmarks).

The pipeline: the inference graph (``c_graph``: traced, optimized, constants folded, elementwise chains fused),
lowered to calls (``c_lower``: batch norm folded into the convolution or Linear before it), memory planned
(``c_memory``: one arena, arrays reusing dead arrays' space), written out (``c_source``).
"""
import os
import shutil
import subprocess
import time

import numpy as np

from .c_graph import ExportError, inference_graph
from .c_lower import lower
from .c_memory import plan
from .c_source import WEIGHTS_FILE, main_c, makefile, model_c, model_h, weights_bytes

__all__ = ["export_c", "CExport", "build_c", "run_c", "ExportError"]


class CExport:
    """What export_c wrote: ``directory``, ``files`` (names), the sizes in floats (``arena``: the planned
    intermediate arrays; ``intermediates``: the same without reuse; ``weights``), ``input_shape``,
    ``output_shapes``, ``tokens`` (the input holds token ids), ``steps`` (C calls), ``kernels`` (fused)."""

    def __init__(self, directory, program, memory):
        self.directory = directory
        self.files = ["model.c", "model.h", "main.c", "Makefile", WEIGHTS_FILE]
        self.arena, self.intermediates, self.weights = memory.arena, memory.intermediates, memory.weights
        self.input_shape, self.output_shapes = program.input_shape, program.output_shapes
        self.tokens = program.tokens
        self.steps = len(program.steps)
        self.kernels = sum(s.kernel is not None for s in program.steps)

    def summary(self):
        """One paragraph: the files, the steps, and the memory plan in KiB."""
        def kib(n):
            return f"{n * 4 / 1024:.1f} KiB"
        return (f"wrote {', '.join(self.files)} to {self.directory}: {self.steps} C calls ({self.kernels} fused "
                f"elementwise kernels); input {tuple(self.input_shape)}, output "
                f"{', '.join(str(tuple(s)) for s in self.output_shapes)}; weights {kib(self.weights)}, arena "
                f"{kib(self.arena)} (intermediate arrays without reuse: {kib(self.intermediates)})")


def export_c(model, args, directory, description=None):
    """Write ``model`` (a Module or function of one tensor), run on the example input ``args`` (a tensor or a
    tuple of one), as standalone C into ``directory`` (created if needed); returns a CExport.

    The model runs in evaluation mode while it is traced (its training flags are restored). The C model has the
    example's shapes (its batch size included). ``make -C directory`` builds ``directory/model``; ``model IN.bin
    OUT.bin`` runs it on raw little-endian float32 files (token ids stored as floats for a token model).
    Raises ExportError naming an op that has no C form."""
    args = args if isinstance(args, tuple) else (args,)
    description = description or type(model).__name__
    program = lower(inference_graph(model, args))
    memory = plan(program)
    os.makedirs(directory, exist_ok=True)
    texts = {"model.c": model_c(program, memory, description), "model.h": model_h(program, memory, description),
             "main.c": main_c(), "Makefile": makefile()}
    for name, text in texts.items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
    with open(os.path.join(directory, WEIGHTS_FILE), "wb") as f:
        f.write(weights_bytes(program, memory))
    return CExport(directory, program, memory)


def build_c(directory, cflags=None, opt=None):
    """Build ``directory/model`` with make (``cflags``: replaces the Makefile's CFLAGS; ``opt``: its OPT); returns
    the seconds it took. Raises ExportError with the compiler's output when it fails (or make is missing)."""
    if shutil.which("make") is None:
        raise ExportError("export c: make is not installed")
    argv = ["make", "-s", "-B", "-C", directory]
    if cflags is not None:
        argv.append(f"CFLAGS={cflags}")
    if opt is not None:
        argv.append(f"OPT={opt}")
    t0 = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise ExportError(f"export c: building {directory} failed:\n{result.stdout}{result.stderr}")
    return seconds


def run_c(directory, x, repeats=0, program="model"):
    """Run the built ``directory/model`` (or another ``program`` there, built from the same files) on the array x
    (its input shape); returns (output as a float32 array, timing): timing is None, or with ``repeats`` timed calls
    {"wall_us": median wall-clock microseconds per call, "cpu_us": median CPU microseconds of the process}."""
    x = np.ascontiguousarray(np.asarray(x), dtype="<f4")
    in_path, out_path = os.path.join(directory, "in.bin"), os.path.join(directory, "out.bin")
    x.tofile(in_path)
    argv = [os.path.join(os.path.abspath(directory), program), in_path, out_path,
            "--weights", os.path.join(directory, WEIGHTS_FILE)]
    if repeats:
        argv += ["--time", str(repeats)]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExportError(f"export c: {argv[0]} failed ({result.returncode}): {result.stderr.strip()}")
    out = np.fromfile(out_path, dtype="<f4")
    if not repeats:
        return out, None
    wall, cpu = (float(t) for t in result.stdout.split()[-2:])
    return out, {"wall_us": wall, "cpu_us": cpu}
