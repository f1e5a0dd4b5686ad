"""Training curves with matplotlib (an optional dependency: ``pip install matplotlib``)."""
import math
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_history", "require_matplotlib"]


def require_matplotlib(what="plotting"):
    """Import matplotlib or raise an ImportError that says how to install it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs matplotlib, which is not installed: pip install matplotlib") from None


def _is_lr(key):
    return key == "lr" or key.startswith("lr_")


def _panels(keys):
    """Group keys into panels: each metric beside its val_ counterpart; the learning rates apart."""
    panels, lrs = {}, []
    for key in keys:
        if _is_lr(key):
            lrs.append(key)
            continue
        base = key[4:] if key.startswith("val_") else key
        panels.setdefault(base, []).append(key)
    return panels, lrs


def _best_index(values, mode):
    """The index of the best value (the first one, as a checkpoint tracker keeps it), ignoring NaN; None if none."""
    best = None
    for i, v in enumerate(values):
        if v is None or math.isnan(v):
            continue
        if best is None or (v < values[best] if mode == "min" else v > values[best]):
            best = i
    return best


def plot_history(history: Any, path: str | os.PathLike | None = None, keys: list[str] | None = None,
                 monitor: str | None = None, mode: str = "min", title: str | None = None) -> "Figure":
    """Plot per-epoch curves: loss and val_loss together, each metric with its val_ twin, the learning rate in a
    small panel below; epochs (1-based integers) on the x axis.

    The best epoch of ``monitor`` (default: val_loss when logged, else loss, as ModelCheckpoint; ``mode`` 'min' or
    'max') is marked in every panel and named in the title (``title`` first, when given). history is a History or
    a dict of lists; returns the matplotlib Figure and writes it to path (PNG) if given. Needs matplotlib (no
    pyplot: it works without a display and leaves the backend alone).

    Args:
        history (History or dict): the per-epoch values, {name: list}.
        path (str or os.PathLike, optional): the PNG file to write. Default: None (none).
        keys (list[str], optional): the names to plot. Default: None (every logged name).
        monitor (str, optional): the name whose best epoch is marked. Default: None (val_loss, or loss).
        mode (str): ``"min"`` or ``"max"``: which value of monitor is best. Default: ``"min"``.
        title (str, optional): the figure's title, before the best epoch's summary. Default: None.

    Returns:
        matplotlib.figure.Figure: the figure.

    PyTorch:
        No PyTorch counterpart: ember's own (Keras users plot ``History.history`` with matplotlib themselves).

    Example:
        >>> history = {"loss": [0.9, 0.6, 0.5], "val_loss": [1.0, 0.7, 0.8], "lr": [0.1, 0.1, 0.01]}
        >>> fig = ember.train.plot_history(history)  # plot_history(history, "curves.png") also writes a PNG
        >>> len(fig.axes)  # loss with val_loss, then the learning rate below
        2
    """
    if mode not in ("min", "max"):
        raise ValueError(f"plot_history: mode must be 'min' or 'max', got {mode!r}")
    require_matplotlib("plot_history")
    from matplotlib.figure import Figure  # no pyplot: works without a display and leaves the backend alone
    from matplotlib.ticker import MaxNLocator

    data = getattr(history, "history", history)
    epochs = list(getattr(history, "epoch", [])) or None
    keys = [k for k in (keys or data) if data.get(k)]
    panels, lr_keys = _panels(keys)
    if not panels and not lr_keys:
        raise ValueError("plot_history: nothing to plot (the history is empty)")

    def xs(values):  # 1-based epoch numbers
        return [e + 1 for e in (epochs[:len(values)] if epochs and len(epochs) >= len(values) else range(len(values)))]

    monitor = monitor or ("val_loss" if data.get("val_loss") else "loss")
    best = _best_index(data[monitor], mode) if data.get(monitor) else None
    best_x = xs(data[monitor])[best] if best is not None else None

    cols = max(1, min(3, len(panels)))
    rows = -(-len(panels) // cols)
    ratios = [3] * rows + ([1] * bool(lr_keys))
    fig = Figure(figsize=(4.5 * cols, 3.2 * rows + 1.4 * bool(lr_keys)), layout="constrained")
    grid = fig.add_gridspec(len(ratios), cols, height_ratios=ratios)
    axes = []
    for i, (base, group) in enumerate(panels.items()):
        ax = fig.add_subplot(grid[i // cols, i % cols], sharex=axes[0] if axes else None)
        for key in group:
            values = data[key]
            ax.plot(xs(values), values, marker="o" if len(values) < 30 else None, label=key)
            if key == monitor and best is not None:
                ax.plot([best_x], [values[best]], marker="*", markersize=14, color="black", linestyle="none",
                        label=f"best {key} {values[best]:.4g}", gid="best")
        ax.set_title(base)
        axes.append(ax)
    if lr_keys:
        ax = fig.add_subplot(grid[rows, :], sharex=axes[0] if axes else None)
        for key in lr_keys:
            values = data[key]
            ax.plot(xs(values), values, marker="o" if len(values) < 30 else None, label=key)
        lrs = [v for k in lr_keys for v in data[k] if v is not None and v == v]
        if lrs and min(lrs) > 0 and max(lrs) > 10 * min(lrs):  # a log scale only for lrs that span decades
            ax.set_yscale("log")
        elif lrs and min(lrs) >= 0:
            ax.set_ylim(0, 1.15 * max(lrs) or 1)
        ax.set_ylabel("learning rate")
        axes.append(ax)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if best_x is not None:
            ax.axvline(best_x, color="0.4", linestyle="--", linewidth=1, gid="best_epoch",
                       label=f"best epoch ({best_x})")
        if ax.get_ylabel() != "learning rate" or len(lr_keys) > 1:  # one lr needs no legend: its label says it
            ax.legend(fontsize="small")
    summary = (f"best {monitor} {data[monitor][best]:.4g} at epoch {best_x} of {len(data[monitor])}"
               if best is not None else "")
    fig.suptitle(": ".join(t for t in (title, summary) if t) or "training curves")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
