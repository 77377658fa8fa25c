"""Text feature columns one-hot encoded (jaxdl.data.encoding): against scikit-learn's
OneHotEncoder + StandardScaler on the same rows, kept in the saved model's manifest (checked on
load), used by predict/evaluate on raw CSV files; row ids passed through (--id-column)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import warnings

import jax
import numpy as np
import pandas as pd
import pytest

from jaxdl import Standardized, cli, saved
from jaxdl.data.encoding import MIN_ROWS_FOR_ID
from jaxdl.data.files import load_file, read_inputs
from jaxdl.data.normalize import transform
from jaxdl.nn import MLP

sklearn = pytest.importorskip("sklearn")
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

CITIES = ("berlin", "lima", "oslo", "paris")


def write_table(path, n=60, seed=0, rare_city_row=None):
    """age (numeric), sex and city (text), ``y`` a text class; ``rare_city_row`` holds a city
    seen on that row only."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sex = ("female", "male")[int(rng.integers(2))]
        city = CITIES[int(rng.integers(len(CITIES)))]
        age = round(float(rng.uniform(18, 80)), 1)
        label = "yes" if (sex == "male") != (city in ("oslo", "paris")) else "no"
        city = "zurich" if i == rare_city_row else city  # the same labels, so the same split
        rows.append({"age": age, "sex": sex, "city": city, "y": label})
    frame = pd.DataFrame(rows)
    frame.to_csv(path, index=False)
    return frame


def test_one_hot_matches_sklearn_with_training_categories_only(tmp_path):
    path = tmp_path / "people.csv"
    frame = write_table(path, n=80)
    data = load_file(path, seed=3)
    train, val, test = data.rows
    # the oracle: categories of the training rows, unknown -> zeros, numerics standardized only
    oracle = ColumnTransformer([("num", StandardScaler(), ["age"]),
                                ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "city"])],
                               sparse_threshold=0)
    oracle.fit(frame.iloc[train])
    assert data.feature_names == ("age", "sex", "city")
    assert data.encoding.categories == {"sex": ("female", "male"), "city": CITIES}
    for x, rows in ((data.x_train, train), (data.x_val, val), (data.x_test, test)):
        # the splits hold the raw numbers and the one-hot blocks; the model standardizes
        np.testing.assert_allclose(transform(data.stats, x), oracle.transform(frame.iloc[rows]),
                                   atol=1e-5)
    assert data.stats.std[1:].tolist() == [1.0] * 6 and data.stats.mean[1:].tolist() == [0.0] * 6


def test_a_category_outside_the_training_split_is_all_zeros_with_a_warning(tmp_path):
    path = tmp_path / "people.csv"
    write_table(path, n=60)
    probe = load_file(path, seed=0)
    row = int(probe.rows[2][0])  # a test row
    write_table(path, n=60, rare_city_row=row)
    with pytest.warns(UserWarning, match=r"column 'city': 1 row\(s\) outside the training split"
                      r".*'zurich' at row \d+ \(line \d+\); they are encoded as all zeros"):
        data = load_file(path, seed=0)
    assert "zurich" not in data.encoding.categories["city"]
    where = int(np.flatnonzero(data.rows[2] == row)[0])
    assert data.x_test[where, 3:].tolist() == [0.0] * 4  # the city block: 3 = age + 2 sexes


def test_saved_model_predicts_raw_text_columns_as_in_training(tmp_path):
    path = tmp_path / "people.csv"
    frame = write_table(path, n=60)
    data = load_file(path)
    model = Standardized(MLP((data.encoding.width, 5, 2)), data.stats)
    params, state = model.init(jax.random.key(1))
    folder = saved.save_model(tmp_path / "m", model, params, state, data=data)
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["feature_names"] == ["age", "sex", "city"]
    assert manifest["encoding"] == {"one_hot": {"sex": ["female", "male"], "city": list(CITIES)}}
    assert manifest["format_version"] == 2
    loaded = saved.load_model(folder)
    test_rows = frame.iloc[data.rows[2]].drop(columns=["y"])[["city", "age", "sex"]]
    expected = np.asarray(saved.infer(model, params, state, data.x_test)[0])
    np.testing.assert_allclose(loaded.outputs(test_rows), expected, rtol=1e-5, atol=1e-6)
    # arrays hold the expanded columns, raw
    np.testing.assert_allclose(loaded.outputs(data.x_test), expected, rtol=1e-5, atol=1e-5)


def _reseal(folder, change):
    file = os.path.join(folder, "manifest.json")
    with open(file) as f:
        manifest = json.load(f)
    change(manifest)
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    manifest["checksum"] = hashlib.sha256(canonical).hexdigest()
    with open(file, "w") as f:
        json.dump(manifest, f)


@pytest.mark.parametrize("change, message", [
    (lambda m: m["encoding"]["one_hot"].update(sex=["male", "female"]), "sorted"),
    (lambda m: m["encoding"]["one_hot"].update(height=["a", "b"]), "not in 'feature_names'"),
    (lambda m: m["encoding"]["one_hot"]["city"].append("zz"), "standardizer"),
    (lambda m: m["encoding"]["one_hot"].update(sex=["f", 3]), "non-empty strings"),
    (lambda m: m["encoding"]["one_hot"].update(sex=[]), "sorted list"),
    (lambda m: m.update(encoding={"one_hot": {}}), "at least one column"),
    (lambda m: m.update(encoding={"import": "os"}), "'encoding' must be null or an object"),
])
def test_a_changed_encoding_is_refused_on_load(tmp_path, change, message):
    path = tmp_path / "people.csv"
    write_table(path, n=40)
    data = load_file(path)
    model = Standardized(MLP((data.encoding.width, 3, 2)), data.stats)
    params, state = model.init(jax.random.key(0))
    folder = saved.save_model(tmp_path / "m", model, params, state, data=data)
    _reseal(folder, change)
    with pytest.raises(saved.ModelFileError, match=message):
        saved.load_model(folder)


@pytest.mark.slow
def test_cli_train_predict_evaluate_on_a_csv_with_text_and_ids(tmp_path, capsys):
    train_csv = tmp_path / "train.csv"
    write_table(train_csv, n=60)
    model = str(tmp_path / "m")
    assert cli.main(["train", "--data", str(train_csv), "--save", model, "--epochs", "2",
                     "--out", str(tmp_path / "run")]) == 0
    new = tmp_path / "new.csv"
    new.write_text("id,sex,age,city,y\n007,male,30,oslo,no\n 1.50 ,female,41,zurich,yes\n")
    out = tmp_path / "p.csv"
    capsys.readouterr()
    assert cli.main(["predict", "--model", model, "--data", str(new), "--out", str(out),
                     "--id-column", "id"]) == 0
    err = capsys.readouterr().err
    assert "column 'city': 1 row(s) hold categories the model was not trained on" in err
    assert "'zurich' at row 2 (line 3)" in err
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "prediction", "probability_no", "probability_yes"]
    assert [r[0] for r in rows[1:]] == ["007", "1.50"]  # as written, not parsed
    loaded = saved.load_model(model)
    frame = pd.DataFrame({"age": [30.0, 41.0], "sex": ["male", "female"],
                          "city": ["oslo", "zurich"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = loaded.predict(frame)
    np.testing.assert_allclose([[float(v) for v in r[2:]] for r in rows[1:]], expected,
                               rtol=1e-6)
    # without --id-column the id column is an unknown column, and the error says what to do
    assert cli.main(["predict", "--model", model, "--data", str(new), "--out",
                     str(tmp_path / "q.csv")]) == 2
    assert "--id-column" in capsys.readouterr().err
    assert cli.main(["evaluate", "--model", model, "--data", str(new), "--out",
                     str(tmp_path / "e.json"), "--id-column", "id"]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["samples"] == 2


def test_ids_in_training_are_refused_or_ignored(tmp_path):
    path = tmp_path / "people.csv"
    frame = write_table(path, n=60)
    frame.insert(0, "name", [f"p{i}" for i in range(len(frame))])
    frame.to_csv(path, index=False)
    assert len(frame) * 0.6 >= MIN_ROWS_FOR_ID
    with pytest.raises(ValueError, match="text column 'name' holds a different value in each"):
        load_file(path)
    data = load_file(path, ignore_columns=["name"])
    assert data.feature_names == ("age", "sex", "city") and data.x_train.shape[1] == 7
    with pytest.raises(ValueError, match="ignore_columns names the target column 'y'"):
        load_file(path, ignore_columns=["y"])
    with pytest.raises(ValueError, match="no column named 'nope'"):
        load_file(path, ignore_columns=["nope"])


def test_numbers_where_the_model_learned_categories_are_refused(tmp_path):
    path = tmp_path / "people.csv"
    write_table(path, n=40)
    data = load_file(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("age,sex,city\n30,1,oslo\n")
    with pytest.raises(ValueError, match="column 'sex' holds numbers, but the model was trained"):
        read_inputs(bad, data.feature_names, "y", need_labels=False, encoding=data.encoding)
    text = tmp_path / "text.csv"
    text.write_text("age,sex,city\nold,male,oslo\n")
    with pytest.raises(ValueError, match="column 'age' is not numeric"):
        read_inputs(text, data.feature_names, "y", need_labels=False, encoding=data.encoding)
    gap = tmp_path / "gap.csv"
    gap.write_text("age,sex,city\n30,,oslo\n")
    with pytest.raises(ValueError, match="missing value in column 'sex' at row 1"):
        read_inputs(gap, data.feature_names, "y", need_labels=False, encoding=data.encoding)
