"""Optimisers with the update rules of ``torch.optim`` (SGD, Adam).

An optimiser holds a list of scalar parameter Values. ``step()`` reads every
parameter's ``grad`` (filled by ``backward()``) and changes its ``data``;
``zero_grad()`` sets the grads back to 0. The updates are computed on numpy vectors
(one entry per parameter) in float64, in the same order of operations as PyTorch's
single-tensor implementation, so trajectories agree with ``torch.optim`` to rounding.

``state_dict()`` returns plain Python (JSON-ready) data; ``load_state_dict()`` restores
the settings and the running averages.
"""
from __future__ import annotations

from typing import Dict, Iterable, List

import numpy as np

from ..core.engine import Value
from ..core.validate import check_flag, check_real
from ..errors import ArgumentError, CheckpointError, DataTypeError, ShapeError

__all__ = ["Optimizer", "SGD", "Adam", "OPTIMIZERS", "from_state_dict", "optimizer_named"]



def _check_nonneg(x, what):
    return check_real(x, what, minimum=0.0)


class Optimizer:
    """Base class: validates and stores the parameters, and implements
    :meth:`zero_grad`, the ``lr`` property and the state dict plumbing."""

    _hyper: tuple = ("lr",)

    def __init__(self, params: Iterable[Value], lr: float):
        if isinstance(params, Value) or not hasattr(params, "__iter__"):
            raise DataTypeError(f"{type(self).__name__} needs an iterable of parameter Values "
                                f"(model.parameters()), not {type(params).__name__}")
        params = list(params)
        if not params:
            raise ArgumentError(f"{type(self).__name__} got an empty parameter list")
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Value):
                raise DataTypeError(f"parameter {i} is a {type(p).__name__}, not a Value "
                                    f"(pass model.parameters())")
            if p.data.__class__ is not float:
                raise ShapeError(f"parameter {i} ({p.label or 'unlabelled'}) holds a batch; "
                                 f"parameters must be scalar Values")
            if not p.requires_grad:
                raise ArgumentError(f"parameter {i} ({p.label or 'unlabelled'}) has "
                                 f"requires_grad=False: it can never be trained")
            if id(p) in seen:
                raise ArgumentError(f"parameter {i} ({p.label or 'unlabelled'}) appears twice")
            seen.add(id(p))
        self.params: List[Value] = params
        self.lr = lr

    @property
    def lr(self) -> float:
        """The learning rate (may be changed between steps; must be >= 0)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _check_nonneg(value, "learning rate")

    #: Per parameter, how many updates it has had; None while all have had the same
    #: number (until a step skips a parameter whose grad is None).
    param_steps = None

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Set the ``grad`` of every parameter to 0; with ``set_to_none=True`` to None
        instead (PyTorch's default since 2.0): "no gradient yet", so a parameter that the
        next ``backward()`` does not reach is left alone by :meth:`step`."""
        value = None if set_to_none else 0.0
        for p in self.params:
            p.grad = value

    def _grads(self) -> np.ndarray:
        g = np.fromiter((p.grad for p in self.params), dtype=np.float64, count=len(self.params))
        return g

    def _data(self) -> np.ndarray:
        return np.fromiter((p.data for p in self.params), dtype=np.float64, count=len(self.params))

    def _write(self, theta: np.ndarray) -> None:
        for p, v in zip(self.params, theta.tolist()):
            p.data = v

    def step(self, grad=None, theta=None) -> None:
        """One update of every parameter: reads each parameter's ``grad`` and ``data``,
        computes :meth:`update` on the vectors, writes the new ``data`` back.

        ``grad``, ``theta``: the gradient and parameter vectors (in the order of
        ``params``) when the caller already holds them, as replayed training does;
        they replace reading every Value and give the same numbers."""
        if grad is not None:
            g = self._vector_arg(grad, "grad")
        else:
            try:
                g = self._grads()
            except (TypeError, ValueError):  # a grad that is not a number: _step_some says so
                return self._step_some(theta)
            # numpy reads a grad of None as NaN: look for None only when there is a NaN
            if np.isnan(g).any() and any(p.grad is None for p in self.params):
                return self._step_some(theta)
        theta = self._data() if theta is None else self._vector_arg(theta, "theta")
        self._write(self.update(theta, g))

    def _step_some(self, theta=None) -> None:
        """``step()`` when some parameters have ``grad = None`` ("no gradient yet"): as
        PyTorch, those are skipped: their ``data`` and their share of the optimiser's
        state (momentum, running averages, step count) stay as they are, and the others
        get the usual update."""
        present = np.array([p.grad is not None for p in self.params])
        try:
            g = np.array([p.grad if ok else 0.0 for p, ok in zip(self.params, present)],
                         dtype=np.float64)
        except (TypeError, ValueError):
            raise DataTypeError(f"{type(self).__name__}.step: every parameter's grad must be "
                                f"a number, or None for no gradient yet") from None
        if not present.any():
            return
        theta = self._data() if theta is None else self._vector_arg(theta, "theta")
        if self.param_steps is None:
            self.param_steps = self._steps_so_far()
        skipped = ~present
        before = {k: getattr(self, k) for k in self._per_param_state}
        before = {k: None if v is None else np.array(v) for k, v in before.items()}
        new = self.update(theta, g)
        for k, old in before.items():
            now = getattr(self, k)
            if now is not None:  # (plain SGD keeps no momentum buffer)
                now[skipped] = 0 if old is None else old[skipped]  # None: no buffer yet
        for p, v, ok in zip(self.params, new.tolist(), present):
            if ok:
                p.data = v

    _per_param_state: tuple = ("param_steps",)

    def _steps_so_far(self) -> np.ndarray:
        """Every parameter's number of updates so far, when all are equal."""
        raise NotImplementedError

    def _advance_steps(self) -> None:
        if self.param_steps is not None:
            self.param_steps += 1

    def _restore_steps(self, buffers: Dict) -> None:
        steps = buffers.get("param_steps")
        if steps is None:
            self.param_steps = None
            return
        arr = self._vector(steps, "param_steps")
        if not np.all((arr >= 0) & (arr == np.floor(arr))):
            raise CheckpointError("optimiser buffer 'param_steps' must hold integers >= 0")
        self.param_steps = arr.astype(np.int64)

    def _steps_state(self) -> Dict:
        steps = self.param_steps
        return {} if steps is None else {"param_steps": steps.tolist()}

    def update(self, theta: np.ndarray, grad: np.ndarray,
               out=None) -> np.ndarray:  # pragma: no cover
        """The update rule on vectors: the new parameter vector from ``theta`` and its
        gradient ``grad``, advancing the optimiser's state (momentum, running
        averages) but touching no Value. Neither argument is modified; ``out`` (an
        array of ``theta``'s shape, not ``grad``) receives the new vector instead of a
        fresh array (the library's rules accept it: their ``update.takes_out`` is
        True)."""
        raise NotImplementedError

    def _vector_arg(self, x, name):
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (len(self.params),):
            raise ShapeError(f"{type(self).__name__}.step: {name} must have shape "
                             f"({len(self.params)},), got {x.shape}")
        return x

    # ------------------------------------------------------------ state

    def settings(self) -> Dict:
        """The hyper-parameters as a dict (``lr``, ``momentum`` ...)."""
        out = {}
        for k in self._hyper:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def _buffers(self) -> Dict:
        return {}

    def state_dict(self) -> Dict:
        """``{"type", "n_params", "settings", "state"}`` with lists of floats."""
        return {"type": type(self).__name__, "n_params": len(self.params),
                "settings": self.settings(), "state": self._buffers()}

    def load_state_dict(self, state: Dict) -> None:
        """Restore settings and buffers saved by :meth:`state_dict` of an optimiser of
        the same type over the same number of parameters."""

        if not isinstance(state, dict) or state.get("type") != type(self).__name__:
            got = state.get("type") if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f"optimiser state of type {got!r} cannot be loaded into "
                                  f"{type(self).__name__}")
        if state.get("n_params") != len(self.params):
            raise CheckpointError(f"optimiser state is for {state.get('n_params')} parameters, "
                                  f"this {type(self).__name__} has {len(self.params)}")
        try:
            settings = dict(state["settings"])
            buffers = dict(state["state"])
            self._restore(buffers)
            for k in self._hyper:
                if k in settings:
                    v = settings[k]
                    setattr(self, k, tuple(v) if isinstance(v, list) else v)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise CheckpointError(f"invalid {type(self).__name__} state: {e}") from e

    def _restore(self, buffers: Dict) -> None:
        pass

    def _vector(self, data, name):

        arr = np.asarray(data, dtype=np.float64)
        if arr.shape != (len(self.params),) or not np.all(np.isfinite(arr)):
            raise CheckpointError(f"optimiser buffer {name!r} must hold {len(self.params)} "
                                  f"finite numbers")
        return arr

    def __repr__(self):
        s = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {s})"


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``. For each parameter
    ``theta`` with gradient ``g`` (``-g`` when ``maximize``):

        g <- g + weight_decay * theta
        b <- g                                  (first step)
        b <- momentum * b + (1 - dampening) * g (later steps)
        g <- g + momentum * b   if nesterov  else  g <- b      (when momentum != 0)
        theta <- theta - lr * g
    """

    _hyper = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize")

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, maximize: bool = False):
        super().__init__(params, lr)
        self.momentum = _check_nonneg(momentum, "momentum")
        self.dampening = check_real(dampening, "dampening")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.nesterov = check_flag(nesterov, "nesterov")
        self.maximize = check_flag(maximize, "maximize")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ArgumentError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum_buffer = None

    def update(self, theta: np.ndarray, grad: np.ndarray, out=None) -> np.ndarray:
        """The SGD rule of the class docstring on vectors (see :meth:`Optimizer.update`)."""
        g = grad
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        if self.momentum != 0:
            if self.momentum_buffer is None:
                self.momentum_buffer = g.copy()
            else:
                self.momentum_buffer = (self.momentum_buffer * self.momentum
                                        + (1 - self.dampening) * g)
                if self.param_steps is not None:  # a parameter's first update: b <- g
                    fresh = self.param_steps == 0
                    self.momentum_buffer[fresh] = g[fresh]
            if self.nesterov:
                g = g + self.momentum * self.momentum_buffer
            else:
                g = self.momentum_buffer
        self._advance_steps()
        return np.subtract(theta, self.lr * g, out=out)

    update.takes_out = True

    _per_param_state = ("momentum_buffer", "param_steps")

    def _steps_so_far(self):
        # only "none yet" (no momentum buffer) or "some" matters to SGD
        return np.full(len(self.params), 0 if self.momentum_buffer is None else 1, dtype=np.int64)

    def _buffers(self):
        buf = self.momentum_buffer
        return {"momentum_buffer": None if buf is None else buf.tolist(), **self._steps_state()}

    def _restore(self, buffers):
        buf = buffers.get("momentum_buffer")
        self.momentum_buffer = None if buf is None else self._vector(buf, "momentum_buffer")
        self._restore_steps(buffers)


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (L2 weight decay added to the gradient, not AdamW).
    With ``g`` the gradient (``-g`` when ``maximize``) at step ``t = 1, 2, ...``:

        g <- g + weight_decay * theta
        m <- beta1 m + (1 - beta1) g            v <- beta2 v + (1 - beta2) g^2
        v_max <- max(v_max, v)                  (amsgrad only; then v_max replaces v)
        theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    so ``m / (1 - beta1^t)`` is the bias-corrected mean and eps is added after the
    square root. The first step therefore moves each parameter by about ``-lr sign(g)``.
    """

    _hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise DataTypeError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), "
                                f"e.g. (0.9, 0.999), not {betas!r:.40}")
        self.betas = tuple(check_real(b, f"betas[{i}]", 0.0, 1.0, below=True)
                           for i, b in enumerate(betas))
        self.eps = _check_nonneg(eps, "eps")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.amsgrad = check_flag(amsgrad, "amsgrad")
        self.maximize = check_flag(maximize, "maximize")
        n = len(self.params)
        self.t = 0
        self.exp_avg = np.zeros(n)
        self.exp_avg_sq = np.zeros(n)
        self.max_exp_avg_sq = np.zeros(n)

    def update(self, theta: np.ndarray, grad: np.ndarray, out=None) -> np.ndarray:
        """The Adam rule of the class docstring on vectors (see :meth:`Optimizer.update`)."""
        beta1, beta2 = self.betas
        g = grad
        if self.maximize:
            g = -g
        self.t += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        self.exp_avg = self.exp_avg * beta1 + (1 - beta1) * g
        self.exp_avg_sq = self.exp_avg_sq * beta2 + (1 - beta2) * g * g
        # each parameter's own step number (PyTorch keeps one per parameter): the same
        # for all until a step skips a parameter whose grad is None
        t = self.t if self.param_steps is None else self.param_steps + 1
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        step_size = self.lr / bias_correction1
        if self.amsgrad:
            self.max_exp_avg_sq = np.maximum(self.max_exp_avg_sq, self.exp_avg_sq)
            v = self.max_exp_avg_sq
        else:
            v = self.exp_avg_sq
        denom = np.sqrt(v) / np.sqrt(bias_correction2) + self.eps
        self._advance_steps()
        return np.subtract(theta, step_size * (self.exp_avg / denom), out=out)

    update.takes_out = True

    _per_param_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "param_steps")

    def _steps_so_far(self):
        return np.full(len(self.params), self.t, dtype=np.int64)

    def _buffers(self):
        return {"step": self.t, "exp_avg": self.exp_avg.tolist(),
                "exp_avg_sq": self.exp_avg_sq.tolist(),
                "max_exp_avg_sq": self.max_exp_avg_sq.tolist(), **self._steps_state()}

    def _restore(self, buffers):
        t = buffers["step"]
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ValueError(f"step must be an integer >= 0, got {t!r}")
        m = self._vector(buffers["exp_avg"], "exp_avg")
        v = self._vector(buffers["exp_avg_sq"], "exp_avg_sq")
        vmax = self._vector(buffers["max_exp_avg_sq"], "max_exp_avg_sq")
        self.t, self.exp_avg, self.exp_avg_sq, self.max_exp_avg_sq = t, m, v, vmax
        self._restore_steps(buffers)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def optimizer_named(name: str, params, lr=None, **kwargs) -> Optimizer:
    """An optimiser by name (``"sgd"`` or ``"adam"``, any case)."""
    if not isinstance(name, str):
        raise DataTypeError(f"the optimiser must be named by a string ({', '.join(OPTIMIZERS)}), "
                            f"not {type(name).__name__}")
    cls = OPTIMIZERS.get(name.lower())
    if cls is None:
        raise ArgumentError(f"unknown optimiser {name[:60]!r}; known: {', '.join(OPTIMIZERS)}")
    if lr is not None:
        kwargs["lr"] = lr
    return cls(params, **kwargs)


def from_state_dict(params, state: Dict) -> Optimizer:
    """Rebuild the optimiser described by ``state`` (from :meth:`Optimizer.state_dict`)
    over ``params``, with its settings and buffers."""

    kind = state.get("type") if isinstance(state, dict) else None
    cls = {c.__name__: c for c in OPTIMIZERS.values()}.get(kind if isinstance(kind, str) else None)
    if cls is None:
        raise CheckpointError(f"unknown optimiser type in state: {state!r:.80}")
    settings = state.get("settings") or {}
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise CheckpointError(f"invalid {cls.__name__} settings {settings!r:.80}: not an object")
    settings = dict(settings)
    try:
        if "betas" in settings:
            settings["betas"] = tuple(settings["betas"])
        opt = cls(params, **settings)
    except (TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"invalid {cls.__name__} settings {settings!r:.200}: {e}") from e
    opt.load_state_dict(state)
    return opt
