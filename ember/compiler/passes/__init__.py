"""The graph passes, in the order they run. Each takes a Graph and returns it rewritten; with EMBER_LOGS=graph
in the environment the graph is printed after each one (to stderr)."""
import os
import sys

from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .fold import fold_constants
from .recompute import recompute_activations
from .simplify import simplify_algebra

PIPELINE = (eliminate_dead_code, fold_constants, simplify_algebra, eliminate_common_subexpressions, eliminate_dead_code)


def _logging():
    return "graph" in os.environ.get("EMBER_LOGS", "").split(",")


def log_graph(graph, title):
    """Print graph with its title to stderr when EMBER_LOGS=graph (a backend's own passes log through this)."""
    if _logging():
        print(graph.format(title), file=sys.stderr)


def optimize(graph, name="graph", memory=None):
    """Run every pass of PIPELINE on graph; memory="min" adds recomputation (``recompute``) at the end."""
    log_graph(graph, f"{name} (captured)")
    for rewrite in PIPELINE + ((recompute_activations,) if memory == "min" else ()):
        graph = rewrite(graph)
        log_graph(graph, f"{name} (after {rewrite.__name__})")
    return graph
