"""Value types of the ``jaxdl`` command's options (argparse ``type=``): integers in a range,
finite numbers, split fractions, layer sizes, a value or a ``LOW:HIGH`` range, augmentations and
image sizes."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


# -- value parsers (argparse ``type=``) ---------------------------------------------------------
def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for integers ``>= minimum`` (and ``<= maximum`` when given).

    >>> integer(1)("3")
    3
    >>> integer(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 1, got 0
    >>> integer(1, 100)("1000")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer from 1 to 100, got 1000
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {minimum} to {maximum}, got {value}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def number(text: str) -> float:
    """An argparse ``type=`` for finite numbers.

    >>> number("1e-3")
    0.001
    >>> number("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """An argparse ``type=`` for split fractions: numbers in ``[0, 1)`` (0: no such split).

    >>> fraction("0.2"), fraction("0")
    (0.2, 0.0)
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1) (0: no such split), got {text}")
    return value


def layer_sizes(text: str) -> tuple[int, ...]:
    """``"16,16"`` -> ``(16, 16)``; an empty string means no hidden layer.

    >>> layer_sizes("16,16"), layer_sizes("")
    ((16, 16), ())
    """
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 16,16, got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return sizes


def value_or_range(text: str) -> float | tuple[float, float]:
    """``"0.01"`` (a fixed value) or ``"LOW:HIGH"`` (a range to search).

    >>> value_or_range("0.01"), value_or_range("1e-4:1")
    (0.01, (0.0001, 1.0))
    """
    if ":" not in text:
        return number(text)
    low, _, high = text.partition(":")
    return number(low), number(high)


#: ``--augment`` names and the value each takes after ``=`` (see jaxdl.cli.build).
AUGMENTATIONS = {"flip": "probability", "crop": "padding in pixels",
                 "translate": "largest shift as a fraction of the size", "noise": "std"}


def augmentations(text: str) -> tuple[tuple[str, float | None], ...]:
    """``"flip,crop=2"`` -> ``(("flip", None), ("crop", 2.0))``: names of :data:`AUGMENTATIONS`,
    each once, with an optional ``=VALUE``.

    >>> augmentations("flip,crop=2")
    (('flip', None), ('crop', 2.0))
    >>> augmentations("blur")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: unknown augmentation 'blur'; choose from flip, crop, ...
    """
    found: list[tuple[str, float | None]] = []
    for part in (p.strip() for p in text.split(",")):
        name, has_value, value = part.partition("=")
        name = name.strip()
        if name not in AUGMENTATIONS:
            raise argparse.ArgumentTypeError(
                f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
        if name in (n for n, _ in found):
            raise argparse.ArgumentTypeError(f"augmentation {name!r} is named twice")
        found.append((name, number(value) if has_value else None))
    return tuple(found)


def image_size(text: str) -> tuple[int, int]:
    """``"28,28"`` -> ``(28, 28)``: height and width in pixels.

    >>> image_size("32,24")
    (32, 24)
    """
    sizes = layer_sizes(text)
    if len(sizes) != 2:
        raise argparse.ArgumentTypeError(f"expected HEIGHT,WIDTH such as 28,28, got {text!r}")
    return sizes[0], sizes[1]
