import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import checkpoint
from jaxdl.early_stopping import EarlyStopping
from jaxdl.history import without_timing
from jaxdl.hyperparams import hyperparams
from jaxdl.nn import MLP
from jaxdl.train import Batch, Trainer, TrainingDiverged, fit

rng = np.random.default_rng(0)
X = rng.normal(size=(148, 3)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int32)
XV = rng.normal(size=(40, 3)).astype(np.float32)
YV = (XV[:, 0] + 0.5 * XV[:, 1] > 0).astype(np.int32)

# One trainer shared by most tests, so its epoch compiles once.
TRAINER = Trainer(MLP((3, 8, 2), batch_norm=True, dropout=True), optimizer="adam", batch_size=64)
HP = {"learning_rate": 0.01, "keep_prob": 0.9, "l2": 0.1}


def run(**kwargs):
    kwargs = {"hp": HP, "epochs": 4, "validation": (XV, YV), "progress": False, **kwargs}
    return fit(TRAINER, X, Y, **kwargs)


def test_same_seed_same_history_and_training_learns():
    a, b = run(seed=3), run(seed=3)
    assert without_timing(a.history) == without_timing(b.history)
    jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
    c = run(seed=4)
    assert c.history["loss"] != a.history["loss"]
    long = run(epochs=15)
    assert long.history["val_accuracy"][-1] > 0.85
    assert long.history["loss"][-1] < long.history["loss"][0]
    assert [len(c) for c in a.history["batch_cost"]] == [3] * 4


@pytest.mark.slow
def test_masked_padding_changes_neither_loss_nor_batch_norm():
    trainer = Trainer(MLP((3, 8, 2), batch_norm=True))
    hp = hyperparams(learning_rate=0.1)
    ts = trainer.init(jax.random.key(0), hp)
    x, y = jnp.asarray(X[:20]), jnp.asarray(Y[:20])
    pad_x = jnp.concatenate([x, jnp.full((12, 3), 50.0)])
    pad_y = jnp.concatenate([y, jnp.ones(12, jnp.int32)])
    mask = jnp.concatenate([jnp.ones(20), jnp.zeros(12)])
    key = jax.random.key(1)
    plain = trainer.train_step(*ts[:3], Batch(x, y), key, hp, num_examples=148)
    padded = trainer.train_step(*ts[:3], Batch(pad_x, pad_y, mask), key, hp, num_examples=148)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(padded)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_learning_rate_schedule_is_logged_per_epoch():
    trainer = Trainer(MLP((3, 4, 2)), optimizer="sgd", schedule="inverse_time", batch_size=50)
    result = fit(trainer, X, Y, hp={"learning_rate": 0.5, "decay_rate": 1.0}, epochs=3,
                 progress=False)
    np.testing.assert_allclose(result.history["learning_rate"], [0.5, 0.25, 0.5 / 3], rtol=1e-6)


def test_early_stopping_restores_the_best_epoch():
    stopper = EarlyStopping(patience=2, monitor="val_loss")
    # A large learning rate makes the validation loss bounce, so stopping happens early.
    hp = {**HP, "learning_rate": 0.3}
    result = run(hp=hp, epochs=30, early_stopping=stopper)
    val = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(val))
    assert result.stopped_early and result.epochs_run == result.best_epoch + 3
    # The returned parameters are the best epoch's: rerun exactly that many epochs.
    again = run(hp=hp, epochs=result.best_epoch + 1)
    jax.tree.map(np.testing.assert_array_equal, result.params, again.params)


def test_kill_and_resume_equals_uninterrupted(tmp_path):
    full = run(epochs=5, checkpoint_dir=str(tmp_path / "full"))
    part = tmp_path / "part"
    run(epochs=5, checkpoint_dir=str(part), checkpoint_every=1)
    # Simulate a crash after epoch 2: drop the checkpoints of epochs 3 and 4.
    for path in checkpoint.list_checkpoints(str(part))[-2:]:
        os.remove(path)
    resumed = run(epochs=5, checkpoint_dir=str(part), resume=True)
    assert without_timing(resumed.history) == without_timing(full.history)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, full.params)
    jax.tree.map(np.testing.assert_array_equal, resumed.opt_state, full.opt_state)


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    full = run(epochs=5, checkpoint_dir=str(tmp_path / "full"))
    part = tmp_path / "part"
    run(epochs=3, checkpoint_dir=str(part))
    paths = checkpoint.list_checkpoints(str(part))
    with open(paths[-1], "r+b") as f:
        f.truncate(100)
    with pytest.warns(checkpoint.CheckpointWarning, match="corrupt.*older ckpt-000001"):
        resumed = run(epochs=5, checkpoint_dir=str(part), resume=True)
    assert without_timing(resumed.history) == without_timing(full.history)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, full.params)


def test_resume_from_a_different_model_is_refused(tmp_path):
    run(epochs=1, checkpoint_dir=str(tmp_path))
    other = Trainer(MLP((3, 5, 2), batch_norm=True, dropout=True), batch_size=64)
    with pytest.raises(checkpoint.CheckpointError, match=r"setup \(differing in: trainer\)"):
        fit(other, X, Y, hp=HP, epochs=2, validation=(XV, YV), checkpoint_dir=str(tmp_path),
            resume=True, progress=False)
    before = sorted(n for n in os.listdir(tmp_path) if n != checkpoint.LOCK)
    assert before == [os.path.basename(p) for p in checkpoint.list_checkpoints(str(tmp_path))]


def test_divergence_is_reported_with_last_finite_parameters():
    trainer = Trainer(MLP((3, 8, 2)), optimizer="sgd", batch_size=64)
    x = X * 1e3
    with pytest.raises(TrainingDiverged, match=r"NaN/inf at epoch \d+, step \d+ of 3") as info:
        fit(trainer, x, Y, hp={"learning_rate": 1e6}, epochs=20, progress=False)
    leaves = jax.tree.leaves(info.value.result.params)
    assert all(np.all(np.isfinite(leaf)) for leaf in leaves)


@pytest.mark.parametrize(
    "x, y, kwargs, message",
    [
        (X, Y[:-1], {}, "148 samples but y has 147"),
        (X[:, :2], Y, {}, "model expects 3"),
        (X[:0], Y[:0], {}, "empty"),
        (np.where(X > 2, np.nan, X), Y, {}, "NaN/inf"),
        (X, Y + 1, {}, r"y must lie in \[0, 2\)"),
        (X, Y.astype(float), {}, "integer class labels"),
        (X, Y, {"epochs": 0}, "epochs must be a positive integer"),
        (X, Y, {"hp": {"learning_rate": -1.0}}, "learning_rate must lie in"),
        (X, Y, {"hp": {"keep_prob": 0.0}}, "keep_prob must lie in"),
        (X, Y, {"hp": {"b1": 1.0}}, r"b1 must lie in \[0.0, 1.0\)"),
        (X, Y, {"hp": {"lr": 0.1}}, "unknown hyperparameter"),
        (X, Y, {"resume": True}, "needs checkpoint_dir"),
    ],
)
def test_bad_input(x, y, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        fit(TRAINER, x, y, progress=False, **kwargs)


def test_bad_trainer_settings():
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        Trainer(MLP((3, 2)), optimizer="adagrad")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Trainer(MLP((3, 2)), batch_size=0)
    with pytest.raises(ValueError, match="exceeds the 148 training samples"):
        fit(Trainer(MLP((3, 2)), batch_size=200, drop_remainder=True), X, Y, progress=False)


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam", "adamw"])
def test_rejected_step_leaves_every_optimizer_moment_unchanged(name):
    # The epoch rejects a step by zeroing the gradients and setting the EWA betas to 1; every
    # optimizer's floating-point state must then stay exactly as it was.
    params = {"W": jnp.arange(6.0).reshape(2, 3) - 2.0}
    grads = {"W": jnp.ones((2, 3)) * 0.3}
    trainer = Trainer(MLP((3, 2)), optimizer=name)
    hp = hyperparams(learning_rate=0.1)
    state = trainer.optimizer_for(hp).init(params)
    _, state = trainer.optimizer_for(hp).update(grads, state, params)
    frozen = {**hp, **{k: jnp.float32(1.0) for k in ("b1", "b2", "beta")}}
    zeros = jax.tree.map(jnp.zeros_like, grads)
    # Traced, as in the epoch (a concrete beta of 1 is rejected as user input).
    update = jax.jit(lambda h, s: trainer.optimizer_for(h).update(zeros, s, params))
    _, after = update(frozen, state)
    for old, new in zip(jax.tree.leaves(state), jax.tree.leaves(after)):
        if jnp.issubdtype(old.dtype, jnp.floating):
            np.testing.assert_array_equal(old, new)
