"""Fuzzing checkpoints: a valid file mutated a few thousand ways (bytes, JSON values,
declared sizes, types) must load as a model or raise CheckpointError, nothing else."""
import copy
import json
import math
import os
import tempfile

import numpy as np
import pytest

from micrograd_mlp.errors import CheckpointError
from micrograd_mlp.nets.checkpoint import parse_checkpoint
from micrograd_mlp.nets.mlp import MLP, from_document
from micrograd_mlp.nets.optim import SGD, Adam

N_MUTATIONS = 3000  # per kind; 20000 were run once without a failure

# replacement values: wrong types, huge and odd numbers, containers
ODD = [None, True, False, "x", "", -1, 0, 1, 2, 3, 10 ** 10, 10 ** 400, -(10 ** 30), 0.5,
       -0.0, 1e308, 2.5, [], {}, [1, 2], [[1]], {"a": 1}, ["sigmoid"], "sigmoid", "relu",
       [3, 1], [0], [1.0, 1.0], "Adam", "SGD", {"type": "SGD"}]


def _valid_documents():
    m = MLP(2, [3, 1], activation=["tanh", "sigmoid"], seed=0)
    adam = Adam(m.parameters(), lr=0.01)
    adam.step()  # non-trivial buffers
    sgd = SGD(m.parameters(), lr=0.1, momentum=0.9)
    sgd.step()
    docs = []
    for opt in (None, adam, sgd):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.json")
            m.save(p, optimizer=opt)
            with open(p, "rb") as f:
                docs.append(f.read())
    return docs


def _paths(node, prefix=()):
    """Every (container, key) pair inside a JSON document."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((node, k))
            out.extend(_paths(v))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((node, i))
            out.extend(_paths(v))
    return out


def _mutate_json(raw: bytes, rng) -> bytes:
    doc = json.loads(raw)
    for _ in range(int(rng.integers(1, 4))):
        places = _paths(doc)
        container, key = places[int(rng.integers(len(places)))]
        action = rng.integers(4)
        if action == 0:  # an odd value
            container[key] = copy.deepcopy(ODD[int(rng.integers(len(ODD)))])
        elif action == 1 and isinstance(container, dict):  # drop a field
            del container[key]
        elif action == 2 and isinstance(container, dict):  # an extra field
            container[f"extra{int(rng.integers(9))}"] = copy.deepcopy(ODD[int(rng.integers(len(ODD)))])
        else:  # a number nudged, scaled or negated
            v = container[key]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                container[key] = [v + 1, v - 1, -v, v * 10 ** 9, v // 3][int(rng.integers(5))]
            elif isinstance(v, list) and v:
                container[key] = v[:-1] if rng.integers(2) else v + v[-1:]
    return json.dumps(doc).encode()


def _mutate_bytes(raw: bytes, rng) -> bytes:
    b = bytearray(raw)
    for _ in range(int(rng.integers(1, 4))):
        i = int(rng.integers(len(b)))
        action = rng.integers(4)
        if action == 0:
            b[i] = int(rng.integers(256))
        elif action == 1:
            del b[i]
        elif action == 2:
            b.insert(i, int(rng.choice(list(b'{}[]",:0123456789-eE.ntf \\'))))
        else:
            b = b[:i]
            if not b:
                break
    return bytes(b)


def _outcome(raw: bytes) -> str:
    try:
        model, opt = from_document(parse_checkpoint(raw))
    except CheckpointError:
        return "refused"
    assert isinstance(model, MLP)
    assert all(math.isfinite(v) for v in model.state_dict().values())
    if opt is not None:
        assert opt.params == model.parameters()
    return "loaded"


@pytest.mark.parametrize("kind", ["bytes", "json"])
def test_every_mutation_loads_or_raises_checkpoint_error(kind):
    rng = np.random.default_rng(2026 if kind == "bytes" else 12)
    docs = _valid_documents()
    mutate = _mutate_bytes if kind == "bytes" else _mutate_json
    counts = {"refused": 0, "loaded": 0}
    for i in range(N_MUTATIONS):
        raw = mutate(docs[i % len(docs)], rng)
        try:
            counts[_outcome(raw)] += 1
        except CheckpointError:
            raise
        except Exception as e:  # pragma: no cover - the report of a failure
            pytest.fail(f"mutation {i} raised {type(e).__name__}: {e}\n{raw[:400]!r}")
    # both outcomes occur: the mutations are neither all fatal nor all harmless
    assert counts["refused"] > 100 and counts["loaded"] > 10, counts


def test_unmutated_documents_load():
    for raw in _valid_documents():
        assert _outcome(raw) == "loaded"
