"""Chapter 07 (homl_cv.interpret): feature maps, filter visualization, CAM, Grad-CAM, occlusion.

One small GAP CNN is trained once (module fixture) on generated images with a
single shape each, then the explanation maps are checked against the exact
boxes of held-out images.
"""

import keras
import matplotlib
import numpy as np
import pytest

from homl_cv import config, data, interpret, models, viz

matplotlib.use("Agg")

IMAGE_SIZE = 48
SIZE_RANGE = (0.25, 0.5)


@pytest.fixture(scope="module")
def trained():
    """(model, held-out ShapesData): the chapter's recipe, about 40 s of CPU."""
    config.set_seeds(42)
    train = data.make_shapes(2000, IMAGE_SIZE, max_objects=1, size_range=SIZE_RANGE, seed=0)
    test = data.make_shapes(200, IMAGE_SIZE, max_objects=1, size_range=SIZE_RANGE, seed=7)
    model = models.build_gap_cnn((IMAGE_SIZE, IMAGE_SIZE, 3), num_classes=len(train.class_names))
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=6 * len(train) // 32)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.images, train.classes[:, 0], epochs=6, batch_size=32, verbose=0)
    return model, test


def test_model_learned(trained):
    model, test = trained
    _, accuracy = model.evaluate(test.images, test.classes[:, 0], verbose=0)
    assert accuracy >= 0.90  # reached 1.00


def test_grad_cam_peak_falls_in_the_true_box(trained):
    model, test = trained
    heatmaps = interpret.grad_cam(model, test.images, "last_conv", class_index=test.classes[:, 0])
    assert heatmaps.shape == (200, 12, 12) and heatmaps.min() >= 0
    rate = interpret.peaks_in_boxes(heatmaps, test.boxes[:, 0], (IMAGE_SIZE, IMAGE_SIZE)).mean()
    assert rate >= 0.85  # reached 1.00 (0.945 at block2_conv)


def test_cam_peak_falls_in_the_true_box(trained):
    model, test = trained
    cams = interpret.class_activation_map(model, test.images, class_index=test.classes[:, 0])
    rate = interpret.peaks_in_boxes(cams, test.boxes[:, 0], (IMAGE_SIZE, IMAGE_SIZE)).mean()
    assert rate >= 0.85  # reached 1.00


def test_peaks_beat_a_random_guess(trained):
    """The boxes cover a small part of the image: a random point rarely hits them."""
    _, test = trained
    boxes = test.boxes[:, 0]
    covered = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).mean() / IMAGE_SIZE**2
    assert covered < 0.25


def test_cam_is_the_weighted_sum_of_the_last_feature_maps(trained):
    model, test = trained
    images = test.images[:16]
    cams = interpret.class_activation_map(model, images)  # predicted classes
    maps = interpret.feature_maps(model, images, "last_conv")
    kernel, bias = (np.asarray(w) for w in model.get_layer("classifier").weights)
    probs = model.predict(images, verbose=0)
    predicted = probs.argmax(axis=1)
    by_hand = np.stack([maps[n] @ kernel[:, predicted[n]] for n in range(len(images))])
    np.testing.assert_allclose(cams, by_hand, atol=1e-4, rtol=1e-4)
    # the map's mean plus the bias is the logit: compare logit differences with log-probabilities
    all_cams = np.stack([interpret.class_activation_map(model, images, class_index=c)
                         for c in range(probs.shape[1])], axis=-1)
    logits = all_cams.mean(axis=(1, 2)) + bias
    np.testing.assert_allclose(logits - logits[:, :1], np.log(probs) - np.log(probs[:, :1]),
                               atol=1e-3)


def test_grad_cam_of_a_gap_model_is_the_rectified_cam(trained):
    """With GAP + Dense, d logit / d A_k = w_k / (h * w): Grad-CAM = ReLU(CAM) / (h * w)."""
    model, test = trained
    images = test.images[:16]
    cams = interpret.class_activation_map(model, images)
    heatmaps = interpret.grad_cam(model, images, "last_conv")
    np.testing.assert_allclose(heatmaps, np.maximum(cams, 0) / (12 * 12), atol=1e-5, rtol=1e-3)


def test_occluding_the_object_hurts_more_than_occluding_background(trained):
    model, test = trained
    wins = 0
    for n in range(10):
        sensitivity = interpret.occlusion_sensitivity(model, test.images[n], class_index=test.classes[n, 0],
                                                patch_size=12, stride=4)
        assert sensitivity.shape == (IMAGE_SIZE, IMAGE_SIZE)
        inside = test.masks[n] > 0
        wins += sensitivity[inside].mean() > sensitivity[~inside].mean()
    assert wins >= 8  # reached 10/10


def test_feature_maps_shapes(trained):
    model, test = trained
    maps = interpret.feature_maps(model, test.images[:3], ["block1_conv", "block2_pool", "last_conv"])
    assert list(maps) == ["block1_conv", "block2_pool", "last_conv"]
    assert maps["block1_conv"].shape == (3, 48, 48, 16)
    assert maps["block2_pool"].shape == (3, 12, 12, 32)
    assert maps["last_conv"].shape == (3, 12, 12, 64)
    assert maps["last_conv"].dtype == np.float32 and maps["last_conv"].min() >= 0  # after ReLU
    single = interpret.feature_maps(model, test.images[:1], "block1_relu")
    assert single.shape == (1, 48, 48, 16)


def test_filter_visualization_excites_its_filter(trained):
    model, test = trained
    on_real_images = interpret.feature_maps(model, test.images, "last_conv").mean(axis=(0, 1, 2))
    k = int(on_real_images.argmax())  # the filter most active on real images
    pattern = interpret.visualize_filter(model, "last_conv", filter_index=k, steps=20)
    assert pattern.shape == (48, 48, 3) and pattern.min() >= 0 and pattern.max() <= 1
    on_pattern = interpret.feature_maps(model, pattern[None], "last_conv")[..., k].mean()
    assert on_pattern > 3 * on_real_images[k]  # reached 42 vs 2.4


def test_plotting_companions_return_figures(trained):
    model, test = trained
    images = test.images[:4]
    heatmaps = interpret.grad_cam(model, images, "last_conv")
    fig = viz.plot_heatmaps(images, heatmaps, boxes=test.boxes[:4, 0], titles=list("abcd"))
    assert len(fig.axes) == 4
    fig = viz.plot_feature_maps(interpret.feature_maps(model, images[:1], "last_conv")[0], max_channels=8)
    assert len(fig.axes) == 8
    matplotlib.pyplot.close("all")


def test_bad_input_names_the_fix(trained):
    model, test = trained
    with pytest.raises(ValueError, match="not a layer of model.*last_conv"):
        interpret.grad_cam(model, test.images[:2], "conv9")
    with pytest.raises(ValueError, match="not a .*map.*pick a convolutional layer"):
        interpret.grad_cam(model, test.images[:2], "gap")
    with pytest.raises(ValueError, match=r"\(N, H, W, C\).*image\[None\]"):
        interpret.grad_cam(model, test.images[0], "last_conv")
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        interpret.feature_maps(model, test.images[0, :, :, 0], "last_conv")
    with pytest.raises(ValueError, match="one image of shape"):
        interpret.occlusion_sensitivity(model, test.images[:2])
    with pytest.raises(ValueError, match="out of range"):
        interpret.class_activation_map(model, test.images[:2], class_index=7)
    with pytest.raises(ValueError, match="filter_index=99"):
        interpret.visualize_filter(model, "block1_conv", 99)
    flat_head = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                                  keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="GlobalAveragePooling2D.*grad_cam"):
        interpret.class_activation_map(flat_head, np.zeros((1, 8, 8, 3)))
    assert interpret.grad_cam(flat_head, np.zeros((1, 8, 8, 3)), "conv").shape == (1, 6, 6)
