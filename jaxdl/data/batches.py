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
    ``last_size`` real rows (``last_size == batch_size`` when nothing is padded)."""

    num_batches: int
    batch_size: int
    last_size: int

    @property
    def padded(self) -> bool:
        """True when the last batch carries padding rows (and so needs a mask)."""
        return self.last_size != self.batch_size

    @property
    def sizes(self) -> tuple[int, ...]:
        """Real samples per batch, e.g. ``(64, 64, 20)``."""
        return (self.batch_size,) * (self.num_batches - 1) + (self.last_size,)


def partition(m: int, batch_size: int, drop_remainder: bool = False) -> Partition:
    """Layout of an epoch of ``m`` samples in batches of ``batch_size``."""
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
