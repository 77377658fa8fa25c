"""The convolutional stage that the CNNs of the examples and benchmarks are built from
(``scripts/examples/image_recipe.py``, ``scripts/examples/digits_cnn.py``,
``scripts/augment_digits.py``, ``scripts/bench_augment.py``).

Scripts in ``scripts/examples`` import it as ``cnn_blocks``, scripts in ``scripts`` as
``examples.cnn_blocks``.
"""

from __future__ import annotations

from typing import Any

from jaxdl import layers


def conv_stage(filters: int, convs: int = 1, batch_norm: bool = True) -> list[Any]:
    """``(Conv(filters, 3x3) [BatchNorm] Relu) x convs  MaxPool(2x2)`` as a list of layers.

    He initialization (the default); a convolution followed by a batch norm has no bias (its
    mean subtraction would cancel it, and the norm's ``beta`` takes its place).

    Args:
      filters: the output channels of each convolution.
      convs: the convolutions before the pooling.
      batch_norm: a ``BatchNorm`` after each convolution.

    Returns:
      The layers, to unpack into ``jaxdl.layers.Sequential``.

    Examples:
      >>> from cnn_blocks import conv_stage
      >>> [type(layer).__name__ for layer in conv_stage(8, batch_norm=False)]
      ['Conv', 'Activation', 'MaxPool']
    """
    stage: list[Any] = []
    for _ in range(convs):
        stage.append(layers.Conv(filters, (3, 3), use_bias=not batch_norm))
        stage += [layers.BatchNorm(), layers.Relu()] if batch_norm else [layers.Relu()]
    return [*stage, layers.MaxPool((2, 2))]
