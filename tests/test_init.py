import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import init

SHAPE = (400, 300)


@pytest.mark.parametrize(
    "name, variance",
    [("he", 2 / 400), ("xavier", 1 / 400), ("glorot", 2 / 700)],
)
def test_variance_matches_formula(name, variance):
    w = np.asarray(init.get(name)(jax.random.key(0), SHAPE, jnp.float32))
    # 120k samples: the sample variance is within ~1% of the truth.
    assert abs(w.mean()) < 0.01 * np.sqrt(variance) * 10
    assert w.var() == pytest.approx(variance, rel=0.02)


def test_random_normal_scale_and_zeros():
    w = np.asarray(init.random_normal(10.0)(jax.random.key(1), SHAPE))
    assert w.std() == pytest.approx(10.0, rel=0.02)
    assert not np.any(np.asarray(init.zeros(jax.random.key(1), SHAPE)))


def test_unknown_initializer_is_named():
    with pytest.raises(ValueError, match="unknown initializer 'lecun'.*he"):
        init.get("lecun")


def test_weights_must_be_matrices():
    with pytest.raises(ValueError, match=r"\(n_in, n_out\)"):
        init.he(jax.random.key(0), (3, 4, 5))
