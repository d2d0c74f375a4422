"""Chapter 02: the classic CNN architectures in homl_cv.models, and training them.

Parameter counts are checked against published numbers and keras.applications;
every custom layer round-trips through a .keras file; a LeNet-5 learns the
digits and a small ResNet-34 lowers its loss.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from homl_cv import config, data, models, training, viz


# ----------------------------------------------------------------------------- parameter counts
def test_lenet5_has_about_60k_parameters():
    model = models.build_lenet5()
    assert model.count_params() == 61_706
    assert abs(model.count_params() - 60_000) / 60_000 < 0.05
    assert model.output_shape == (None, 10)


def test_alexnet_has_about_60m_parameters():
    model = models.build_alexnet()
    assert model.count_params() == 62_378_344
    assert abs(model.count_params() - 60e6) / 60e6 < 0.05
    # the published feature map sizes: 55, 27, 13, 13, 13, 6
    shapes = {name: shape for name, _, shape, _ in models.layer_table(model)}
    assert shapes["conv1"] == (55, 55, 96) and shapes["pool5"] == (6, 6, 256)


def test_vgg16_matches_keras_applications():
    ours = models.build_vgg16()
    reference = keras.applications.VGG16(weights=None)  # weights=None: no download
    assert ours.count_params() == reference.count_params() == 138_357_544
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]


def test_resnet34_has_21_8m_parameters():
    model = models.build_resnet34()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 21_797_672  # the paper's / torchvision's count
    assert model.count_params() == 21_814_696  # + batch norm moving means and variances
    assert abs(model.count_params() - 21.8e6) / 21.8e6 < 0.01
    units = [layer for layer in model.layers if isinstance(layer, models.ResidualUnit)]
    assert len(units) == 16  # 32 conv layers + the stem conv + the Dense layer = 34
    assert model.get_layer("stage5_unit3").output.shape[1:] == (7, 7, 512)


def test_se_resnet34_adds_one_se_block_per_unit():
    plain = models.build_resnet34((64, 64, 3), num_classes=10, width=0.25)
    se = models.build_resnet34((64, 64, 3), num_classes=10, width=0.25, se_ratio=16)
    extra = 0
    for filters, units in zip((16, 32, 64, 128), models.RESNET34_STAGES):
        squeezed = filters // 16
        extra += units * (filters * squeezed + squeezed + squeezed * filters + filters)
    assert se.count_params() - plain.count_params() == extra
    assert se.name == "se_resnet34"


def test_inception_3a_shape_and_parameters():
    block = models.InceptionModule(64, 96, 128, 16, 32, 32)
    out = block(tf.zeros((1, 28, 28, 192)))
    assert tuple(out.shape) == (1, 28, 28, 256)
    expected = (192 * 64 + 64) + (192 * 96 + 96) + (9 * 96 * 128 + 128) \
        + (192 * 16 + 16) + (25 * 16 * 32 + 32) + (192 * 32 + 32)
    assert block.count_params() == expected == 163_696


def test_residual_unit_parameters_and_skip():
    unit = models.ResidualUnit(128, strides=2)
    assert tuple(unit(tf.zeros((1, 56, 56, 64))).shape) == (1, 28, 28, 128)
    convs = 3 * 3 * 64 * 128 + 3 * 3 * 128 * 128 + 64 * 128  # no biases
    assert unit.count_params() == convs + 3 * 4 * 128  # 3 batch norms, 4 values per channel
    identity = models.ResidualUnit(64)
    identity.build((None, 8, 8, 64))
    assert identity.skip_layers == []  # same shape in and out: the skip is the identity


def test_residual_unit_adds_its_input():
    """With the main path's last batch norm scaled to 0, the unit is relu(x)."""
    unit = models.ResidualUnit(8)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    unit(x)
    last_bn = unit.main_layers[-1]
    last_bn.gamma.assign(np.zeros(8, "float32"))
    last_bn.beta.assign(np.zeros(8, "float32"))
    np.testing.assert_allclose(unit(x), np.maximum(x, 0), atol=1e-6)


def test_se_block_matches_its_definition():
    se = models.SEBlock(ratio=16)
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 256)).astype("float32")
    out = se(x).numpy()
    assert se.count_params() == 256 * 16 + 16 + 16 * 256 + 256 == 8464
    w1, b1 = se.reduce.get_weights()
    w2, b2 = se.excite.get_weights()
    squeezed = x.mean(axis=(1, 2))
    scale = 1 / (1 + np.exp(-(np.maximum(squeezed @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(out, x * scale[:, None, None, :], rtol=1e-4, atol=1e-5)


def test_lrn_matches_the_formula():
    x = np.random.default_rng(2).uniform(0, 10, size=(1, 3, 3, 12)).astype("float32")
    lrn = models.LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-2, beta=0.75)
    squares = np.pad(x**2, [(0, 0)] * 3 + [(2, 2)])
    window_sums = sum(squares[..., k:k + 12] for k in range(5))
    expected = x / (2.0 + 1e-2 * window_sums) ** 0.75
    np.testing.assert_allclose(lrn(x), expected, rtol=1e-5)


def test_separable_block_is_cheaper_than_full_convolutions():
    block = models.XceptionBlock(128, downsample=False)
    block.build((None, 16, 16, 128))
    separable = 2 * (9 * 128 + 128 * 128) + 2 * 4 * 128  # two sep convs + two batch norms
    assert block.count_params() == separable
    full = 2 * 9 * 128 * 128
    assert block.count_params() < full / 7
    down = models.XceptionBlock(64)
    assert tuple(down(tf.zeros((1, 15, 15, 32))).shape) == (1, 8, 8, 64)


# ----------------------------------------------------------------------------- save and reload
def _inception_net():
    inputs = keras.Input((16, 16, 8))
    z = models.InceptionModule(4, 4, 8, 2, 4, 4)(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(z))
    return keras.Model(inputs, outputs, name="inception_net")


ROUND_TRIP_BUILDERS = {
    "lenet5": lambda: models.build_lenet5(),
    "alexnet (LRN)": lambda: models.build_alexnet((67, 67, 3), num_classes=5, width=0.05),
    "inception": _inception_net,
    "vgg16": lambda: models.build_vgg16((32, 32, 3), num_classes=4, width=0.05),
    "se_resnet34 (ResidualUnit, SEBlock)": lambda: models.build_resnet34((32, 32, 3), 6, width=0.25, se_ratio=16),
    "xception_style (XceptionBlock)": lambda: models.build_xception((32, 32, 3), 6, width=0.05),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP_BUILDERS))
def test_save_reload_gives_identical_predictions(name, tmp_path):
    config.set_seeds(0)
    model = ROUND_TRIP_BUILDERS[name]()
    x = np.random.default_rng(3).uniform(size=(3, *model.input_shape[1:])).astype("float32")
    # move the batch norm statistics away from their initial values first
    model(x, training=True)
    before = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-7)
    assert reloaded.count_params() == model.count_params()


@pytest.mark.parametrize("layer", [
    models.LocalResponseNormalization(depth_radius=3, bias=1.0, alpha=2e-4, beta=0.5),
    models.InceptionModule(1, 2, 3, 4, 5, 6),
    models.SEBlock(ratio=8),
    models.ResidualUnit(32, strides=2, activation="elu", se_ratio=4),
    models.XceptionBlock(16, downsample=False, repeats=3),
], ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trip(layer):
    config_dict = layer.get_config()
    clone = type(layer).from_config(config_dict)
    assert clone.get_config() == config_dict
    registered = keras.saving.get_registered_name(type(layer))
    assert registered == f"homl_cv>{type(layer).__name__}"


# ----------------------------------------------------------------------------- bad input
BUILDERS = {
    "lenet5": models.build_lenet5,
    "alexnet": models.build_alexnet,
    "vgg16": models.build_vgg16,
    "resnet34": models.build_resnet34,
    "xception_style": models.build_xception,
}
SMALLEST_SIDE = {"lenet5": 28, "alexnet": 67, "vgg16": 32, "resnet34": 17, "xception_style": 9}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_bad_input_shape_rank(name):
    with pytest.raises(ValueError, match=r"input_shape=\(28, 28\) must be \(height, width, channels\)"):
        BUILDERS[name]((28, 28), num_classes=10)


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("num_classes", [0, -3, 1])
def test_bad_num_classes(name, num_classes):
    with pytest.raises(ValueError, match=rf"num_classes={num_classes} must be an integer of at least 2"):
        BUILDERS[name]((64, 64, 3), num_classes=num_classes)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_too_small_images_and_smallest_that_fits(name):
    side = SMALLEST_SIDE[name]
    with pytest.raises(ValueError, match=rf"too small.*at least {side}x{side} pixels"):
        BUILDERS[name]((side - 1, side + 10, 1), num_classes=10, width=0.05)
    model = BUILDERS[name]((side, side, 1), num_classes=10, width=0.05)
    assert model.output_shape == (None, 10)


def test_bad_width_and_layer_arguments():
    with pytest.raises(ValueError, match=r"width=0 must be a positive number \(a factor of build_\w+'s filters and units: 1.0 = the published size\)"):
        models.build_lenet5(width=0)
    with pytest.raises(ValueError, match="strides=3 must be 1 or 2"):
        models.ResidualUnit(64, strides=3)
    with pytest.raises(ValueError, match="ratio=0 must be a positive integer"):
        models.SEBlock(ratio=0)
    with pytest.raises(ValueError, match="pooling='min' must be 'average' or 'max'"):
        models.build_lenet5(pooling="min")
    with pytest.raises(ValueError, match="epochs=0 must be a positive integer"):
        training.fit_classifier(models.build_lenet5(), data.load_digits_28x28(), epochs=0)
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W, C\) \(or \(N, H, W\) for grayscale\); got shape \(4, 4\)"):
        training.scale_images(np.zeros((4, 4), np.uint8))


# ----------------------------------------------------------------------------- tables and figures
def test_layer_table_is_a_compact_summary():
    table = models.format_layer_table(models.build_lenet5())
    lines = table.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "params"]
    assert lines[1].split() == ["C1", "Conv2D", "28x28x6", "156"]
    assert lines[-1].split() == ["total", "61,706"]
    short = models.format_layer_table(models.build_resnet34((32, 32, 3), 10, width=0.125), max_rows=6)
    assert len(short.splitlines()) == 1 + 7 + 1 and "..." in short


def test_plot_feature_map_sizes():
    model = models.build_lenet5()
    fig = viz.plot_feature_map_sizes(model)
    top, bottom = fig.axes
    assert [p.get_height() for p in top.patches] == [28, 14, 10, 5, 1]
    assert [p.get_height() for p in bottom.patches] == [6, 6, 16, 16, 120]
    with pytest.raises(ValueError, match="no layer with an"):
        viz.plot_feature_map_sizes(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))


# ----------------------------------------------------------------------------- training for real
@pytest.fixture(scope="module")
def digits():
    return data.load_mnist()  # offline in the tests: the 28x28 digits stand-in


@pytest.fixture(scope="module")
def trained_lenet5(digits):
    config.set_seeds(42)
    model = models.build_lenet5()
    history = training.fit_classifier(model, digits, epochs=15, verbose=0)
    return model, history


def test_lenet5_learns_the_digits(trained_lenet5, digits):
    model, history = trained_lenet5
    accuracy = training.classifier_accuracy(model, digits.x_test, digits.y_test)
    assert accuracy >= 0.95, f"LeNet-5 test accuracy {accuracy:.3f} < 0.95"  # 0.972 measured
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]


def test_small_resnet34_loss_drops(digits):
    config.set_seeds(42)
    model = models.build_resnet34((28, 28, 1), num_classes=10, width=0.125)
    history = training.fit_classifier(model, digits, epochs=3, verbose=0)
    loss = history.history["loss"]
    assert loss[-1] < 0.5 * loss[0], f"loss went {loss}"  # 1.88 -> 0.32 measured
    assert history.history["val_accuracy"][-1] > 0.6  # 0.87 measured
