"""Built-in datasets: generators, stratified splits and training-statistics standardization."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import datasets as sk
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from jaxdl.data import datasets as D
from jaxdl.data import normalize

GENERATORS = {
    "moons": lambda n, seed: D.moons(n, seed=seed),
    "circles": lambda n, seed: D.circles(n, seed=seed),
    "flower": lambda n, seed: D.flower(n, seed=seed),
    "noisy_blobs": lambda n, seed: D.noisy_blobs(n, seed=seed),
    "unscaled_moons": lambda n, seed: D.unscaled_moons(n, seed=seed),
}


def _rows_sorted(x):
    return x[np.lexsort(x.T[::-1])]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_shapes_dtypes_balance(name):
    x, y = GENERATORS[name](120, 0)
    assert x.shape == (120, 2) and x.dtype == np.float32
    assert y.shape == (120,) and y.dtype == np.int32
    assert set(np.unique(y).tolist()) == {0, 1}
    assert np.all(np.isfinite(x))
    if name != "noisy_blobs":  # noisy_blobs flips labels after balancing
        np.testing.assert_array_equal(np.bincount(y), [60, 60])


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_reproducible_and_seed_dependent(name):
    x0, y0 = GENERATORS[name](120, 3)
    x1, y1 = GENERATORS[name](120, 3)
    x2, _ = GENERATORS[name](120, 4)
    np.testing.assert_array_equal(x0, x1)
    np.testing.assert_array_equal(y0, y1)
    assert not np.allclose(x0, x2)


def test_moons_and_circles_match_sklearn():
    x, y = D.moons(50, 0.1, 7)
    xs, ys = sk.make_moons(n_samples=50, noise=0.1, random_state=7)
    np.testing.assert_allclose(x, xs, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y, ys)
    x, y = D.circles(50, 0.0, 0.3, 7)
    radius = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(radius, np.where(y == 0, 1.0, 0.3), rtol=1e-5)


def test_flower_without_noise_lies_on_the_rose_in_alternating_petals():
    petals = 3
    x, y = D.flower(300, petals, 0.0, 1)
    theta = np.arctan2(x[:, 0], x[:, 1]) % (2 * np.pi)  # x = (r sin t, r cos t)
    r = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(r, 4.0 * np.abs(np.sin(petals * theta)), atol=1e-4)
    petal = np.floor(theta * petals / np.pi).astype(int)
    np.testing.assert_array_equal(petal % 2, y)
    assert len(np.unique(petal)) == 2 * petals


def test_flower_is_not_linearly_separable_but_learnable():
    x, y = D.flower(400, 4, 0.2, 0)
    linear = LogisticRegression().fit(x, y).score(x, y)
    local = KNeighborsClassifier(5).fit(x[:300], y[:300]).score(x[300:], y[300:])
    assert linear < 0.65
    assert local > 0.75


def test_noisy_blobs_flips_exactly_the_requested_fraction():
    x_clean, y_clean = D.noisy_blobs(200, 0.0, 5)
    x_noisy, y_noisy = D.noisy_blobs(200, 0.15, 5)
    np.testing.assert_array_equal(x_clean, x_noisy)
    assert int(np.sum(y_clean != y_noisy)) == 30


def test_unscaled_moons_is_moons_times_scales():
    x, y = D.moons(80, 0.2, 2)
    xu, yu = D.unscaled_moons(80, 0.2, 2)
    np.testing.assert_array_equal(y, yu)
    np.testing.assert_allclose(xu, x * np.array([1000.0, 0.001], np.float32), rtol=1e-6)
    std = xu.std(axis=0)
    assert std[0] / std[1] > 1e5


def test_digits_is_sklearn_digits():
    x, y = D.digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int32
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    assert x.min() == 0.0 and x.max() == 16.0
    xs, ys = sk.load_digits(return_X_y=True)
    np.testing.assert_array_equal(x, xs)
    np.testing.assert_array_equal(y, ys)


@pytest.mark.parametrize("name", D.DATASETS)
def test_load_splits_partition_the_raw_data(name):
    n = None if name == "digits" else 150
    data = D.load(name, seed=1, n=n, normalize=False)
    raw_x, raw_y = D.digits() if name == "digits" else GENERATORS[name](150, 1)
    xs = np.concatenate([data.x_train, data.x_val, data.x_test])
    ys = np.concatenate([data.y_train, data.y_val, data.y_test])
    total = len(raw_y)
    assert len(data.y_val) == round(0.2 * total) == len(data.y_test)
    assert len(ys) == total
    # same multiset of (features, label) rows: the splits are disjoint and cover the data
    joined = np.column_stack([xs, ys])
    raw = np.column_stack([raw_x, raw_y])
    np.testing.assert_array_equal(_rows_sorted(joined), _rows_sorted(raw))
    assert data.stats is None and data.name == name
    assert data.num_classes == (10 if name == "digits" else 2)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int32


def test_load_is_reproducible_and_seed_dependent():
    a = D.load("digits", seed=3)
    b = D.load("digits", seed=3)
    c = D.load("digits", seed=4)
    for u, v in zip(a[:6], b[:6], strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.y_train, c.y_train)
    assert not np.array_equal(D.load("moons", seed=0).x_test, D.load("moons", seed=1).x_test)


def test_digits_splits_are_stratified():
    data = D.load("digits", seed=0, val_fraction=0.15, test_fraction=0.25)
    _, y = D.digits()
    per_class = np.bincount(y, minlength=10)
    for labels, fraction in [(data.y_val, 0.15), (data.y_test, 0.25)]:
        counts = np.bincount(labels, minlength=10)
        assert np.all(np.abs(counts - fraction * per_class) < 2.0)


@pytest.mark.parametrize("name", ["unscaled_moons", "digits"])
def test_load_standardizes_with_training_statistics(name):
    raw = D.load(name, seed=2, normalize=False)
    data = D.load(name, seed=2)
    expected = normalize.fit_standardizer(raw.x_train)
    np.testing.assert_allclose(data.stats.mean, expected.mean)
    np.testing.assert_allclose(data.stats.std, expected.std)
    varying = raw.x_train.std(axis=0) > 0
    train = normalize.transform(data.stats, data.x_train)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0)[varying], 1.0, rtol=1e-3)
    for part, raw_part in [(data.x_train, raw.x_train), (data.x_val, raw.x_val),
                           (data.x_test, raw.x_test)]:
        np.testing.assert_array_equal(part, raw_part)  # the splits stay raw: the model applies
        assert part.dtype == np.float32                # stats (layers.Standardized)
    # validation/test take the training statistics, not their own: their moments differ
    val = normalize.transform(data.stats, data.x_val)
    assert not np.allclose(val.mean(axis=0)[varying], 0.0, atol=1e-4)
    for y_a, y_b in zip(data[1:6:2], raw[1:6:2], strict=True):
        np.testing.assert_array_equal(y_a, y_b)


def test_load_overrides_n_and_noise():
    data = D.load("noisy_blobs", seed=0, n=100, noise=0.0, normalize=False)
    x, y = D.noisy_blobs(100, 0.0, 0)
    got = np.column_stack([np.concatenate(data[0:6:2]), np.concatenate(data[1:6:2])])
    np.testing.assert_array_equal(_rows_sorted(got), _rows_sorted(np.column_stack([x, y])))
    sub = D.load("digits", seed=0, n=300)
    assert len(sub.y_train) + len(sub.y_val) + len(sub.y_test) == 300
    assert sub.x_train.shape[1] == 64


@given(
    n=st.integers(3, 400),
    classes=st.integers(1, 5),
    val=st.floats(0.01, 0.6),
    test=st.floats(0.01, 0.39),
    seed=st.integers(0, 2**31),
)
@settings(max_examples=60, deadline=None)
def test_split_indices_partition_and_stratify(n, classes, val, test, seed):
    y = np.random.default_rng(seed).integers(0, classes, size=n)
    n_val, n_test = round(val * n), round(test * n)
    if min(n_val, n_test, n - n_val - n_test) < 1:
        with pytest.raises(ValueError, match="cannot fill every split"):
            D.split_indices(y, val, test, seed)
        return
    train, val_idx, test_idx = D.split_indices(y, val, test, seed)
    assert (len(val_idx), len(test_idx)) == (n_val, n_test)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val_idx, test_idx])), np.arange(n))
    per_class = np.bincount(y, minlength=classes)
    for idx, tolerance in [(test_idx, 1.0), (val_idx, 2.0)]:
        counts = np.bincount(y[idx], minlength=classes)
        assert np.all(np.abs(counts - len(idx) / n * per_class) < tolerance)


def test_a_fraction_of_zero_leaves_that_split_empty():
    y = np.array([0] * 50 + [1] * 50)
    train, val, test = D.split_indices(y, val_fraction=0.2, test_fraction=0.0)
    assert (len(train), len(val), len(test)) == (80, 20, 0)
    train, val, test = D.split_indices(y, val_fraction=0.0, test_fraction=0.0, seed=3)
    np.testing.assert_array_equal(np.sort(train), np.arange(100))
    assert len(val) == len(test) == 0


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; valid names: moons, circles"):
        D.load("imagenet")
    with pytest.raises(ValueError, match=r"val_fraction must lie in \[0.0, 1.0\)"):
        D.load("moons", val_fraction=-0.1)
    with pytest.raises(ValueError, match=r"test_fraction must lie in \[0.0, 1.0\)"):
        D.load("moons", test_fraction=1.5)
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be < 1"):
        D.load("moons", val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="n=2 samples cannot fill every split"):
        D.load("moons", n=2)
    with pytest.raises(ValueError, match="has no noise level"):
        D.load("digits", noise=0.1)
    with pytest.raises(ValueError, match="n must be <= 1797"):
        D.load("digits", n=2000)
    with pytest.raises(TypeError, match="n must be an int"):
        D.load("moons", n=10.5)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        D.moons(seed=-1)
    with pytest.raises(ValueError, match=r"noise must lie in \[0.0, 0.5\)"):
        D.noisy_blobs(noise=0.5)
    with pytest.raises(ValueError, match="noise must lie in"):
        D.flower(noise=-0.1)
    with pytest.raises(ValueError, match="factor must lie in"):
        D.circles(factor=1.0)
    with pytest.raises(ValueError, match="scales must be a pair"):
        D.unscaled_moons(scales=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="y must be 1-D integer labels"):
        D.split_indices(np.zeros((10, 2), np.int32))
