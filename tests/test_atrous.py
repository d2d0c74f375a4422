"""Atrous convolution and ASPP (chapter 06): dilation = zero-inserted kernel, receptive fields measured."""

import keras
import numpy as np
import pytest

from homl_cv import atrous, config


@pytest.mark.parametrize("rate, padding", [(2, "valid"), (3, "same"), (1, "same")])
def test_dilation_rate_equals_the_zero_inserted_kernel(rate, padding):
    config.set_seeds(0)
    x = np.random.default_rng(0).normal(size=(2, 17, 15, 3)).astype("float32")
    dilated = keras.layers.Conv2D(4, 3, dilation_rate=rate, padding=padding)
    expected = np.asarray(dilated(x))
    kernel, bias = dilated.get_weights()
    big = atrous.dilate_kernel(kernel, rate)
    assert big.shape == (2 * rate + 1, 2 * rate + 1, 3, 4)
    plain = keras.layers.Conv2D(4, big.shape[0], padding=padding)
    plain.build(x.shape)
    plain.set_weights([big, bias])
    np.testing.assert_allclose(np.asarray(plain(x)), expected, rtol=1e-5, atol=1e-5)
    if rate > 1:  # the zeros must sit between the taps: a kernel padded at the border would differ
        shifted = np.zeros_like(big)
        shifted[:3, :3] = kernel
        plain.set_weights([shifted, bias])
        assert not np.allclose(np.asarray(plain(x)), expected, atol=1e-3)


def test_dilate_kernel_places_the_taps():
    kernel = np.arange(4, dtype="float32").reshape(2, 2, 1, 1) + 1
    np.testing.assert_array_equal(atrous.dilate_kernel(kernel, 3)[..., 0, 0],
                                  [[1, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]])
    assert atrous.dilated_span(3, 6) == 13 and atrous.dilated_span(5, 1) == 5


def _by_hand_parameters(c, f, rates, pooling):
    branches = 1 + len(rates) + pooling
    return c * f + 9 * c * f * len(rates) + c * f * pooling + branches * f * f + 4 * f * (branches + 1)


@pytest.mark.parametrize("rates, pooling", [((2, 4), True), ((1, 3, 5), False)])
def test_aspp_shape_and_parameters(rates, pooling):
    aspp = atrous.ASPP(6, rates=rates, image_pooling=pooling)
    out = aspp(np.zeros((3, 12, 10, 5), "float32"))
    assert tuple(out.shape) == (3, 12, 10, 6)
    assert aspp.count_params() == _by_hand_parameters(5, 6, rates, pooling)


@pytest.mark.parametrize("rates", [(1, 2), (2, 4), (3,)])
def test_aspp_receptive_field_matches_the_impulse_response(rates):
    config.set_seeds(1)
    size = 2 * 2 * max(rates) + 5  # room on both sides of the centre
    layer = atrous.ASPP(4, rates=rates, image_pooling=False, activation=None)
    layer(np.zeros((1, size, size, 2), "float32"))
    measured = atrous.impulse_response_extent(layer, size, channels=2)
    field = atrous.aspp_receptive_field(rates, image_pooling=False)
    assert measured == (field, field) == (2 * max(rates) + 1,) * 2


def test_image_pooling_makes_the_field_the_whole_image():
    config.set_seeds(2)
    layer = atrous.ASPP(4, rates=(1,), image_pooling=True, activation=None)
    layer(np.zeros((1, 11, 11, 1), "float32"))
    assert atrous.impulse_response_extent(layer, 11) == (11, 11)
    assert atrous.aspp_receptive_field((1,), image_size=(11, 11)) == (11, 11)
    assert atrous.aspp_receptive_field((1,), image_pooling=False) == 3


def test_config_round_trip_and_save_reload(tmp_path):
    layer = atrous.ASPP(8, rates=(2, 3), image_pooling=False, activation="elu")
    config_dict = layer.get_config()
    assert atrous.ASPP.from_config(config_dict).get_config() == config_dict
    config.set_seeds(3)
    inputs = keras.Input((12, 12, 3))
    model = keras.Model(inputs, atrous.ASPP(4, rates=(2,))(inputs))
    x = np.random.default_rng(4).uniform(size=(2, 12, 12, 3)).astype("float32")
    model(x, training=True)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "aspp.keras")
    reloaded = keras.models.load_model(tmp_path / "aspp.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: atrous.ASPP(0), r"filters=0 must be a positive integer"),
    (lambda: atrous.ASPP(4, rates=()), r"rates=\(\) must be a non-empty list"),
    (lambda: atrous.ASPP(4, rates=(2, 0)), r"rates=0 must be a positive integer"),
    (lambda: atrous.dilate_kernel(np.ones((3, 3)), 2), r"kernel must have shape \(kh, kw, C_in, C_out\)"),
    (lambda: atrous.dilate_kernel(np.ones((3, 3, 1, 1)), 0), r"rate=0 must be a positive integer"),
    (lambda: atrous.aspp_receptive_field((6,)), r"image_size=None: with image_pooling=True"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
