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
    """What export_c wrote, as it returns it: ``directory``, ``files`` (names), the sizes in floats (``arena``:
    the planned intermediate arrays; ``intermediates``: the same without reuse; ``weights``), ``input_shape``,
    ``output_shapes``, ``tokens`` (the input holds token ids), ``steps`` (C calls), ``kernels`` (fused).

    ``summary()`` says it in one paragraph. export_c makes it; code does not construct one.

    Args:
        directory (str): the directory written.
        program (object): the lowered program (the C calls), from ``c_lower.lower``.
        memory (object): its memory plan, from ``c_memory.plan``.

    PyTorch:
        No PyTorch counterpart: ember's own.

    Example:
        >>> import ember.export
        >>> out = ember.export.export_c(nn.Linear(3, 2), ember.zeros(1, 3), "linear_c")
        >>> out.files, out.input_shape, out.output_shapes
        (['model.c', 'model.h', 'main.c', 'Makefile', 'weights.bin'], (1, 3), [(1, 2)])
    """

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
    """Write a model as a standalone C program: model.c, model.h, main.c, a Makefile and weights.bin.

    The model is traced on the example input in evaluation mode (its training flags are restored), optimized
    (constants folded, elementwise chains fused) and its intermediate arrays planned into one arena. The C model
    has the example's shapes (its batch size included). ``make -C directory`` builds ``directory/model``; ``model
    IN.bin OUT.bin`` runs it on raw little-endian float32 files (token ids stored as floats for a token model).
    Raises ExportError naming an op that has no C form.

    Args:
        model (Module or callable): the Module or function of one tensor.
        args (Tensor or tuple): the example input: a tensor, or a tuple of one.
        directory (str or PathLike): where to write the files (created if needed).
        description (str, optional): the model's name in the files' comments; None: the model's class name.
            Default: None.

    Returns:
        CExport: what was written (files, shapes, sizes; ``summary()``).

    PyTorch:
        No PyTorch counterpart: ember's own (PyTorch's AOTInductor compiles to a shared library that needs its
        runtime).

    Example:
        >>> import ember.export
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> out = ember.export.export_c(model, ember.zeros(1, 3), "mlp_c")
        >>> out.steps, out.input_shape, out.output_shapes
        (3, (1, 3), [(1, 2)])
    """
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
    """Build the C program export_c wrote, ``directory/model``, with make and the system's C compiler.

    Raises ExportError with the compiler's output when the build fails, or when make is missing.

    Args:
        directory (str or PathLike): the directory export_c wrote.
        cflags (str, optional): replaces the Makefile's CFLAGS. Default: None (the Makefile's).
        opt (str, optional): replaces the Makefile's OPT (the optimization flags). Default: None (the Makefile's).

    Returns:
        float: the seconds the build took.

    PyTorch:
        No PyTorch counterpart: ember's own.

    Example:
        >>> import ember.export
        >>> _ = ember.export.export_c(nn.Linear(3, 2), ember.zeros(1, 3), "linear_c")
        >>> ember.export.build_c("linear_c") > 0  # make -C linear_c: compiles linear_c/model
        True
    """
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
    """Run the C program built by build_c on an input, through raw float32 files; for tests and benchmarks.

    Raises ExportError with the program's message when it fails.

    Args:
        directory (str or PathLike): the directory export_c wrote and build_c built.
        x (array_like): the input, of the exported input shape (written as little-endian float32).
        repeats (int): when positive, time that many calls of the model. Default: 0.
        program (str): the executable to run in directory (another build of the same files). Default: ``"model"``.

    Returns:
        tuple: (the output as a flat float32 NumPy array, timing): timing is None without repeats, else
        {"wall_us": median wall-clock microseconds per call, "cpu_us": median CPU microseconds of the process}.

    PyTorch:
        No PyTorch counterpart: ember's own.

    Example:
        >>> import ember.export
        >>> model = nn.Linear(3, 2)
        >>> _ = ember.export.export_c(model, ember.zeros(1, 3), "linear_c")
        >>> _ = ember.export.build_c("linear_c")
        >>> y, timing = ember.export.run_c("linear_c", [[1.0, 2.0, 3.0]])
        >>> np.allclose(y, model(ember.tensor([[1.0, 2.0, 3.0]])).detach().numpy().ravel(), atol=1e-6), timing
        (True, None)
    """
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
