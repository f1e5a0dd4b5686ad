"""Training curves with matplotlib (an optional dependency: ``pip install matplotlib``)."""

__all__ = ["plot_history", "require_matplotlib"]


def require_matplotlib(what="plotting"):
    """Import matplotlib or raise an ImportError that says how to install it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs matplotlib, which is not installed: pip install matplotlib") from None


def _panels(history, keys):
    """Group keys into panels: each metric beside its val_ counterpart, the learning rate alone."""
    panels = {}
    for key in keys:
        base = key[4:] if key.startswith("val_") else key
        panels.setdefault(base, []).append(key)
    return panels


def plot_history(history, path=None, keys=None):
    """Plot per-epoch curves (loss and val_loss together, each metric with its val_ twin, lr on a log scale).

    history is a History or a dict of lists; returns the matplotlib Figure and writes it to path (PNG) if given.
    """
    require_matplotlib("plot_history")
    from matplotlib.figure import Figure  # no pyplot: works without a display and leaves the backend alone

    data = getattr(history, "history", history)
    epochs = list(getattr(history, "epoch", [])) or None
    keys = [k for k in (keys or data) if data.get(k)]
    panels = _panels(data, keys)
    if not panels:
        raise ValueError("plot_history: nothing to plot (the history is empty)")
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(4.5 * cols, 3.2 * rows), layout="constrained")
    for i, (base, group) in enumerate(panels.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        for key in group:
            values = data[key]
            xs = epochs[:len(values)] if epochs and len(epochs) >= len(values) else range(len(values))
            ax.plot([x + 1 for x in xs], values, marker="o" if len(values) < 30 else None, label=key)
        if base == "lr" and all(v > 0 for k in group for v in data[k]):
            ax.set_yscale("log")
        ax.set_title(base)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
