"""Super-resolution: depth_to_space by hand, PSNR by hand and against TF, the upsampler's shapes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from homl_cv import superres as sr


def test_sub_pixel_layer_by_hand():
    # 1 x 1 position with 4 channels (one colour channel, factor 2) -> a 2 x 2 block, read row by row
    x = np.array([10, 20, 30, 40], np.float32).reshape(1, 1, 1, 4)
    np.testing.assert_array_equal(np.asarray(sr.SubPixelUpsampling(2)(x))[0, :, :, 0], [[10, 20], [30, 40]])
    # three colour channels: output pixel (a, b), channel c takes input channel (a * 2 + b) * 3 + c
    y = np.arange(12, dtype=np.float32).reshape(1, 1, 1, 12)
    out = np.asarray(sr.SubPixelUpsampling(2)(y))[0]
    for a in range(2):
        for b in range(2):
            np.testing.assert_array_equal(out[a, b], [(a * 2 + b) * 3 + c for c in range(3)])
    with pytest.raises(ValueError, match="factor=1"):
        sr.SubPixelUpsampling(1)


def test_psnr_by_hand_and_against_tf():
    ref = np.zeros((2, 4, 4, 3))
    noisy = ref.copy()
    noisy[0] += 0.1          # MSE 0.01 -> 20 dB
    noisy[1, 0, 0, 0] = 1.0  # MSE 1/48 -> 10 log10(48) dB
    assert sr.psnr(noisy, ref) == pytest.approx((20 + 10 * np.log10(48)) / 2)
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 8, 8, 3)), rng.random((3, 8, 8, 3))
    assert sr.psnr(a, b) == pytest.approx(float(tf.reduce_mean(tf.image.psnr(a, b, max_val=1.0))), rel=1e-5)
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W, C\); got shape \(8, 8, 3\)"):
        sr.psnr(a[0], b[0])


def test_upsampler_shapes_and_residual_start_is_bicubic(tmp_path):
    model = sr.build_subpixel_upsampler(factor=2, filters=8)
    low = np.random.default_rng(1).random((2, 12, 10, 3)).astype(np.float32)
    out = np.asarray(model(low))
    assert out.shape == (2, 24, 20, 3)
    # the last convolution starts at zero: the untrained residual model *is* bicubic upsampling
    np.testing.assert_allclose(np.clip(out, 0, 1), sr.bicubic_upsample(low, 2), atol=1e-5)
    assert model.get_layer("depth_to_space").output.shape[-1] == 3
    plain = sr.build_subpixel_upsampler(factor=3, filters=8, residual=False)
    assert plain(low).shape == (2, 36, 30, 3)
    path = tmp_path / "espcn.keras"
    plain.save(path)
    np.testing.assert_allclose(np.asarray(keras.models.load_model(path)(low)), np.asarray(plain(low)), atol=1e-6)


def test_pairs_split_the_photos_and_score_bicubic():
    train = sr.make_superres_pairs("train", num_crops=12, crop_size=16)
    test = sr.make_superres_pairs("test", num_crops=6, crop_size=16)
    assert train.low.shape == (12, 8, 8, 3) and train.high.shape == (12, 16, 16, 3)
    assert test.low.shape == (6, 8, 8, 3) and 0 <= test.low.min() and test.high.max() <= 1
    scores = sr.evaluate_superres(sr.build_subpixel_upsampler(filters=8), test)
    assert scores.gain == pytest.approx(0.0, abs=1e-3)   # untrained residual model = bicubic
    assert 20 < scores.bicubic_psnr < 45
    assert "gain +0.00 dB" in scores.summary() or "gain -0.00 dB" in scores.summary()
    with pytest.raises(ValueError, match="part='valid'"):
        sr.make_superres_pairs("valid")
    with pytest.raises(ValueError, match=r"crop_size=15 must be a positive multiple of 2 \(factor=2\), e.g. 16\."):
        sr.make_superres_pairs(crop_size=15)


def test_train_superres_returns_the_model_and_its_history():
    from homl_cv import training

    pairs = sr.make_superres_pairs("train", num_crops=8, crop_size=8)
    model = sr.build_subpixel_upsampler(filters=4)
    result = sr.train_superres(model, pairs, epochs=2, batch_size=4, verbose=0)
    assert isinstance(result, training.TrainedModel) and result.model is model
    assert len(result.history["loss"]) == 2


@pytest.mark.parametrize("max_value", [1.0, 2.0, 255.0])
def test_psnr_against_skimage_at_several_data_ranges(max_value):
    from skimage.metrics import peak_signal_noise_ratio

    rng = np.random.default_rng(3)
    ref = rng.random((2, 6, 5, 3)) * max_value
    noisy = np.clip(ref + rng.normal(0, 0.05 * max_value, ref.shape), 0, max_value)
    noisy[1] = np.clip(ref[1] + rng.normal(0, 0.2 * max_value, ref[1].shape), 0, max_value)  # unequal errors
    # skimage scores one image; the package averages the per-image PSNRs (not the PSNR of the mean MSE)
    expected = np.mean([peak_signal_noise_ratio(r, n, data_range=max_value) for r, n in zip(ref, noisy)])
    assert sr.psnr(noisy, ref, max_value=max_value) == pytest.approx(expected, rel=1e-9)


def test_bicubic_layer_matches_keras_upsampling_and_the_model_predicts_at_two_sizes():
    x = np.random.default_rng(2).random((2, 7, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(sr.BicubicUpsampling(2)(x)),
                                  np.asarray(keras.layers.UpSampling2D(2, interpolation="bicubic")(x)))
    model = sr.build_subpixel_upsampler(factor=2, filters=4)
    # jit_compile=True is what Keras' "auto" picks on a GPU; before, predict failed inside UpSampling2D there
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile(loss="mse", jit_compile=True)
    for size in [(8, 8), (12, 10), (5, 9)]:
        low = np.random.default_rng(sum(size)).random((3, *size, 3)).astype(np.float32)
        out = model.predict(low, verbose=0)
        assert out.shape == (3, 2 * size[0], 2 * size[1], 3)
        np.testing.assert_allclose(np.clip(out, 0, 1), sr.bicubic_upsample(low, 2), atol=1e-5)


# ------------------------------------------------------------------ mutation testing (issue 23)
def test_psnr_of_an_exact_image_is_inf_without_a_warning():
    import warnings

    ref = np.full((2, 2, 2, 1), 0.5)
    noisy = ref.copy()
    noisy[1] += 0.1                                  # one exact image, one at 20 dB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sr.psnr(ref, ref) == np.inf
        assert sr.psnr(noisy, ref) == np.inf           # the mean over images is inf too
    assert sr.psnr(noisy[1:], ref[1:]) == pytest.approx(20.0)
    assert sr.psnr(noisy[1:], ref[1:], max_value=10.0) == pytest.approx(40.0)   # max_value squared
    with pytest.raises(ValueError, match=r"images \(1, 2, 2, 1\) and reference \(2, 2, 2, 1\)"):
        sr.psnr(noisy[1:], ref)


def test_bicubic_upsample_by_factor_three_is_tf_resize_clipped():
    x = np.zeros((2, 4, 5, 3), np.float32)
    x[:, 1:3, 1:3] = 1.0                             # a sharp square: bicubic over- and undershoots
    raw = tf.image.resize(x, (12, 15), method="bicubic").numpy()
    assert raw.max() > 1 and raw.min() < 0
    np.testing.assert_allclose(sr.bicubic_upsample(x, 3), np.clip(raw, 0, 1))
    assert sr.bicubic_upsample(x).shape == (2, 8, 10, 3)                      # default factor 2
    assert sr.bicubic_upsample(x).dtype == np.float32


def test_layers_symbolic_shapes_and_channel_check():
    layer = sr.SubPixelUpsampling(3)
    assert tuple(layer(keras.Input((None, 5, 18))).shape) == (None, None, 15, 2)
    assert tuple(layer(keras.Input((4, None, 9))).shape) == (None, 12, None, 1)
    assert layer.compute_output_shape((None, 4, 5, None)) == (None, 12, 15, None)
    with pytest.raises(ValueError, match=r"SubPixelUpsampling\(3\) needs channels divisible by 9; got 12"):
        layer.compute_output_shape((None, 4, 5, 12))
    bicubic = sr.BicubicUpsampling(3)
    assert tuple(bicubic(keras.Input((None, 5, 2))).shape) == (None, None, 15, 2)
    assert bicubic.compute_output_shape((None, 4, None, 2)) == (None, 12, None, 2)
    assert bicubic.supports_jit is False
    x = np.random.default_rng(5).random((1, 3, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(bicubic(x)), tf.image.resize(x, (9, 12), method="bicubic").numpy())
    for cls in (sr.SubPixelUpsampling, sr.BicubicUpsampling):
        assert cls.from_config(cls(4).get_config()).factor == 4


def test_evaluate_superres_clips_the_model_and_uses_the_pairs_factor(capsys):
    rng = np.random.default_rng(6)
    low = rng.random((3, 4, 4, 3)).astype(np.float32)
    high = rng.random((3, 12, 12, 3)).astype(np.float32)
    pairs = sr.SuperResPairs(low, high, factor=3)
    model = keras.Sequential([keras.Input((4, 4, 3)), sr.BicubicUpsampling(3), keras.layers.Rescaling(3.0)])
    predicted = np.clip(3.0 * tf.image.resize(low, (12, 12), method="bicubic").numpy(), 0, 1)
    capsys.readouterr()
    scores = sr.evaluate_superres(model, pairs)
    assert capsys.readouterr().out == ""                     # predict without a progress bar
    assert scores.model_psnr == pytest.approx(sr.psnr(predicted, high), rel=1e-5)
    assert scores.bicubic_psnr == pytest.approx(sr.psnr(sr.bicubic_upsample(low, 3), high), rel=1e-6)
    text = sr.SuperResScores(21.5, 20.25).summary()
    assert sr.SuperResScores(21.5, 20.25).gain == 1.25
    assert text == "PSNR: sub-pixel CNN 21.50 dB | bicubic 20.25 dB | gain +1.25 dB"
