"""Strict tables: one bad cell is one error naming the file, row and column (never a silent
change of what a column means); exact integer labels; checked label files and .npz splits;
regular files only; the many-class refusal; float64 standardization."""

import csv
import io
import math
import os
import re
import threading
import time
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxdl.data.files import load_file
from jaxdl.data.labels import Labels, infer_task
from jaxdl.data.table import read_csv


def _write(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def _regression_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return [[repr(float(a)), repr(float(2 * a + 0.1))] for a in x]


# -- 1. one column, one type ---------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["1.2.3", "inf", "-Infinity", "1_000", "\u0661", "0x1p3"])
def test_one_bad_cell_in_a_regression_target_is_an_error_naming_it(tmp_path, bad):
    rows = _regression_rows(1000)
    rows[499][1] = bad
    path = _write(tmp_path / "r.csv", ["x", "y"], rows)
    with pytest.raises(ValueError) as err:
        load_file(path)
    text = str(err.value)
    assert text.startswith(str(path)) and "'y'" in text and repr(bad) in text
    assert "row 500 (line 501)" in text


def test_numbers_among_text_labels_are_an_error_naming_the_number(tmp_path):
    rows = [[i, ["cat", "dog", "emu"][i % 3]] for i in range(30)]
    rows[7][1] = "5"
    path = _write(tmp_path / "t.csv", ["x", "animal"], rows)
    with pytest.raises(ValueError, match=r"column 'animal' holds text .* row 8 \(line 9\) holds "
                                         r"the number '5'"):
        load_file(path)


def test_na_is_a_text_label_but_missing_among_numbers(tmp_path):
    rows = [[i, ["NA", "EU", "ASIA"][i % 3]] for i in range(30)]
    data = load_file(_write(tmp_path / "t.csv", ["x", "region"], rows))
    assert data.class_names == ("ASIA", "EU", "NA") and data.task == "classification"
    assert sum(len(r) for r in data.rows) == 30
    rows = [[i, i % 2] for i in range(30)]
    rows[3][0] = "NA"
    with pytest.raises(ValueError, match=r"missing value in column 'x' at row 4 \(line 5\)"):
        load_file(_write(tmp_path / "n.csv", ["x", "y"], rows))
    assert sum(len(r) for r in load_file(tmp_path / "n.csv", drop_missing=True).rows) == 29


# -- 2. quotes ----------------------------------------------------------------------------------
def test_a_stray_quote_is_an_error_naming_its_line_not_a_merge(tmp_path):
    rows = [[i, i % 2] for i in range(1000)]
    rows[499][1] = '"1'
    path = _write(tmp_path / "q.csv", ["x", "y"], rows)
    with pytest.raises(ValueError, match=r"q.csv: .*row 500 \(line 501\).* quote"):
        load_file(path)
    rows[509][1] = '1"'  # the quote closes ten lines later
    path = _write(tmp_path / "q.csv", ["x", "y"], rows)
    with pytest.raises(ValueError, match=r"q.csv: row 500 \(line 501\) opens a quoted cell "
                                         r"that runs to line 511"):
        load_file(path)
    path.write_text('x,y\n1,0\n2,"1')  # never closed, no final newline
    with pytest.raises(ValueError, match=r"q.csv: .*row 2 \(line 3\)"):
        load_file(path)
    path.write_text('x,y\n1,0\n2,"1"x\n')  # text after the closing quote
    with pytest.raises(ValueError, match=r"q.csv: .*row 2 \(line 3\)"):
        load_file(path)


# -- 3. label files -----------------------------------------------------------------------------
def test_label_files_byte_order_mark_blank_lines_and_counts(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(40.0).reshape(20, 2))
    labels = tmp_path / "labels.txt"
    labels.write_bytes("\ufeff".encode() + "".join(f"{i % 2}\n" for i in range(20)).encode())
    assert load_file(tmp_path / "x.npy", labels=labels).class_names == ("0", "1")
    labels.write_text("".join(f"{i % 2}\n" for i in range(10)) + "\n" +
                      "".join(f"{i % 2}\n" for i in range(10)))
    with pytest.raises(ValueError, match=r"labels.txt: line 11 is blank"):
        load_file(tmp_path / "x.npy", labels=labels)
    labels.write_text("".join(f"{i % 2}\n" for i in range(19)) + "\n\n")  # blank end: fine
    with pytest.raises(ValueError, match=r"x.npy: 20 samples but .*labels.txt holds 19 labels"):
        load_file(tmp_path / "x.npy", labels=labels)
    one = tmp_path / "labels.csv"
    one.write_text("label\n" + "".join(f"{i % 2}\n" for i in range(10)) + "\n" +
                   "".join(f"{i % 2}\n" for i in range(10)))
    with pytest.raises(ValueError, match=r"labels.csv: line 12 is blank"):
        load_file(tmp_path / "x.npy", labels=one)


def test_csv_header_byte_order_mark_is_removed(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xef\xbb\xbfa,y\n1,0\n2,1\n")
    assert read_csv(path).names == ("a", "y")


# -- 4. labels are not merged -------------------------------------------------------------------
def test_two_spellings_of_one_integer_label_are_an_error(tmp_path):
    rows = [[i, ["1", "2"][i % 2]] for i in range(20)]
    rows[4][1] = "01"
    path = _write(tmp_path / "s.csv", ["x", "y"], rows)
    with pytest.raises(ValueError, match=r"s.csv: column 'y' spells the integer 1 two ways: '1' "
                                         r"at row 1 \(line 2\) and '01' at row 5 \(line 6\)"):
        load_file(path)
    assert load_file(path, task="regression").task == "regression"


def test_integer_labels_beyond_2_53_are_exact(tmp_path):
    big = 2**53
    rows = [[i, big + i % 2] for i in range(20)]
    data = load_file(_write(tmp_path / "b.csv", ["x", "y"], rows))
    assert data.class_names == (str(big), str(big + 1))
    labels = np.concatenate([data.y_train, data.y_val, data.y_test])
    rows_kept = np.concatenate(data.rows)
    np.testing.assert_array_equal(labels, rows_kept % 2)


# -- 5. .npz files ------------------------------------------------------------------------------
def _splits(tmp_path, sizes, **changes):
    rng = np.random.default_rng(0)
    parts = {}
    for s, (nx, ny) in zip(("train", "val", "test"), sizes):
        parts[f"x_{s}"] = rng.normal(size=(nx, 3))
        parts[f"y_{s}"] = np.arange(ny) % 2
    parts.update(changes)
    np.savez(tmp_path / "s.npz", **parts)
    return tmp_path / "s.npz"


def test_npz_split_lengths_and_shapes_must_agree(tmp_path):
    path = _splits(tmp_path, [(10, 8), (5, 7), (6, 6)])
    with pytest.raises(ValueError, match=r"s.npz: x_train has 10 samples but y_train has 8"):
        load_file(path)
    path = _splits(tmp_path, [(10, 10), (5, 5), (6, 6)], x_val=np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"s.npz: x_val has samples of shape \(4,\) but x_train"):
        load_file(path)
    path = _splits(tmp_path, [(10, 10), (5, 5), (6, 6)], y_test=np.array(["a", "b"] * 3))
    with pytest.raises(ValueError, match=r"s.npz: y_test and y_train differ"):
        load_file(path)


def test_infinite_array_values_are_errors_naming_the_row(tmp_path):
    x = np.ones((20, 2))
    x[6, 1] = -np.inf
    np.savez(tmp_path / "a.npz", x=x, y=np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"a.npz: array 'x' holds inf at row 7"):
        load_file(tmp_path / "a.npz")
    y = np.arange(20) * 0.5
    y[3] = np.inf
    np.savez(tmp_path / "b.npz", x=np.ones((20, 2)), y=y)
    with pytest.raises(ValueError, match=r"b.npz: array 'y' holds inf at row 4"):
        load_file(tmp_path / "b.npz")


def test_truncated_garbage_and_pickled_arrays_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "good.npz", x=rng.normal(size=(50, 3)), y=np.arange(50) % 2)
    data = (tmp_path / "good.npz").read_bytes()
    for name, content in [("cut.npz", data[: len(data) // 2]), ("cut2.npz", data[:-30]),
                          ("junk.npz", b"not an archive at all"), ("empty.npz", b"")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=re.escape(str(tmp_path / name))):
            load_file(tmp_path / name)
    np.save(tmp_path / "cut.npy", rng.normal(size=(50, 3)))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.npy: not a readable .npy"):
        load_file(tmp_path / "cut.npy", labels=tmp_path / "good.npz")
    with zipfile.ZipFile(tmp_path / "obj.npz", "w") as z:  # an object array inside
        buffer = io.BytesIO()
        np.save(buffer, np.array([{}, 1], dtype=object), allow_pickle=True)
        z.writestr("x.npy", buffer.getvalue())
        z.writestr("y.npy", buffer.getvalue())
    with pytest.raises(ValueError, match="obj.npz: holds object arrays, which need pickle"):
        load_file(tmp_path / "obj.npz")


# -- 6. regular files only ----------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "d.csv"
    os.mkfifo(fifo)

    done = threading.Event()

    def writer():  # lets a blocking open() finish, so a reader that blocks fails, not hangs
        while not done.wait(0.05):
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:
                pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(ValueError, match=r"is not a regular file: it is a FIFO"):
            load_file(fifo)
    finally:
        done.set()
        thread.join()


def test_a_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    os.symlink("/dev/zero", tmp_path / "x.npy")
    with pytest.raises(ValueError, match=r"is not a regular file: it is a device"):
        load_file(tmp_path / "x.npy", labels=tmp_path / "y.npy")


# -- 7. wide files ------------------------------------------------------------------------------
def _wide_seconds(tmp_path, columns):
    path = tmp_path / f"w{columns}.csv"
    path.write_text(",".join(f"c{j}" for j in range(columns)) + ",y\n" +
                    "".join(",".join(str((r * j) % 7) for j in range(columns)) + f",{r % 2}\n"
                            for r in range(4)))
    best = math.inf
    for _ in range(2):
        start = time.perf_counter()
        data = load_file(path, val_fraction=0.25, test_fraction=0.25)
        best = min(best, time.perf_counter() - start)
    assert len(data.feature_names) == columns
    return best


def test_wide_csv_loads_in_time_linear_in_its_columns(tmp_path):
    small, large = _wide_seconds(tmp_path, 5000), _wide_seconds(tmp_path, 20000)
    assert large < 8 * small + 0.5, (small, large)  # 4x columns: ~4x time; quadratic is ~16x
    assert large < 60


# -- 8. standardization numerics ----------------------------------------------------------------
def test_huge_integer_features_from_a_file(tmp_path):
    k = np.random.default_rng(1).integers(0, 1000, 100)
    x = np.stack([np.int64(2**62) + k, np.arange(100)], axis=1)
    np.savez(tmp_path / "i.npz", x=x, y=np.arange(100) % 2)
    with pytest.warns(UserWarning, match=r"feature 'x0' keeps \d+ of its \d+ distinct values in "
                      r"float32.*subtract an offset"):
        data = load_file(tmp_path / "i.npz")  # raw float32 splits merge them: said by name
    train = data.rows[0]
    from jaxdl.data.normalize import transform

    # the statistics centre exactly, as a saved model's predict does on the raw integers
    assert len(np.unique(transform(data.stats, x[train])[:, 0])) == len(np.unique(k[train]))


def test_a_feature_that_float32_merges_is_warned_about_by_name(tmp_path):
    spike = np.concatenate([1e-10 * np.arange(99.0), [1e10]])
    rows = [[repr(float(v)), i, i % 2] for i, v in enumerate(spike)]
    path = _write(tmp_path / "w.csv", ["spike", "n", "y"], rows)
    with pytest.warns(UserWarning, match=r"feature 'spike': standardized to float32 it keeps"):
        load_file(path, val_fraction=0.1, test_fraction=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_file(_write(tmp_path / "ok.csv", ["n", "y"], [[i, i % 2] for i in range(50)]))


def test_regression_targets_that_float32_merges_are_warned_about(tmp_path):
    rows = [[i, repr(1.7e9 + i + 0.5)] for i in range(60)]
    path = _write(tmp_path / "t.csv", ["a", "when"], rows)
    with pytest.warns(UserWarning, match=r"t.csv: the regression target 'when' keeps"):
        load_file(path)


# -- 9. many small classes are not guessed ------------------------------------------------------
def test_integer_target_with_many_small_classes_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    rows = [[repr(float(a)), int(b)] for a, b in zip(rng.normal(size=442),
                                                     rng.integers(25, 346, 442))]
    path = _write(tmp_path / "diabetes.csv", ["bmi", "progression"], rows)
    with pytest.raises(ValueError, match=r"diabetes.csv: target column 'progression' holds \d+ "
                                         r"distinct integers in 442 rows.*--task regression.*"
                                         r"--task classification"):
        load_file(path)
    assert load_file(path, task="regression").task == "regression"
    distinct = len({r[1] for r in rows})
    assert load_file(path, task="classification", val_fraction=0.01,
                     test_fraction=0.01).num_classes == distinct


def test_the_command_line_prints_one_error_line(tmp_path, capsys):
    from jaxdl import cli

    rows = [[i % 5, i] for i in range(100)]
    path = _write(tmp_path / "ids.csv", ["a", "id"], rows)
    code = cli.main(["train", "--data", str(path), "--epochs", "1", "--no-plots",
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("jaxdl: error: ")
    assert "ids.csv" in err and "--task regression" in err
    rows[40][0] = "1.2.3"
    path = _write(tmp_path / "typo.csv", ["a", "id"], rows)
    code = cli.main(["train", "--data", str(path), "--task", "regression", "--epochs", "1",
                     "--no-plots", "--out", str(tmp_path / "out2")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "row 41 (line 42)" in err and "'a'" in err


def test_row_id_target_and_text_labels(tmp_path):
    path = _write(tmp_path / "ids.csv", ["a", "id"], [[i % 5, i] for i in range(100)])
    with pytest.raises(ValueError, match=r"'id' holds 100 distinct integers in 100 rows"):
        load_file(path)
    words = [f"w{i}" for i in range(30)]
    path = _write(tmp_path / "w.csv", ["a", "word"], [[i, words[i % 30]] for i in range(60)])
    with pytest.raises(ValueError, match=r"30 distinct labels in 60 rows") as err:
        load_file(path)
    assert "regression" not in str(err.value)
    path = _write(tmp_path / "ok.csv", ["a", "word"], [[i, words[i % 30]] for i in range(180)])
    assert load_file(path).num_classes == 30  # 6 rows per class


@pytest.mark.parametrize("distinct, rows, refused", [(20, 20, False), (21, 104, True),
                                                     (21, 105, False)])
def test_the_many_class_rule_at_its_edges(distinct, rows, refused):
    labels = Labels(np.arange(rows) % distinct, "int")
    if refused:
        with pytest.raises(ValueError, match="task"):
            infer_task("y", labels, None)
        assert infer_task("y", labels, "classification") == "classification"
    else:
        assert infer_task("y", labels, None) == "classification"


# -- 10. any CSV text: cells round-trip, or one error naming a row ------------------------------
_MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
_NUMBER_CHARS = re.compile(r"[0-9.eE+-]+")


def _is_number(cell):
    text = cell.strip()
    if not _NUMBER_CHARS.fullmatch(text):
        return False
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


_CELL = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["", "NA", "nan", "?", "inf", "1.2.3", "01", " 7 ", "x", "cat", '"', "a,b",
                     "1e999", "-0", ".5", "5.", "1_0"]),
    st.text(alphabet="ab1.-e \"',;x", max_size=6),
)


_NUMERIC_CELL = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["", "NA", "nan", "?", "None", " 7 ", "-0", ".5", "5.", "1E3", "01"]),
)
_TEXT_CELL = st.one_of(st.sampled_from(["", "NA", "cat", "n/a", "a b", " x ", "inf"]),
                       st.text(alphabet="abx \"',;", max_size=6))


@st.composite
def _tables(draw):
    """Rows of cells; each column numeric, text, or anything (mostly an error)."""
    width, height = draw(st.integers(1, 4)), draw(st.integers(1, 8))
    columns = [draw(st.lists(draw(st.sampled_from([_NUMERIC_CELL, _TEXT_CELL, _CELL])),
                             min_size=height, max_size=height)) for _ in range(width)]
    return [list(row) for row in zip(*columns)]


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_tables())
def test_any_csv_round_trips_or_names_a_row(tmp_path, rows):
    path = tmp_path / "f.csv"
    names = [f"c{j}" for j in range(len(rows[0]))]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([names, *rows])
    try:
        table = read_csv(path)
    except ValueError as err:
        assert str(err).startswith(str(path)), err
        assert re.search(r"\b(row|line) \d+|header but no data rows", str(err)), err
        return
    body = [r for r in rows if r == [""] or any(c.strip() for c in r)]  # blank rows: skipped
    assert table.names == tuple(names) and table.num_rows == len(body)
    for j, name in enumerate(names):
        cells = [r[j] for r in body]
        column = table.column(name)
        if name in table.text_at:  # text: every cell as written, no number among them
            assert column.tolist() == [c.strip() for c in cells]
            assert not any(_is_number(c) for c in cells)
            assert table.is_missing(name).tolist() == [not c.strip() for c in cells]
            continue
        for cell, value, gap in zip(cells, column, table.is_missing(name)):
            if gap:
                assert cell.strip().lower() in _MISSING and math.isnan(value)
            else:
                assert _is_number(cell) and value == float(cell.strip())
        if name in table.integral:
            exact = table.exact.get(name)
            for r, cell in enumerate(cells):
                if not table.is_missing(name)[r]:
                    assert (exact[r] if exact is not None else column[r]) == int(cell.strip())


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.text(alphabet='ab1.,"\n\r \ufeff', max_size=40))
def test_any_text_parses_or_raises_one_value_error(tmp_path, text):
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    try:
        table = read_csv(path)
    except ValueError as err:
        assert str(err).startswith(str(path)) and "\n" not in str(err), err
        return
    assert table.num_rows >= 1 and len(table.names) == len(table.columns)
