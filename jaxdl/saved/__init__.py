"""Saved models: a directory that a later process (or ``jaxdl predict``) turns back into
predictions: ``manifest.json`` (what the model is, the data's statistics, checksums) and
``arrays.npz`` (its params and state).

The directory is built under a temporary name beside ``path`` and renamed into place, so it
appears whole or not at all; an existing directory is replaced only with ``overwrite=True``
and only when it is itself a saved model. Loading rebuilds the model from its config, takes the
parameter layout from ``model.init`` (shapes only, nothing is computed) and refuses a manifest
from a newer format version, a manifest whose checksum does not match (changed after saving),
a changed, missing or extra array, and a shape that does not fit.

A saved model is untrusted input: its model type is looked up among the registered types
(:func:`register_model`; :class:`jaxdl.nn.MLP` and :class:`jaxdl.layers.Sequential` are
built in), never imported from a module the manifest names; only regular files are read, within
size limits; every manifest field and every array is checked.

The on-disk format is :mod:`jaxdl.saved.file_format` (its arrays :mod:`jaxdl.saved.saved_arrays`,
its manifest :mod:`jaxdl.saved.manifest`, its directory :mod:`jaxdl.saved.model_directory`);
:func:`save_model` and :func:`load_model` live in :mod:`jaxdl.saved.saved_model`,
:class:`SavedModel` in :mod:`jaxdl.saved.loaded_model`, :func:`check_fits` in
:mod:`jaxdl.saved.model_fit`. Every name of them is importable from ``jaxdl.saved``.
"""

from jaxdl.saved import (
    file_format,
    loaded_model,
    manifest,
    model_directory,
    model_fit,
    saved_arrays,
    saved_model,
)
from jaxdl.saved.file_format import (
    ARRAYS,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MANIFEST_MAX_BYTES,
    TASKS,
    ModelFileError,
    build_model,
    lacking_config,
    model_config,
    register_model,
)
from jaxdl.saved.manifest import (
    check_encoding,
    check_manifest,
    check_names,
    check_statistics,
    library_version,
    manifest_checksum,
    read_manifest,
)
from jaxdl.saved.model_directory import (
    check_target,
    install,
)
from jaxdl.saved.saved_arrays import (
    expected_bytes,
    fill_tree,
    flatten,
    named_leaves,
    read_arrays,
    sha256_hex,
)
from jaxdl.saved.saved_model import (
    SavedModel,
    check_fits,
    infer,
    input_shape,
    load_model,
    save_model,
)

__all__ = [
    "ARRAYS",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "MANIFEST_MAX_BYTES",
    "TASKS",
    "ModelFileError",
    "SavedModel",
    "build_model",
    "check_encoding",
    "check_fits",
    "check_manifest",
    "check_names",
    "check_statistics",
    "check_target",
    "expected_bytes",
    "file_format",
    "fill_tree",
    "flatten",
    "infer",
    "input_shape",
    "install",
    "lacking_config",
    "library_version",
    "load_model",
    "loaded_model",
    "manifest",
    "manifest_checksum",
    "model_config",
    "model_directory",
    "model_fit",
    "named_leaves",
    "read_arrays",
    "read_manifest",
    "register_model",
    "save_model",
    "saved_arrays",
    "saved_model",
    "sha256_hex",
]
