"""Chapter 02, later architectures: DenseNet, MobileNetV2, ConvNeXt blocks and ViT's patch embedding.

Parameter counts are checked against the formulas written by hand (so a wrong
layer width or a stray bias shows), shapes with batches > 1, and the patch
embedding against reshape-into-patches + Dense with the same weights.
"""

import keras
import numpy as np
import pytest

from homl_cv import config, models


def _bn(channels):
    return 4 * channels  # gamma, beta, moving mean, moving variance


@pytest.mark.parametrize("channels, layers, k", [(16, 4, 12), (3, 2, 5)])
def test_dense_block_parameters_and_shape(channels, layers, k):
    block = models.DenseBlock(num_layers=layers, growth_rate=k)
    out = block(np.zeros((3, 6, 5, channels), "float32"))
    assert tuple(out.shape) == (3, 6, 5, channels + layers * k)
    by_hand = sum(_bn(c) + c * 4 * k + _bn(4 * k) + 9 * 4 * k * k
                  for c in (channels + i * k for i in range(layers)))
    assert block.count_params() == by_hand


def test_dense_block_keeps_its_input_as_the_first_channels():
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 5)).astype("float32")
    out = models.DenseBlock(num_layers=2, growth_rate=3)(x)
    np.testing.assert_array_equal(np.asarray(out)[..., :5], x)


@pytest.mark.parametrize("channels, filters, t, strides", [
    (16, 24, 6, 2), (24, 24, 6, 1), (32, 16, 1, 1)])
def test_inverted_residual_parameters_and_shape(channels, filters, t, strides):
    block = models.InvertedResidual(filters, expansion=t, strides=strides)
    out = block(np.zeros((2, 15, 16, channels), "float32"))
    assert tuple(out.shape) == (2, -(-15 // strides), 16 // strides, filters)
    expanded = t * channels
    expand = channels * expanded + _bn(expanded) if t > 1 else 0
    assert block.count_params() == expand + 9 * expanded + _bn(expanded) + expanded * filters + _bn(filters)


def test_inverted_residual_adds_its_input_only_when_shapes_match():
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 8)).astype("float32")
    same = models.InvertedResidual(8, expansion=2)
    same(x)
    last_bn = same.block.layers[-1]
    last_bn.gamma.assign(np.zeros(8, "float32"))
    last_bn.beta.assign(np.zeros(8, "float32"))
    np.testing.assert_allclose(same(x), x, atol=1e-6)  # main path zeroed: the skip alone
    wider = models.InvertedResidual(12, expansion=2)
    wider(x)
    assert not wider.residual and same.residual


def test_inverted_residual_bottleneck_is_linear():
    """No ReLU after the projection: the block's output takes negative values."""
    config.set_seeds(0)
    x = np.random.default_rng(2).normal(size=(4, 8, 8, 8)).astype("float32")
    out = np.asarray(models.InvertedResidual(16, expansion=4)(x, training=True))
    assert (out < 0).mean() > 0.3


@pytest.mark.parametrize("channels, layer_scale, extra", [(96, 1e-6, 1), (8, None, 0)])
def test_convnext_block_parameters_and_shape(channels, layer_scale, extra):
    block = models.ConvNeXtBlock(layer_scale=layer_scale)
    out = block(np.zeros((2, 7, 9, channels), "float32"))
    assert tuple(out.shape) == (2, 7, 9, channels)
    c = channels
    assert block.count_params() == (49 * c + c) + 2 * c + (4 * c * c + 4 * c) + (4 * c * c + c) + extra * c


def test_convnext_layer_scale_starts_the_block_near_the_identity():
    x = np.random.default_rng(3).normal(size=(2, 7, 7, 8)).astype("float32")
    scaled = models.ConvNeXtBlock(layer_scale=1e-6)
    np.testing.assert_allclose(scaled(x), x, atol=1e-4)
    plain = models.ConvNeXtBlock(layer_scale=None)
    assert np.abs(np.asarray(plain(x)) - x).max() > 1e-2


@pytest.mark.parametrize("patch, channels, dim", [(4, 1, 8), (2, 3, 5)])
def test_patch_embedding_is_patches_times_a_dense_layer(patch, channels, dim):
    config.set_seeds(0)
    images = np.random.default_rng(4).normal(size=(3, 8, 12, channels)).astype("float32")
    embed = models.PatchEmbedding(patch_size=patch, dim=dim)
    tokens = np.asarray(embed(images))
    assert tokens.shape == (3, (8 // patch) * (12 // patch), dim)
    assert embed.count_params() == patch * patch * channels * dim + dim
    kernel, bias = embed.projection.get_weights()
    dense = keras.layers.Dense(dim)
    dense.build((None, patch * patch * channels))
    dense.set_weights([kernel.reshape(-1, dim), bias])
    by_patches = np.asarray(dense(models.image_patches(images, patch)))
    np.testing.assert_allclose(tokens, by_patches, rtol=1e-5, atol=1e-5)
    # the order matters: patches cut column by column would not match
    transposed = models.image_patches(images.transpose(0, 2, 1, 3), patch)
    assert not np.allclose(np.asarray(dense(transposed)), tokens, atol=1e-3)


def test_image_patches_order_by_hand():
    image = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1)
    patches = models.image_patches(image, 2)
    assert patches.shape == (2, 4, 4)
    np.testing.assert_array_equal(patches[0, 1], [2, 3, 6, 7])
    np.testing.assert_array_equal(patches[1, 2], 16 + np.array([8, 9, 12, 13]))


@pytest.mark.parametrize("layer", [
    models.DenseBlock(num_layers=3, growth_rate=7),
    models.InvertedResidual(24, expansion=4, strides=2),
    models.ConvNeXtBlock(layer_scale=None),
    models.PatchEmbedding(patch_size=7, dim=16),
], ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trip(layer):
    config_dict = layer.get_config()
    clone = type(layer).from_config(config_dict)
    assert clone.get_config() == config_dict
    assert keras.saving.get_registered_name(type(layer)) == f"homl_cv>{type(layer).__name__}"


def test_save_reload_gives_identical_predictions(tmp_path):
    config.set_seeds(0)
    inputs = keras.Input((16, 16, 3))
    z = models.DenseBlock(2, 4)(inputs)
    z = models.InvertedResidual(8, expansion=3, strides=2)(z)
    z = models.ConvNeXtBlock()(z)
    z = models.PatchEmbedding(patch_size=2, dim=6)(z)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(z))
    x = np.random.default_rng(5).uniform(size=(2, 16, 16, 3)).astype("float32")
    model(x, training=True)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), before, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make, message", [
    (lambda: models.DenseBlock(num_layers=0), r"num_layers=0 must be a positive integer"),
    (lambda: models.DenseBlock(growth_rate=2.5), r"growth_rate=2.5 must be a positive integer"),
    (lambda: models.InvertedResidual(16, strides=3), r"strides=3 must be 1 or 2"),
    (lambda: models.InvertedResidual(16, expansion=True), r"expansion=True must be a positive integer"),
    (lambda: models.ConvNeXtBlock(layer_scale=0), r"layer_scale=0 must be a positive number"),
    (lambda: models.PatchEmbedding(patch_size=0), r"patch_size=0 must be a positive integer"),
    (lambda: models.PatchEmbedding(4, 8)(np.zeros((1, 10, 8, 1), "float32")),
     r"input height=10 must be a multiple of patch_size=4.*to 12"),
    (lambda: models.image_patches(np.zeros((4, 4, 1)), 2), r"images must be a batch of shape"),
    (lambda: models.image_patches(np.zeros((1, 4, 6, 1)), 4), r"image width=6 must be a positive multiple of 4 \(to cut patches of patch_size=4: crop or pad the images\), e.g. 8\."),
])
def test_bad_arguments_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()
