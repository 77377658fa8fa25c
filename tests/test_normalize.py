import chex
import numpy as np
import pytest

from jaxdl.data import normalize


def test_training_statistics_standardize_every_split():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, (200, 3)).astype(np.float32)
    test = rng.normal(5.0, 3.0, (50, 3)).astype(np.float32)
    stats = normalize.fit_standardizer(train)
    np.testing.assert_allclose(stats.mean, train.mean(0), rtol=1e-5)
    # Population variance: sigma**2 = mean((x - mu)**2), not the n-1 estimate.
    sigma = np.sqrt(((train - train.mean(0)) ** 2).mean(0))
    np.testing.assert_allclose(stats.std, sigma, rtol=1e-5)
    z = normalize.transform(stats, train)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(normalize.transform(stats, test), (test - stats.mean) / stats.std)


def test_constant_feature_does_not_divide_by_zero():
    x = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]], np.float32)
    z = normalize.transform(normalize.fit_standardizer(x), x)
    assert np.all(np.isfinite(z)) and not np.any(z[:, 1])


@pytest.mark.parametrize(
    "x, message",
    [
        (np.ones(4), "2-D"),
        (np.zeros((0, 3)), "empty"),
        (np.array([[1.0, np.nan]]), "NaN/inf"),
    ],
)
def test_bad_data(x, message):
    with pytest.raises(ValueError, match=message):
        normalize.fit_standardizer(x)


def test_width_mismatch():
    stats = normalize.fit_standardizer(np.ones((3, 2)))
    with pytest.raises(ValueError, match="expects 2"):
        normalize.transform(stats, np.ones((3, 5)))


def test_old_name_fit_still_works_with_a_deprecation_warning():
    x = np.array([[1.0], [3.0]])
    with pytest.warns(DeprecationWarning, match="fit_standardizer"):
        old = normalize.fit
    chex.assert_trees_all_close(old(x), normalize.fit_standardizer(x))


# -- numerics: float64 statistics and centring, then float32 -----------------------------------
def _oracle(train, x):
    """(x - mean) / std in float64, cast once to float32."""
    mean = train.mean(axis=0)
    return ((x - mean) / train.std(axis=0)).astype(np.float32)


def test_timestamp_like_feature_keeps_its_distinct_values():
    rng = np.random.default_rng(0)
    t = 1.7e9 + rng.uniform(-50, 50, size=(500, 1))
    stats = normalize.fit_standardizer(t)
    z = normalize.transform(stats, t)
    assert len(np.unique(z)) == 500
    np.testing.assert_allclose(z, _oracle(t, t), rtol=0, atol=1e-6)


def test_tiny_features_do_not_underflow():
    x = 1e-300 * (1.0 + np.arange(10.0))[:, None]
    z = normalize.transform(normalize.fit_standardizer(x), x)
    k = np.arange(10.0)
    np.testing.assert_allclose(z[:, 0], (k - k.mean()) / k.std(), rtol=1e-6)


def test_huge_integer_features_stay_distinct_with_their_spread():
    k = np.random.default_rng(0).integers(0, 1000, 300)
    x = (np.int64(2**62) + k)[:, None]
    with pytest.warns(UserWarning, match="'x0'.*mean"):
        stats = normalize.fit_standardizer(x)
    z = normalize.transform(stats, x)[:, 0].astype(np.float64)
    assert len(np.unique(z)) == len(np.unique(k))
    np.testing.assert_allclose(stats.std, k.std(), rtol=1e-12)
    np.testing.assert_allclose(z - z[0], (k - k[0]) / k.std(), atol=1e-5)


def test_ordinary_data_standardize_as_the_plain_float64_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, (200, 4)) * [1.0, 1e3, 1e-3, 1.0]
    stats = normalize.fit_standardizer(x)
    np.testing.assert_array_equal(stats.mean, x.mean(axis=0))
    np.testing.assert_array_equal(stats.std, np.sqrt(np.mean((x - x.mean(0)) ** 2, axis=0)))
    np.testing.assert_array_equal(normalize.transform(stats, x), _oracle(x, x))
