"""IDX files, the format of MNIST and Fashion-MNIST, read without pickle and checked strictly.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
``uint32`` sizes, then the values in C order, big-endian. ``<type>`` is ``0x08`` (``uint8``),
``0x09`` (``int8``), ``0x0B`` (``int16``), ``0x0C`` (``int32``), ``0x0D`` (``float32``) or
``0x0E`` (``float64``). The files are usually gzip'd (``train-images-idx3-ubyte.gz``); a gzip
file is recognised by its first two bytes and decompressed within a size limit.

The file must hold exactly the values its header announces: a short (truncated) file, trailing
bytes, an unknown magic number or type are each one ``ValueError`` naming the file.
"""

from __future__ import annotations

import os
import zlib

import numpy as np

from jaxdl.infra.untrusted import read_bytes

__all__ = ["MAX_DECOMPRESSED", "gunzip", "parse_idx", "read_idx", "read_idx_images"]

#: The largest decompressed file accepted unless a caller says otherwise: 1 GiB.
MAX_DECOMPRESSED = 1 << 30

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP = b"\x1f\x8b"


def gunzip(data: bytes, name: str, max_bytes: int = MAX_DECOMPRESSED) -> bytes:
    """The content of the gzip data ``data`` (from the file ``name``), at most ``max_bytes``.

    Raises:
      ValueError: not gzip data, truncated, followed by other bytes, or larger than the limit.

    Examples:
      >>> import gzip
      >>> from jaxdl.data.idx import gunzip
      >>> gunzip(gzip.compress(b"abc"), "a.gz")
      b'abc'
      >>> gunzip(gzip.compress(b"abc")[:-3], "a.gz")
      Traceback (most recent call last):
      ValueError: a.gz: the gzip data is truncated (the file was cut short; download it again)
    """
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflate.decompress(data, max_bytes + 1)
    except zlib.error as err:
        raise ValueError(f"{name}: not valid gzip data ({err})") from None
    if len(out) > max_bytes:
        raise ValueError(f"{name}: decompresses to more than the limit of {max_bytes} bytes")
    if not inflate.eof:
        raise ValueError(f"{name}: the gzip data is truncated (the file was cut short; "
                         "download it again)")
    if inflate.unused_data:
        raise ValueError(f"{name}: {len(inflate.unused_data)} bytes of other data follow the "
                         "gzip data")
    return out


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """The array held by the IDX bytes ``data`` (already decompressed), in native byte order.

    Args:
      data: the bytes of an IDX file.
      name: how error messages name the source.

    Returns:
      An array of the header's shape and type.

    Raises:
      ValueError: a bad magic number or type, or a body that does not match the header.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.idx import parse_idx
      >>> data = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
      >>> parse_idx(data)
      array([[0, 1, 2],
             [3, 4, 5]], dtype=uint8)
    """
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX file (4-byte "
                         "magic number missing)")
    if data[0] or data[1] or data[2] not in _TYPES or data[3] == 0:
        raise ValueError(f"{name}: not an IDX file (magic number {data[:4].hex()}, expected "
                         "0000 then a type byte 08/09/0b/0c/0d/0e and the number of dimensions)")
    ndim = data[3]
    start = 4 + 4 * ndim
    if len(data) < start:
        raise ValueError(f"{name}: truncated IDX header ({len(data)} bytes, the header of "
                         f"{ndim} dimensions needs {start})")
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - start
    if got != expected:
        what = "truncated" if got < expected else "followed by extra bytes"
        raise ValueError(f"{name}: IDX data {what}: the header announces shape {shape} "
                         f"({expected} bytes of {dtype.name}) but {got} bytes follow it")
    return np.frombuffer(data, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_DECOMPRESSED) -> np.ndarray:
    """The array in the IDX file ``path`` (gzip'd or not), checked against its header.

    Args:
      path: a regular file (``.gz`` recognised by its content, not its name).
      max_bytes: the largest file, and the largest decompressed content, accepted.

    Returns:
      The array (native byte order).

    Raises:
      ValueError: the file is not a regular file, not IDX data, truncated or too large.

    Examples:
      >>> import gzip, os, tempfile
      >>> from jaxdl.data.idx import read_idx
      >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
      >>> _ = open(path, "wb").write(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])))
      >>> read_idx(path)
      array([7, 2, 1], dtype=uint8)
    """
    name = os.fspath(path)
    data = read_bytes(path, what="IDX file", max_bytes=max_bytes)
    if data[:2] == _GZIP:
        data = gunzip(data, name, max_bytes)
    return parse_idx(data, name)


def read_idx_images(images: str | os.PathLike, labels: str | os.PathLike, *,
                    num_classes: int = 10,
                    max_bytes: int = MAX_DECOMPRESSED) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style images and labels from a pair of IDX files.

    The images file must hold ``uint8`` values of shape ``(n, height, width)``, the labels file
    ``uint8`` values of shape ``(n,)`` below ``num_classes``.

    Args:
      images: the images file (``...-images-idx3-ubyte[.gz]``).
      labels: the labels file (``...-labels-idx1-ubyte[.gz]``).
      num_classes: labels must lie in ``0 .. num_classes - 1``.
      max_bytes: the size limit of each file (see :func:`read_idx`).

    Returns:
      ``(x, y)``: ``uint8`` images ``(n, height, width, 1)`` (NHWC) and ``int32`` labels ``(n,)``.

    Raises:
      ValueError: a file of the wrong shape or type, counts that differ, a label out of range.

    Examples:
      >>> import os, tempfile
      >>> from jaxdl.data.idx import read_idx_images
      >>> folder = tempfile.mkdtemp()
      >>> x_path, y_path = os.path.join(folder, "x"), os.path.join(folder, "y")
      >>> _ = open(x_path, "wb").write(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2])
      ...                              + bytes(range(8)))
      >>> _ = open(y_path, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 3, 9]))
      >>> x, y = read_idx_images(x_path, y_path)
      >>> x.shape, x.dtype.name, y.tolist()
      ((2, 2, 2, 1), 'uint8', [3, 9])
    """
    x = read_idx(images, max_bytes=max_bytes)
    y = read_idx(labels, max_bytes=max_bytes)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise ValueError(f"{os.fspath(images)}: expected uint8 images of shape (n, height, "
                         f"width), got {x.dtype.name} of shape {x.shape}")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise ValueError(f"{os.fspath(labels)}: expected uint8 labels of shape (n,), got "
                         f"{y.dtype.name} of shape {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{os.fspath(images)} holds {len(x)} images but {os.fspath(labels)} "
                         f"holds {len(y)} labels; use the labels file of the same split")
    if len(y) and int(y.max()) >= num_classes:
        raise ValueError(f"{os.fspath(labels)}: label {int(y.max())} is not a class index "
                         f"0..{num_classes - 1}")
    return x[..., None], y.astype(np.int32)
