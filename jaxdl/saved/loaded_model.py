"""A loaded saved model (:class:`SavedModel`, which :func:`jaxdl.saved.saved_model.load_model`
returns): predictions and evaluation on raw features, and the compiled inference step
(:func:`infer`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import numpy as np

from jaxdl import evaluation
from jaxdl.checks import check_labels
from jaxdl.data.encoding import Encoding, from_manifest
from jaxdl.data.normalize import Standardizer, transform
from jaxdl.data.table import is_dataframe
from jaxdl.layers.standardize import Standardized


@dataclasses.dataclass(frozen=True, eq=False)
class SavedModel:
    """A loaded model: ``predict`` maps raw features (standardized here with the saved
    statistics) to class probabilities ``(n, classes)`` or regression values. ``model`` is the
    model that takes standardized inputs (the inner model of a saved
    :class:`~jaxdl.layers.Standardized`); :attr:`trainable` is the model that takes raw inputs,
    to train further or to use in memory. ``target_standardizer`` holds the regression targets'
    training statistics of a model that learnt standardized targets (``None`` otherwise, and in
    models saved before it existed): :meth:`outputs` and :meth:`predict` give
    ``mean + std * model(...)``, in the targets' units.

    Examples:
        >>> import numpy as np
        >>> from jaxdl.saved.saved_model import save_model, load_model
        >>> import jax, jax.numpy as jnp, tempfile
        >>> from jaxdl.nn import MLP
        >>> params, state = MLP((2, 3)).init(jax.random.key(0))
        >>> params = jax.tree.map(jnp.zeros_like, params)  # every class equally likely
        >>> path = save_model(tempfile.mkdtemp() + "/m", MLP((2, 3)), params, state,
        ...                   class_names=("cat", "dog", "fox"))
        >>> saved = load_model(path)
        >>> saved.class_names, saved.predict(np.ones((1, 2))).round(3).tolist()
        (('cat', 'dog', 'fox'), [[0.333, 0.333, 0.333]])
    """

    path: str
    model: Any
    params: Any
    state: Any
    standardizer: Standardizer | None
    manifest: dict[str, Any]
    target_standardizer: Standardizer | None = None

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return self.manifest["task"]

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """The label of each class index (classification)."""
        names = self.manifest.get("class_names")
        return tuple(names) if names else None

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """The input columns, in the model's order."""
        names = self.manifest.get("feature_names")
        return tuple(names) if names else None

    @property
    def encoding(self) -> Encoding | None:
        """The one-hot encoding of the text feature columns, or ``None`` (numeric columns
        only). Arrays given to :meth:`outputs` hold its expanded columns
        (``encoding.expanded_names()``); a DataFrame holds the text columns themselves."""
        features = self.feature_names
        return from_manifest(self.manifest.get("encoding"), features or ())

    @property
    def trainable(self) -> Any:
        """The model on raw inputs: ``Standardized(model, standardizer, targets=...)`` when the
        saved model has a standardizer (its target statistics too, when it has them), else
        ``model`` (fit it further on raw features with ``params`` and ``state``)."""
        if self.standardizer is None:
            return self.model
        return Standardized(self.model, self.standardizer, targets=self.target_standardizer)

    @property
    def target(self) -> str | None:
        """The name of the target column the model was trained on."""
        return self.manifest.get("target")

    def outputs(self, x: Any) -> np.ndarray:
        """The model's outputs (logits, or values in the targets' units) for raw features ``x``
        (an array, or a pandas DataFrame with the model's feature columns in any order)."""
        if is_dataframe(x):
            from jaxdl.data.files import read_inputs

            if not self.feature_names:
                raise ValueError("this saved model names no feature columns; pass an array")
            x = read_inputs(x, self.feature_names, self.target, need_labels=False,
                            encoding=self.encoding).x
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):  # raw features centred before any float32
            x = x.astype(np.float64)
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"x has shape {x.shape}; pass at least one sample (rows of "
                             "features)")
        if self.standardizer is not None:
            shape = x.shape
            width = int(np.size(self.standardizer.mean))
            if math.prod(shape[1:]) != width:
                raise ValueError(f"x has shape {shape} but the model takes {width} features "
                                 "a sample")
            x = transform(self.standardizer, x.reshape(len(x), -1)).reshape(shape)
        out, _ = infer(self.model, self.params, self.state, x.astype(np.float32))
        if self.target_standardizer is not None:  # as Standardized.destandardize, in float32
            mean, std = (np.asarray(v, np.float32) for v in self.target_standardizer)
            out = np.asarray(out, np.float32) * std + mean
        return np.asarray(out)

    def predict(self, x: Any) -> np.ndarray:
        """Class probabilities ``(n, classes)`` (classification) or predicted values."""
        out = self.outputs(x)
        if self.task == "classification":
            return evaluation.probabilities(out)
        return evaluation.values(out)

    def predict_classes(self, x: Any, *, indices: bool = False) -> np.ndarray:
        """The predicted classes by name when the model knows its class names (as it does when
        trained on labelled data), else class indices; ``indices=True`` always gives the
        indices (``class_names[i]`` names class ``i``)."""
        if self.task != "classification":
            raise ValueError("predict_classes needs a classification model; use predict")
        found = evaluation.classes(self.outputs(x))
        if indices or not self.class_names:
            return found
        return np.asarray(self.class_names)[found]

    def evaluate(self, x: Any, y: Any) -> dict[str, Any]:
        """:func:`jaxdl.evaluation.evaluate` of the model on raw features ``x`` and labels
        ``y`` (class indices or targets)."""
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(f"x has {len(x)} samples but y has {y.size if y.ndim == 0 else len(y)}"
                             " labels; they must match")
        outputs = self.outputs(x)
        if self.task != "classification":
            return evaluation.evaluate(self.task, outputs, y, 0, self.target_standardizer)
        num = len(self.class_names) if self.class_names else _num_classes(outputs)
        if y.ndim == 1 and y.dtype.kind == "f":
            fraction = y[np.isfinite(y) & (y != np.round(y))]
            if fraction.size:
                raise ValueError(f"y holds {float(fraction[0])!r}, not a class index; "
                                 "classification labels are whole numbers 0, 1, ...")
            if np.all(np.isfinite(y)):
                y = y.astype(np.int64)
        check_labels("y", y, num)
        return evaluation.evaluate(self.task, outputs, y, num)


def _num_classes(out: np.ndarray) -> int:
    return 2 if out.ndim == 1 or out.shape[-1] == 1 else out.shape[-1]


@functools.partial(jax.jit, static_argnums=0)
def infer(model: Any, params: Any, state: Any, x: Any) -> Any:
    """Inference-mode ``model.apply(params, state, x, train=False)``, compiled once per model
    and input shape; returns ``(outputs, state)``."""
    return model.apply(params, state, x, train=False)
