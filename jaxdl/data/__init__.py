"""Data: normalization with training statistics, built-in datasets, mini-batches, and the
user's files (``load_file``: CSV / NPZ / NPY / DataFrame)."""

from typing import Any


def __getattr__(name: str) -> Any:
    # load_file imports the built-in datasets (and so scikit-learn) only when asked for
    if name == "load_file":
        from jaxdl.data.files import load_file

        return load_file
    raise AttributeError(f"module 'jaxdl.data' has no attribute {name!r}")
