"""Whether a model fits what its saved model says about it: one example's input shape
(:func:`input_shape`) and the class names, feature names and statistics that must match the
model's inputs and outputs (:func:`check_fits`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdl import nn
from jaxdl.saved.file_format import (
    ModelFileError,
)
from jaxdl.saved.manifest import (
    check_encoding,
)


def input_shape(model: Any) -> tuple[int, ...] | None:
    """One example's shape (no batch axis) for the built-in models and any model with an
    ``input_shape`` attribute; ``None`` when the model does not say.

    >>> from jaxdl.saved.saved_model import input_shape
    >>> from jaxdl import nn
    >>> input_shape(nn.MLP((4, 3, 2)))
    (4,)
    """
    if isinstance(model, nn.MLP):
        return (model.sizes[0],)
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape):
        return shape
    return None


def check_fits(where: str, model: Any, template: Any, task: str,
               class_names: tuple[str, ...] | None, feature_names: tuple[str, ...] | None,
               stats: Mapping[str, Any] | None, encoding: Mapping[str, Any] | None = None,
               targets: Mapping[str, Any] | None = None) -> None:
    """Refuse class names, feature names or standardizer statistics that do not fit the model:
    as many feature names (each one-hot column of ``encoding`` counted, see
    :func:`~jaxdl.saved.file_format.check_encoding`) and statistics as one example has
    inputs, as many class names as
    the output has classes (two for a single output unit), as many target statistics
    (``targets``, the ``target_standardizer``) as the output has units. Models that do not say
    their input shape (see :func:`input_shape`) are checked for what does not need it.

    >>> from jaxdl import nn
    >>> from jaxdl.saved.saved_model import check_fits
    >>> import jax
    >>> model = nn.MLP((2, 3))
    >>> template = jax.eval_shape(model.init, jax.random.key(0))
    >>> check_fits("m", model, template, "classification", ("a", "b"), None, None)
    Traceback (most recent call last):
    jaxdl.saved.file_format.ModelFileError: m: field 'class_names' names 2 classes but the \
model has 3 outputs (classes)
    """
    width = None if stats is None else len(stats["std"])
    named = check_encoding(encoding, feature_names, where)
    if named is not None and width is not None and width != named:
        raise ModelFileError(f"{where}: the standardizer has {width} entries but "
                             f"'feature_names' names {named} model inputs")
    shape = input_shape(model)
    if shape is None:
        return
    inputs = math.prod(shape)
    for field, count in (("feature_names", named),
                         ("standardizer", width)):
        if count is not None and count != inputs:
            raise ModelFileError(f"{where}: field {field!r} has {count} entries but the model "
                                 f"takes {inputs} input features")
    wanted = class_names if task == "classification" else targets
    if wanted is None:
        return
    x = jax.ShapeDtypeStruct((1, *shape), np.float32)
    out = jax.eval_shape(lambda p, s, x: model.apply(p, s, x, train=False)[0], *template, x)
    units = 1 if len(out.shape) == 1 else math.prod(out.shape[1:])
    if targets is not None and task == "regression":
        if len(targets["std"]) != units:
            raise ModelFileError(f"{where}: field 'target_standardizer' has "
                                 f"{len(targets['std'])} entries but the model has {units} "
                                 "outputs")
        return
    assert class_names is not None
    classes = 2 if len(out.shape) == 1 or out.shape[-1] == 1 else out.shape[-1]
    if len(class_names) != classes:
        raise ModelFileError(f"{where}: field 'class_names' names {len(class_names)} classes "
                             f"but the model has {classes} outputs (classes)")
