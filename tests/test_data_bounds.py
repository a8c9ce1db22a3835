"""The CIFAR-10 reader bounds its work before doing it: an archive member is checked
against the format's sizes (a batch is at most 10000 records of 3073 bytes) before a
byte of it is read, and the decompressed archive is read through a bound, so a tiny
file claiming gigabytes is refused with a DataError, quickly and without the memory."""
import gzip
import io
import tarfile
import time
import tracemalloc
import zlib

import numpy as np
import pytest

from micrograd_mlp.errors import DataError
from micrograd_mlp.nets import data

# subprocesses, Graphviz runs and large archives: the slow tier
pytestmark = pytest.mark.slow

BATCH_MAX = 10000 * (1 + 3072)  # the format's size of one batch file: 30,730,000 bytes
GIB = 1 << 30


def header(name, size, kind=tarfile.REGTYPE):
    """One tar header block claiming ``size`` bytes (GNU format: sizes above 8 GiB)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    return info.tobuf(format=tarfile.GNU_FORMAT)


def zeros_gz(path, head: bytes, n_zeros: int):
    """``head`` then ``n_zeros`` zero bytes, gzip-compressed chunk by chunk (a bomb:
    about 1000 to 1 for zeros), so the test never holds the zeros in memory."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    parts = [comp.compress(head)]
    chunk = bytes(1 << 20)
    left = n_zeros
    while left > 0:
        parts.append(comp.compress(chunk[:min(left, len(chunk))]))
        left -= len(chunk)
    parts.append(comp.flush())
    path.write_bytes(b"".join(parts))
    return path


def peak_bytes(fn):
    """(the exception fn raised, the peak of Python allocations while it ran)."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as info:
            fn()
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_135_byte_archive_claiming_8_gib_is_refused_before_reading(tmp_path):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(gzip.compress(header("cifar-10-batches-bin/data_batch_1.bin", 8 * GIB)))
    assert len(archive.read_bytes()) < 200
    err, peak = peak_bytes(lambda: data.load_cifar10(archive))
    msg = str(err)
    assert "data_batch_1.bin" in msg and "8589934592" in msg and "30730000" in msg
    assert peak < 5_000_000


def test_a_gzip_bomb_member_larger_than_a_batch_is_refused_unread(tmp_path):
    # an honest header of 40 MB of zeros: 40 KB on disk; a batch is at most 30.73 MB
    archive = zeros_gz(tmp_path / "cifar-10-binary.tar.gz",
                       header("cifar-10-batches-bin/data_batch_2.bin", 40_000_000), 40_000_000)
    assert archive.stat().st_size < 100_000
    start = time.perf_counter()
    err, peak = peak_bytes(lambda: data.load_cifar10(tmp_path))
    assert "data_batch_2.bin" in str(err) and "40000000" in str(err)
    assert peak < 5_000_000  # nothing of the 40 MB was held
    assert time.perf_counter() - start < 10


def test_an_unknown_member_claiming_gigabytes_is_not_skipped_through(tmp_path):
    # skipping a member decompresses it: a junk member larger than anything in the
    # real archive is refused instead of being read past
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(gzip.compress(header("cifar-10-batches-bin/junk.bin", 8 * GIB)))
    err, peak = peak_bytes(lambda: data.load_cifar10(archive))
    assert "junk.bin" in str(err) and "8589934592" in str(err)
    assert peak < 5_000_000


def test_a_long_name_header_bomb_is_stopped_by_the_stream_bound(tmp_path):
    # a GNU long-name block makes tarfile itself read its claimed size into memory:
    # only a bound on the decompressed stream stops it (here 250 MB of zeros, 250 KB)
    archive = zeros_gz(tmp_path / "cifar-10-binary.tar.gz",
                       header("././@LongLink", 250_000_000, tarfile.GNUTYPE_LONGNAME),
                       250_000_000)
    assert archive.stat().st_size < 400_000
    start = time.perf_counter()
    err, peak = peak_bytes(lambda: data.load_cifar10(archive))
    assert "more than" in str(err) and "CIFAR-10" in str(err)
    assert peak < 5_000_000
    assert time.perf_counter() - start < 10


def test_a_sparse_batch_file_in_a_folder_is_refused_by_its_size(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name in [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(bytes(3073))
    with open(folder / "data_batch_4.bin", "r+b") as f:  # 8 GiB, no disk used (sparse)
        f.truncate(8 * GIB)
    err, peak = peak_bytes(lambda: data.load_cifar10(tmp_path))
    assert "data_batch_4.bin" in str(err) and "8589934592" in str(err)
    assert peak < 5_000_000


def test_a_full_size_batch_is_still_read(tmp_path):
    # the bound is the format's size, not less: 10000 records per batch are fine
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    records = rng.integers(0, 256, size=(10000, 3073), dtype=np.uint8)
    records[:, 0] %= 10
    (folder / "data_batch_1.bin").write_bytes(records.tobytes())
    for name in [f"data_batch_{k}.bin" for k in range(2, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(records[:1].tobytes())
    X, y, _, _ = data.load_cifar10(tmp_path, n_train=10000, dtype=np.float32)
    assert X.shape == (10000, 3072) and np.array_equal(y, records[:, 0])
    assert float(X[123, 7]) == pytest.approx(records[123, 8] / 255)
    # one record more than the format holds: whole records, but refused by size
    (folder / "test_batch.bin").write_bytes(bytes(BATCH_MAX + 3073))
    with pytest.raises(DataError, match="test_batch.bin.*30733073.*30730000"):
        data.load_cifar10(tmp_path, n_train=1)


@pytest.mark.parametrize("mode", ["w:", "w:gz", "w:bz2", "w:xz"])
def test_archives_of_every_compression_still_read_through_the_bound(tmp_path, mode):
    rng = np.random.default_rng(3)
    names = [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]
    records = {n: rng.integers(0, 256, size=(2, 3073), dtype=np.uint8) for n in names}
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, mode) as tar:
        small = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        small.size = 5
        tar.addfile(small, io.BytesIO(b"cat\n\n"))
        for n in names:
            records[n][:, 0] %= 10
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{n}")
            info.size = records[n].size
            tar.addfile(info, io.BytesIO(records[n].tobytes()))
    X, y, Xt, yt = data.load_cifar10(archive)
    assert X.shape == (10, 3072) and Xt.shape == (2, 3072)
    assert np.array_equal(y, np.concatenate([records[n][:, 0] for n in names[:5]]))
    assert np.array_equal(np.rint(Xt * 255).astype(np.uint8), records["test_batch.bin"][:, 1:])
