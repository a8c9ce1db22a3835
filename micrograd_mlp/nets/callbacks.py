"""Callbacks for :func:`~micrograd_mlp.nets.train.fit`, with Keras's meaning.

``fit(..., callbacks=[cb, ...])`` calls, for each callback,

* ``cb.set_model(model)`` once before training (when the callback has it);
* ``cb.on_train_begin(logs)`` before the first epoch;
* ``cb.on_epoch_end(epoch, logs)`` after every epoch, ``epoch`` counting from 1 (the
  number of epochs done, as in ``fit``'s printout and ``History``), ``logs`` a dict
  with ``loss``, every metric (``accuracy`` ...), ``val_loss`` and ``val_<metric>``
  when there is validation data, and ``lr`` (the learning rate the epoch used);
* ``cb.on_train_end(logs)`` after the last epoch.

A callback stops training by returning True from ``on_epoch_end`` or by setting its
attribute ``stop_training = True`` (Keras sets ``model.stop_training``; a callback here
may not own the model). A plain function ``f(epoch, logs)`` is accepted as a callback's
``on_epoch_end``. The model's parameters hold the epoch's final values whenever a
callback runs (also with replayed training).
"""
from __future__ import annotations

import math
import numbers
from typing import Dict, List, Optional

from ..core.validate import check_choice, check_flag, check_int, check_mapping, check_real
from ..errors import ArgumentError, DataTypeError

__all__ = ["Callback", "EarlyStopping", "LambdaCallback"]


class Callback:
    """Base class: every hook does nothing. ``stop_training = True`` (or True returned
    by :meth:`on_epoch_end`) asks ``fit`` to stop after the current epoch, and
    ``stop_reason`` then says why (it goes into ``History.stop_reason``)."""

    def __init__(self):
        self.model = None
        self.stop_training = False
        self.stop_reason = ""

    def set_model(self, model) -> None:
        """Called by ``fit`` with the model being trained."""
        self.model = model

    def on_train_begin(self, logs: Optional[Dict] = None) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: Optional[Dict] = None) -> Optional[bool]:
        """Called after epoch ``epoch`` (1, 2, ...); return True to stop training."""
        return None

    def on_train_end(self, logs: Optional[Dict] = None) -> None:
        """Called once after the last epoch."""


class LambdaCallback(Callback):
    """A callback made of functions: ``LambdaCallback(on_epoch_end=f)`` with
    ``f(epoch, logs)`` (return True to stop), and optionally ``on_train_begin(logs)``
    and ``on_train_end(logs)``."""

    def __init__(self, on_epoch_end=None, on_train_begin=None, on_train_end=None):
        super().__init__()
        for name, fn in (("on_epoch_end", on_epoch_end), ("on_train_begin", on_train_begin),
                         ("on_train_end", on_train_end)):
            if fn is not None and not callable(fn):
                raise DataTypeError(f"LambdaCallback {name} must be a function, not "
                                    f"{type(fn).__name__}")
        self._epoch_end, self._begin, self._end = on_epoch_end, on_train_begin, on_train_end
        fn = on_epoch_end or on_train_begin or on_train_end
        self.name = getattr(fn, "__name__", "") or type(self).__name__  # for stop messages

    def on_train_begin(self, logs=None):
        """Calls the ``on_train_begin`` function, if any."""
        if self._begin is not None:
            self._begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        """Calls the ``on_epoch_end`` function, if any, and returns its answer."""
        return None if self._epoch_end is None else self._epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        """Calls the ``on_train_end`` function, if any."""
        if self._end is not None:
            self._end(logs)


def as_callback(cb) -> Callback:
    """``cb`` itself when it has ``on_epoch_end``; a plain function ``f(epoch, logs)``
    wrapped in a :class:`LambdaCallback`; anything else is refused."""
    if hasattr(cb, "on_epoch_end"):
        return cb
    if callable(cb):
        return LambdaCallback(on_epoch_end=cb)
    raise DataTypeError(f"a callback must have on_epoch_end(epoch, logs) or be a function "
                        f"(epoch, logs) -> stop?, not {type(cb).__name__}")


class EarlyStopping(Callback):
    """Stop when the monitored number (``val_loss`` by default) has stopped improving,
    as ``keras.callbacks.EarlyStopping``.

    An epoch improves when its value beats the best so far by more than ``min_delta``
    (``value < best - min_delta`` in mode ``"min"``, ``value > best + min_delta`` in
    ``"max"``; ``"auto"`` is ``"max"`` for accuracies, else ``"min"``). Every epoch adds
    one to ``wait`` and an improving one resets it to 0 (unless it still misses
    ``baseline``); at an epoch that does not improve, training stops when
    ``wait >= patience`` (never after the first epoch). Epochs up to
    ``start_from_epoch`` are not counted.

    ``restore_best_weights=True``: when it stops, the parameters are set back to those
    of the best epoch (``best_epoch``; the first epoch's when none improved). As in Keras,
    training that runs to its last epoch keeps the last weights.

    After training: ``stopped_epoch`` (0 if it did not stop), ``best``, ``best_epoch``.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise DataTypeError(f"EarlyStopping monitor must be a name such as 'val_loss', "
                                f"not {monitor!r}")
        self.monitor = monitor
        self.min_delta = abs(check_real(min_delta, "EarlyStopping min_delta"))
        self.patience = check_int(patience, "EarlyStopping patience", minimum=0)
        mode = check_choice(mode, "EarlyStopping mode", ("auto", "min", "max"))
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
        self.mode = mode
        self.baseline = None if baseline is None else check_real(baseline, "EarlyStopping baseline")
        self.restore_best_weights = check_flag(restore_best_weights,
                                               "EarlyStopping restore_best_weights")
        self.start_from_epoch = check_int(start_from_epoch, "EarlyStopping start_from_epoch",
                                          minimum=0)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        """Reset the counters (an EarlyStopping object can serve several ``fit`` calls)."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights: Optional[List[float]] = None
        self.stop_training = False
        self.stop_reason = ""

    def _improves(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def _weights(self) -> List[float]:
        return [float(p.data) for p in self.model.parameters()]

    def on_epoch_end(self, epoch, logs=None):
        """Track the best value; stop (and restore the best weights) when ``patience``
        epochs passed without improvement."""
        epoch = check_int(epoch, "epoch", minimum=0)
        logs = {} if logs is None else check_mapping(logs, "logs")
        if self.monitor not in logs:
            raise ArgumentError(f"EarlyStopping monitors {self.monitor!r}, which fit does not "
                                f"report (it reports {', '.join(sorted(logs)) or 'nothing'}); "
                                f"give fit validation=(X_val, y_val) to get val_loss")
        value = logs[self.monitor]
        # NaN (a diverged run) is kept: it never improves; any other non-number is refused
        if not (isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
                and math.isnan(value)):
            value = check_real(value, f"logs[{self.monitor!r}]", finite=False)
        if epoch <= self.start_from_epoch:
            return None
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._weights()  # the first counted epoch's, if none improves
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self._weights()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0  # only beating both the best and the baseline resets it
            return None
        if self.wait >= self.patience and epoch > 1:
            self.stopped_epoch = epoch
            self.stop_training = True
            self.stop_reason = (f"EarlyStopping: {self.monitor} did not improve by more than "
                                f"{self.min_delta:g} for {self.wait} epoch(s); best "
                                f"{self.best:.6g} at epoch {self.best_epoch}")
            if self.restore_best_weights and self.best_weights is not None:
                for p, v in zip(self.model.parameters(), self.best_weights):
                    p.data = v
                self.stop_reason += f"; weights restored from epoch {self.best_epoch}"
            return True
        return None

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, min_delta={self.min_delta}, "
                f"patience={self.patience}, mode={self.mode!r}, "
                f"restore_best_weights={self.restore_best_weights})")
