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
