"""The fully connected layer: ``y = x @ W + b`` over the last axis, ``W`` of shape (n_in, units).

``W`` is drawn by a :mod:`jaxdl.init` initializer (He by default), ``b`` starts at zero.
Leading axes other than the last pass through (``(batch, ..., n_in) -> (batch, ..., units)``).

``compute_dtype="bfloat16"`` is mixed precision (:func:`bf16_matmul`): ``x @ W`` and the two
matmuls of its gradient round both operands to bfloat16 and accumulate in float32; parameters,
activations and gradients stay float32.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl import init
from jaxdl.layers.base import Layer, PyTree, Shape, register

COMPUTE_DTYPES = ("float32", "bfloat16")


@jax.custom_vjp
def bf16_matmul(a: jax.Array, w: jax.Array) -> jax.Array:
    """``r(a) @ r(w)`` in float32, with ``r`` rounding to bfloat16. Its gradients are
    ``r(g) @ r(w).T`` and ``r(a).T @ r(g)`` (``g`` the float32 output cotangent), so every matmul
    of training runs on bfloat16 operands with float32 accumulation.

    >>> import jax.numpy as jnp
    >>> from jaxdl.layers.dense import bf16_matmul
    >>> bf16_matmul(jnp.array([[1.0 + 2.0**-10]]), jnp.array([[1.0]]))
    Array([[1.]], dtype=float32)
    """
    return _dot_bf16(a, w)


def _dot_bf16(a: jax.Array, w: jax.Array) -> jax.Array:
    a, w = a.astype(jnp.bfloat16), w.astype(jnp.bfloat16)
    # XLA:CPU has no batched bfloat16 x bfloat16 -> float32 dot (a vmapped sweep needs one).
    # There the rounded operands are multiplied in float32, which gives the same numbers:
    # a product of two bfloat16 values is exact in float32.
    out: jax.Array = jax.lax.platform_dependent(
        a,
        w,
        cpu=lambda a, w: jnp.matmul(a.astype(jnp.float32), w.astype(jnp.float32)),
        default=lambda a, w: jnp.matmul(a, w, preferred_element_type=jnp.float32),
    )
    return out


def _bf16_matmul_fwd(
    a: jax.Array, w: jax.Array
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _dot_bf16(a, w), (a.astype(jnp.bfloat16), w.astype(jnp.bfloat16))


def _bf16_matmul_bwd(
    residuals: tuple[jax.Array, jax.Array], g: jax.Array
) -> tuple[jax.Array, jax.Array]:
    a, w = residuals
    return _dot_bf16(g, w.T), _dot_bf16(a.T, g)


bf16_matmul.defvjp(_bf16_matmul_fwd, _bf16_matmul_bwd)


@register
@dataclasses.dataclass(frozen=True)
class Dense(Layer):
    """``y = x @ W + b`` with ``units`` outputs; ``use_bias=False`` drops ``b`` (before batch
    norm, whose ``beta`` takes its place); ``compute_dtype="bfloat16"`` computes ``x @ W`` with
    :func:`bf16_matmul`.

    >>> import jax
    >>> from jaxdl.layers import Dense
    >>> shape, params, state = Dense(3).init(jax.random.key(0), (4,))
    >>> shape, params["W"].shape, params["b"].shape
    ((3,), (4, 3), (3,))
    """

    units: int
    use_bias: bool = True
    initializer: str = "he"
    init_scale: float = 0.01
    compute_dtype: str = dataclasses.field(default="float32", repr=False)

    init_draws_key = True

    def __post_init__(self) -> None:
        if not isinstance(self.units, int) or isinstance(self.units, bool) or self.units < 1:
            raise ValueError(f"Dense units must be a positive int, got {self.units!r}")
        init.get(self.initializer, self.init_scale)
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, "
                f"got {self.compute_dtype!r}"
            )

    def to_config(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (``compute_dtype`` only when not float32, so files
        stay readable by versions without it)."""
        config = super().to_config()
        if self.compute_dtype == "float32":
            del config["compute_dtype"]
        return config

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """``W`` from the initializer with shape ``(input_shape[-1], units)``, ``b`` zeros."""
        if key is None:
            raise ValueError("Dense.init draws random weights: pass key=jax.random.key(...)")
        if len(input_shape) < 1:
            raise ValueError(f"Dense needs inputs with a feature axis, got shape {input_shape}")
        n_in = input_shape[-1]
        params = {"W": init.get(self.initializer, self.init_scale)(
            key, (n_in, self.units), jnp.float32)}
        if self.use_bias:
            params["b"] = jnp.zeros((self.units,), jnp.float32)
        return (*input_shape[:-1], self.units), params, {}

    def apply(
        self,
        params: PyTree,
        state: PyTree,
        x: jax.Array,
        *,
        train: bool,
        key: jax.Array | None = None,
        hp: Mapping[str, Any] | None = None,
        mask: jax.Array | None = None,
    ) -> tuple[jax.Array, PyTree]:
        """``x @ W (+ b)``; state passes through."""
        if self.compute_dtype == "float32":
            z = x @ params["W"]
        else:
            z = bf16_matmul(x.astype(jnp.float32), params["W"].astype(jnp.float32))
        return (z + params["b"] if self.use_bias else z), state
