"""Tests of micrograd_mlp.nets.data: shapes, labels from the defining rules, seeding, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from micrograd_mlp import data


def test_xor_truth_table():
    X, y = data.xor()
    assert X.shape == (4, 2) and y.shape == (4,)
    assert {tuple(r) for r in X} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for (a, b), label in zip(X.astype(int), y):
        assert label == (a ^ b)


@given(n=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_generate_linear_rule_and_range(n, seed):
    X, y = data.generate_linear(n, seed=seed)
    assert X.shape == (n, 2) and y.shape == (n,)
    assert X.min() >= 0.0 and X.max() <= 1.0
    expected = [0 if a > b else 1 for a, b in X]
    assert y.tolist() == expected


def test_generate_linear_seeded():
    a = data.generate_linear(50, seed=3)
    b = data.generate_linear(50, seed=3)
    c = data.generate_linear(50, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # both classes appear for a reasonable sample
    assert set(a[1].tolist()) == {0, 1}


def test_generate_xor_easy_points():
    X, y = data.generate_XOR_easy()
    assert X.shape == (21, 2) and y.shape == (21,)
    zeros = {(round(a, 10), round(b, 10)) for (a, b), c in zip(X, y) if c == 0}
    ones = {(round(a, 10), round(b, 10)) for (a, b), c in zip(X, y) if c == 1}
    assert zeros == {(round(0.1 * i, 10), round(0.1 * i, 10)) for i in range(11)}
    assert ones == {(round(0.1 * i, 10), round(1 - 0.1 * i, 10)) for i in range(11) if i != 5}
    assert len(zeros) == 11 and len(ones) == 10


def test_sinusoid_shapes_and_noise():
    Xtr, ytr, Xte, yte = data.sinusoid(n_train=40, n_test=200, sigma=0.1, seed=1)
    assert Xtr.shape == (40, 1) and ytr.shape == (40,)
    assert Xte.shape == (200, 1) and yte.shape == (200,)
    for X in (Xtr, Xte):
        assert X.min() >= 0 and X.max() <= 10 and np.all(np.diff(X[:, 0]) >= 0)
    resid = np.concatenate([ytr - np.sin(Xtr[:, 0]), yte - np.sin(Xte[:, 0])])
    # the noise is N(0, 0.1^2): its sample standard deviation is near 0.1
    assert 0.08 < resid.std() < 0.12 and abs(resid.mean()) < 0.03


def test_sinusoid_without_noise_is_exact_and_linear_baseline_near_half():
    Xtr, ytr, _, _ = data.sinusoid(n_train=400, sigma=0.0, seed=2)
    assert np.allclose(ytr, np.sin(Xtr[:, 0]))
    # a least-squares line (the no-hidden-unit model) leaves an MSE near 0.5
    A = np.hstack([Xtr, np.ones_like(Xtr)])
    coef, *_ = np.linalg.lstsq(A, ytr, rcond=None)
    mse = np.mean((A @ coef - ytr) ** 2)
    assert 0.35 < mse < 0.6


def test_moons_matches_sklearn_without_noise():
    sk = pytest.importorskip("sklearn.datasets")
    X, y = data.moons(n=101, noise=0.0, shuffle=False)
    Xs, ys = sk.make_moons(n_samples=101, noise=0.0, shuffle=False)
    assert np.allclose(X, Xs) and np.array_equal(y, ys)


def test_moons_noise_and_shuffle():
    X, y = data.moons(n=200, noise=0.1, seed=0)
    assert X.shape == (200, 2) and y.shape == (200,)
    assert np.sum(y == 0) == 100 and np.sum(y == 1) == 100
    assert not np.array_equal(y, np.sort(y))  # shuffled
    Xc, yc = data.moons(n=200, noise=0.0, shuffle=False)
    # each noisy point lies near some clean point of its own moon
    for label in (0, 1):
        d = np.linalg.norm(X[y == label][:, None, :] - Xc[yc == label][None, :, :], axis=2)
        assert d.min(axis=1).max() < 0.5
    assert not np.allclose(X, data.moons(n=200, noise=0.1, seed=1)[0])


def test_digits_scaled_and_subset():
    X, y = data.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(y.tolist()) == set(range(10))
    Xs, ys = data.digits(n=100, seed=5)
    assert Xs.shape == (100, 64)
    Xs2, ys2 = data.digits(n=100, seed=5)
    assert np.array_equal(Xs, Xs2) and np.array_equal(ys, ys2)
    X3, y3 = data.digits(classes=3)
    assert set(y3.tolist()) == {0, 1, 2}


def test_train_val_split_partition_and_stratified():
    X, y = data.digits(n=500, seed=0)
    Xtr, ytr, Xva, yva = data.train_val_split(X, y, val_fraction=0.2, seed=1)
    assert len(ytr) + len(yva) == 500
    assert sorted(np.concatenate([ytr, yva]).tolist()) == sorted(y.tolist())
    for c in range(10):
        frac = np.sum(yva == c) / np.sum(y == c)
        assert abs(frac - 0.2) < 0.06


def test_train_val_split_is_a_partition():
    X = np.arange(50.0)[:, None]
    y = np.arange(50) % 3
    Xtr, ytr, Xva, yva = data.train_val_split(X, y, val_fraction=0.3, seed=2)
    idx = np.concatenate([Xtr[:, 0], Xva[:, 0]]).astype(int)
    assert sorted(idx.tolist()) == list(range(50))  # every row exactly once
    assert np.array_equal(np.concatenate([ytr, yva]), idx % 3)  # rows stay paired
    assert 12 <= len(yva) <= 18


def test_one_hot():
    Y = data.one_hot(np.array([2, 0, 1]), 4)
    assert np.array_equal(Y, np.eye(4)[[2, 0, 1]])
    with pytest.raises(ValueError, match="n_classes"):
        data.one_hot(np.array([5]), 3)


@pytest.mark.parametrize("call, err, match", [
    (lambda: data.generate_linear(0), ValueError, "n must be >= 1"),
    (lambda: data.generate_linear(-3), ValueError, "n must be >= 1"),
    (lambda: data.generate_linear(2.5), TypeError, "integer"),
    (lambda: data.sinusoid(n_train=0), ValueError, "n_train"),
    (lambda: data.sinusoid(sigma=-0.1), ValueError, "sigma"),
    (lambda: data.sinusoid(sigma=float("nan")), ValueError, "sigma"),
    (lambda: data.sinusoid(low=3, high=1), ValueError, "low < high"),
    (lambda: data.moons(n=0), ValueError, "n must be >= 2"),
    (lambda: data.moons(noise=-1), ValueError, "noise"),
    (lambda: data.digits(n=5000), ValueError, "1797"),
    (lambda: data.digits(classes=11), ValueError, "classes"),
    (lambda: data.train_val_split(np.zeros((4, 2)), np.zeros(4), val_fraction=1.5),
     ValueError, "val_fraction"),
    (lambda: data.train_val_split(np.zeros((4, 2)), np.zeros(3)), ValueError, "same number"),
])
def test_bad_arguments(call, err, match):
    with pytest.raises(err, match=match):
        call()


# ---------------------------------------------------------------- CIFAR-10 reader

import io
import tarfile

from micrograd_mlp.errors import DataError, DataMissingError, MicrogradError

CIFAR_NAMES = [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]


def cifar_batches(per_file=3, seed=0):
    """Random images (uint8, shape (n, 3, 32, 32): channel, row, column) and labels for
    each of the six files, and each file's bytes written by hand from the format:
    per record one label byte, then the 1024 red, 1024 green, 1024 blue bytes."""
    rng = np.random.default_rng(seed)
    batches = {}
    for name in CIFAR_NAMES:
        images = rng.integers(0, 256, size=(per_file, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_file)
        raw = bytearray()
        for img, lab in zip(images, labels):
            raw.append(int(lab))
            for channel in range(3):
                for row in range(32):
                    raw.extend(bytes(img[channel, row].tolist()))
        batches[name] = (images, labels, bytes(raw))
    return batches


def write_cifar(folder, batches, skip=()):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (_, _, raw) in batches.items():
        if name not in skip:
            (folder / name).write_bytes(raw)


def write_cifar_archive(path, batches):
    with tarfile.open(path, "w:gz") as tar:
        for name, (_, _, raw) in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


def check_cifar(result, batches, n_train=None, n_test=None):
    X_train, y_train, X_test, y_test = result
    train_imgs = np.concatenate([batches[n][0] for n in CIFAR_NAMES[:5]])[:n_train]
    train_labels = np.concatenate([batches[n][1] for n in CIFAR_NAMES[:5]])[:n_train]
    test_imgs, test_labels = batches["test_batch.bin"][0][:n_test], batches["test_batch.bin"][1][:n_test]
    for X, y, imgs, labels in ((X_train, y_train, train_imgs, train_labels),
                               (X_test, y_test, test_imgs, test_labels)):
        assert X.shape == (len(imgs), 3072) and X.dtype == np.float64
        assert y.shape == (len(imgs),) and y.dtype == np.int64
        assert np.array_equal(y, labels)
        assert X.min() >= 0.0 and X.max() <= 1.0
        assert np.array_equal(X.reshape(-1, 3, 32, 32), imgs / 255.0)


def test_cifar10_reads_the_six_files_from_a_folder(tmp_path):
    batches = cifar_batches()
    write_cifar(tmp_path, batches)
    result = data.load_cifar10(tmp_path)
    check_cifar(result, batches)
    X_train = result[0]
    # the layout spelled out: byte 1 + 1024 c + 32 r + col of a record is X[.., c, r, col]
    raw = batches["data_batch_1.bin"][2]
    assert X_train[0].reshape(3, 32, 32)[2, 5, 7] == raw[1 + 2048 + 5 * 32 + 7] / 255
    assert X_train[1].reshape(3, 32, 32)[0, 31, 31] == raw[3073 + 1 + 1023] / 255


def test_cifar10_reads_the_unpacked_folder_and_a_subset(tmp_path):
    batches = cifar_batches(per_file=4, seed=1)
    write_cifar(tmp_path / "cifar-10-batches-bin", batches)
    # 6 training images: all of batch 1 and two of batch 2
    check_cifar(data.load_cifar10(tmp_path, n_train=6, n_test=2), batches, 6, 2)
    X32 = data.load_cifar10(tmp_path, n_train=1, n_test=1, dtype=np.float32)[0]
    assert X32.dtype == np.float32
    with pytest.raises(DataError, match="n_train=21 is more than the 20"):
        data.load_cifar10(tmp_path, n_train=21)
    with pytest.raises(DataError, match="n_test=5"):
        data.load_cifar10(tmp_path, n_test=5)
    with pytest.raises(ValueError, match="float"):
        data.load_cifar10(tmp_path, dtype=np.uint8)


def test_cifar10_reads_the_archive_without_unpacking(tmp_path):
    batches = cifar_batches(seed=2)
    archive = tmp_path / "cifar-10-binary.tar.gz"
    write_cifar_archive(archive, batches)
    check_cifar(data.load_cifar10(tmp_path), batches)
    check_cifar(data.load_cifar10(archive), batches)  # the archive's own path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-binary.tar.gz"]


def test_cifar10_missing_files_say_where_to_get_them_and_where_to_put_them(tmp_path):
    with pytest.raises(DataMissingError) as info:
        data.load_cifar10(tmp_path)
    msg = str(info.value)
    assert isinstance(info.value, MicrogradError) and isinstance(info.value, FileNotFoundError)
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in msg
    assert "CIFAR-10 binary version" in msg and "cifar-10-binary.tar.gz" in msg
    assert str(tmp_path) in msg and "Nothing is downloaded" in msg
    # one file short: the message names it
    write_cifar(tmp_path / "cifar-10-batches-bin", cifar_batches(per_file=1), skip=["test_batch.bin"])
    with pytest.raises(DataMissingError, match=r"missing: test_batch\.bin\)"):
        data.load_cifar10(tmp_path)
    with pytest.raises(DataMissingError, match="missing: cifar-10-binary.tar.gz"):
        data.load_cifar10(tmp_path / "no such folder")


@pytest.mark.parametrize("cut", [1, 100, 3072, 3073 + 5])
def test_cifar10_refuses_a_truncated_file(tmp_path, cut):
    batches = cifar_batches(per_file=2)
    write_cifar(tmp_path, batches)
    path = tmp_path / "data_batch_3.bin"
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) - cut])
    if (len(raw) - cut) % 3073 == 0:
        pytest.fail("the cut must leave a partial record")
    with pytest.raises(DataError, match=r"data_batch_3\.bin: \d+ bytes is not a whole number"):
        data.load_cifar10(tmp_path)
    with pytest.raises(DataError, match="data_batch_3"):  # even when n_train stops before it
        data.load_cifar10(tmp_path, n_train=6)


def test_cifar10_refuses_an_empty_file_a_bad_label_and_a_cut_archive(tmp_path):
    batches = cifar_batches(per_file=2)
    write_cifar(tmp_path / "a", batches)
    (tmp_path / "a" / "test_batch.bin").write_bytes(b"")
    with pytest.raises(DataError, match="test_batch.bin: 0 bytes"):
        data.load_cifar10(tmp_path / "a")
    write_cifar(tmp_path / "b", batches)
    raw = bytearray((tmp_path / "b" / "data_batch_2.bin").read_bytes())
    raw[3073] = 10  # the second record's label
    (tmp_path / "b" / "data_batch_2.bin").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="data_batch_2.bin: record 1 has label 10"):
        data.load_cifar10(tmp_path / "b")
    archive = tmp_path / "c" / "cifar-10-binary.tar.gz"
    archive.parent.mkdir()
    write_cifar_archive(archive, batches)
    whole = archive.read_bytes()
    archive.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(DataError, match="cannot read the archive"):
        data.load_cifar10(archive.parent)
