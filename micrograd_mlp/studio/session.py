"""One studio session: the data, the network, its optimiser and the run so far, behind
one lock.

Training is the library's training: each step is one mini-batch update by
:func:`~micrograd_mlp.nets.compiled_step.replayed_train_step` (the step
:func:`~micrograd_mlp.nets.train.fit` takes), the epochs visit the samples in the
order ``fit`` uses (``np.random.default_rng(seed).permutation`` when the batches are
smaller than the data), and the epoch loss is ``fit``'s: the mean over the epoch's
samples of the loss measured before each step. So after ``n`` epochs from the same
initial weights the parameters equal those of ``fit(model, X, y, loss, optimizer, lr,
epochs=n, batch_size, seed)``.

Every public method takes the lock: the training thread, the web server's requests and
the Jupyter widget share one session safely.
"""
from __future__ import annotations

import json
import math
import threading
import time
from typing import Dict, List, Optional

import numpy as np

from ..core.validate import check_choice, check_flag, check_int, check_real
from ..errors import ArgumentError, DataError, DataTypeError
from ..nets import optim
from ..nets.compiled_step import compile_step, replayed_train_step
from ..nets.fit_inputs import FitTargets, resolve_loss
from ..nets.mlp import MLP
from . import datasets
from . import state as build_state
from .netspec import CHOICES, parse_studio_net
from .points import MAX_POINTS, csv_text, parse_csv

__all__ = ["Session", "DEFAULTS", "CHOICES"]

DEFAULTS = {
    "data": "moons", "seed": 0, "net": "2-8-8-1", "activation": "tanh",
    "loss": "mse", "optimizer": "adam", "lr": 0.05, "batch_size": None,
    "speed": 0, "running": False,
}

MAX_SNAPSHOTS = 120   #: snapshots kept; beyond, every other one is dropped
MAX_HISTORY = 20000   #: epochs of loss history kept (the oldest are dropped)
MAX_SPEED = 1000      #: steps per tick of the training thread


class Session:
    """The state of one studio: see the module docstring. ``settings`` as in
    :data:`DEFAULTS` (unknown keys are refused)."""

    def __init__(self, **settings):
        self.lock = threading.RLock()
        self.readers = 0  # requests waiting for the lock (the trainer lets them in)
        self.listeners = []  # functions called after every change (the web app's long polls)
        self.version = 0
        self.message = ""
        self.selected = 0
        self._cache: Dict = {}
        self._encoded = (None, b"")
        self.last_read = -1e9
        self.prepare_time = 0.0  # seconds the last state prepared for a watcher took
        s = dict(DEFAULTS)
        s.update(self._checked(settings, DEFAULTS))
        self.settings = s
        self._new_data()
        self._new_model()

    # ------------------------------------------------------------ settings

    def _checked(self, new: Dict, current: Dict) -> Dict:
        """``new`` settings checked one by one (a clear error for the first bad one)."""
        if not isinstance(new, dict):
            raise DataTypeError(f"settings must be an object, not {type(new).__name__}")
        out = {}
        for key, value in new.items():
            if key not in DEFAULTS:
                raise ArgumentError(f"unknown setting {key!r}; known: {', '.join(DEFAULTS)}")
            if key in CHOICES:
                value = check_choice(value, key, CHOICES[key])
            elif key == "seed":
                value = check_int(value, "seed", minimum=0, maximum=2 ** 32 - 2)
            elif key == "lr":
                value = check_real(value, "lr", minimum=0.0, maximum=100.0, above=True)
            elif key == "batch_size":
                value = None if value in (None, "all") else check_int(
                    value, "batch_size", minimum=1, maximum=MAX_POINTS)
            elif key == "speed":
                value = check_int(value, "speed", minimum=0, maximum=MAX_SPEED)
            elif key == "running":
                value = check_flag(value, "running")
            elif key == "net":
                parse_studio_net(value)
            out[key] = value
        return out

    def update_settings(self, new: Dict) -> None:
        """Change settings; what they touch is rebuilt: the data (``data``, ``seed``),
        the network (``net``, ``activation``, ``loss``: a new run), the optimiser
        (``optimizer``: a new one over the current weights), ``lr`` (the optimiser's
        learning rate, its state kept), ``batch_size`` (a new epoch begins)."""
        with self.lock:
            checked = self._checked(new, self.settings)
            merged = dict(self.settings)
            merged.update(checked)
            if "net" in checked or "data" in checked:
                want = datasets.make(merged["data"], merged["seed"]).dim
                if parse_studio_net(merged["net"])[0] != want:
                    if "net" in checked:
                        raise ArgumentError(f"the network {merged['net']} takes "
                                            f"{parse_studio_net(merged['net'])[0]} inputs but the data "
                                            f"set {merged['data']!r} has {want}")
                    sizes = parse_studio_net(merged["net"])[1:]
                    merged["net"] = "-".join(map(str, [want] + sizes))
            old = self.settings
            saved = dict(self.__dict__)  # the rebuilds assign new objects: a shallow copy undoes them
            self.settings = merged
            try:
                if merged["data"] != old["data"] or merged["seed"] != old["seed"]:
                    self._new_data()
                    self._new_model()
                elif any(merged[k] != old[k] for k in ("net", "activation", "loss")):
                    self._new_model()
                elif merged["optimizer"] != old["optimizer"]:
                    self._new_optimizer()
                elif merged["lr"] != old["lr"]:
                    self.optimizer.lr = merged["lr"]
                elif merged["batch_size"] != old["batch_size"]:
                    self._new_epoch_order()
            except Exception:
                self.__dict__.clear()
                self.__dict__.update(saved)
                raise
            if merged["running"] and not old["running"]:
                self.message = ""
            self._changed()

    # ------------------------------------------------------------ building

    def _new_data(self) -> None:
        ds = datasets.make(self.settings["data"], self.settings["seed"])
        self.kind = ds.kind
        self.X, self.y = ds.X, ds.y
        self.X_val, self.y_val = ds.X_val, ds.y_val
        self.selected = 0
        sizes = parse_studio_net(self.settings["net"])[1:]
        self.settings["net"] = "-".join(map(str, [ds.dim] + sizes))

    def _out_activation(self) -> Optional[str]:
        if self.kind == "regression" or self.settings["loss"] == "bce_with_logits":
            return None
        return "sigmoid"

    def _new_model(self) -> None:
        """A fresh network from ``seed``; its weights are the run's initial weights."""
        widths = parse_studio_net(self.settings["net"])
        if self.kind == "regression" and self.settings["loss"] in (
                "binary_cross_entropy", "bce_with_logits"):
            raise ArgumentError(f"the loss {self.settings['loss']!r} needs class labels; "
                                f"the data set {self.settings['data']!r} is a regression")
        self.model = MLP(widths[0], widths[1:], activation=self.settings["activation"],
                         out_activation=self._out_activation(), seed=self.settings["seed"])
        self.loss_fn = resolve_loss(self.settings["loss"])
        self.initial = [p.data for p in self.model.parameters()]
        self._restart()

    def _restart(self) -> None:
        """Step 0 from the initial weights: a new optimiser, replayed step, epoch order,
        history and snapshots."""
        for p, v in zip(self.model.parameters(), self.initial):
            p.data = v
            p.grad = 0.0
        self.compiled = compile_step(self.model, self.loss_fn, X=self.X[:1])
        self.step_count = 0
        self.epoch = 0
        self.history = {"epoch": [], "train": [], "val": []}
        self.snapshots: List[Dict] = []
        self._every_steps = 1
        self.message = ""
        self._new_optimizer()
        self._new_targets()
        self.rng = np.random.default_rng(self.settings["seed"])
        self._new_epoch_order()
        self._snapshot()

    def _new_optimizer(self) -> None:
        self.optimizer = optim.optimizer_named(self.settings["optimizer"], self.model.parameters(),
                                   lr=self.settings["lr"])

    def _new_targets(self) -> None:
        self.targets = FitTargets(self.model, self.y, self.X.shape[0])
        self.targets.check_loss(self.loss_fn)

    def _new_epoch_order(self) -> None:
        """The sample order of the epoch that begins (as ``fit`` draws it)."""
        n = self.X.shape[0]
        bs = self.batch_size
        self.order = self.rng.permutation(n) if bs < n else np.arange(n)
        self.position = 0
        self.epoch_total = 0.0

    @property
    def batch_size(self) -> int:
        """The mini-batch size in use (the whole set when the setting is None)."""
        n = self.X.shape[0]
        bs = self.settings["batch_size"]
        return n if bs is None else min(bs, n)

    # ------------------------------------------------------------ training

    def step(self, steps: int = 1) -> int:
        """Take up to ``steps`` mini-batch updates; stops early (and pauses) when the
        loss or a parameter stops being finite. Returns the steps taken."""
        steps = check_int(steps, "steps", minimum=1, maximum=100000)
        return self._train(lambda done: done < steps)

    def step_for(self, seconds: float) -> int:
        """Take steps for about ``seconds`` (at least one); returns the steps taken."""
        end = time.perf_counter() + seconds
        return self._train(lambda done: done == 0 or time.perf_counter() < end)

    def run_epochs(self, epochs: int = 1) -> int:
        """Finish the current epoch and take ``epochs - 1`` more (whole epochs)."""
        epochs = check_int(epochs, "epochs", minimum=1, maximum=10000)
        with self.lock:
            target = self.epoch + epochs
            return self._train(lambda done: self.epoch < target)

    def _train(self, go_on) -> int:
        """Steps while ``go_on(steps done so far)`` and the run stays finite, then the
        parameters synced, a snapshot and the watchers told; returns the steps taken."""
        with self.lock:
            done = 0
            try:
                while go_on(done):
                    if not self._one_step():
                        break
                    done += 1
            finally:
                self._sync()
            self._snapshot(rolling=self.step_count % self._snapshot_every() != 0)
            self._changed()
            return done

    def _one_step(self) -> bool:
        """One replayed update (parameters kept as a vector until :meth:`_sync`, as
        ``fit`` keeps them); False when the loss or a parameter is not finite."""
        n = self.X.shape[0]
        idx = self.order[self.position:self.position + self.batch_size]
        value, _ = replayed_train_step(self.compiled, self.X[idx], self.targets.batch(idx),
                                       self.optimizer, sync=False)
        self.step_count += 1
        self.position += len(idx)
        self.epoch_total += value * len(idx)
        finite = math.isfinite(value) and bool(np.all(np.isfinite(self.compiled.theta())))
        if self.position >= n:
            self.epoch += 1
            self._record_epoch(self.epoch_total / n)
            self._new_epoch_order()
        if self.step_count % self._snapshot_every() == 0:
            self._snapshot()
        if not finite:
            self.settings["running"] = False
            self.message = (f"the loss became {value} at step {self.step_count} (diverged); "
                            f"training paused: try a smaller learning rate, then reset")
        return finite

    def _sync(self) -> None:
        """Write the parameter vector of the replayed steps into the network's Values."""
        self.compiled.sync()

    def _record_epoch(self, loss: float) -> None:
        h = self.history
        h["epoch"].append(self.epoch)
        h["train"].append(loss)
        # the validation loss costs a forward pass: every epoch at first, then every 10th
        h["val"].append(self._val_loss() if self.epoch <= 100 or self.epoch % 10 == 0 else None)
        if len(h["epoch"]) > MAX_HISTORY:
            for k in h:
                del h[k][: len(h[k]) - MAX_HISTORY]

    def _val_loss(self) -> float:
        """The mean loss over the validation points, by the replayed step's forward
        pass at the current parameter vector (no Value touched)."""
        value, _, _ = self.compiled.run(self.X_val, np.ascontiguousarray(self.y_val, dtype=np.float64),
                                        self.compiled.theta())
        return float(value)

    def _snapshot_every(self) -> int:
        """Steps between snapshots: doubles each time the kept ones are thinned, so
        they always span the whole run."""
        return self._every_steps

    def _snapshot(self, rolling: bool = False) -> None:
        """Keep the run's present moment; a ``rolling`` one (the end of a call of
        :meth:`step`, so the last snapshot is always now) is replaced by the next."""
        snaps = self.snapshots
        if snaps and (snaps[-1]["step"] == self.step_count or snaps[-1]["rolling"]):
            snaps.pop()
        snaps.append(self._snapshot_now(rolling))
        if len(snaps) > MAX_SNAPSHOTS:  # keep every other one: half as many, twice as far apart
            self.snapshots = snaps[::2] if snaps[-1] is snaps[::2][-1] else snaps[::2] + [snaps[-1]]
            self._every_steps *= 2

    def _snapshot_now(self, rolling: bool = False) -> Dict:
        return {"step": self.step_count, "epoch": self.epoch, "rolling": rolling,
                "theta": np.array(self.compiled.theta(), dtype=np.float64, copy=True),
                "history": len(self.history["epoch"])}

    def reset(self) -> None:
        """Back to step 0 with the same initial weights (and a new optimiser)."""
        with self.lock:
            self.settings["running"] = False
            self._restart()
            self._changed()

    def pause(self, message: str) -> None:
        """Stop training and show ``message`` (why it stopped)."""
        with self.lock:
            self.settings["running"] = False
            self.message = message
            self._changed()

    # ------------------------------------------------------------ by hand

    def select(self, index) -> None:
        """Send training point ``index`` through the graph."""
        with self.lock:
            self.selected = check_int(index, "index", minimum=0, maximum=self.X.shape[0] - 1)
            self._changed()

    def set_weight(self, name, index, value) -> None:
        """Set one weight ``W<l>[i, j]`` or bias ``b<l>[i]`` (rows = neurons) by hand."""
        with self.lock:
            p = self._parameter(name, index)
            p.data = check_real(value, f"{name} value", minimum=-1e6, maximum=1e6)
            self._changed()

    def _parameter(self, name, index):
        if not isinstance(name, str):
            raise DataTypeError(f"name must be a string such as 'W1' or 'b2', not {type(name).__name__}")
        layers = self.model.layers
        known = [f"{k}{l}" for l in range(1, len(layers) + 1) for k in "Wb"]
        if name not in known:
            raise ArgumentError(f"unknown weight name {name!r:.40}; this network has "
                                f"{', '.join(known)}")
        layer = layers[int(name[1:]) - 1]
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            index = [index]
        if not isinstance(index, (list, tuple)):
            raise DataTypeError(f"index must be a list such as [0, 1], not {type(index).__name__}")
        want = 2 if name[0] == "W" else 1
        if len(index) != want:
            raise ArgumentError(f"{name} needs {want} indices (row = neuron"
                                f"{', column = input' if want == 2 else ''}), got {len(index)}")
        i = check_int(index[0], f"{name} row", minimum=0, maximum=layer.nout - 1)
        neuron = layer.neurons[i]
        if want == 1:
            return neuron.b
        j = check_int(index[1], f"{name} column", minimum=0, maximum=layer.nin - 1)
        return neuron.w[j]

    # ------------------------------------------------------------ points

    def add_point(self, x, y=None, label=None) -> int:
        """Add a training point: ``(x, y)`` of class ``label`` for a classification set,
        or the target ``y`` at ``x`` for a regression. Returns its index."""
        with self.lock:
            if self.X.shape[0] >= MAX_POINTS:
                raise ArgumentError(f"the studio holds at most {MAX_POINTS} points")
            if self.kind == "regression":
                row = [check_real(x, "x", minimum=-1e6, maximum=1e6)]
                target = check_real(y, "y", minimum=-1e6, maximum=1e6)
                if label is not None:
                    raise ArgumentError("a regression point has a target y, not a label")
            else:
                row = [check_real(x, "x", minimum=-1e6, maximum=1e6),
                       check_real(y, "y", minimum=-1e6, maximum=1e6)]
                target = check_int(label, "label", minimum=0, maximum=1)
            X = np.vstack([self.X, np.array([row])])
            yy = np.append(self.y, target).astype(self.y.dtype)
            self._set_data(X, yy)
            return X.shape[0] - 1

    def delete_point(self, index) -> None:
        """Remove training point ``index`` (one point at least stays)."""
        with self.lock:
            i = check_int(index, "index", minimum=0, maximum=self.X.shape[0] - 1)
            if self.X.shape[0] == 1:
                raise ArgumentError("the last point cannot be deleted")
            self._set_data(np.delete(self.X, i, axis=0), np.delete(self.y, i))

    def load_csv(self, text) -> int:
        """Replace the training points by a CSV text: a header, then one row per point
        (``x0,x1,label`` for a classification set, ``x,y`` for a regression).
        Returns the number of points."""
        if not isinstance(text, str):
            raise DataTypeError(f"csv must be text, not {type(text).__name__}")
        with self.lock:
            cols = 2 if self.kind == "regression" else 3
            X, y = parse_csv(text, cols)
            if self.kind != "regression":
                if not np.all((y == 0) | (y == 1)):
                    raise DataError("the label column must hold 0 or 1 on every row")
                y = y.astype(int)
            self._set_data(X[:, :cols - 1], y)
            return X.shape[0]

    def csv(self) -> str:
        """The training points as CSV text (what :meth:`load_csv` reads)."""
        with self.lock:
            return csv_text(self.X, self.y, self.kind)

    def _set_data(self, X, y) -> None:
        old = (self.X, self.y, self.targets)
        self.X, self.y = X, y
        try:
            self._new_targets()
        except Exception:
            self.X, self.y, self.targets = old
            raise
        self.selected = min(self.selected, X.shape[0] - 1)
        self._new_epoch_order()
        self._changed()

    # ------------------------------------------------------------ reading

    def _changed(self) -> None:
        """A new version. When a client is watching, its state is prepared first, so
        the woken long polls answer at once instead of queueing for the lock (which the
        trainer takes again for its next slice of steps); then the listeners are told."""
        self.version += 1
        if self.watched():
            started = time.perf_counter()
            self._encoded_state(None, False)
            self.prepare_time = time.perf_counter() - started
        for listener in list(self.listeners):
            listener()

    def state(self, snapshot: Optional[int] = None, formulas: bool = False) -> Dict:
        """The JSON-ready state (see docs/studio.md); ``snapshot=k``: the views at the
        run's ``k``-th kept snapshot instead of now; ``formulas``: each number's
        formula for the selected example too. Built once per change."""
        self.readers += 1
        with self.lock:
            if snapshot is not None:
                snapshot = check_int(snapshot, "snapshot", minimum=0,
                                     maximum=len(self.snapshots) - 1)
            self.readers = max(0, self.readers - 1)
            key = (self.version, snapshot, formulas)
            if key not in self._cache:
                self._cache = {key: build_state.build(self, snapshot, formulas)}
            return self._cache[key]

    def state_json(self, snapshot: Optional[int] = None, formulas: bool = False) -> bytes:
        """:meth:`state` encoded as JSON (UTF-8), encoded once per change; marks the
        session as watched (each new version is then prepared as it is made). The state
        of the current version, once prepared, is answered without waiting for the lock
        (the trainer may hold it for a whole slice of steps)."""
        data = self.prepared(snapshot, formulas)
        if data is not None:
            return data
        self.readers += 1   # the trainer lets go of the lock between slices for a reader
        with self.lock:
            self.readers = max(0, self.readers - 1)
            return self._encoded_state(snapshot, formulas)

    def _encoded_state(self, snapshot: Optional[int], formulas: bool) -> bytes:
        with self.lock:
            key = (self.version, snapshot, formulas)
            state = self.state(snapshot, formulas)
            if self._encoded[0] != key:
                self._encoded = (key, json.dumps(state, allow_nan=False,
                                                 separators=(",", ":")).encode("utf-8"))
            return self._encoded[1]

    def prepared(self, snapshot: Optional[int] = None, formulas: bool = False) -> Optional[bytes]:
        """The JSON of the current version's state when it is encoded already (taken
        without the lock), else None; marks the session as watched."""
        self.last_read = time.monotonic()
        key, data = self._encoded
        return data if key == (self.version, snapshot, formulas) else None

    def watched(self, within: float = 1.0) -> bool:
        """Whether a client read the state in the last ``within`` seconds."""
        return time.monotonic() - self.last_read < within

    def checkpoint(self) -> Dict:
        """The network and optimiser as the library's checkpoint document."""
        with self.lock:
            return build_state.checkpoint_of(self)
