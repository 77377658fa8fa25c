"""Named CNNs (``jaxdl train --model NAME``): each preset is built for the data's input shape
and number of outputs. ReLU activations and He initialization throughout; the convolutions
before a batch norm have no bias (the norm's ``beta`` takes its place).

- ``lenet5``: a LeNet-5-like CNN for 28x28x1 images (MNIST):
  ``Conv(6, 5x5, SAME) Relu MaxPool(2x2)`` -> 14x14x6,
  ``Conv(16, 5x5, VALID) Relu MaxPool(2x2)`` -> 5x5x16, ``Flatten Dense(120) Relu Dense(84)
  Relu Dense(outputs)``.
- ``small_vgg``: for 32x32x3 images (CIFAR-10): three blocks of
  ``(Conv(f, 3x3) BatchNorm Relu) x 2 MaxPool(2x2)`` with ``f`` = 32, 64, 128 -> 4x4x128, then
  ``Flatten Dense(128) Relu Dense(outputs)``.
- ``digits_cnn``: for the built-in 8x8x1 digits: ``Conv(16, 3x3) BatchNorm Relu MaxPool(2x2)
  Conv(32, 3x3) BatchNorm Relu MaxPool(2x2) Flatten Dense(outputs)``.

:data:`PRESETS` maps each name to its builder ``(input_shape, outputs) -> Sequential`` and
:data:`IMAGE_SHAPES` to the image shape it is designed for (used to read flat features as an
image, see :func:`preset`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from jaxdl.layers.activations import Relu
from jaxdl.layers.combinators import Sequential
from jaxdl.layers.conv import Conv
from jaxdl.layers.dense import Dense
from jaxdl.layers.flatten import Flatten
from jaxdl.layers.norm import BatchNorm
from jaxdl.layers.pool import MaxPool
from jaxdl.layers.reshape import Reshape


def lenet5(input_shape: Sequence[int], outputs: int) -> Sequential:
    """The LeNet-5-like CNN (see the module docstring) for ``input_shape`` images.

    >>> from jaxdl.layers.presets import lenet5
    >>> lenet5((28, 28, 1), 10).num_params
    61706
    """
    return Sequential(
        Conv(6, (5, 5), padding="SAME"), Relu(), MaxPool((2, 2)),
        Conv(16, (5, 5), padding="VALID"), Relu(), MaxPool((2, 2)),
        Flatten(), Dense(120), Relu(), Dense(84), Relu(), Dense(outputs),
        input_shape=tuple(input_shape),
    )


def small_vgg(input_shape: Sequence[int], outputs: int) -> Sequential:
    """The small VGG-style CNN (see the module docstring) for ``input_shape`` images.

    >>> from jaxdl.layers.presets import small_vgg
    >>> small_vgg((32, 32, 3), 10).output_shape
    (10,)
    """
    blocks: list[Any] = []
    for features in (32, 64, 128):
        for _ in range(2):
            blocks += [Conv(features, (3, 3), use_bias=False), BatchNorm(), Relu()]
        blocks.append(MaxPool((2, 2)))
    return Sequential(*blocks, Flatten(), Dense(128), Relu(), Dense(outputs),
                      input_shape=tuple(input_shape))


def digits_cnn(input_shape: Sequence[int], outputs: int) -> Sequential:
    """The small CNN for the 8x8 digits (see the module docstring).

    >>> from jaxdl.layers.presets import digits_cnn
    >>> digits_cnn((8, 8, 1), 10).output_shape
    (10,)
    """
    return Sequential(
        Conv(16, (3, 3), use_bias=False), BatchNorm(), Relu(), MaxPool((2, 2)),
        Conv(32, (3, 3), use_bias=False), BatchNorm(), Relu(), MaxPool((2, 2)),
        Flatten(), Dense(outputs),
        input_shape=tuple(input_shape),
    )


PRESETS: dict[str, Callable[[Sequence[int], int], Sequential]] = {
    "lenet5": lenet5,
    "small_vgg": small_vgg,
    "digits_cnn": digits_cnn,
}
IMAGE_SHAPES: dict[str, tuple[int, int, int]] = {
    "lenet5": (28, 28, 1),
    "small_vgg": (32, 32, 3),
    "digits_cnn": (8, 8, 1),
}


def preset(name: str, input_shape: Sequence[int], outputs: int) -> Sequential:
    """The preset ``name`` for examples of ``input_shape`` and ``outputs`` output units.

    Images ``(H, W, C)`` are taken as they are. Flat features ``(d,)`` with ``d`` the number of
    values of the preset's own image shape (:data:`IMAGE_SHAPES`, e.g. 64 for ``digits_cnn``)
    are read as that image: the model starts with ``Reshape`` and takes the flat features.

    Raises:
      ValueError: an unknown name, or inputs the preset cannot take (naming the preset).

    >>> from jaxdl.layers.presets import preset
    >>> preset("digits_cnn", (64,), 10).layers[0]
    Reshape(shape=(8, 8, 1))
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    shape = tuple(int(d) for d in input_shape)
    image = IMAGE_SHAPES[name]
    if len(shape) == 1 and shape[0] == math.prod(image):
        inner = PRESETS[name](image, outputs)
        return Sequential(Reshape(image), *inner.layers, input_shape=shape)
    if len(shape) != 3:
        message = (f"model preset {name!r} takes (height, width, channels) images, such as "
                   f"{image}, or flat features of {math.prod(image)} values read as {image}; "
                   f"the data have examples of shape {shape}")
        raise ValueError(message)
    try:
        return PRESETS[name](shape, outputs)
    except (ValueError, TypeError) as err:
        message = (f"model preset {name!r} does not fit images of shape {shape} (it is made "
                   f"for {image}): {err}")
    raise ValueError(message)
