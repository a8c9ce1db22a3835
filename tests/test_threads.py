"""The version clock is shared by every thread: a thread training its own graph never
sees a false "stale input" error because another thread assigned ``.data`` at the same
moment (the tick is taken and published in one step)."""
import sys
import threading

from micrograd_mlp.core.engine import Value


def _train(errors, steps):
    ws = [Value(0.1 * (i + 1), f"w{i}") for i in range(4)]
    try:
        for step in range(steps):
            x = 0.5 + 0.001 * step
            loss = sum(((w * x).tanh() - 0.3) ** 2 for w in ws)
            loss.backward()
            for w in ws:                  # an optimiser's step: assigns .data
                w.data = w.data - 0.01 * w.grad
                w.grad = 0.0
    except Exception as err:  # the test's subject: any error, reported to the main thread
        errors.append(err)


def test_four_training_threads_never_see_a_false_stale_input():
    errors = []
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads as often as possible: races show up
    try:
        threads = [threading.Thread(target=_train, args=(errors, 1500)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert errors == []
