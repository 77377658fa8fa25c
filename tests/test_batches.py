import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.batches import epoch_indices, partition


def test_partition_keeps_the_remainder_by_default():
    assert partition(148, 64).sizes == (64, 64, 20)
    assert partition(148, 64, drop_remainder=True).sizes == (64, 64)
    assert partition(128, 64).sizes == (64, 64) and not partition(128, 64).padded
    assert partition(5, 1).sizes == (1,) * 5
    assert partition(5, 5).sizes == (5,)
    assert partition(5, 9).sizes == (5,)


def test_every_sample_once_per_epoch_and_padding_masked():
    part = partition(148, 64)
    idx, mask = epoch_indices(jax.random.key(0), 148, part)
    assert idx.shape == mask.shape == (3, 64)
    real = np.asarray(idx)[np.asarray(mask) > 0]
    assert sorted(real.tolist()) == list(range(148))
    np.testing.assert_array_equal(np.asarray(mask).sum(1), [64, 64, 20])
    other, _ = epoch_indices(jax.random.key(1), 148, part)
    assert not np.array_equal(idx, other)


def test_drop_remainder_skips_leftovers():
    idx, mask = epoch_indices(jax.random.key(0), 148, partition(148, 64, drop_remainder=True))
    assert idx.shape == (2, 64) and bool(jnp.all(mask == 1))
    assert len(set(np.asarray(idx).ravel().tolist())) == 128


@pytest.mark.parametrize(
    "m, size, drop, message",
    [
        (10, 0, False, "batch_size must be a positive integer"),
        (10, 2.5, False, "batch_size must be a positive integer"),
        (10, 11, True, "exceeds the 10 training samples"),
        (0, 4, False, "empty"),
    ],
)
def test_bad_partitions(m, size, drop, message):
    with pytest.raises(ValueError, match=message):
        partition(m, size, drop)
