"""homl_cv.conv: the arithmetic against Keras/TensorFlow and the book's numbers,
the teaching versions against the library, and DepthwiseMaxPool2D."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from homl_cv import conv
from homl_cv.conv import DepthwiseMaxPool2D

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------- teaching versions
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("strides", [1, 2, 3, (1, 2)])
@pytest.mark.parametrize("hw, kernel, c_in, c_out", [
    ((7, 9), (3, 3), 1, 2),
    ((13, 13), (6, 6), 3, 4),   # even kernel: TF puts the odd padding cell at the bottom/right
    ((10, 6), (2, 5), 2, 3),
])
def test_conv2d_numpy_equals_tf_nn_conv2d(hw, kernel, c_in, c_out, strides, padding):
    images = RNG.normal(size=(2, *hw, c_in)).astype(np.float32)
    kernels = RNG.normal(size=(*kernel, c_in, c_out)).astype(np.float32)
    expected = tf.nn.conv2d(images, kernels, strides=strides, padding=padding.upper()).numpy()
    got = conv.conv2d_numpy(images, kernels, strides, padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode, layer", [("max", keras.layers.MaxPooling2D),
                                         ("avg", keras.layers.AveragePooling2D)])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("pool, stride", [(2, None), (3, 2), ((2, 3), 1), (3, 3)])
def test_pool2d_numpy_equals_keras_pooling(mode, layer, padding, pool, stride):
    images = RNG.normal(size=(2, 8, 11, 3)).astype(np.float32)
    expected = layer(pool_size=pool, strides=stride, padding=padding)(images).numpy()
    got = conv.pool2d_numpy(images, pool, stride, padding, mode)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_line_filters_respond_to_lines_of_their_direction():
    filters = conv.line_filters()
    assert filters.shape == (7, 7, 3, 2) and filters.sum() == 2 * 7 * 3
    image = np.zeros((1, 21, 21, 3), np.float32)
    image[0, :, 10, :] = 1.0  # one vertical white line, column 10
    maps = tf.nn.conv2d(image, filters, strides=1, padding="SAME").numpy()[0]
    vertical, horizontal = maps[..., 0], maps[..., 1]
    assert vertical.max() == pytest.approx(21.0) and set(np.argmax(vertical, axis=1)) == {10}
    assert horizontal.max() == pytest.approx(3.0)  # a horizontal filter sees one pixel per channel


# ----------------------------------------------------------------------------- sizes
SIZE_GRID = list(itertools.product([5, 6, 7, 12, 13], [1, 2, 3, 6], [1, 2, 3, 5], ["same", "valid"]))


@pytest.mark.parametrize("layer_cls", [keras.layers.Conv2D, keras.layers.MaxPooling2D])
def test_output_size_matches_keras_layers(layer_cls):
    checked = 0
    for n, kernel, stride, padding in SIZE_GRID:
        if padding == "valid" and kernel > n:
            continue
        if layer_cls is keras.layers.Conv2D:
            layer = layer_cls(1, (kernel, 1), strides=(stride, 1), padding=padding)
        else:
            layer = layer_cls((kernel, 1), strides=(stride, 1), padding=padding)
        out = layer(np.zeros((1, n, 1, 1), np.float32))
        assert out.shape[1] == conv.output_size(n, kernel, stride, padding), (n, kernel, stride, padding)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("n, kernel, dilation, padding", [
    (13, 3, 2, "valid"), (13, 3, 4, "valid"), (20, 5, 3, "valid"), (13, 3, 4, "same"), (9, 2, 3, "same"),
])
def test_output_size_with_dilation_matches_keras(n, kernel, dilation, padding):
    layer = keras.layers.Conv2D(1, (kernel, 1), dilation_rate=(dilation, 1), padding=padding)
    out = layer(np.zeros((1, n, 1, 1), np.float32))
    assert out.shape[1] == conv.output_size(n, kernel, 1, padding, dilation)


def test_output_size_book_example_and_2d_helper():
    assert conv.output_size(13, 6, stride=5, padding="same") == 3
    assert conv.output_size(13, 6, stride=5, padding="valid") == 2
    assert conv.same_padding(13, 6, stride=5) == (1, 2)
    assert conv.output_shape_2d((200, 300), 3, strides=2, padding="same") == (100, 150)
    assert conv.output_shape_2d((28, 28), (5, 3), strides=(1, 2)) == (24, 13)


@pytest.mark.parametrize("kernels, strides", [([3, 3, 3], None), ([5, 3, 3], [2, 2, 1]), ([7, 2, 3], [2, 2, 1])])
def test_receptive_field_equals_gradient_footprint(kernels, strides):
    strides = strides or [1] * len(kernels)
    model = keras.Sequential([keras.Input((40, 40, 1))] + [
        keras.layers.Conv2D(1, k, strides=s, kernel_initializer="ones", use_bias=False)
        for k, s in zip(kernels, strides)
    ])
    x = tf.ones((1, 40, 40, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        unit = model(x)[0, 1, 1, 0]  # one unit of the top layer
    grad = tape.gradient(unit, x).numpy()[0, :, :, 0]
    rows = np.flatnonzero(grad.any(axis=1))
    assert rows.max() - rows.min() + 1 == conv.receptive_field(kernels, strides)


# ----------------------------------------------------------------------------- costs
def test_the_books_numbers():
    assert conv.conv2d_params(5, 5, 3, 200) == 15_200
    assert conv.conv2d_mults(150, 100, 5, 5, 3, 200) == 225_000_000
    assert conv.output_memory(150, 100, 200) == 12_000_000  # 12 MB
    assert conv.output_memory(150, 100, 200, batch=100) == 1_200_000_000  # 1.2 GB
    assert conv.output_memory(150, 100, 200) / conv.MiB == pytest.approx(11.44, abs=0.01)
    assert conv.output_memory(150, 100, 200, dtype="float16") == 6_000_000
    assert conv.output_memory(150, 100, 200, dtype="bfloat16") == 6_000_000


@pytest.mark.parametrize("kh, kw, c_in, c_out, bias", [(5, 5, 3, 200, True), (3, 1, 7, 4, False), (1, 1, 64, 32, True)])
def test_conv2d_params_equals_keras_count_params(kh, kw, c_in, c_out, bias):
    layer = keras.layers.Conv2D(c_out, (kh, kw), use_bias=bias)
    layer.build((None, 16, 16, c_in))
    assert conv.conv2d_params(kh, kw, c_in, c_out, bias) == layer.count_params()


@pytest.mark.parametrize("kh, kw, c_in, c_out, multiplier, bias", [
    (3, 3, 64, 128, 1, True), (5, 3, 3, 10, 2, False), (3, 3, 32, 32, 4, True),
])
def test_depthwise_and_separable_params_equal_keras(kh, kw, c_in, c_out, multiplier, bias):
    depthwise = keras.layers.DepthwiseConv2D((kh, kw), depth_multiplier=multiplier, use_bias=bias)
    separable = keras.layers.SeparableConv2D(c_out, (kh, kw), depth_multiplier=multiplier, use_bias=bias)
    for layer in (depthwise, separable):
        layer.build((None, 16, 16, c_in))
    assert conv.depthwise_conv2d_params(kh, kw, c_in, multiplier, bias) == depthwise.count_params()
    assert conv.separable_conv2d_params(kh, kw, c_in, c_out, multiplier, bias) == separable.count_params()


def test_conv2d_mults_equals_the_numpy_loop_count():
    # every output value of conv2d_numpy is one dot product of kh*kw*c_in terms
    out = conv.conv2d_numpy(np.ones((1, 9, 7, 2)), np.ones((3, 2, 2, 5)), strides=2, padding="same")
    assert out.shape == (1, 5, 4, 5)
    assert conv.conv2d_mults(5, 4, 3, 2, 2, 5) == out.size * 3 * 2 * 2 == 1200


# ----------------------------------------------------------------------------- layers
def test_depthwise_max_pool_equals_tf_depth_max_pool():
    x = RNG.normal(size=(2, 5, 7, 12)).astype(np.float32)
    for k in (1, 2, 3, 4):
        with tf.device("/CPU:0"):  # tf.nn.max_pool's depth window runs on the CPU only
            expected = tf.nn.max_pool(x, ksize=(1, 1, 1, k), strides=(1, 1, 1, k), padding="VALID")
        got = DepthwiseMaxPool2D(pool_size=k)(x)
        assert got.shape == (2, 5, 7, 12 // k)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), expected.numpy())


def test_depthwise_max_pool_saves_and_reloads(tmp_path):
    model = keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(6, 3, padding="same"),
        DepthwiseMaxPool2D(pool_size=3, name="depth_pool"),
    ])
    assert model.output_shape == (None, None, None, 2)
    x = RNG.normal(size=(2, 9, 11, 3)).astype(np.float32)
    path = tmp_path / "depth_pool.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.get_layer("depth_pool"), DepthwiseMaxPool2D)
    assert reloaded.get_layer("depth_pool").get_config()["pool_size"] == 3
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_global_average_pooling_equals_reduce_mean():
    x = RNG.normal(size=(3, 6, 5, 4)).astype(np.float32)
    got = keras.layers.GlobalAveragePooling2D()(x).numpy()
    np.testing.assert_allclose(got, tf.reduce_mean(x, axis=[1, 2]).numpy(), atol=1e-6)
    np.testing.assert_allclose(got, conv.pool2d_numpy(x, (6, 5), mode="avg")[:, 0, 0, :], atol=1e-6)


# ----------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("call, message", [
    (lambda: conv.output_size(0, 3), r"n=0 must be a positive integer"),
    (lambda: conv.output_size(10, 3, stride=0), r"stride=0 must be a positive integer"),
    (lambda: conv.output_size(10, 2.5), r"kernel=2.5 must be a positive integer"),
    (lambda: conv.output_size(10, 3, padding="full"), r"padding='full' must be 'valid' or 'same'"),
    (lambda: conv.output_size(5, 3, dilation=3), r"kernel=3 \(span 7 with dilation=3\) is larger"),
    (lambda: conv.output_shape_2d((5, 5, 5), 3), r"hw=.* must be an int or a pair"),
    (lambda: conv.receptive_field([3, 3], [1]), r"strides \(1\) and kernels \(2\) must have the same length \(one stride per layer\)"),
    (lambda: conv.conv2d_params(5, 5, 0, 200), r"c_in=0 must be a positive integer"),
    (lambda: conv.output_memory(150, 100, 200, dtype="float33"), r"dtype='float33' is not a NumPy dtype"),
    (lambda: conv.conv2d_numpy(np.ones((8, 8, 3)), np.ones((3, 3, 3, 1))), r"Add a batch axis"),
    (lambda: conv.conv2d_numpy(np.ones((1, 8, 8, 3)), np.ones((3, 3, 1, 1))), r"kernels must have shape \(kernel_h, kernel_w, 3, out_channels\) \(in_channels = images.shape\[-1\]\); got shape \(3, 3, 1, 1\)"),
    (lambda: conv.conv2d_numpy(np.ones((1, 8, 8, 1)), np.ones((3, 3, 1))), r"kernels must have shape \(kernel_h, kernel_w, 1, out_channels\) \(in_channels = images.shape\[-1\]\); got shape \(3, 3, 1\)"),
    (lambda: conv.pool2d_numpy(np.ones((1, 8, 8, 1)), mode="min"), r"mode='min' must be 'max' or 'avg'"),
    (lambda: conv.line_filters(6), r"size=6 must be an odd positive integer \(so the line has a middle column and row\), e.g. 7"),
    (lambda: DepthwiseMaxPool2D(pool_size=0), r"pool_size=0 must be a positive integer"),
    (lambda: DepthwiseMaxPool2D(pool_size=4)(np.ones((1, 2, 2, 6), np.float32)),
     r"6 channels, which is not divisible by pool_size=4"),
    (lambda: DepthwiseMaxPool2D(pool_size=2)(np.ones((2, 6), np.float32)), r"expects inputs of shape"),
])
def test_bad_inputs_raise_clear_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- figures
def test_padding_diagram_draws_the_windows_the_formulas_give():
    import matplotlib

    matplotlib.use("Agg")
    from homl_cv import viz

    fig = viz.plot_padding_and_strides(n=13, kernel=6, stride=5)
    valid, same = fig.axes
    cells = [p for p in valid.patches if p.get_width() == 1]
    assert len(cells) == 13 and sum(bool(p.get_hatch()) for p in cells) == 2  # pixels 11, 12 unseen
    assert len(valid.patches) - len(cells) == conv.output_size(13, 6, 5, "valid")
    same_cells = [p for p in same.patches if p.get_width() == 1]
    assert len(same_cells) == 13 + sum(conv.same_padding(13, 6, 5))
    assert not any(p.get_hatch() for p in same_cells)
    assert len(same.patches) - len(same_cells) == conv.output_size(13, 6, 5, "same")
    fig = viz.plot_filter_responses(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 4)), list("abcd"))
    assert len(fig.axes) == 2 * 5 and fig.axes[1].get_title() == "a"
