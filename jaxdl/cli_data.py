"""The user's data in the ``jaxdl`` command: ``--data`` for ``train``/``sweep``, saving the
trained model, per-epoch logs, and the ``predict`` and ``evaluate`` commands.

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
from jaxdl.atomic import atomic_write, write_json
from jaxdl.data.datasets import TASKS, Dataset
from jaxdl.data.files import load_file, read_inputs
from jaxdl.data.labels import encode


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {text}")
    return value


# -- options of train and sweep ---------------------------------------------------------------
def add_file_options(p: argparse.ArgumentParser) -> None:
    """``--data`` and what goes with it, ``--tensorboard``."""
    g = p.add_argument_group("your data (instead of --dataset)")
    g.add_argument("--data", metavar="PATH",
                   help=".csv (header row), .npz (x, y or x_train ... y_test) or .npy features")
    g.add_argument("--target", metavar="NAME", help="target column of a CSV (default: the last)")
    g.add_argument("--labels", metavar="PATH", help="labels of .npy features (.npy, .csv, .txt)")
    g.add_argument("--task", choices=TASKS,
                   help="default: integer or text labels classify, other numbers regress")
    g.add_argument("--drop-missing", action="store_true",
                   help="drop rows with a missing value (default: an error)")
    g.add_argument("--val-fraction", type=_fraction, default=0.2, metavar="F",
                   help="share of the rows in the validation split (default 0.2)")
    g.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                   help="share of the rows in the test split (default 0.2)")
    g = p.add_argument_group("logs")
    g.add_argument("--tensorboard", metavar="DIR",
                   help=f"write TensorBoard event files here (needs {logs.INSTALL_HINT})")


def add_save_option(p: argparse.ArgumentParser, flag: str, text: str) -> None:
    """``--save DIR`` (train) or ``--save-best DIR`` (sweep), with ``--overwrite``."""
    g = p.add_argument_group("saved model")
    g.add_argument(flag, dest="save", metavar="DIR", help=text)
    g.add_argument("--overwrite", action="store_true",
                   help="replace an existing saved model in that directory"
                   + ("; without --resume, also delete the checkpoints already in "
                      "--checkpoint-dir and start over" if flag == "--save" else ""))


_FILE_ONLY = ("target", "labels", "task", "drop_missing")


def load(args: argparse.Namespace) -> Dataset | None:
    """The dataset of ``--data``; flags that only a file reads are an error without it."""
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
    """Refuse, before anything runs or is written, outputs that cannot be made."""
    if args.tensorboard and not logs.tensorboard_available():
        raise ValueError(f"--tensorboard needs tensorboardX: {logs.INSTALL_HINT}")
    checkpoints = args.command == "train" and getattr(args, "checkpoint_dir", None)
    if args.overwrite and not args.save and not checkpoints:
        raise ValueError(
            "--overwrite only applies with --save / --save-best DIR, or train --checkpoint-dir"
        )
    if args.save:
        saved.check_target(os.path.abspath(args.save), args.overwrite)


def logger(args: argparse.Namespace) -> logs.Loggers:
    """``metrics.jsonl`` in ``--out`` (continued by ``--resume``), plus TensorBoard with
    ``--tensorboard``."""
    path = os.path.join(args.out, "metrics.jsonl")
    loggers: list[Any] = [logs.JsonlLogger(path, append=bool(getattr(args, "resume", False)))]
    if args.tensorboard:
        loggers.append(logs.TensorBoardLogger(args.tensorboard))
    return logs.Loggers(loggers)


# -- figures and saving -----------------------------------------------------------------------
def figures(model: Any, params: Any, state: Any, data: Dataset) -> dict[str, dict[str, Any]]:
    """:func:`jaxdl.evaluation.evaluate` of every split (inference mode)."""
    splits = {"train": (data.x_train, data.y_train), "validation": (data.x_val, data.y_val),
              "test": (data.x_test, data.y_test)}
    out = {}
    for name, (x, y) in splits.items():
        outputs, _ = saved.infer(model, params, state, np.asarray(x, np.float32))
        out[name] = evaluation.evaluate(data.task, outputs, y, data.num_classes)
    return out


def format_figures(splits: dict[str, dict[str, Any]], task: str) -> str:
    """A table with one row per split: loss and accuracy, or loss, MAE and R^2."""
    keys = ("loss", "accuracy") if task == "classification" else ("loss", "mae", "r2")
    lines = [f"{'split':<12}" + "".join(f"{k:>10}" for k in keys)]
    for name, values in splits.items():
        lines.append(f"{name:<12}" + "".join(f"{values[k]:>10.4f}" for k in keys))
    return "\n".join(lines)


def save(args: argparse.Namespace, model: Any, params: Any, state: Any, data: Dataset,
         hyperparameters: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Write the saved model of a run to ``args.save``."""
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
                       labels=args.labels)


def _predict(args: argparse.Namespace) -> int:
    model = saved.load_model(args.model)
    if args.labels:
        raise ValueError("--labels only applies to jaxdl evaluate")
    x = _inputs(args, model, need_labels=False).x
    rows = _prediction_rows(model, x)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    atomic_write(args.out, lambda f: f.write(buffer.getvalue()))
    print(f"wrote {args.out} ({len(x)} predictions)")
    return 0


def _prediction_rows(model: saved.SavedModel, x: np.ndarray) -> list[list[Any]]:
    predicted = model.predict(x)
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


def _evaluate(args: argparse.Namespace) -> int:
    model = saved.load_model(args.model)
    inputs = _inputs(args, model, need_labels=True)
    source = os.fspath(args.data)
    if inputs.labels is None:
        raise ValueError(f"{source}: no labels; evaluation needs the true labels")
    names = _class_names(model, model.predict(inputs.x[:1]).reshape(1, -1).shape[1])
    if model.task == "classification":
        y, _ = encode(source, inputs.labels, names, inputs.table)
    else:
        if inputs.labels.kind == "text":
            raise ValueError(f"{source}: the model does regression but the targets are text")
        y = inputs.labels.values.astype(np.float32)
    result = model.evaluate(inputs.x, y)
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


def add_commands(commands: Any) -> None:
    """The ``predict`` and ``evaluate`` subcommands."""
    predict = commands.add_parser(
        "predict", help="predict new rows with a saved model",
        description="Standardize the features of --data with the saved statistics and write "
        "one row per sample: the predicted class and each class's probability, or the value.")
    _model_and_data(predict)
    predict.add_argument("--out", default="predictions.csv", metavar="FILE",
                         help="CSV file to write (default predictions.csv)")
    predict.set_defaults(run=_predict)
    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on labelled data",
        description="Loss and accuracy with the confusion matrix (classification) or loss = "
        "MSE, MAE and R^2 (regression) of a saved model on --data; printed and written as JSON.")
    _model_and_data(evaluate)
    evaluate.add_argument("--out", default="evaluation.json", metavar="FILE",
                          help="JSON file to write (default evaluation.json)")
    evaluate.set_defaults(run=_evaluate)


def _model_and_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="DIR", help="a saved model directory")
    p.add_argument("--data", required=True, metavar="PATH",
                   help=".csv with the model's feature columns (evaluate: and its target "
                   "column), .npz with x (and y), or .npy features")
    p.add_argument("--labels", metavar="PATH", help="labels of .npy features (evaluate)")
