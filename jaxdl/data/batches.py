"""Mini-batches: shuffle with a PRNG key, then partition, all on the device.

An epoch over ``m`` samples with batch size ``b`` has ``ceil(m / b)`` batches; the last one holds
the ``m mod b`` leftover samples (m = 148, b = 64 gives 64, 64 and 20), so every sample is seen
exactly once. Shapes must be static under ``jit``, so the last batch is padded to ``b`` rows and a
0/1 ``mask`` marks the real ones (losses and batch-norm statistics are weighted by it).
With ``drop_remainder=True`` the leftover samples are skipped instead (64, 64).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.checks import check_positive_int


class Partition(NamedTuple):
    """Static layout of one epoch: ``num_batches`` of ``batch_size`` rows, the last with
    ``last_size`` real rows (``last_size == batch_size`` when nothing is padded).

    Examples:
      >>> from jaxdl.data.batches import Partition
      >>> Partition(num_batches=3, batch_size=64, last_size=20).sizes
      (64, 64, 20)
    """

    num_batches: int
    batch_size: int
    last_size: int

    @property
    def padded(self) -> bool:
        """True when the last batch carries padding rows (and so needs a mask).

        Examples:
          >>> from jaxdl.data.batches import partition
          >>> partition(148, 64).padded, partition(128, 64).padded
          (True, False)
        """
        return self.last_size != self.batch_size

    @property
    def sizes(self) -> tuple[int, ...]:
        """Real samples per batch, e.g. ``(64, 64, 20)``.

        Examples:
          >>> from jaxdl.data.batches import partition
          >>> partition(148, 64, drop_remainder=True).sizes
          (64, 64)
        """
        return (self.batch_size,) * (self.num_batches - 1) + (self.last_size,)


def partition(m: int, batch_size: int, drop_remainder: bool = False) -> Partition:
    """Layout of an epoch of ``m`` samples in batches of ``batch_size``: ``ceil(m / b)`` batches.

    Args:
      m: the number of training samples (>= 1).
      batch_size: rows per batch (an int >= 1); larger than ``m`` means one batch of ``m``.
      drop_remainder: skip the ``m mod b`` leftover samples instead of a padded last batch.

    Returns:
      The :class:`Partition`.

    Raises:
      ValueError: for a bad ``batch_size``, ``m < 1``, or no batch left by ``drop_remainder``.

    Examples:
      >>> from jaxdl.data.batches import partition
      >>> partition(148, 64)
      Partition(num_batches=3, batch_size=64, last_size=20)
    """
    check_positive_int("batch_size", batch_size)
    if m < 1:
        raise ValueError("the training set is empty; pass at least one sample")
    if batch_size > m:
        if drop_remainder:
            raise ValueError(
                f"batch_size {batch_size} exceeds the {m} training samples and drop_remainder "
                f"would leave no batch; use batch_size <= {m}"
            )
        batch_size = m
    full, rest = divmod(m, batch_size)
    if rest == 0 or drop_remainder:
        return Partition(full, batch_size, batch_size)
    return Partition(full + 1, batch_size, rest)


def epoch_indices(key: jax.Array, m: int, part: Partition) -> tuple[jax.Array, jax.Array]:
    """Shuffled sample indices ``(num_batches, batch_size)`` and their 0/1 mask.

    Padding rows repeat index 0 and have mask 0; they never change a masked loss.

    Args:
      key: the PRNG key of this epoch's shuffle.
      m: the number of training samples.
      part: the epoch's layout from :func:`partition`.

    Returns:
      ``(indices, mask)``, int32 and float32 arrays of shape ``(num_batches, batch_size)``.

    Examples:
      >>> import jax
      >>> from jaxdl.data.batches import epoch_indices, partition
      >>> idx, mask = epoch_indices(jax.random.key(0), 5, partition(5, 2))
      >>> idx.shape, mask.tolist()
      ((3, 2), [[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
      >>> sorted(idx.reshape(-1)[:5].tolist())
      [0, 1, 2, 3, 4]
    """
    order = jax.random.permutation(key, m)
    total = part.num_batches * part.batch_size
    if total <= m:
        idx = order[:total]
        mask = jnp.ones((total,), jnp.float32)
    else:
        idx = jnp.concatenate([order, jnp.zeros((total - m,), order.dtype)])
        mask = (jnp.arange(total) < m).astype(jnp.float32)
    shape = (part.num_batches, part.batch_size)
    return idx.reshape(shape), mask.reshape(shape)
