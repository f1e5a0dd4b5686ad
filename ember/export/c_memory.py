"""Where the arrays of a lowered program live: the weights one after the other in the weights file, and the
intermediate arrays in one arena, an array reusing the space of arrays no later step reads (liveness).

An arena array is live from the step that first writes it to the last step that reads it; a step's scratch only
during that step. Steps are placed in order: a step's outputs and scratch are placed while its inputs are still
live (a step never writes over what it reads), then what it was the last to read is freed. Placement is best
fit in a list of free ranges (merged when adjacent), each array aligned to ``ALIGN`` floats (64 bytes).
"""

__all__ = ["ALIGN", "MemoryPlan", "plan"]

ALIGN = 16


def _aligned(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


class MemoryPlan:
    """``arena``: floats of the arena; ``intermediates``: the floats of every arena array and scratch summed (what
    the program would need without reuse); ``weights``: floats of the weights file (aligned)."""

    def __init__(self, arena, intermediates, weights):
        self.arena, self.intermediates, self.weights = arena, intermediates, weights


class _Arena:
    def __init__(self):
        self.free = []  # (offset, size), sorted, disjoint, not adjacent
        self.end = 0

    def take(self, size):
        size = _aligned(max(size, 1))
        best = None
        for i, (off, n) in enumerate(self.free):
            if n >= size and (best is None or n < self.free[best][1]):
                best = i
        if best is None:
            if self.free and self.free[-1][0] + self.free[-1][1] == self.end:  # grow the last free range
                off = self.free.pop()[0]
            else:
                off = self.end
            self.end = off + size
            return off
        off, n = self.free[best]
        if n == size:
            del self.free[best]
        else:
            self.free[best] = (off + size, n - size)
        return off

    def give(self, off, size):
        size = _aligned(max(size, 1))
        self.free.append((off, size))
        self.free.sort()
        merged = []
        for o, n in self.free:
            if merged and merged[-1][0] + merged[-1][1] == o:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            else:
                merged.append((o, n))
        self.free = merged


def plan(program):
    """Set every weight's and arena array's ``offset``; returns the MemoryPlan."""
    at = 0
    for w in program.weights:
        w.offset = at
        at += _aligned(w.size)
    weights = at
    last = {}
    for i, step in enumerate(program.steps):
        for b in step.buffers():
            if b.kind == "arena":
                last[id(b)] = i
    arena, placed, total = _Arena(), set(), 0
    for i, step in enumerate(program.steps):
        for b in step.writes + step.scratch:
            if b.kind in ("arena", "scratch") and id(b) not in placed:
                b.offset = arena.take(b.size)
                placed.add(id(b))
                total += b.size
        done = {}
        for b in step.buffers():
            if (b.kind == "scratch" or (b.kind == "arena" and last.get(id(b)) == i)) and id(b) not in done:
                done[id(b)] = b
        for b in done.values():
            arena.give(b.offset, b.size)
    return MemoryPlan(arena.end, total, weights)
