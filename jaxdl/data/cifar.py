"""CIFAR-10 in its binary version (``cifar-10-binary.tar.gz``), read without pickle.

The archive holds ``cifar-10-batches-bin/data_batch_1.bin`` .. ``data_batch_5.bin`` (the
training set) and ``test_batch.bin``, and ``batches.meta.txt`` (the class names, one a line).
Each ``.bin`` file is a run of 3073-byte records: one label byte (0..9), then the 32x32 image as
1024 red, 1024 green and 1024 blue bytes, each plane row by row (CHW). The images are returned
as ``uint8`` NHWC arrays ``(n, 32, 32, 3)``.

The archive is read as a stream, member by member; nothing is extracted to disk and only the
expected regular files are read (links and other members are ignored). A folder that holds the
extracted ``.bin`` files is read as well. A truncated record, a label above 9, a missing or
repeated batch is one ``ValueError`` naming the file.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from collections.abc import Iterable

import numpy as np

from jaxdl.data.images import ImageSet
from jaxdl.infra.untrusted import open_regular, read_bytes

__all__ = ["CLASSES", "TEST_BATCH", "TRAIN_BATCHES", "parse_batch", "read_cifar10"]

#: The class names, in label order, as ``batches.meta.txt`` lists them.
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
RECORD = 1 + 3 * 32 * 32
#: The largest batch file accepted (a real one has 10000 records, 30 730 000 bytes).
MAX_BATCH_BYTES = 64 << 20


def parse_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one CIFAR-10 ``.bin`` batch.

    Args:
      data: the file's bytes, a whole number of 3073-byte records.
      name: how error messages name the file.

    Returns:
      ``(x, y)``: ``uint8`` images ``(n, 32, 32, 3)`` and ``int32`` labels ``(n,)``.

    Raises:
      ValueError: an empty or truncated file, or a label above 9.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.cifar import parse_batch
      >>> record = bytes([7]) + bytes([10]) * 1024 + bytes([20]) * 1024 + bytes([30]) * 1024
      >>> x, y = parse_batch(record, "test_batch.bin")
      >>> x.shape, y.tolist(), x[0, 5, 9].tolist()
      ((1, 32, 32, 3), [7], [10, 20, 30])
    """
    if not data or len(data) % RECORD:
        raise ValueError(f"{name}: {len(data)} bytes is not a whole number of CIFAR-10 records "
                         f"of {RECORD} bytes (the file is truncated or not a CIFAR-10 batch)")
    records = np.frombuffer(data, np.uint8).reshape(-1, RECORD)
    y = records[:, 0].astype(np.int32)
    if int(y.max()) >= len(CLASSES):
        raise ValueError(f"{name}: label {int(y.max())} is not a CIFAR-10 class 0..9 (not a "
                         "CIFAR-10 batch of the binary version)")
    x = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), y


def _meta(data: bytes, name: str) -> tuple[str, ...]:
    try:
        names = tuple(line.strip() for line in data.decode("ascii").splitlines() if line.strip())
    except UnicodeDecodeError:
        raise ValueError(f"{name}: the class names are not ASCII text") from None
    if len(names) != len(CLASSES):
        raise ValueError(f"{name}: expected {len(CLASSES)} class names, one a line, got "
                         f"{len(names)}")
    return names


def _wanted() -> frozenset[str]:
    return frozenset((*TRAIN_BATCHES, TEST_BATCH, "batches.meta.txt"))


def _from_tar(path: str, max_bytes: int) -> Iterable[tuple[str, bytes]]:
    fd = open_regular(path, what="CIFAR-10 archive", max_bytes=max_bytes)
    with os.fdopen(fd, "rb") as f:
        try:
            with tarfile.open(fileobj=f, mode="r|*") as tar:
                for member in tar:
                    base = posixpath.basename(member.name)
                    if base not in _wanted() or not member.isfile():
                        continue
                    if member.size > MAX_BATCH_BYTES:
                        raise ValueError(f"{path}: member {member.name} has {member.size} "
                                         f"bytes, more than the limit of {MAX_BATCH_BYTES}")
                    content = tar.extractfile(member)
                    data = b"" if content is None else content.read(member.size)
                    if len(data) != member.size:
                        raise ValueError(f"{path}: member {member.name} is truncated")
                    yield base, data
        except (tarfile.TarError, EOFError, OSError) as err:
            raise ValueError(f"{path}: not a readable CIFAR-10 archive, or truncated "
                             f"({type(err).__name__}: {err}); download it again") from None


def _from_folder(path: str) -> Iterable[tuple[str, bytes]]:
    for base in sorted(_wanted()):
        file = os.path.join(path, base)
        if os.path.exists(file):
            yield base, read_bytes(file, what="CIFAR-10 batch", max_bytes=MAX_BATCH_BYTES)


def read_cifar10(path: str | os.PathLike, *, max_bytes: int = 1 << 30) -> ImageSet:
    """The CIFAR-10 training and test sets from ``cifar-10-binary.tar.gz`` or its extracted
    folder (``cifar-10-batches-bin``).

    Args:
      path: the ``.tar.gz`` archive (any tar compression), or a folder of the ``.bin`` files.
      max_bytes: the largest archive accepted.

    Returns:
      An :class:`~jaxdl.data.images.ImageSet`: ``uint8`` images ``(n, 32, 32, 3)``, ``int32``
      labels, and the class names (from ``batches.meta.txt`` when present).

    Raises:
      ValueError: a missing or repeated batch, a truncated or damaged file.

    Examples:
      >>> import os, tempfile
      >>> from jaxdl.data.cifar import read_cifar10, TRAIN_BATCHES, TEST_BATCH
      >>> folder = tempfile.mkdtemp()
      >>> for i, name in enumerate(TRAIN_BATCHES + (TEST_BATCH,)):
      ...     _ = open(os.path.join(folder, name), "wb").write(bytes([i]) + bytes(3072))
      >>> data = read_cifar10(folder)
      >>> data.x_train.shape, data.y_train.tolist(), data.y_test.tolist(), data.class_names[0]
      ((5, 32, 32, 3), [0, 1, 2, 3, 4], [5], 'airplane')
    """
    name = os.fspath(path)
    parts = _from_folder(name) if os.path.isdir(name) else _from_tar(name, max_bytes)
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    classes: tuple[str, ...] = CLASSES
    seen: set[str] = set()
    for base, data in parts:
        if base in seen:
            raise ValueError(f"{name}: holds {base} twice")
        seen.add(base)
        if base == "batches.meta.txt":
            classes = _meta(data, f"{name}: {base}")
        else:
            batches[base] = parse_batch(data, f"{name}: {base}")
    missing = [b for b in (*TRAIN_BATCHES, TEST_BATCH) if b not in batches]
    if missing:
        raise ValueError(f"{name}: {', '.join(missing)} missing; expected the binary version of "
                         "CIFAR-10 (cifar-10-binary.tar.gz: data_batch_1.bin .. "
                         "data_batch_5.bin and test_batch.bin)")
    x_train = np.concatenate([batches[b][0] for b in TRAIN_BATCHES])
    y_train = np.concatenate([batches[b][1] for b in TRAIN_BATCHES])
    return ImageSet(x_train, y_train, *batches[TEST_BATCH], classes)
