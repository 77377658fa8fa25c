"""load_file: CSV / NPZ / NPY (+ labels) / DataFrame into stratified, standardized splits."""

import numpy as np
import pytest

from jaxdl.data import normalize
from jaxdl.data.files import load_file, read_inputs


def _csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def _rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -1.0]
    y = (np.arange(n) % 3).astype(int)
    return x, y


def test_csv_classification_split_and_standardize(tmp_path):
    x, y = _rows()
    path = _csv(tmp_path / "d.csv", ["a", "b", "c", "kind"], [[*xi, yi] for xi, yi in zip(x, y)])
    data = load_file(path, seed=1)
    assert data.task == "classification" and data.num_classes == 3
    assert data.class_names == ("0", "1", "2") and data.feature_names == ("a", "b", "c")
    assert data.target == "kind" and data.name == "d.csv"
    train, val, test = data.rows
    assert sorted(np.concatenate(data.rows).tolist()) == list(range(40))
    # stratified: each class equally represented in test (8 samples, 40 rows, 3 classes)
    assert np.bincount(data.y_test, minlength=3).max() - np.bincount(data.y_test).min() <= 1
    # the standardizer of the training split only; the splits stay raw (the model applies it)
    stats = normalize.fit_standardizer(x[train])
    np.testing.assert_allclose(data.stats.mean, stats.mean, rtol=1e-6)
    np.testing.assert_allclose(data.stats.std, stats.std, rtol=1e-6)
    np.testing.assert_allclose(data.x_test, x[test], rtol=1e-6)
    np.testing.assert_array_equal(data.y_val, y[val])
    np.testing.assert_allclose(normalize.transform(data.stats, data.x_train).mean(axis=0), 0,
                               atol=1e-5)


def test_text_labels_and_named_target(tmp_path):
    rows = [[i, "cat" if i % 2 else "dog", i * 0.5] for i in range(20)]
    data = load_file(_csv(tmp_path / "p.csv", ["n", "animal", "w"], rows), target="animal")
    assert data.class_names == ("cat", "dog") and data.feature_names == ("n", "w")
    assert set(data.y_train.tolist()) == {0, 1}


def test_float_targets_are_regression(tmp_path):
    rows = [[i, i * 0.5 + 0.25] for i in range(20)]
    data = load_file(_csv(tmp_path / "r.csv", ["u", "v"], rows))
    assert data.task == "regression" and data.num_classes == 0 and data.class_names is None
    assert data.y_train.dtype == np.float32
    # explicit task overrides: integer targets as regression
    rows = [[i, i] for i in range(20)]
    data = load_file(_csv(tmp_path / "i.csv", ["u", "v"], rows), task="regression")
    assert data.task == "regression"


def test_missing_values_error_or_drop(tmp_path):
    rows = [[i, i % 2] for i in range(20)]
    rows[4][0] = ""
    rows[9][1] = "NA"
    path = _csv(tmp_path / "m.csv", ["a", "y"], rows)
    with pytest.raises(ValueError, match=r"m.csv: missing value in column 'a' at row 5 \(line 6\)"):
        load_file(path)
    data = load_file(path, drop_missing=True)
    rows_kept = np.sort(np.concatenate(data.rows))
    assert len(rows_kept) == 18 and 4 not in rows_kept and 9 not in rows_kept


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("a,b\n", "header but no data rows"),
    ("a,b\n1,2\n3\n", r"row 2 \(line 3\) has 1 fields but the header has 2"),
    ("a,b,y\n1,red,0\n2,3,1\n", r"column 'b' is not numeric: row 1 \(line 2\) holds 'red'"),
    ("a,a\n1,2\n", "names column 'a' twice"),
    ("a,y\n1,1\n2,1\n3,1\n", "one class only"),
])
def test_bad_csv(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_file(path)


def test_unknown_target_column(tmp_path):
    path = _csv(tmp_path / "t.csv", ["a", "b"], [[1, 0], [2, 1]])
    with pytest.raises(ValueError, match=r"t.csv: no column named 'label'; the columns are 'a'"):
        load_file(path, target="label")


def test_npz_xy_and_given_splits(tmp_path):
    x, y = _rows(30)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    data = load_file(tmp_path / "a.npz")
    assert data.num_classes == 3 and data.feature_names == ("x0", "x1", "x2")
    parts = {f"x_{s}": x[i::3] for i, s in enumerate(("train", "val", "test"))}
    parts |= {f"y_{s}": y[i::3] * 0.5 for i, s in enumerate(("train", "val", "test"))}
    np.savez(tmp_path / "s.npz", **parts)
    data = load_file(tmp_path / "s.npz")
    assert data.task == "regression"
    np.testing.assert_allclose(data.y_val, y[1::3] * 0.5)
    np.testing.assert_allclose(data.x_train, x[0::3], rtol=1e-6)  # the given split, raw
    np.testing.assert_allclose(data.stats.mean, x[0::3].mean(axis=0), rtol=1e-6)


def test_npz_without_x_and_object_arrays(tmp_path):
    np.savez(tmp_path / "n.npz", features=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"n.npz: no array named 'x' \(found: features\)"):
        load_file(tmp_path / "n.npz")
    np.savez(tmp_path / "o.npz", x=np.ones((3, 2)), y=np.array([{}, 1, 2], dtype=object))
    with pytest.raises(ValueError, match="need pickle"):
        load_file(tmp_path / "o.npz")


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".txt"])
def test_npy_with_labels_file(tmp_path, suffix):
    x, y = _rows(30)
    np.save(tmp_path / "x.npy", x)
    labels = tmp_path / f"labels{suffix}"
    if suffix == ".npy":
        np.save(labels, y)
    else:
        labels.write_text(("label\n" if suffix == ".csv" else "") + "\n".join(map(str, y)) + "\n")
    data = load_file(tmp_path / "x.npy", labels=labels)
    assert data.num_classes == 3 and len(data.y_train) + len(data.y_val) + len(data.y_test) == 30
    with pytest.raises(ValueError, match="pass the labels file"):
        load_file(tmp_path / "x.npy")


def test_settings_nothing_reads_are_errors(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((4, 2)))
    with pytest.raises(ValueError, match="leave target unset"):
        load_file(tmp_path / "x.npy", target="y")
    path = _csv(tmp_path / "c.csv", ["a", "y"], [[1, 0], [2, 1]])
    with pytest.raises(ValueError, match="labels is for .npy/.npz"):
        load_file(path, labels=tmp_path / "x.npy")
    with pytest.raises(ValueError, match="task must be one of"):
        load_file(path, task="ranking")
    with pytest.raises(ValueError, match="unknown file type '.xlsx'"):
        load_file(tmp_path / "d.xlsx")


def test_dataframe_equals_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    x, y = _rows()
    path = _csv(tmp_path / "d.csv", ["a", "b", "c", "y"], [[*xi, yi] for xi, yi in zip(x, y)])
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
    a, b = load_file(path), load_file(frame)
    np.testing.assert_allclose(a.x_train, b.x_train, rtol=1e-6)
    np.testing.assert_array_equal(a.y_test, b.y_test)


def test_read_inputs_orders_columns_and_names_problems(tmp_path):
    path = _csv(tmp_path / "new.csv", ["c", "a", "b"], [[3, 1, 2]])
    assert read_inputs(path, ("a", "b", "c"), "y", need_labels=False).x.tolist() == [[1, 2, 3]]
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) d"):
        read_inputs(path, ("a", "b", "d"), "y", need_labels=False)
    with pytest.raises(ValueError, match="not trained on: c"):
        read_inputs(path, ("a", "b"), "y", need_labels=False)
    with pytest.raises(ValueError, match="no target column 'y'"):
        read_inputs(path, ("a", "b", "c"), "y", need_labels=True)


def test_npz_splits_with_missing_values(tmp_path):
    x, y = _rows(30)
    x[1, 2] = np.nan  # the first row of x_val
    parts = {f"x_{s}": x[i::3] for i, s in enumerate(("train", "val", "test"))}
    parts |= {f"y_{s}": y[i::3] for i, s in enumerate(("train", "val", "test"))}
    np.savez(tmp_path / "s.npz", **parts)
    with pytest.raises(ValueError, match="missing value in column 'x2' at row 11"):
        load_file(tmp_path / "s.npz")
    data = load_file(tmp_path / "s.npz", drop_missing=True)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (10, 9, 10)
    np.testing.assert_array_equal(data.y_val, y[4::3])
