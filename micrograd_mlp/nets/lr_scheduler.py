"""Learning-rate schedulers with the meaning of ``torch.optim.lr_scheduler``.

A scheduler drives the ``lr`` of one optimiser. Made with ``last_epoch=-1`` it records
the optimiser's learning rate as the base rate (``base_lrs``, also stored as
``optimizer.initial_lr``) and sets the rate of epoch 0; each :meth:`LRScheduler.step`
(call it once per epoch, after the epoch's ``optimizer.step()`` calls) advances
``last_epoch`` by one and sets the rate of the new epoch. With ``eta_0`` the base rate
and ``t`` = ``last_epoch``:

* :class:`StepLR`: ``eta_t = eta_0 * gamma ** (t // step_size)``
* :class:`ExponentialLR`: ``eta_t = eta_0 * gamma ** t``
* :class:`CosineAnnealingLR`: ``eta_t = eta_min + (eta_0 - eta_min) (1 + cos(pi t / T_max)) / 2``
* :class:`LambdaLR`: ``eta_t = eta_0 * lr_lambda(t)``

The rates are computed as torch computes them (the first three from the previous rate,
step by step), so they and the parameter trajectories agree with torch to rounding.
:func:`~micrograd_mlp.nets.train.fit` takes a scheduler (or a function making one from the
optimiser) and steps it once per epoch.

This module knows optimisers only as objects with a settable ``lr``.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Dict, List

from ..core.validate import check_int, check_real
from ..errors import ArgumentError, CheckpointError, DataTypeError, DomainError

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "SCHEDULERS"]


class LRScheduler:
    """Base class: holds the optimiser, ``base_lrs``, ``last_epoch`` and the last rate
    set; subclasses give :meth:`get_lr`, the rate of epoch ``last_epoch``."""

    #: the constructor arguments saved by :meth:`state_dict` (besides the counters)
    _settings: tuple = ()

    def __init__(self, optimizer, last_epoch: int = -1):
        if type(self).get_lr is LRScheduler.get_lr:
            raise DataTypeError(f"{type(self).__name__} gives no get_lr(): LRScheduler is the base "
                                f"class; use StepLR, ExponentialLR, CosineAnnealingLR or "
                                f"LambdaLR, or subclass it with a get_lr")
        if not hasattr(optimizer, "lr"):
            raise DataTypeError(f"{type(self).__name__} needs an optimiser with an lr "
                                f"(such as optim.SGD or optim.Adam), not {type(optimizer).__name__}")
        self.last_epoch = check_int(last_epoch, "last_epoch", minimum=-1)
        if self.last_epoch == -1:
            if getattr(optimizer, "initial_lr", None) is None:
                optimizer.initial_lr = float(optimizer.lr)
        elif getattr(optimizer, "initial_lr", None) is None:
            raise ArgumentError(f"{type(self).__name__}: resuming at last_epoch="
                                f"{last_epoch} needs the optimiser's initial_lr (set by the "
                                f"scheduler that ran before); start with last_epoch=-1")
        self.optimizer = optimizer
        self.base_lrs: List[float] = [float(optimizer.initial_lr)]
        self._step_count = 0
        self._is_initial = True  # the constructor's step keeps a recursive rule's rate
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> float:  # pragma: no cover - every scheduler gives its own
        """The learning rate of epoch ``last_epoch`` (called by :meth:`step`, after
        ``last_epoch`` was advanced; ``optimizer.lr`` still holds the previous rate)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance ``last_epoch`` by one and set the optimiser's ``lr`` to that epoch's
        rate."""
        self._step_count += 1
        self.last_epoch += 1
        try:
            lr = self.get_lr()
            if not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr >= 0):
                raise DomainError(f"{type(self).__name__}: the learning rate of epoch "
                                  f"{self.last_epoch} would be {lr!r}; it must be a finite "
                                  f"number >= 0")
        except Exception:  # a refused step leaves the scheduler as it was
            self._step_count -= 1
            self.last_epoch -= 1
            raise
        self.optimizer.lr = float(lr)
        self._last_lr = [float(self.optimizer.lr)]

    def get_last_lr(self) -> List[float]:
        """The learning rate last set by :meth:`step`, as a one-entry list (torch gives
        one entry per parameter group; this library's optimisers have one)."""
        return list(self._last_lr)

    # ------------------------------------------------------------ state

    def state_dict(self) -> Dict:
        """The counters and settings as plain (JSON-ready) data: ``type``,
        ``last_epoch``, ``base_lrs``, ``_step_count``, ``_last_lr`` and the
        constructor's settings (``step_size``, ``gamma`` ...); never the optimiser."""
        state = {"type": type(self).__name__, "last_epoch": self.last_epoch,
                 "base_lrs": list(self.base_lrs), "_step_count": self._step_count,
                 "_last_lr": list(self._last_lr)}
        state.update({k: getattr(self, k) for k in self._settings})
        return state

    def load_state_dict(self, state: Dict) -> None:
        """Restore what :meth:`state_dict` saved (from a scheduler of the same type).
        The optimiser's ``lr`` is not changed: load its own state for that, as with
        torch."""
        if not isinstance(state, dict) or state.get("type") != type(self).__name__:
            got = state.get("type") if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f"scheduler state of type {got!r} cannot be loaded into "
                                  f"{type(self).__name__}")
        try:
            last_epoch = check_int(state["last_epoch"], "last_epoch", minimum=-1)
            step_count = check_int(state["_step_count"], "_step_count", minimum=0)
            base = [check_real(v, "base_lrs", minimum=0.0) for v in state["base_lrs"]]
            last = [check_real(v, "_last_lr", minimum=0.0) for v in state["_last_lr"]]
            if len(base) != 1 or len(last) != 1:
                raise ArgumentError("base_lrs and _last_lr must hold one rate each")
            settings = type(self)._check_settings(**{k: state[k] for k in self._settings})
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"invalid {type(self).__name__} state: {e}") from e
        self.last_epoch, self._step_count, self.base_lrs, self._last_lr = (
            last_epoch, step_count, base, last)
        self.optimizer.initial_lr = base[0]  # as torch keeps it in the optimiser's state
        for k, v in settings.items():
            setattr(self, k, v)

    @staticmethod
    def _check_settings(**settings) -> Dict:
        return settings

    def __repr__(self):
        s = "".join(f", {k}={getattr(self, k)!r}" for k in self._settings)
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr[0]!r}{s})"


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``eta_t = eta_0 * gamma ** (t // step_size)`` (as ``torch.optim.lr_scheduler.StepLR``)."""

    _settings = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        settings = self._check_settings(step_size=step_size, gamma=gamma)
        self.step_size, self.gamma = settings["step_size"], settings["gamma"]
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_settings(step_size, gamma):
        return {"step_size": check_int(step_size, "StepLR step_size", minimum=1),
                "gamma": check_real(gamma, "StepLR gamma", minimum=0.0)}

    def get_lr(self) -> float:
        """The previous rate times ``gamma`` when ``t`` is a non-zero multiple of
        ``step_size``, else the previous rate."""
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self.optimizer.lr
        return self.optimizer.lr * self.gamma


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``eta_t = eta_0 * gamma ** t`` (as
    ``torch.optim.lr_scheduler.ExponentialLR``)."""

    _settings = ("gamma",)

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = self._check_settings(gamma=gamma)["gamma"]
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_settings(gamma):
        return {"gamma": check_real(gamma, "ExponentialLR gamma", minimum=0.0)}

    def get_lr(self) -> float:
        """The previous rate times ``gamma`` (the constructor's step keeps it)."""
        if self._is_initial:
            return self.optimizer.lr
        return self.optimizer.lr * self.gamma


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the base rate down to ``eta_min`` over ``T_max`` epochs,
    then back up (a period of ``2 T_max``), as ``torch.optim.lr_scheduler.CosineAnnealingLR``:

        eta_t = eta_min + (eta_0 - eta_min) (1 + cos(pi t / T_max)) / 2

    computed, like torch, from the previous rate:
    ``eta_t = eta_min + (eta_{t-1} - eta_min) (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max))``,
    with the closed form's increment at the bottom of each period."""

    _settings = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        settings = self._check_settings(T_max=T_max, eta_min=eta_min)
        self.T_max, self.eta_min = settings["T_max"], settings["eta_min"]
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_settings(T_max, eta_min):
        return {"T_max": check_int(T_max, "CosineAnnealingLR T_max", minimum=1),
                "eta_min": check_real(eta_min, "CosineAnnealingLR eta_min", minimum=0.0)}

    def get_lr(self) -> float:
        """The rate of epoch ``t`` by torch's recursive rule (see the class)."""
        lr, t, T, low = self.optimizer.lr, self.last_epoch, self.T_max, self.eta_min
        base = self.base_lrs[0]
        if self._is_initial:
            return lr
        if self._step_count == 1 and t > 0:  # resumed: start from the closed form
            return low + (base - low) * (1 + math.cos(t * math.pi / T)) / 2
        if (t - 1 - T) % (2 * T) == 0:  # the bottom: the ratio below would be 0 / 0
            return lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
        return ((1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (lr - low) + low)


class LambdaLR(LRScheduler):
    """The base rate times a factor of the epoch: ``eta_t = eta_0 * lr_lambda(t)`` (as
    ``torch.optim.lr_scheduler.LambdaLR``). micrograd's demo schedule
    ``lr = 1.0 - 0.9 k / 100`` is ``LambdaLR(SGD(params, lr=1.0), lambda k: 1 - 0.9 * k / 100)``.

    ``state_dict()`` does not hold ``lr_lambda`` (a function is not data, as in torch):
    make the scheduler with the same function before loading."""

    def __init__(self, optimizer, lr_lambda: Callable[[int], float], last_epoch: int = -1):
        if isinstance(lr_lambda, (list, tuple)) and len(lr_lambda) == 1:
            lr_lambda = lr_lambda[0]  # torch's one-per-group list, for our one group
        if not callable(lr_lambda):
            raise DataTypeError(f"LambdaLR lr_lambda must be a function of the epoch, "
                                f"not {type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> float:
        """``base_lrs[0] * lr_lambda(last_epoch)``."""
        factor = self.lr_lambda(self.last_epoch)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise DataTypeError(f"LambdaLR: lr_lambda({self.last_epoch}) returned "
                                f"{type(factor).__name__}, not a number")
        return self.base_lrs[0] * factor


SCHEDULERS = {"StepLR": StepLR, "ExponentialLR": ExponentialLR,
              "CosineAnnealingLR": CosineAnnealingLR, "LambdaLR": LambdaLR}
