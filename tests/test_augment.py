"""jaxdl.layers.augment: each transform against a NumPy reference that redraws the same random
parameters from the same keys, the draws' statistics (flip rate, uniform crop and translation
offsets), the identity at evaluation, strengths varied under vmap over ``hp``, mixup, a
bit-exact resume of a fit with augmentation, and a sweep member equal to its solo fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxdl import checkpoint, layers
from jaxdl.early_stopping import EarlyStopping
from jaxdl.layers.augment import (
    GaussianNoise,
    RandomCrop,
    RandomFlip,
    RandomTranslation,
    mixup,
    shift,
)
from jaxdl.saved import load_model, save_model
from jaxdl.sweep import engine, run_sweep
from jaxdl.train import Batch, Keys, Trainer, TrainState, fit, trainer_hyperparams

KEY = jax.random.key(7)
RNG = np.random.default_rng(0)
IMAGES = RNG.normal(size=(6, 9, 7, 2)).astype(np.float32)  # H != W catches swapped axes
SIGNALS = RNG.normal(size=(6, 11, 3)).astype(np.float32)
ALL = [RandomFlip(0.5), RandomCrop(2), RandomTranslation(0.3, 0.2), GaussianNoise(0.5)]


def train_apply(layer, x, key=KEY, hp=None):
    return np.asarray(layer.apply({}, {}, jnp.asarray(x), train=True, key=key, hp=hp)[0])


# -- NumPy references: the random parameters are drawn with jax.random from the same keys ------
def ref_flip(key, x, p):
    flip = np.asarray(jax.random.bernoulli(key, p, (len(x),)))
    return np.where(flip.reshape((-1,) + (1,) * (x.ndim - 1)), np.flip(x, axis=x.ndim - 2), x)


def ref_shift(x, dy, dx):
    """``y[n, i, j] = x[n, i - dy, j - dx]`` by padding with the full size and slicing."""
    out = np.zeros_like(x)
    for n in range(len(x)):
        if x.ndim == 3:
            w = x.shape[1]
            padded = np.pad(x[n], ((w, w), (0, 0)))
            out[n] = padded[w - dx[n]: 2 * w - dx[n]]
        else:
            h, w = x.shape[1:3]
            padded = np.pad(x[n], ((h, h), (w, w), (0, 0)))
            out[n] = padded[h - dy[n]: 2 * h - dy[n], w - dx[n]: 2 * w - dx[n]]
    return out


def ref_crop(key, x, pad):
    """Pad ``pad`` zeros per side, cut the input size out at the drawn offsets."""
    axes = x.ndim - 2
    offsets = np.asarray(jax.random.randint(key, (len(x), axes), 0, 2 * pad + 1))
    out = np.zeros_like(x)
    for n in range(len(x)):
        if axes == 1:
            padded = np.pad(x[n], ((pad, pad), (0, 0)))
            out[n] = padded[offsets[n, 0]: offsets[n, 0] + x.shape[1]]
        else:
            padded = np.pad(x[n], ((pad, pad), (pad, pad), (0, 0)))
            oy, ox = offsets[n]
            out[n] = padded[oy: oy + x.shape[1], ox: ox + x.shape[2]]
    return out


def translation_draws(key, x, height_factor, width_factor):
    k_h, k_w = jax.random.split(key)
    m_w = int(np.floor(np.float32(width_factor) * x.shape[-2] + 1e-4))
    dx = np.asarray(jax.random.randint(k_w, (len(x),), -m_w, m_w + 1))
    if x.ndim == 3:
        return None, dx
    m_h = int(np.floor(np.float32(height_factor) * x.shape[1] + 1e-4))
    return np.asarray(jax.random.randint(k_h, (len(x),), -m_h, m_h + 1)), dx


def ref_translation(key, x, height_factor, width_factor):
    return ref_shift(x, *translation_draws(key, x, height_factor, width_factor))


def ref_noise(key, x, std):
    return x + np.float32(std) * np.asarray(jax.random.normal(key, x.shape, jnp.float32))


@pytest.mark.parametrize("x", [IMAGES, SIGNALS], ids=["2d", "1d"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_transform_matches_its_numpy_reference(x, seed):
    key = jax.random.key(seed)
    for p in (0.0, 0.5, 1.0):
        np.testing.assert_array_equal(train_apply(RandomFlip(p), x, key), ref_flip(key, x, p))
    for pad in (1, 4):
        np.testing.assert_array_equal(train_apply(RandomCrop(pad), x, key), ref_crop(key, x, pad))
    for fh, fw in ((0.3, 0.2), (0.7, 1.0), (0.0, 0.5)):
        got = train_apply(RandomTranslation(fh, fw), x, key)
        np.testing.assert_array_equal(got, ref_translation(key, x, fh, fw))
    np.testing.assert_allclose(
        train_apply(GaussianNoise(0.3), x, key), ref_noise(key, x, 0.3), rtol=1e-6, atol=1e-6
    )


def test_the_references_really_move_pixels():
    """Guards the references themselves: a 1-pixel shift of a known image, and a flip."""
    x = np.arange(12.0, dtype=np.float32).reshape(1, 3, 4, 1)
    want = np.array([[0, 0, 0, 0], [0, 0, 1, 2], [0, 4, 5, 6]], np.float32)
    np.testing.assert_array_equal(ref_shift(x, [1], [1])[0, :, :, 0], want)
    np.testing.assert_array_equal(np.asarray(shift(jnp.asarray(x), jnp.array([1]),
                                                   jnp.array([1])))[0, :, :, 0], want)
    np.testing.assert_array_equal(ref_flip(KEY, x, 1.0)[0, 0, :, 0], [3, 2, 1, 0])


@pytest.mark.parametrize("x", [IMAGES, SIGNALS], ids=["2d", "1d"])
def test_shapes_dtypes_and_the_identity_at_evaluation(x):
    pixels = (np.abs(x) * 40).astype(np.uint8)
    for layer in ALL:
        shape, params, state = layer.init(None, x.shape[1:])
        assert shape == x.shape[1:] and params == {} and state == {}
        assert layer.draws_key(True) and not layer.draws_key(False)
        for data in (x, pixels):
            for train in (True, False):
                y, new_state = layer.apply({}, {}, jnp.asarray(data), train=train, key=KEY)
                assert y.shape == x.shape and y.dtype == jnp.float32 and new_state == {}
            # evaluation: the input itself (as float), no key needed
            y, _ = layer.apply({}, {}, jnp.asarray(data), train=False)
            np.testing.assert_array_equal(np.asarray(y), data.astype(np.float32))
        half = jnp.asarray(x, jnp.bfloat16)
        assert layer.apply({}, {}, half, train=True, key=KEY)[0].dtype == jnp.bfloat16
    # uint8 pixels are transformed as their float32 values
    np.testing.assert_array_equal(train_apply(RandomCrop(2), pixels),
                                  ref_crop(KEY, pixels.astype(np.float32), 2))


def test_an_augmented_model_is_the_plain_model_at_evaluation_and_round_trips():
    aug = layers.Sequential(RandomFlip(), RandomCrop(2), RandomTranslation(0.2, 0.2),
                            GaussianNoise(0.1), layers.Conv(3, (3, 3)), layers.Flatten(),
                            layers.Dense(2), input_shape=(9, 7, 2))
    plain = layers.Sequential(*aug.layers[4:], input_shape=(9, 7, 2))
    assert aug.hyperparameters == {"flip_prob", "translate_factor", "noise_std"}
    assert layers.from_config(aug.to_config()) == aug
    params, state = aug.init(KEY)
    params_plain, state_plain = plain.init(KEY)
    jax.tree.map(np.testing.assert_array_equal, params[4:], params_plain)
    x = jnp.asarray(IMAGES)
    got = aug.apply(params, state, x, train=False)[0]  # no key: nothing is drawn at evaluation
    np.testing.assert_array_equal(got, plain.apply(params_plain, state_plain, x, train=False)[0])
    trained = aug.apply(params, state, x, train=True, key=KEY)[0]
    assert not np.allclose(trained, got)


def test_an_augmented_model_saves_and_loads(tmp_path):
    model = layers.Sequential(RandomFlip(0.3), RandomCrop(1), layers.Flatten(), layers.Dense(2),
                              input_shape=(9, 7, 2))
    params, state = model.init(KEY)
    saved = load_model(save_model(tmp_path / "m", model, params, state))
    assert saved.model == model
    np.testing.assert_array_equal(saved.outputs(IMAGES),
                                  model.apply(params, state, jnp.asarray(IMAGES), train=False)[0])


def test_flip_rate_is_within_binomial_bounds():
    p, n_keys, batch = 0.3, 200, 100
    x = jnp.broadcast_to(jnp.arange(5.0)[None, None, :, None], (batch, 2, 5, 1))
    keys = jax.random.split(jax.random.key(11), n_keys)
    ys = jax.vmap(lambda k: RandomFlip(p).apply({}, {}, x, train=True, key=k)[0])(keys)
    first = np.asarray(ys[:, :, 0, 0, 0]).ravel()
    assert set(np.unique(first)) <= {0.0, 4.0}  # each example is either flipped or not
    total = first.size
    rate = np.mean(first == 4.0)
    assert abs(rate - p) < 4.5 * np.sqrt(p * (1 - p) / total), rate
    # the examples of one batch draw independently (not one coin for the whole batch)
    per_batch = np.mean(np.asarray(ys[:, :, 0, 0, 0]) == 4.0, axis=1)
    assert 0.0 < per_batch.min() and per_batch.max() < 1.0


def offsets_of(layer, size, n_keys=100, batch=100, seed=3):
    """The shift ``(dy, dx)`` each example got, read off where a marked centre pixel went."""
    x = np.zeros((batch, size, size, 1), np.float32)
    x[:, size // 2, size // 2] = 1.0
    keys = jax.random.split(jax.random.key(seed), n_keys)
    # one compiled program (the same draws as op-by-op vmap, 2-3x faster here)
    ys = np.asarray(jax.jit(jax.vmap(lambda k: layer.apply({}, {}, jnp.asarray(x), train=True,
                                                           key=k)[0]))(keys))
    ys = ys.reshape(-1, size, size)
    assert np.all(ys.sum(axis=(1, 2)) == 1.0)  # the pixel stayed inside and moved whole
    rows, cols = np.nonzero(ys)[1:]
    return rows - size // 2, cols - size // 2


@pytest.mark.parametrize("layer,m", [(RandomCrop(4), 4), (RandomTranslation(0.25, 0.25), 3)])
def test_crop_and_translation_offsets_are_uniform_over_their_choices(layer, m):
    dy, dx = offsets_of(layer, size=12)
    choices = 2 * m + 1
    for d in (dy, dx):
        counts = np.bincount(d + m, minlength=choices)
        assert len(counts) == choices  # nothing beyond [-m, m]
        assert stats.chisquare(counts).pvalue > 1e-3, counts
    joint = np.bincount((dy + m) * choices + dx + m, minlength=choices**2)
    assert stats.chisquare(joint).pvalue > 1e-3  # dy and dx are independent


def test_strengths_vary_under_vmap_over_hp():
    x = jnp.asarray(IMAGES)

    def run(layer, name, values):
        hp = {name: jnp.asarray(values, jnp.float32)}
        out = jax.jit(jax.vmap(lambda h: layer.apply({}, {}, x, train=True, key=KEY, hp=h)[0]))
        return np.asarray(out(hp))

    flips = run(RandomFlip(0.5), "flip_prob", [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(flips[0], IMAGES)
    np.testing.assert_array_equal(flips[1], IMAGES[:, :, ::-1])
    np.testing.assert_array_equal(flips[2], ref_flip(KEY, IMAGES, 0.5))
    noisy = run(GaussianNoise(0.1), "noise_std", [0.0, 2.0])
    np.testing.assert_array_equal(noisy[0], IMAGES)
    np.testing.assert_allclose(noisy[1], ref_noise(KEY, IMAGES, 2.0), rtol=1e-6, atol=1e-5)
    moved = run(RandomTranslation(0.0, 0.0), "translate_factor", [0.0, 0.5])
    np.testing.assert_array_equal(moved[0], IMAGES)
    np.testing.assert_array_equal(moved[1], ref_translation(KEY, IMAGES, 0.5, 0.5))
    # without hp the field is used
    np.testing.assert_array_equal(train_apply(RandomFlip(1.0), IMAGES), IMAGES[:, :, ::-1])


def test_bad_input_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match=r"p must lie in \[0.0, 1.0\]"):
        RandomFlip(1.5)
    with pytest.raises(TypeError, match="p must be a number, got None"):
        RandomFlip(None)
    with pytest.raises(ValueError, match="std must be finite"):
        GaussianNoise(float("inf"))
    with pytest.raises(ValueError, match="pad must be a positive int"):
        RandomCrop(0)
    assert RandomCrop(np.int64(3)).to_config() == {"type": "RandomCrop", "pad": 3}
    with pytest.raises(ValueError, match="width_factor must lie"):
        RandomTranslation(0.1, 2.0)
    with pytest.raises(ValueError, match="std must lie"):
        GaussianNoise(-1.0)
    with pytest.raises(ValueError, match=r"channels-last.*\(64,\).*reshape"):
        layers.Sequential(RandomFlip(), layers.Dense(2), input_shape=(64,))
    with pytest.raises(ValueError, match="RandomCrop with train=True needs key"):
        RandomCrop(2).apply({}, {}, jnp.asarray(IMAGES), train=True)
    with pytest.raises(ValueError, match=r"hp\['flip_prob'\] must lie"):
        RandomFlip().apply({}, {}, jnp.asarray(IMAGES), train=True, key=KEY,
                           hp={"flip_prob": 2.0})
    with pytest.raises(ValueError, match="y_onehot must be .batch, classes."):
        mixup(KEY, IMAGES, np.arange(6), 0.2)
    with pytest.raises(ValueError, match="alpha must lie"):
        mixup(KEY, IMAGES, np.eye(6), 0.0)


@pytest.mark.slow
def test_mixup_matches_numpy_and_trains_in_a_step_of_your_own():
    y = np.eye(3, dtype=np.float32)[np.arange(6) % 3]
    for alpha in (0.2, 1.0):
        xm, ym = mixup(KEY, jnp.asarray(IMAGES), jnp.asarray(y), alpha)
        k_lam, k_perm = jax.random.split(KEY)
        lam = np.asarray(jax.random.beta(k_lam, alpha, alpha, (6,)))
        perm = np.asarray(jax.random.permutation(k_perm, 6))
        want_x = lam[:, None, None, None] * IMAGES + (1 - lam[:, None, None, None]) * IMAGES[perm]
        np.testing.assert_allclose(xm, want_x, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(ym, lam[:, None] * y + (1 - lam[:, None]) * y[perm], atol=1e-6)
        assert sorted(perm) == list(range(6)) and np.ptp(lam) > 0  # one weight per example
    # the loop of docs/topics/augmentation.md: mixup each batch, then Trainer.train_step
    model = layers.Sequential(layers.Flatten(), layers.Dense(3), input_shape=(9, 7, 2))
    trainer = Trainer(model, batch_size=6)
    hp = trainer_hyperparams(trainer, {"learning_rate": 0.05})
    keys = Keys.from_seed(0)
    ts = trainer.init(keys.init, hp)

    @jax.jit
    def step(ts, x, y, key):
        k_mix, k_model = jax.random.split(key)
        xm, ym = mixup(k_mix, x, jax.nn.one_hot(y, 3), 0.2)
        params, model_state, opt_state, cost, _ = trainer.train_step(
            ts.params, ts.model_state, ts.opt_state, Batch(xm, ym), k_model, hp, num_examples=6
        )
        return TrainState(params, model_state, opt_state, ts.diverged_at), cost

    x, labels = jnp.asarray(IMAGES), jnp.arange(6) % 3
    before = float(trainer.evaluate(ts, hp, x, labels)["loss"])
    for i in range(30):
        ts, cost = step(ts, x, labels, jax.random.fold_in(KEY, i))
        assert np.isfinite(float(cost))
    assert float(trainer.evaluate(ts, hp, x, labels)["loss"]) < 0.5 * before


# -- inside fit and a sweep --------------------------------------------------------------------
DIGITS = RNG.random((40, 6, 6, 1)).astype(np.float32)
LABELS = (DIGITS[:, :3].mean(axis=(1, 2, 3)) > DIGITS[:, 3:].mean(axis=(1, 2, 3))).astype(np.int32)
SMALL_CNN = layers.Sequential(
    RandomFlip(0.5), RandomTranslation(0.2, 0.2), GaussianNoise(0.05),
    layers.Conv(4, (3, 3)), layers.Relu(), layers.Flatten(), layers.Dense(2),
    input_shape=(6, 6, 1),
)
CNN_TRAINER = Trainer(SMALL_CNN, batch_size=16)  # 40 = 16 + 16 + 8 (a padded batch)
VALIDATION = (DIGITS[:12], LABELS[:12])


@pytest.mark.slow
def test_resume_with_augmentation_is_bit_exact(tmp_path):
    hp = {"learning_rate": 0.05, "flip_prob": 0.4}

    def run(epochs, **kwargs):
        return fit(CNN_TRAINER, DIGITS, LABELS, hp=hp, epochs=epochs, seed=5,
                   validation=VALIDATION, progress=False, **kwargs)

    full = run(4)
    run(2, checkpoint_dir=str(tmp_path))
    assert len(checkpoint.list_checkpoints(str(tmp_path))) >= 1
    resumed = run(4, checkpoint_dir=str(tmp_path), resume=True)
    timeless = {k: v for k, v in full.history.items() if k != "epoch_time"}  # wall clock
    assert {k: resumed.history[k] for k in timeless} == timeless
    jax.tree.map(np.testing.assert_array_equal, resumed.params, full.params)
    jax.tree.map(np.testing.assert_array_equal, resumed.opt_state, full.opt_state)
    # the augmentation's draws matter: another flip probability trains other weights
    other = fit(CNN_TRAINER, DIGITS, LABELS, hp={**hp, "flip_prob": 0.9}, epochs=4, seed=5,
                validation=VALIDATION, progress=False)
    assert not np.allclose(other.params[3]["W"], full.params[3]["W"])


@pytest.mark.slow
def test_sweep_member_with_augmentation_equals_its_solo_fit():
    configs = [
        {"learning_rate": 0.05, "flip_prob": 0.2, "noise_std": 0.1, "translate_factor": 0.0},
        {"learning_rate": 0.02, "flip_prob": 0.8, "noise_std": 0.0, "translate_factor": 0.4},
    ]
    data = (DIGITS, LABELS, *VALIDATION)
    results = run_sweep(configs, data, trainer=CNN_TRAINER, epochs=3, seed=2, patience=None)
    for i in range(len(configs)):
        solo = fit(CNN_TRAINER, DIGITS, LABELS, validation=VALIDATION, hp=results.hp[i],
                   epochs=3, seed=2, early_stopping=EarlyStopping(engine.NEVER), progress=False)
        for a, b in zip(jax.tree.leaves(results.params[i]), jax.tree.leaves(solo.params),
                        strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(results.histories[i]["loss"], solo.history["loss"],
                                   rtol=2e-5, atol=2e-6)
    assert not np.allclose(results.params[0][3]["W"], results.params[1][3]["W"])
