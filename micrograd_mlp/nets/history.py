"""What :func:`~micrograd_mlp.nets.train.fit` records: the :class:`History` of a run (one
entry per epoch) and its printout (:func:`epoch_line`). The metrics themselves are in
:mod:`micrograd_mlp.nets.metrics`."""
from __future__ import annotations

from typing import Dict, List

from ..core.validate import check_int
from ..errors import ArgumentError, DataTypeError

__all__ = ["History", "epoch_line"]


class History:
    """What :func:`fit` measured, one entry per epoch: ``loss`` and ``val_loss``
    (lists of floats), ``metrics`` and ``val_metrics`` (name -> list), ``lr`` (the
    learning rate each epoch used). ``epochs`` is the number of epochs run,
    ``stopped_early`` tells whether ``epsilon``, a non-finite loss or a callback ended
    training, ``stop_reason`` says why it ended. Draw it with
    :func:`micrograd_mlp.views.plots_training.plot_history`."""

    def __init__(self):
        self.loss: List[float] = []
        self.val_loss: List[float] = []
        self.metrics: Dict[str, List[float]] = {}
        self.val_metrics: Dict[str, List[float]] = {}
        self.lr: List[float] = []
        self.stopped_early = False
        self.stop_reason = ""

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.loss)

    def logs(self) -> Dict[str, float]:
        """The last epoch's numbers as callbacks receive them: ``loss``, each metric,
        ``val_loss`` and ``val_<metric>`` (with validation data), ``lr``; empty before
        the first epoch."""
        if not self.loss:
            return {}
        out = {"loss": self.loss[-1]}
        out.update({k: v[-1] for k, v in self.metrics.items()})
        if self.val_loss:
            out["val_loss"] = self.val_loss[-1]
        out.update({f"val_{k}": v[-1] for k, v in self.val_metrics.items()})
        out["lr"] = self.lr[-1]
        return out

    def __repr__(self):
        if not self.loss:
            return "History(empty)"
        extra = "".join(f", {k}={v[-1]:.4g}" for k, v in self.metrics.items())
        return f"History({self.epochs} epochs, loss={self.loss[-1]:.6g}{extra})"


def epoch_line(epoch, h: History) -> str:
    """The printout of one epoch: loss, metrics and their validation twins."""
    epoch = check_int(epoch, "epoch", minimum=0)
    if not isinstance(h, History):
        raise DataTypeError(f"h must be a History, not {type(h).__name__} ({h!r:.40})")
    if not h.loss:
        raise ArgumentError("epoch_line: the history holds no epoch yet")
    parts = [f"epoch {epoch:6d}", f"loss {h.loss[-1]:.6f}"]
    for k, v in h.metrics.items():
        parts.append(f"{k} {100 * v[-1]:.2f}%" if k == "accuracy" else f"{k} {v[-1]:.6g}")
    if h.val_loss:
        parts.append(f"val_loss {h.val_loss[-1]:.6f}")
    for k, v in h.val_metrics.items():
        parts.append(f"val_{k} {100 * v[-1]:.2f}%" if k == "accuracy" else f"val_{k} {v[-1]:.6g}")
    return "  ".join(parts)
