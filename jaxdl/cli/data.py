"""The user's data in the ``jaxdl`` command: ``--data`` for ``train``/``sweep``, saving the
trained model, per-epoch logs, and the ``predict`` and ``evaluate`` commands (their options
are in :mod:`jaxdl.cli.options` and :mod:`jaxdl.cli.parser`).

    jaxdl train --data table.csv --target label --save model --epochs 50
    jaxdl predict --model model --data new.csv --out predictions.csv
    jaxdl evaluate --model model --data test.csv --out evaluation.json
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from typing import Any

import numpy as np

from jaxdl import evaluation, logs, saved
from jaxdl.cli.tables import format_figures
from jaxdl.data.datasets import Dataset
from jaxdl.data.files import load_file, read_inputs
from jaxdl.data.labels import encode, infer_task
from jaxdl.infra.atomic import atomic_write, write_json

_FILE_ONLY = ("target", "labels", "task", "drop_missing")


def load(args: argparse.Namespace) -> Dataset | None:
    """The dataset of ``--data``; flags that only a file reads are an error without it.

    Returns:
      The file's dataset, or ``None`` without ``--data`` (a built-in dataset is used).

    >>> from jaxdl.cli import build_parser
    >>> load(build_parser().parse_args(["train"])) is None
    True
    >>> load(build_parser().parse_args(["train", "--target", "y"]))
    Traceback (most recent call last):
    ...
    ValueError: --target only apply to --data PATH
    """
    if args.data is None:
        given = [f"--{n.replace('_', '-')}" for n in _FILE_ONLY if getattr(args, n)]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to --data PATH")
        return None
    if args.dataset is not None or args.data_size is not None or args.noise is not None:
        raise ValueError("--data reads your file; leave out --dataset, --data-size and --noise")
    return load_file(args.data, target=args.target, labels=args.labels, task=args.task,
                     drop_missing=args.drop_missing, val_fraction=args.val_fraction,
                     test_fraction=args.test_fraction, seed=args.seed,
                     normalize=not args.no_normalize)


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before anything runs or is written, outputs that cannot be made
    (``--overwrite`` also applies to ``--out``, see :mod:`jaxdl.outputs`).

    >>> from jaxdl.cli import build_parser
    >>> check_outputs(build_parser().parse_args(["train", "--overwrite"]))
    """
    if args.tensorboard and not logs.tensorboard_available():
        raise ValueError(f"--tensorboard needs tensorboardX: {logs.INSTALL_HINT}")
    if args.save:
        saved.check_target(os.path.abspath(args.save), args.overwrite)


def logger(args: argparse.Namespace) -> logs.Loggers:
    """``metrics.jsonl`` in ``--out`` (continued by ``--resume``), plus TensorBoard with
    ``--tensorboard``.

    >>> import tempfile
    >>> from jaxdl.cli import build_parser
    >>> out = tempfile.mkdtemp()
    >>> loggers = logger(build_parser().parse_args(["train", "--out", out]))
    >>> loggers.close()
    """
    path = os.path.join(args.out, "metrics.jsonl")
    loggers: list[Any] = [logs.JsonlLogger(path, append=bool(getattr(args, "resume", False)))]
    if args.tensorboard:
        loggers.append(logs.TensorBoardLogger(args.tensorboard))
    return logs.Loggers(loggers)


# -- figures and saving -----------------------------------------------------------------------
def figures(model: Any, params: Any, state: Any, data: Dataset) -> dict[str, dict[str, Any]]:
    """:func:`jaxdl.evaluation.evaluate` of every split (inference mode); the regression
    ``loss`` on standardized targets when the model standardizes them (its ``target_stats``),
    every other figure in the targets' units.

    >>> import jax
    >>> from jaxdl.data.datasets import load
    >>> from jaxdl.nn import MLP
    >>> model = MLP((2, 3, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> splits = figures(model, params, state, load("moons", n=50))
    >>> list(splits), splits["test"]["samples"]
    (['train', 'validation', 'test'], 10)
    """
    splits = {"train": (data.x_train, data.y_train), "validation": (data.x_val, data.y_val),
              "test": (data.x_test, data.y_test)}
    out = {}
    for name, (x, y) in splits.items():
        if not len(y):  # a fraction of 0 (--val-data/--test-data replace it, or none)
            continue
        x = np.asarray(x)  # uint8 images stay uint8 for a Standardized model
        x = x if x.dtype == np.uint8 and getattr(model, "takes_uint8", False) else \
            x.astype(np.float32)
        outputs, _ = saved.infer(model, params, state, x)
        out[name] = evaluation.evaluate(data.task, outputs, y, data.num_classes,
                                        getattr(model, "target_stats", None))
    return out


def save(args: argparse.Namespace, model: Any, params: Any, state: Any, data: Dataset,
         hyperparameters: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Write the saved model of a run to ``args.save`` (see :func:`jaxdl.saved.save_model`;
    a :class:`jaxdl.layers.Standardized` model keeps its statistics there).

    Returns:
      ``args.save``.

    >>> import argparse, jax, os, tempfile
    >>> from jaxdl.data.datasets import load
    >>> from jaxdl.nn import MLP
    >>> model = MLP((2, 3, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> folder = os.path.join(tempfile.mkdtemp(), "model")
    >>> args = argparse.Namespace(command="train", save=folder, data=None, seed=0,
    ...                           overwrite=False)
    >>> save(args, model, params, state, load("moons", n=50), {}, {}) == folder
    True
    """
    class_names = data.class_names
    if data.task == "classification" and class_names is None:
        class_names = tuple(str(i) for i in range(data.num_classes))
    width = int(np.prod(data.x_train.shape[1:]))
    feature_names = data.feature_names or tuple(f"x{j}" for j in range(width))
    saved.save_model(
        args.save, model, params, state, data=data, class_names=class_names,
        feature_names=feature_names,
        hyperparameters=hyperparameters, metrics=metrics,
        metadata={"command": args.command, "data": args.data or data.name, "seed": args.seed},
        overwrite=args.overwrite,
    )
    return args.save


# -- predict and evaluate -------------------------------------------------------------------
def _inputs(args: argparse.Namespace, model: saved.SavedModel, need_labels: bool):
    if not model.feature_names:
        raise ValueError(f"{args.model}: the saved model names no feature columns; save it "
                         "with feature_names=... to use it here")
    return read_inputs(args.data, model.feature_names, model.target, need_labels=need_labels,
                       labels=args.labels, encoding=model.encoding,
                       id_column=getattr(args, "id_column", None))


def predict_command(args: argparse.Namespace) -> int:
    """``jaxdl predict``: one CSV row per sample of ``--data`` from the model in ``--model``.

    Classification writes the predicted class and each class's probability; regression the
    predicted value(s). With ``--id-column NAME`` the CSV's column ``NAME`` (not a feature) is
    written first, as it is in ``--data``, so the predictions join back to their rows.

    >>> import argparse, jax, os, tempfile
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.saved import save_model
    >>> folder = tempfile.mkdtemp()
    >>> model = MLP((2, 3, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> path = save_model(os.path.join(folder, "m"), model, params, state,
    ...                   feature_names=("x0", "x1"))
    >>> with open(os.path.join(folder, "new.csv"), "w") as f:
    ...     _ = f.write("x0,x1\\n0.5,-0.2\\n")
    >>> predict_command(argparse.Namespace(model=path, data=os.path.join(folder, "new.csv"),
    ...                                    labels=None, out=os.path.join(folder, "p.csv")))
    wrote ...p.csv (1 predictions)
    0
    """
    if args.labels:
        raise ValueError("--labels only applies to jaxdl evaluate")
    check_out(args)
    model = saved.load_model(args.model)
    inputs = _inputs(args, model, need_labels=False)
    x = inputs.x
    rows = _prediction_rows(model, x, os.fspath(args.data))
    if inputs.ids is not None:
        rows = [[args.id_column, *rows[0]]] + [[i, *row] for i, row in
                                               zip(inputs.ids.tolist(), rows[1:])]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    atomic_write(args.out, lambda f: f.write(buffer.getvalue()))
    print(f"wrote {args.out} ({len(x)} predictions)")
    return 0


def check_out(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` that would overwrite the ``--data`` file or write into the
    ``--model`` directory (compared as resolved real paths, hard links included), before
    anything is read or written.

    >>> import argparse
    >>> check_out(argparse.Namespace(out="d.csv", data="./d.csv", model="m"))
    Traceback (most recent call last):
    ...
    ValueError: --out d.csv is the --data file ./d.csv; writing it would destroy the data: \
choose another --out path
    """
    out = os.path.realpath(args.out)
    data = os.path.realpath(args.data)
    if out == data or (os.path.exists(out) and os.path.exists(data)
                       and os.path.samefile(out, data)):
        raise ValueError(f"--out {args.out} is the --data file {args.data}; writing it would "
                         "destroy the data: choose another --out path")
    folder = os.path.realpath(args.model)
    if out == folder or os.path.dirname(out) == folder:
        raise ValueError(f"--out {args.out} is inside the --model directory {args.model}; "
                         "a saved model's directory holds only its own files: choose another "
                         "--out path")


def _finite(source: str, outputs: np.ndarray) -> np.ndarray:
    """``outputs``, refused when a row is NaN or inf (it would be written as a prediction)."""
    bad = np.flatnonzero(~np.all(np.isfinite(outputs.reshape(len(outputs), -1)), axis=1))
    if bad.size:
        rows = ", ".join(str(i + 1) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
        raise ValueError(f"{source}: the model's outputs are NaN or inf for {bad.size} "
                         f"sample(s) (rows {rows}, counting samples from 1); nothing written: "
                         "check those samples' features (a value far outside the training "
                         "data, such as 1e38, overflows)")
    return outputs


def _prediction_rows(model: saved.SavedModel, x: np.ndarray, source: str) -> list[list[Any]]:
    predicted = _finite(source, model.predict(x))
    if model.task == "regression":
        values = predicted.reshape(len(x), -1)
        columns = ["prediction"] if values.shape[1] == 1 else [
            f"prediction_{j}" for j in range(values.shape[1])]
        return [columns] + [[repr(float(v)) for v in row] for row in values]
    names = _class_names(model, predicted.shape[1])
    header = ["prediction"] + [f"probability_{name}" for name in names]
    best = np.argmax(predicted, axis=1)
    return [header] + [[names[b]] + [repr(float(p)) for p in row]
                       for b, row in zip(best, predicted)]


def _class_names(model: saved.SavedModel, count: int) -> tuple[str, ...]:
    """The saved class names, or ``"0"``, ``"1"``, ... for a model saved without them."""
    return model.class_names or tuple(str(i) for i in range(count))


def evaluate_command(args: argparse.Namespace) -> int:
    """``jaxdl evaluate``: the saved model's loss and accuracy with the confusion matrix
    (classification) or loss, MAE and R^2 (regression) on ``--data``; printed and written as
    JSON to ``--out``.

    >>> import argparse, jax, os, tempfile
    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.saved import save_model
    >>> folder = tempfile.mkdtemp()
    >>> model = MLP((2, 3, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> path = save_model(os.path.join(folder, "m"), model, params, state,
    ...                   feature_names=("x0", "x1"))
    >>> data = os.path.join(folder, "test.npz")
    >>> np.savez(data, x=np.array([[0.5, -0.2], [-1.0, 0.3]]), y=np.array([1, 0]))
    >>> evaluate_command(argparse.Namespace(model=path, data=data, labels=None,
    ...                                     out=os.path.join(folder, "e.json")))
    split ...
    confusion matrix (rows: true class, columns: predicted class)
    ...
    wrote ...e.json
    0
    """
    check_out(args)
    model = saved.load_model(args.model)
    inputs = _inputs(args, model, need_labels=True)
    source = os.fspath(args.data)
    if inputs.labels is None:
        raise ValueError(f"{source}: no labels; evaluation needs the true labels")
    outputs = _finite(source, model.outputs(inputs.x))
    names = _class_names(model, model.predict(inputs.x[:1]).reshape(1, -1).shape[1])
    if model.task == "classification":
        infer_task(source, inputs.labels, "classification")  # 0.7 is no class
        y, _ = encode(source, inputs.labels, names, inputs.table)
    else:
        if inputs.labels.kind == "text":
            raise ValueError(f"{source}: the model does regression but the targets are text")
        y = inputs.labels.values.astype(np.float32)
    result = evaluation.evaluate(model.task, outputs, y, len(names), model.target_standardizer)
    print(format_figures({"data": result}, model.task))
    if model.task == "classification":
        print("confusion matrix (rows: true class, columns: predicted class)")
        width = max(len(n) for n in names) + 2
        print(" " * width + "".join(f"{n:>{width}}" for n in names))
        for name, row in zip(names, result["confusion_matrix"]):
            print(f"{name:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    write_json(args.out, {"model": os.fspath(args.model), "data": source, "task": model.task,
                          "class_names": names if model.task == "classification" else None,
                          **result})
    print(f"wrote {args.out}")
    return 0
