"""The graph passes, in the order they run. Each takes a Graph and returns it rewritten; with EMBER_LOGS=graph
in the environment the graph is printed after each one (to stderr)."""
import os
import sys

from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code

PIPELINE = (eliminate_dead_code, eliminate_common_subexpressions, eliminate_dead_code)


def _logging():
    return "graph" in os.environ.get("EMBER_LOGS", "").split(",")


def optimize(graph, name="graph"):
    """Run every pass of PIPELINE on graph."""
    log = _logging()
    if log:
        print(graph.format(f"{name} (captured)"), file=sys.stderr)
    for rewrite in PIPELINE:
        graph = rewrite(graph)
        if log:
            print(graph.format(f"{name} (after {rewrite.__name__})"), file=sys.stderr)
    return graph
