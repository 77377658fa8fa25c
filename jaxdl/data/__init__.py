"""Data: built-in datasets with stratified splits, normalization with training statistics,
mini-batches.

- ``dataset``: the :class:`~jaxdl.data.dataset.Dataset` type and stratified ``split_indices``
- ``datasets``: ``load(name)`` -> ``Dataset`` of a built-in set (``DATASETS``) or image set
- ``toy``: the seeded 2-D generators (``moons``, ``circles``, ``flower``, ``noisy_blobs``,
  ``unscaled_moons``) and scikit-learn's ``digits``, also importable from ``datasets``
- ``normalize``: ``fit_standardizer`` and ``transform``, ``x' = (x - mu_train) / sigma_train``
- ``batches``: the epoch layout (``partition``) and shuffled, padded, masked batch indices
- ``files``: ``load_file(path)``: your CSV / NPZ / NPY file or pandas DataFrame as a ``Dataset``
  (``table`` reads the columns, ``labels`` turns labels into classes; ``sources``,
  ``array_files`` and ``label_files`` read a source, ``inputs`` new data for a trained model)
- ``catalog``, ``download``, ``idx``, ``cifar``, ``images``: MNIST, Fashion-MNIST and CIFAR-10
  downloaded, checked and cached (``load("mnist")``); image folders and the course's HDF5 files
  (``images``; read by ``image_folder`` and ``h5_images``, ``image_set`` the train/test images)
"""

from jaxdl.data import (
    batches,
    catalog,
    cifar,
    dataset,
    datasets,
    download,
    files,
    idx,
    images,
    normalize,
    toy,
)
from jaxdl.data.datasets import DATASETS, Dataset, load, split_indices
from jaxdl.data.files import load_file

__all__ = [
    "DATASETS",
    "Dataset",
    "batches",
    "catalog",
    "cifar",
    "dataset",
    "datasets",
    "download",
    "files",
    "idx",
    "images",
    "load",
    "load_file",
    "normalize",
    "split_indices",
    "toy",
]
