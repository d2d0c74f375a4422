"""Chapter 08: Gram matrices, the three losses, and the optimization of the image."""

import numpy as np
import pytest
import tensorflow as tf

from homl_cv import data, style

TINY_STYLE = ("block1_conv1", "block2_conv1")
TINY_CONTENT = ("block2_conv2",)


@pytest.fixture(scope="module")
def tiny_extractor():
    return style.build_extractor(weights=None, style_layers=TINY_STYLE, content_layers=TINY_CONTENT)


def test_gram_matrix_by_hand():
    # one image, 2x2 positions, 2 channels: F = [[1, 2], [3, 4], [5, 6], [7, 8]] (positions x channels)
    features = np.arange(1, 9, dtype=np.float32).reshape(1, 2, 2, 2)
    # G[c, d] = sum over positions of F[:, c] * F[:, d], divided by the 4 positions
    by_hand = np.array([[1 + 9 + 25 + 49, 2 + 12 + 30 + 56],
                        [2 + 12 + 30 + 56, 4 + 16 + 36 + 64]], np.float32) / 4
    gram = style.gram_matrix(features)
    assert gram.shape == (1, 2, 2) and gram.dtype == tf.float32
    np.testing.assert_allclose(gram[0], by_hand)  # [[21, 25], [25, 30]]


def test_gram_matrix_normalization_and_batch():
    # normalized by H * W: the same texture at two sizes gives the same Gram matrix
    rng = np.random.default_rng(0)
    tile = rng.random((1, 4, 4, 3)).astype(np.float32)
    big = np.tile(tile, (1, 3, 5, 1))
    np.testing.assert_allclose(style.gram_matrix(tile), style.gram_matrix(big), rtol=1e-5)
    batch = rng.random((3, 5, 6, 4)).astype(np.float32)
    gram = style.gram_matrix(batch).numpy()
    assert gram.shape == (3, 4, 4)
    np.testing.assert_allclose(gram, np.transpose(gram, (0, 2, 1)), rtol=1e-6)
    flat = batch[1].reshape(-1, 4)
    np.testing.assert_allclose(gram[1], flat.T @ flat / 30, rtol=1e-5)


def test_total_variation_matches_tensorflow():
    images = np.random.default_rng(1).random((2, 7, 9, 3)).astype(np.float32)
    expected = tf.reduce_mean(tf.image.total_variation(tf.constant(images))) / (7 * 9 * 3)
    np.testing.assert_allclose(style.total_variation_loss(images), expected, rtol=1e-5)
    assert float(style.total_variation_loss(np.ones((1, 5, 5, 3)))) == 0.0


def test_content_and_style_losses():
    rng = np.random.default_rng(2)
    f = rng.random((1, 6, 6, 4)).astype(np.float32)
    assert float(style.content_loss([f], [f])) == 0.0
    assert float(style.content_loss([np.zeros_like(f)], [f])) == pytest.approx(1.0)  # relative error
    assert float(style.style_loss([f], [style.gram_matrix(f)])) == pytest.approx(0.0, abs=1e-7)
    # a spatial shuffle changes the content but not the style
    shuffled = f.reshape(1, 36, 4)[:, rng.permutation(36)].reshape(1, 6, 6, 4)
    assert float(style.content_loss([shuffled], [f])) > 0.1
    assert float(style.style_loss([shuffled], [style.gram_matrix(f)])) == pytest.approx(0.0, abs=1e-6)


def test_extractor_outputs(tiny_extractor):
    out = tiny_extractor(np.zeros((2, 32, 32, 3), np.float32))
    assert [tuple(t.shape) for t in out["style"]] == [(2, 32, 32, 64), (2, 16, 16, 128)]
    assert [tuple(t.shape) for t in out["content"]] == [(2, 16, 16, 128)]
    assert not tiny_extractor.trainable_weights


def test_full_vgg19_layers_with_random_weights():
    extractor = style.build_extractor(weights=None)
    out = extractor(np.zeros((1, 32, 32, 3), np.float32))
    assert [t.shape[-1] for t in out["style"]] == [64, 128, 256, 512, 512]
    assert tuple(out["content"][0].shape) == (1, 2, 2, 512)


def test_offline_default_is_the_texture_network():
    extractor, description = style.default_extractor(offline=True)
    assert "random filters at 6 scales" in description and extractor.name == "random_texture_net"
    out = extractor(np.zeros((1, 32, 32, 3), np.float32))
    assert [t.shape[1:] for t in out["style"]] == [(32 - k + 1, 32 - k + 1, 64) for k in style.TEXTURE_KERNELS]
    assert [t.shape[1] for t in out["content"]] == [32 - 11 + 1]


def test_texture_extractor_layers_and_zero_mean_filters():
    extractor = style.build_texture_extractor(kernels=(1, 3, 5), channels=8, content_kernels=(5,))
    out = extractor(np.zeros((2, 20, 20, 3), np.float32))
    assert [tuple(t.shape) for t in out["style"]] == [(2, 20, 20, 8), (2, 18, 18, 8), (2, 16, 16, 8)]
    assert [tuple(t.shape) for t in out["content"]] == [(2, 16, 16, 8)]
    assert not extractor.trainable_weights
    kernels = {layer.name: np.asarray(layer.kernel) for layer in extractor.layers if hasattr(layer, "kernel")}
    assert sorted(kernels) == ["random_1x1", "random_3x3", "random_5x5"]
    # filters larger than 1x1 sum to zero: a flat image of any brightness gives zero maps
    for name in ("random_3x3", "random_5x5"):
        np.testing.assert_allclose(kernels[name].sum(axis=(0, 1, 2)), 0.0, atol=1e-4)
    flat = extractor(np.full((1, 12, 12, 3), 0.8, np.float32))
    assert float(np.abs(flat["style"][1]).max()) < 1e-5 and float(np.abs(flat["style"][0]).max()) > 0
    # the same seed gives the same filters
    again = style.build_texture_extractor(kernels=(1, 3, 5), channels=8, content_kernels=(5,))
    image = np.random.default_rng(0).random((1, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(again(image)["style"][2], extractor(image)["style"][2], rtol=1e-6)


def test_texture_extractor_and_texture_errors():
    with pytest.raises(ValueError, match=r"kernels=4 must be an odd positive integer \(filter sizes with a middle pixel\), e.g. 5\."):
        style.build_texture_extractor(kernels=(1, 4))
    with pytest.raises(ValueError, match=r"content_kernels=.* has \d+, which is not among kernels="):
        style.build_texture_extractor(kernels=(1, 3), content_kernels=(11,))
    with pytest.raises(ValueError, match="channels=0"):
        style.build_texture_extractor(channels=0)
    with pytest.raises(ValueError, match="name='bricks' must be 'brick', "):
        style.load_texture("bricks")
    with pytest.raises(ValueError, match="crop=4"):
        style.load_texture("brick", crop=4)


def test_load_texture_is_gray_rgb_in_range():
    texture = style.load_texture("brick", size=(32, 48), crop=128)
    assert texture.shape == (32, 48, 3) and texture.dtype == np.float32
    assert 0 <= texture.min() and texture.max() <= 1 and texture.std() > 0.05
    np.testing.assert_array_equal(texture[..., 0], texture[..., 2])  # grayscale, repeated


def test_loss_falls_over_the_optimization(tiny_extractor):
    content = data.load_sample_images(["chelsea"], size=(48, 48))[0]
    painting = data.load_sample_images(["coffee"], size=(48, 48))[0]
    result = style.transfer_style(content, painting, tiny_extractor, steps=25, progress=False)
    total = result.history["total"]
    assert len(total) == 25 and set(result.history) == {"total", "content", "style", "tv"}
    assert result.image.shape == (48, 48, 3) and result.image.dtype == np.float32
    assert 0 <= result.image.min() and result.image.max() <= 1
    assert total[-1] < 0.8 * total[0]  # reached 0.62 of the start
    assert result.history["style"][-1] < 0.7 * result.history["style"][0]
    assert result.history["content"][0] == pytest.approx(0.0, abs=1e-6)  # starts as the content photo


def test_bad_input_names_the_fix(tiny_extractor):
    with pytest.raises(ValueError, match=r"\(N, H, W, C\).*add a batch axis"):
        style.gram_matrix(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"features \(2\) and target_grams \(1\) must have the same length \(one per layer\)"):
        style.style_loss([np.zeros((1, 2, 2, 1))] * 2, [np.zeros((1, 1, 1))])
    with pytest.raises(ValueError, match="block9_conv1.*not a VGG-19 layer"):
        style.build_extractor(weights=None, style_layers=("block9_conv1",))
    with pytest.raises(ValueError, match="weights='vgg'"):
        style.build_extractor(weights="vgg")
    image = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(ValueError, match=r"style_image must have shape \(H, W, 3\) \(one RGB image\); got shape \(16, 16\)"):
        style.transfer_style(image, image[..., 0], tiny_extractor, steps=1)
    with pytest.raises(ValueError, match=r"content_image must hold values in \[0, 1\]"):
        style.transfer_style(image + 255, image, tiny_extractor, steps=1)
    with pytest.raises(ValueError, match="steps=0"):
        style.transfer_style(image, image, tiny_extractor, steps=0)
