"""What a sweep guarantees about a member and its solo ``fit`` (the README and docs/topics/
tuning.md say it): the same programs with the same keys (initialization, mini-batch order,
dropout masks), so the two agree up to float32 reassociation (a vmapped convolution or matmul
may sum in another order), not bit for bit; a fit with other keys is far outside that
tolerance. Shown on a CNN, where the batched convolutions reassociate."""

import os
import sys

import jax
import numpy as np

import jaxdl
from jaxdl.data import datasets
from jaxdl.sweep import run_sweep

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "examples"))

import digits_cnn  # noqa: E402

DATA = datasets.load("digits", seed=0, n=240, normalize=False)
X, XV = (DATA.x_train / 16).reshape(-1, 8, 8, 1), (DATA.x_val / 16).reshape(-1, 8, 8, 1)
Y, YV = DATA.y_train, DATA.y_val
TRAINER = jaxdl.Trainer(digits_cnn.cnn(filters=(4, 8)), optimizer="sgd", batch_size=50)
RTOL, ATOL = 2e-5, 2e-6  # float32 round-off over a few epochs


def _largest_gap(a, b):
    """max |a - b| / (ATOL + RTOL |b|) over every leaf: <= 1 is within round-off."""
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))
                            / (ATOL + RTOL * np.abs(np.asarray(v)))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_a_cnn_member_equals_its_solo_fit_up_to_float32_reassociation():
    configs = [{"learning_rate": 0.05, "keep_prob": 0.8}, {"learning_rate": 0.01,
                                                           "keep_prob": 0.9}]
    swept = run_sweep(configs, (X, Y, XV, YV), trainer=TRAINER, epochs=3, seed=1)
    for i, config in enumerate(configs):
        kw = {"validation": (XV, YV), "hp": config, "epochs": 3, "early_stopping": swept.stopper,
              "progress": False}
        solo = jaxdl.fit(TRAINER, X, Y, seed=1, **kw)
        # same keys, same programs: allclose (the documented guarantee), not assert_equal
        assert _largest_gap(swept.params[i], solo.params) <= 1
        np.testing.assert_allclose(swept.histories[i]["val_loss"], solo.history["val_loss"],
                                   rtol=RTOL)
        np.testing.assert_allclose(swept.histories[i]["loss"], solo.history["loss"], rtol=RTOL)
        # other keys (initialization, batches, dropout masks) are far outside that tolerance
        other = jaxdl.fit(TRAINER, X, Y, seed=2, **kw)
        assert _largest_gap(other.params, solo.params) > 100
