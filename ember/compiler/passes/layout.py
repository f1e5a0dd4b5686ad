"""Layout selection: which ops write their (N, C, H, W) result channels-last, so that chains of convolutions,
batch norms and elementwise kernels run in the layout their kernels prefer without a transposing copy between
ops (the C backend's channels-last convolutions, ``c_nhwc``). The layout is storage only: a channels-last value
is a transposed view of (N, H, W, C) memory with the value's (N, C, H, W) shape, so every op still reads it
correctly (those that need C-contiguous arrays copy it), and nothing the user sees changes: a value handed out
(an output, a write, a ``.grad``) is never chosen.

An op that can write channels-last (``producer``) is chosen when every reader of its result, and of the results
of the ops that pass the layout on (``follows``: an elementwise kernel, a batch norm, computing in whatever
layout their inputs come), reads channels-last values at no extra cost (``absorbs``: a convolution, a reduction);
a reader of any other kind would copy the value back (the transpose the choice meant to save), so the producer
keeps (N, C, H, W). The backend gives the three predicates and marks the chosen ops."""

__all__ = ["choose_channels_last"]


def choose_channels_last(graph, producer, follows, absorbs):
    """The ops of graph (in order) whose result should be written channels-last (see the module docstring)."""
    readers, handed_out = graph.readers(), graph.handed_out()

    def closed(value):
        todo, seen = [value], set()
        while todo:
            v = todo.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            if id(v) in handed_out:
                return False
            for op in (graph.ops[i] for i in readers.get(id(v), ())):
                if follows(op):  # its results of this shape take the layout on
                    todo.extend(o for o in op.outputs if o is not None and o.shape == v.shape)
                elif not absorbs(op):
                    return False
        return True

    return [op for op in graph.ops if producer(op) and closed(op.outputs[0])]
