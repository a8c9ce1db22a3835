"""Toy data sets for the exercises.

Every generator is deterministic given its ``seed`` (a :func:`numpy.random.default_rng`
stream) and returns plain numpy arrays: ``X`` of shape ``(n_samples, n_features)``
(float64) ready to feed an ``MLP`` as one lockstep batch, and ``y`` of shape
``(n_samples,)``: integer class labels for classification sets, float64 targets for
regression sets.

=====================  ==========  ===============  ===========================
generator              X shape     y                source
=====================  ==========  ===============  ===========================
:func:`xor`            (4, 2)      int {0, 1}       seed 000, exercise 2
:func:`generate_linear`  (n, 2)    int {0, 1}       seed 003
:func:`generate_XOR_easy` (21, 2)  int {0, 1}       seed 003
:func:`sinusoid`       (n, 1)      float            seed 002 (train and test sets)
:func:`moons`          (n, 2)      int {0, 1}       two interleaved half circles
:func:`digits`         (n, 64)     int {0..9}       seed 004 stand-in: 8x8 digits
:func:`load_cifar10`   (n, 3072)   int {0..9}       seed 004: CIFAR-10 from local files
=====================  ==========  ===============  ===========================

:func:`train_val_split` splits any ``(X, y)`` into a training and a validation part.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zlib
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..core.validate import check_flag, check_int, check_path, check_real, check_seed
from ..errors import (
    ArgumentError, DataError, DataMissingError, DataTypeError, DomainError, ShapeError,
)
from ..functions.targets import numeric_array

__all__ = [
    "xor", "generate_linear", "generate_XOR_easy", "sinusoid", "moons", "digits",
    "train_val_split", "one_hot", "load_cifar10", "CIFAR10_CLASSES", "CIFAR10_URL",
]

Arrays = Tuple[np.ndarray, np.ndarray]


# ---------------------------------------------------------------- argument checks


MAX_SAMPLES = 10 ** 7  #: the most samples a generator makes (more would not fit in memory)


def _check_count(name: str, n, minimum: int = 1) -> int:
    """``n`` as an int >= ``minimum``, else a clear error."""
    return check_int(n, name, minimum=minimum, maximum=MAX_SAMPLES)


def _check_scale(name: str, s) -> float:
    """``s`` as a finite float >= 0 (a standard deviation), else a clear error."""
    return check_real(s, name, minimum=0.0)


# ---------------------------------------------------------------- generators


def xor() -> Arrays:
    """The XOR problem: the four corners of the unit square.

    Returns
    -------
    X : ndarray of shape (4, 2), float64
        ``(0, 0), (0, 1), (1, 0), (1, 1)``.
    y : ndarray of shape (4,), int
        ``y = x0 XOR x1``: 1 where exactly one coordinate is 1, else 0.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = (X[:, 0] != X[:, 1]).astype(int)
    return X, y


def generate_linear(n: int = 100, seed: Optional[int] = 0) -> Arrays:
    """Points uniform in the unit square, split by the diagonal (seed 003).

    Parameters
    ----------
    n : int, default 100
        Number of points.
    seed : int or None, default 0
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n, 2), float64
        ``X ~ U([0, 1]^2)``.
    y : ndarray of shape (n,), int
        0 where ``x[0] > x[1]`` (below the diagonal), else 1.
    """
    n = _check_count("n", n)
    X = np.random.default_rng(check_seed(seed)).uniform(0.0, 1.0, size=(n, 2))
    y = np.where(X[:, 0] > X[:, 1], 0, 1)
    return X, y


def generate_XOR_easy() -> Arrays:  # noqa: N802 (the name seed 003 uses)
    """The two diagonals of the unit square, 21 points (seed 003).

    For ``i = 0 .. 10``: the point ``(0.1 i, 0.1 i)`` with label 0 and the point
    ``(0.1 i, 1 - 0.1 i)`` with label 1, except that the second one is left out at
    ``i = 5``, where both diagonals meet at ``(0.5, 0.5)``. Points come in that order
    (pairs by i). No randomness.

    Returns
    -------
    X : ndarray of shape (21, 2), float64
    y : ndarray of shape (21,), int
    """
    points, labels = [], []
    for i in range(11):
        t = 0.1 * i
        points.append((t, t))
        labels.append(0)
        if i == 5:
            continue
        points.append((t, 1.0 - t))
        labels.append(1)
    return np.array(points, dtype=float), np.array(labels, dtype=int)


def sinusoid(n_train: int = 40, n_test: int = 200, sigma: float = 0.1,
             seed: Optional[int] = 0, low: float = 0.0, high: float = 10.0):
    """Noisy sinusoid regression (seed 002): ``y = sin(x) + eps``, ``eps ~ N(0, sigma^2)``.

    ``x`` is uniform in ``[low, high]`` (default [0, 10]) for both sets; the training
    set is small and the test set large, so that big networks over-fit visibly. A
    model with no hidden unit (a straight line) reaches a training MSE near 0.5,
    the variance of ``sin`` over a few periods.

    Parameters
    ----------
    n_train : int, default 40
    n_test : int, default 200
    sigma : float >= 0, default 0.1
        Standard deviation of the Gaussian noise (added to both sets).
    seed : int or None, default 0
    low, high : float
        The interval of ``x``.

    Returns
    -------
    X_train : ndarray of shape (n_train, 1), float64, sorted ascending
    y_train : ndarray of shape (n_train,), float64
    X_test : ndarray of shape (n_test, 1), float64, sorted ascending
    y_test : ndarray of shape (n_test,), float64
    """
    n_train = _check_count("n_train", n_train)
    n_test = _check_count("n_test", n_test)
    sigma = _check_scale("sigma", sigma)
    low, high = check_real(low, "low"), check_real(high, "high")
    if not low < high:
        raise ArgumentError(f"need finite low < high, got low={low}, high={high}")
    rng = np.random.default_rng(check_seed(seed))

    def draw(n):
        x = np.sort(rng.uniform(low, high, size=n))
        y = np.sin(x) + sigma * rng.standard_normal(n)
        return x[:, None], y

    X_train, y_train = draw(n_train)
    X_test, y_test = draw(n_test)
    return X_train, y_train, X_test, y_test


def moons(n: int = 100, noise: float = 0.1, seed: Optional[int] = 0,
          shuffle: bool = True) -> Arrays:
    """Two interleaved half circles ("two moons").

    The upper moon (label 0) is ``(cos t, sin t)``, the lower one (label 1) is
    ``(1 - cos t, 1/2 - sin t)``, for ``t`` evenly spaced in ``[0, pi]``; Gaussian
    noise of standard deviation ``noise`` is added to both coordinates. The upper
    moon gets ``n // 2`` points, the lower one the rest.

    Parameters
    ----------
    n : int, default 100
    noise : float >= 0, default 0.1
    seed : int or None, default 0
    shuffle : bool, default True
        Mix the two classes (else the upper moon comes first).

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int
    """
    n = _check_count("n", n, minimum=2)
    noise = _check_scale("noise", noise)
    rng = np.random.default_rng(check_seed(seed))
    n_up = n // 2
    n_down = n - n_up
    t_up = np.linspace(0.0, np.pi, n_up)
    t_down = np.linspace(0.0, np.pi, n_down)
    X = np.concatenate([
        np.stack([np.cos(t_up), np.sin(t_up)], axis=1),
        np.stack([1.0 - np.cos(t_down), 0.5 - np.sin(t_down)], axis=1),
    ])
    y = np.concatenate([np.zeros(n_up, dtype=int), np.ones(n_down, dtype=int)])
    X = X + noise * rng.standard_normal(X.shape)
    if check_flag(shuffle, "shuffle"):
        order = rng.permutation(n)
        X, y = X[order], y[order]
    return X, y


def digits(n: Optional[int] = None, seed: Optional[int] = 0,
           classes: Optional[int] = None) -> Arrays:
    """The 8x8 handwritten digits bundled with scikit-learn (1797 images, no download).

    Pixel values (0..16 in the file) are scaled to ``[0, 1]``. Stand-in for seed 004's
    10-class image set.

    Parameters
    ----------
    n : int or None, default None
        Keep a random subset of ``n`` images (all 1797 when None).
    seed : int or None, default 0
        Seed of the subset (and of the order: the images are always shuffled).
    classes : int or None
        Keep only digits ``0 .. classes-1`` (all ten when None).

    Returns
    -------
    X : ndarray of shape (n, 64), float64 in [0, 1]
        Row ``k`` is image ``k`` read row by row (``X[k].reshape(8, 8)`` shows it).
    y : ndarray of shape (n,), int in ``0 .. 9``
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("digits() needs scikit-learn: pip install scikit-learn "
                          "(or the package's [data] extra)") from exc
    bunch = load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(int)
    if classes is not None:
        classes = _check_count("classes", classes, minimum=2)
        if classes > 10:
            raise ArgumentError(f"classes must be between 2 and 10, got {classes}")
        keep = y < classes
        X, y = X[keep], y[keep]
    order = np.random.default_rng(check_seed(seed)).permutation(len(y))
    if n is not None:
        n = _check_count("n", n)
        if n > len(y):
            raise ArgumentError(f"n={n} is more than the {len(y)} images available")
        order = order[:n]
    return X[order], y[order]


# ---------------------------------------------------------------- CIFAR-10 (local files)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{k}.bin" for k in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
_CIFAR_PIXELS = 3 * 32 * 32
_CIFAR_RECORD = 1 + _CIFAR_PIXELS


def _cifar_missing(root: Path, missing: Sequence[str]) -> DataMissingError:
    return DataMissingError(
        f"CIFAR-10 files not found in {root} (missing: {', '.join(missing)}). Nothing is "
        f"downloaded at run time: get the file \"CIFAR-10 binary version\" "
        f"({CIFAR10_ARCHIVE}, about 160 MB) from {CIFAR10_URL} and put it in {root} as it is "
        f"(it is read without unpacking), or unpack it there so that {root / CIFAR10_FOLDER} "
        f"holds {', '.join(CIFAR10_TRAIN_FILES)} and {CIFAR10_TEST_FILE}.")


def _cifar_records(raw: bytes, source: str, limit: Optional[int]):
    """Labels and pixels of one batch file's bytes: records of 1 label byte and 3072
    pixel bytes. Refuses a size that is not a whole number of records and labels > 9."""
    if len(raw) == 0 or len(raw) % _CIFAR_RECORD:
        whole, rest = divmod(len(raw), _CIFAR_RECORD)
        raise DataError(
            f"{source}: {len(raw)} bytes is not a whole number of CIFAR-10 records of "
            f"{_CIFAR_RECORD} bytes (1 label + 3072 pixels): {whole} records and {rest} bytes "
            f"over; the file is truncated or not a CIFAR-10 binary batch")
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    bad = np.flatnonzero(rec[:, 0] > 9)
    if bad.size:
        raise DataError(f"{source}: record {int(bad[0])} has label {int(rec[bad[0], 0])}; "
                        f"CIFAR-10 labels are 0..9 (is this the CIFAR-100 file?)")
    rec = rec[:limit]
    return rec[:, 0].astype(np.int64), rec[:, 1:]


#: the format's largest batch file: 10000 records (every real batch has exactly that)
CIFAR10_BATCH_MAX = 10000 * _CIFAR_RECORD
#: any other member of the archive (batches.meta.txt, readme.html: a few bytes each)
_CIFAR_OTHER_MAX = 1 << 20
#: the whole decompressed archive: six batches, the small files and the tar headers
CIFAR10_ARCHIVE_MAX = 6 * CIFAR10_BATCH_MAX + (8 << 20)


def _check_batch_size(size: int, name: str, source) -> None:
    """Refuse a batch file larger than the format's 10000 records, before reading it."""
    if size > CIFAR10_BATCH_MAX:
        raise DataError(
            f"{source}: {name} claims {size} bytes; a CIFAR-10 batch holds at most 10000 "
            f"records of {_CIFAR_RECORD} bytes ({CIFAR10_BATCH_MAX} bytes): this is not "
            f"the CIFAR-10 binary version from {CIFAR10_URL}, so it is not read")


class _BoundedStream:
    """A read-only, forward-seekable view of a (decompressed) stream that refuses to
    go past ``limit`` bytes *before* reading: a tar header inside a small compressed
    file can claim gigabytes (tarfile reads a long-name block of that size at once,
    and skipping a member decompresses it), so every read and seek is checked first."""

    def __init__(self, stream, limit: int, source):
        self._stream, self._limit, self._source, self._pos = stream, limit, source, 0

    def _refuse(self, end: int):
        raise DataError(
            f"{self._source}: the archive asks to read up to byte {end}, more than the "
            f"{self._limit} bytes the whole CIFAR-10 binary archive unpacks to; it is not "
            f"{CIFAR10_ARCHIVE} from {CIFAR10_URL}, so it is not read further")

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:  # to the end, but never past the bound
            chunk = self._stream.read(self._limit - self._pos + 1)
            if self._pos + len(chunk) > self._limit:
                self._refuse(self._pos + len(chunk))
        elif self._pos + n > self._limit:
            self._refuse(self._pos + n)
        else:
            chunk = self._stream.read(n)
        self._pos += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        target = {0: offset, 1: self._pos + offset}.get(whence)
        if target is None:
            raise OSError("seeking from the end is not supported")
        if target > self._limit:
            self._refuse(target)
        self._pos = self._stream.seek(target)
        return self._pos

    def tell(self) -> int:
        return self._pos


def _decompressed(raw):
    """``raw`` (a binary file) decompressed by its magic bytes: gzip, bzip2, xz or none."""
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw, mode="rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw, mode="rb")
    return raw


def _cifar_read_archive(archive: Path, names) -> Dict[str, bytes]:
    """The batch files' bytes from the archive: each member's size is checked against
    the format's before it is read or skipped, and the decompressed stream is read
    through a bound (:data:`CIFAR10_ARCHIVE_MAX`)."""
    found = {}
    try:
        with open(archive, "rb") as raw, _decompressed(raw) as unpacked:
            stream = _BoundedStream(unpacked, CIFAR10_ARCHIVE_MAX, archive)
            with tarfile.open(fileobj=stream, mode="r:") as tar:
                for member in tar:
                    name = Path(member.name).name
                    if member.isfile() and name in names:
                        _check_batch_size(member.size, name, archive)
                        found[name] = tar.extractfile(member).read()
                    elif member.size > _CIFAR_OTHER_MAX:
                        raise DataError(
                            f"{archive}: the member {member.name[:80]!r} claims {member.size} "
                            f"bytes; besides its six batches the CIFAR-10 archive holds only "
                            f"small files, so it is not read")
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"{archive}: cannot read the archive ({exc}); it may be cut short: "
                        f"download {CIFAR10_ARCHIVE} again from {CIFAR10_URL}") from exc
    return found


def _cifar_read_files(root: Path) -> Dict[str, bytes]:
    """The six batch files' bytes from an archive or a folder under ``root``; each
    file's size is checked against the format's before it is read."""
    names = CIFAR10_TRAIN_FILES + (CIFAR10_TEST_FILE,)
    archive = root if root.is_file() else root / CIFAR10_ARCHIVE
    for folder in ((root / CIFAR10_FOLDER, root) if root.is_dir() else ()):
        if all((folder / n).is_file() for n in names):
            for n in names:
                _check_batch_size((folder / n).stat().st_size, n, folder)
            return {n: (folder / n).read_bytes() for n in names}
    if not archive.is_file():
        folder = root / CIFAR10_FOLDER if (root / CIFAR10_FOLDER).is_dir() else root
        raise _cifar_missing(root, [n for n in names if not (folder / n).is_file()]
                             if folder.is_dir() else [CIFAR10_ARCHIVE])
    found = _cifar_read_archive(archive, names)
    missing = [n for n in names if n not in found]
    if missing:
        raise DataError(f"{archive} does not hold {', '.join(missing)}: is it "
                        f"{CIFAR10_ARCHIVE} (the binary version) from {CIFAR10_URL}?")
    return found


def load_cifar10(root, n_train: Optional[int] = None, n_test: Optional[int] = None,
                 dtype=np.float64):
    """CIFAR-10 (seed 004's data set) from its binary version, read from local files.

    ``root`` is a folder holding ``cifar-10-binary.tar.gz`` (read with :mod:`tarfile`,
    nothing is unpacked to disk), or the unpacked folder ``cifar-10-batches-bin``, or
    the six files themselves; or the path of the archive. The files are
    ``data_batch_1.bin`` ... ``data_batch_5.bin`` (training) and ``test_batch.bin``:
    each is a run of records of 3073 bytes, one label byte (0..9, see
    :data:`CIFAR10_CLASSES`) then 3072 pixel bytes: 1024 red, 1024 green, 1024 blue
    values, each a 32x32 image row by row. Nothing is downloaded: when the files are
    missing a :class:`~micrograd_mlp.errors.DataMissingError` says where to get them
    (https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary version") and where
    to put them. A file whose size is not a whole number of records (cut short), or a
    label above 9, raises :class:`~micrograd_mlp.errors.DataError`; so does a file or
    archive member larger than the format's 10000 records (:data:`CIFAR10_BATCH_MAX`
    bytes), refused before it is read, and an archive that unpacks to more than
    :data:`CIFAR10_ARCHIVE_MAX` bytes (it is decompressed as a stream, never whole).

    Parameters
    ----------
    root : str or Path
    n_train, n_test : int or None
        Keep the first ``n`` images of the training set (batches 1 to 5 in order) and of
        the test set (all 50000 and 10000 when None).
    dtype : numpy float type, default float64
        Of the pixels. All 60000 images take 1.5 GB as float64; ``np.float32`` or
        ``n_train`` keep it smaller.

    Returns
    -------
    X_train : ndarray of shape (n_train, 3072), ``dtype``, pixels / 255 in [0, 1]
        Row ``k`` in the file's order: ``X_train[k].reshape(3, 32, 32)`` is the image
        as (channel R/G/B, row, column); ``.transpose(1, 2, 0)`` for plotting.
    y_train : ndarray of shape (n_train,), int64 in 0..9
    X_test : ndarray of shape (n_test, 3072)
    y_test : ndarray of shape (n_test,), int64 in 0..9
    """
    limits = [None if n is None else _check_count(name, n)
              for name, n in (("n_train", n_train), ("n_test", n_test))]
    try:
        float_dtype = np.dtype(dtype).kind == "f"
    except TypeError:
        float_dtype = False
    if not float_dtype:
        raise ArgumentError(f"dtype must be a float type (pixels are scaled to [0, 1]), got {dtype!r}")
    raw = _cifar_read_files(Path(check_path(root, "root")).expanduser())
    parts, need = [], limits[0]
    for name in CIFAR10_TRAIN_FILES:
        if need is not None and need <= 0:
            break
        labels, pixels = _cifar_records(raw[name], name, need)
        parts.append((labels, pixels))
        need = None if need is None else need - len(labels)
    if need is not None and need > 0:
        raise DataError(f"n_train={n_train} is more than the {n_train - need} training images "
                        f"in {root}")
    y_test, p_test = _cifar_records(raw[CIFAR10_TEST_FILE], CIFAR10_TEST_FILE, limits[1])
    if limits[1] is not None and len(y_test) < limits[1]:
        raise DataError(f"n_test={n_test} is more than the {len(y_test)} test images in {root}")
    y_train = np.concatenate([lab for lab, _ in parts])
    full = np.asarray(255, dtype=dtype)
    X_train = np.concatenate([pix for _, pix in parts]).astype(dtype) / full
    return X_train, y_train, p_test.astype(dtype) / full, y_test


# ---------------------------------------------------------------- helpers


def train_val_split(X, y, val_fraction: float = 0.2, seed: Optional[int] = 0,
                    stratify: bool = True):
    """Split ``(X, y)`` into a training and a validation set.

    With ``stratify`` (for class labels) each class is split in the same proportion,
    so both parts keep the class balance. At least one sample goes to each part.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
    y : ndarray of shape (n,)
    val_fraction : float in (0, 1), default 0.2
    seed : int or None, default 0
    stratify : bool, default True

    Returns
    -------
    X_train, y_train, X_val, y_val : ndarrays (the rows of X and y, shuffled)
    """
    X = numeric_array(X, "train_val_split: X")
    y = numeric_array(y, "train_val_split: y")
    if X.ndim < 1 or y.ndim != 1 or len(X) != len(y):
        raise ShapeError(f"X and y must have the same number of rows and y must be 1-D; "
                         f"got X {X.shape}, y {y.shape}")
    val_fraction = check_real(val_fraction, "val_fraction", 0.0, 1.0, above=True, below=True)
    stratify = check_flag(stratify, "stratify")
    n = len(y)
    if n < 2:
        raise ShapeError(f"need at least 2 samples to split, got {n}")
    rng = np.random.default_rng(check_seed(seed))
    if stratify:
        val = []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            val.append(idx[:int(round(val_fraction * len(idx)))])
        val = np.concatenate(val)
    else:
        val = rng.permutation(n)[:int(round(val_fraction * n))]
    if len(val) == 0 or len(val) == n:
        val = rng.permutation(n)[:min(max(1, int(round(val_fraction * n))), n - 1)]
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    train_idx = rng.permutation(np.flatnonzero(~mask))
    val_idx = rng.permutation(np.flatnonzero(mask))
    return X[train_idx], y[train_idx], X[val_idx], y[val_idx]


def one_hot(y, n_classes: Optional[int] = None) -> np.ndarray:
    """Integer labels of shape (n,) as a one-hot float64 matrix of shape (n, n_classes):
    ``Y[k, c] = 1`` if ``y[k] == c`` else 0."""
    y = numeric_array(y, "one_hot: labels")
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise DataTypeError(f"one_hot needs a 1-D array of integer labels, got dtype {y.dtype}, "
                            f"shape {y.shape}")
    if y.size and y.min() < 0:
        raise DomainError("one_hot: labels must be >= 0")
    k = int(y.max()) + 1 if n_classes is None else check_int(n_classes, "n_classes", 1, 10 ** 6)
    if y.size and y.max() >= k:
        raise DomainError(f"one_hot: label {int(y.max())} does not fit n_classes={k}")
    Y = np.zeros((y.size, k))
    Y[np.arange(y.size), y] = 1.0
    return Y
