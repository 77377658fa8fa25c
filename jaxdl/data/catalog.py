"""Public image data sets people learn with: MNIST, Fashion-MNIST and CIFAR-10, downloaded once
(:func:`jaxdl.data.download.fetch_file`, checked against published SHA-256 sums) and read without
pickle (:mod:`jaxdl.data.idx`, :mod:`jaxdl.data.cifar`).

Each data set's files go to ``<cache folder>/<name>/`` (see
:func:`~jaxdl.data.download.resolve_cache_dir`); to work offline, put the files there by hand.

Sources of the sums (recorded so that anyone can check them): the sizes and SHA-256 sums are
those listed in TensorFlow Datasets' ``tensorflow_datasets/url_checksums/mnist.txt``,
``fashion_mnist.txt`` and ``cifar10.txt``. The MNIST files are the same bytes on every mirror
(same sizes; torchvision checks the same files on ``ossci-datasets.s3.amazonaws.com/mnist`` by
MD5); the other mirror is the one TensorFlow Datasets lists.

:func:`image_dataset` turns the images into a :class:`~jaxdl.data.dataset.Dataset` (a
validation split drawn from the training set, stratified by class); the pixels stay ``uint8``
NHWC, and ``stats`` holds their per-channel statistics on the training split, which a
:class:`jaxdl.layers.Standardized` model applies per mini-batch.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from jaxdl.checks import check_range
from jaxdl.data import cifar
from jaxdl.data.dataset import Dataset
from jaxdl.data.download import ChecksumError, DownloadError, fetch_file, resolve_cache_dir
from jaxdl.data.idx import read_idx_images
from jaxdl.data.images import ImageSet, as_dataset

__all__ = ["IMAGE_DATASETS", "SOURCES", "Remote", "Source", "image_dataset", "load_images"]


class Remote(NamedTuple):
    """One published file: its name on the server and in the cache, size and SHA-256.

    Examples:
      >>> from jaxdl.data.catalog import SOURCES
      >>> SOURCES["cifar10"].files[0].filename
      'cifar-10-binary.tar.gz'
    """

    filename: str
    size: int
    sha256: str


class Source(NamedTuple):
    """A public data set: the folders it is published in (tried in order), its files, the
    format (``"idx"`` or ``"cifar10"``) and its class names.

    Examples:
      >>> from jaxdl.data.catalog import SOURCES
      >>> [remote.filename for remote in SOURCES["mnist"].files][:2]
      ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']
    """

    mirrors: tuple[str, ...]
    files: tuple[Remote, ...]
    format: str
    class_names: tuple[str, ...]


_IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

SOURCES: dict[str, Source] = {
    "mnist": Source(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        (Remote(_IDX_NAMES[0], 9912422,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
         Remote(_IDX_NAMES[1], 28881,
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
         Remote(_IDX_NAMES[2], 1648877,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
         Remote(_IDX_NAMES[3], 4542,
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
        "idx",
        tuple(str(d) for d in range(10)),
    ),
    "fashion_mnist": Source(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        (Remote(_IDX_NAMES[0], 26421880,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
         Remote(_IDX_NAMES[1], 29515,
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
         Remote(_IDX_NAMES[2], 4422102,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
         Remote(_IDX_NAMES[3], 5148,
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5")),
        "idx",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot"),
    ),
    "cifar10": Source(
        ("https://www.cs.toronto.edu/~kriz/",),
        (Remote("cifar-10-binary.tar.gz", 170052171,
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),),
        "cifar10",
        cifar.CLASSES,
    ),
}

#: The names :func:`load_images` accepts.
IMAGE_DATASETS: tuple[str, ...] = tuple(SOURCES)


def _fetch_one(name: str, source: Source, remote: Remote, folder: str,
               base_url: str | None, timeout: float) -> str:
    """Download ``remote`` from the first mirror that serves it correctly."""
    bases = (base_url,) if base_url is not None else source.mirrors
    errors: list[DownloadError] = []
    for base in bases:
        url = base.rstrip("/") + "/" + remote.filename
        try:
            return fetch_file(url, remote.filename, remote.sha256, folder, timeout=timeout,
                         max_bytes=remote.size)
        except DownloadError as err:
            errors.append(err)
    if len(errors) == 1:
        raise errors[0]
    others = "; ".join(str(e).split("; ")[0] for e in errors[1:])
    kind = ChecksumError if any(isinstance(e, ChecksumError) for e in errors) else DownloadError
    raise kind(f"{errors[0]} (other mirrors failed too: {others})")


def load_images(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    *,
    timeout: float = 60.0,
) -> ImageSet:
    """MNIST, Fashion-MNIST or CIFAR-10: downloaded once into the cache, checked, and read.

    Args:
      name: one of :data:`IMAGE_DATASETS` (``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``).
      cache_dir: the cache folder (see :func:`~jaxdl.data.download.resolve_cache_dir`); the
        files go to its subfolder ``name``.
      base_url: a folder URL to download the files from instead of the public mirrors (a
        local mirror); the file names and checksums stay the published ones.
      timeout: seconds to wait for each network operation.

    Returns:
      An :class:`~jaxdl.data.images.ImageSet`: ``uint8`` images ``(60000, 28, 28, 1)`` and
      ``(10000, 28, 28, 1)`` for the MNISTs, ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)``
      for CIFAR-10; ``int32`` labels; the class names.

    Raises:
      ValueError: an unknown name, or a damaged file.
      jaxdl.data.download.DownloadError: a file that could not be downloaded or checked (the
        message says where to put it by hand).

    Examples:
      >>> from jaxdl.data.catalog import IMAGE_DATASETS, SOURCES
      >>> IMAGE_DATASETS
      ('mnist', 'fashion_mnist', 'cifar10')
      >>> SOURCES["fashion_mnist"].class_names[:3]
      ('T-shirt/top', 'Trouser', 'Pullover')
    """
    if name not in SOURCES:
        raise ValueError(f"unknown image data set {name!r}; valid names: "
                         f"{', '.join(IMAGE_DATASETS)}")
    source = SOURCES[name]
    folder = os.path.join(resolve_cache_dir(cache_dir), name)
    paths = [_fetch_one(name, source, remote, folder, base_url, timeout)
             for remote in source.files]
    if source.format == "cifar10":
        data = cifar.read_cifar10(paths[0])
        return data._replace(class_names=source.class_names)
    n = len(source.class_names)
    x_train, y_train = read_idx_images(paths[0], paths[1], num_classes=n)
    x_test, y_test = read_idx_images(paths[2], paths[3], num_classes=n)
    return ImageSet(x_train, y_train, x_test, y_test, source.class_names)


def image_dataset(name: str, *, n: int | None = None, val_fraction: float = 0.1, seed: int = 0,
                  cache_dir: str | os.PathLike | None = None,
                  base_url: str | None = None) -> Dataset:
    """:func:`load_images` as a :class:`~jaxdl.data.dataset.Dataset` (see
    :func:`~jaxdl.data.images.as_dataset`): a validation split drawn from the training images,
    the published test split, ``uint8`` NHWC pixels.

    Args:
      name: one of :data:`IMAGE_DATASETS`.
      n: keep a seeded random subset of ``n`` training images (``None``: all of them).
      val_fraction: the share of the training images held out for validation, in ``(0, 1)``.
      seed: the seed of the subset and of the validation split.
      cache_dir: the cache folder (see :func:`load_images`).
      base_url: a local mirror (see :func:`load_images`).

    Returns:
      The :class:`~jaxdl.data.dataset.Dataset`.

    Examples:
      >>> from jaxdl.data.catalog import image_dataset
      >>> image_dataset("mnist", val_fraction=1.5)
      Traceback (most recent call last):
      ValueError: val_fraction must lie in (0.0, 1.0), got 1.5
    """
    check_range("val_fraction", val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    if name not in SOURCES:
        raise ValueError(f"unknown image data set {name!r}; valid names: "
                         f"{', '.join(IMAGE_DATASETS)}")
    return as_dataset(load_images(name, cache_dir, base_url), name, n=n,
                      val_fraction=val_fraction, seed=seed)
