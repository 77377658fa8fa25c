"""Data: built-in datasets with stratified splits, normalization with training statistics,
mini-batches.

- ``datasets``: ``load(name)`` -> :class:`~jaxdl.data.datasets.Dataset`, the generators
  (``moons``, ``circles``, ``flower``, ``noisy_blobs``, ``unscaled_moons``, ``digits``) and
  ``split_indices``
- ``normalize``: ``fit_standardizer`` and ``transform``, ``x' = (x - mu_train) / sigma_train``
- ``batches``: the epoch layout (``partition``) and shuffled, padded, masked batch indices
"""

from jaxdl.data import batches, datasets, normalize
from jaxdl.data.datasets import DATASETS, Dataset, load, split_indices

__all__ = ["DATASETS", "Dataset", "batches", "datasets", "load", "normalize", "split_indices"]
