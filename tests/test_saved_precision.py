"""A saved model's standardizer keeps the float64 statistics it was fitted with, and predict
centres raw features before any float32 cast: a timestamp-like feature (1.7e9 +- 50) gives the
same predictions after a save and load as in the training process."""

import jax
import numpy as np

from jaxdl import MLP, load_model, save_model
from jaxdl.data.normalize import fit_standardizer, transform
from jaxdl.saved.saved_model import infer


def test_timestamp_like_features_survive_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = np.stack([1.7e9 + rng.uniform(-50, 50, 200), rng.normal(size=200)], axis=1)
    stats = fit_standardizer(x)
    model = MLP((2, 8, 2))
    params, state = model.init(jax.random.key(0))
    save_model(tmp_path / "m", model, params, state, standardizer=stats)
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.standardizer.mean, stats.mean)
    np.testing.assert_array_equal(loaded.standardizer.std, stats.std)
    expected, _ = infer(model, params, state, transform(stats, x))
    got = loaded.outputs(x)
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-6, atol=1e-6)
    z = transform(loaded.standardizer, x)
    assert len(np.unique(z[:, 0])) == len(np.unique(x[:, 0]))  # no values merged
