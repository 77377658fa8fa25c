"""The search space a sweep uses when it is given none: the hyperparameters in the order of
importance of Andrew Ng's "Improving deep neural networks" (week 3), scaled to the data.

1. ``learning_rate``, log-uniform: 1e-4 to 1e-1 for the adaptive optimizers (RMSprop, Adam,
   AdamW, Nadam), 1e-3 to 1 for SGD, momentum and Nesterov.
2. The optimizer's EWA decays on the ``1 - beta`` scale (:class:`OneMinusLogUniform`): ``beta``
   0.8 to 0.999 (momentum, Nesterov, RMSprop); Adam's ``b1`` 0.8 to 0.99 and ``b2`` 0.99 to
   0.9999. Then the MLP's ``hidden_units`` (16, 32, 64, 128, 256: those at most half the
   training rows, at least 16) and the mini-batch size ``batch_size`` (16 to 512 in powers of
   two, those at most the training rows; a set smaller than 16 rows trains in one batch).
3. ``num_layers`` (0, 1, 2 or 3 hidden layers; 0 is a linear model, softmax or linear
   regression on the inputs, the baseline a table's network must beat) and, with a decaying
   learning-rate schedule, its ``decay_rate``, log-uniform 1e-3 to 1.

A name the caller fixes (a flag such as ``--hidden``, ``--batch-size`` or ``--b1 0.9``) is left
out; so are names the optimizer or model does not read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from jaxdl.optim import registry
from jaxdl.sweep.distributions import Choice, Distribution, LogUniform, OneMinusLogUniform

#: The ``1 - beta`` ranges of the optimizers' EWA decays.
BETA_RANGES = {"beta": (0.8, 0.999), "b1": (0.8, 0.99), "b2": (0.99, 0.9999)}
HIDDEN_UNITS = (16, 32, 64, 128, 256)
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
NUM_LAYERS = (0, 1, 2, 3)


def default_space(optimizer: str, n_train: int, *, mlp: bool = True,
                  schedule: str = "constant", fixed: Collection[str] = ()
                  ) -> dict[str, Distribution]:
    """The default search space (see the module docstring), in the order of importance.

    Args:
      optimizer: the optimizer's name (a key of :data:`jaxdl.optim.registry.REGISTRY`).
      n_train: the number of training rows (caps ``hidden_units`` and ``batch_size``).
      mlp: whether the model is the MLP (``hidden_units`` and ``num_layers`` are its settings).
      schedule: the learning-rate schedule (``decay_rate`` is searched when it reads one).
      fixed: names the caller sets itself; they are left out.

    Returns:
      An ordered ``{name: distribution}``.

    >>> from jaxdl.sweep.default_space import default_space
    >>> space = default_space("adam", 100)
    >>> list(space)
    ['learning_rate', 'b1', 'b2', 'hidden_units', 'batch_size', 'num_layers']
    >>> space["learning_rate"], space["hidden_units"], space["batch_size"]
    (LogUniform(low=0.0001, high=0.1), Choice(options=(16, 32)), Choice(options=(16, 32, 64)))
    >>> list(default_space("sgd", 10, mlp=False, schedule="inverse_time", fixed={"b1"}))
    ['learning_rate', 'decay_rate']
    """
    if optimizer not in registry.REGISTRY:
        raise ValueError(f"optimizer {optimizer!r} has no default search space; give ranges "
                         f"(e.g. --lr 1e-4:1e-1) or --space FILE")
    reads = registry.reads(optimizer)
    adaptive = "eps" in reads  # RMSprop and the Adam family scale steps by sqrt(s) + eps
    space: dict[str, Distribution] = {
        "learning_rate": LogUniform(1e-4, 1e-1) if adaptive else LogUniform(1e-3, 1.0)}
    for name in ("beta", "b1", "b2"):
        if name in reads:
            space[name] = OneMinusLogUniform(*BETA_RANGES[name])
    if mlp:
        space["hidden_units"] = Choice([u for u in HIDDEN_UNITS
                                        if u == HIDDEN_UNITS[0] or 2 * u <= n_train])
    batches = [b for b in BATCH_SIZES if b <= n_train]
    if len(batches) > 1:
        space["batch_size"] = Choice(batches)
    if mlp:
        space["num_layers"] = Choice(NUM_LAYERS)
    if registry.SCHEDULES[schedule].decay_range is not None:
        space["decay_rate"] = LogUniform(1e-3, 1.0)
    return {k: v for k, v in space.items() if k not in fixed}


def describe(space: Mapping[str, Distribution]) -> str:
    """One line per distribution: ``name: kind low..high`` or ``name: one of a, b, c``.

    >>> from jaxdl.sweep.default_space import default_space, describe
    >>> print(describe(default_space("momentum", 40, mlp=False)))
    learning_rate: log-uniform 0.001..1
    beta: 1 - beta log-uniform 0.8..0.999
    batch_size: one of 16, 32
    """
    lines = []
    for name, dist in space.items():
        lines.append(f"{name}: {_describe(dist)}")
    return "\n".join(lines)


def _describe(dist: Any) -> str:
    if isinstance(dist, Choice):
        return "one of " + ", ".join(map(str, dist.options))
    kind = {"LogUniform": "log-uniform", "OneMinusLogUniform": "1 - beta log-uniform",
            "Uniform": "uniform", "IntUniform": "integer uniform"}.get(type(dist).__name__,
                                                                       type(dist).__name__)
    return f"{kind} {dist.low:g}..{dist.high:g}"
