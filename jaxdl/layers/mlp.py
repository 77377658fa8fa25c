"""Old names of the MLP's layers (deprecated; they warn, for one release): the built-in
:class:`jaxdl.nn.MLP` is itself a chain of layers now.

- ``from_mlp(mlp)``: use ``mlp.as_sequential()`` (or ``mlp.layers``)
- ``mlp_params_to_layers(mlp, params, state)``: use ``mlp.to_layer_trees(params, state)``
"""

from __future__ import annotations

import warnings
from typing import Any

from jaxdl.layers.base import PyTree
from jaxdl.layers.combinators import Sequential


def _mlp(mlp: Any, name: str) -> Any:
    if not callable(getattr(mlp, "as_sequential", None)):
        raise TypeError(f"{name} needs a jaxdl.MLP, got {type(mlp).__name__}")
    return mlp


def from_mlp(mlp: Any) -> Sequential:
    """Deprecated: ``mlp.as_sequential()``, the Sequential of the MLP's layers.

    >>> import warnings
    >>> from jaxdl import MLP
    >>> from jaxdl.layers.mlp import from_mlp
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     from_mlp(MLP((4, 8, 3))) == MLP((4, 8, 3)).as_sequential()
    True
    >>> print(caught[0].message)
    jaxdl.layers.from_mlp is deprecated; use MLP(...).as_sequential()
    """
    warnings.warn("jaxdl.layers.from_mlp is deprecated; use MLP(...).as_sequential()",
                  DeprecationWarning, stacklevel=2)
    sequential: Sequential = _mlp(mlp, "from_mlp").as_sequential()
    return sequential


def mlp_params_to_layers(
    mlp: Any, params: PyTree, state: PyTree
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Deprecated: ``mlp.to_layer_trees(params, state)``, the MLP's ``(params, state)`` in the
    layout of ``mlp.as_sequential()``.

    >>> import warnings, jax
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.layers.mlp import mlp_params_to_layers
    >>> mlp = MLP((4, 8, 3), batch_norm=True)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     params, state = mlp_params_to_layers(mlp, *mlp.init(jax.random.key(0)))
    >>> [sorted(p) for p in params], sorted(state[1])
    ([['W'], ['beta', 'gamma'], [], ['W', 'b']], ['count', 'mean', 'var'])
    >>> print(caught[0].message)
    jaxdl.layers.mlp_params_to_layers is deprecated; use MLP(...).to_layer_trees(params, state)
    """
    warnings.warn("jaxdl.layers.mlp_params_to_layers is deprecated; use "
                  "MLP(...).to_layer_trees(params, state)", DeprecationWarning, stacklevel=2)
    trees: tuple[tuple[Any, ...], tuple[Any, ...]] = _mlp(
        mlp, "mlp_params_to_layers").to_layer_trees(params, state)
    return trees
