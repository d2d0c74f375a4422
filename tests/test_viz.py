"""homl_cv.viz draws only: each plot shows the numbers it is given.

(Figures that need a trained model are checked next to it, e.g. in
test_interpret.py; plots of chapter 01 and 02 in test_conv.py and test_models.py.)
"""

import matplotlib
import numpy as np
import pytest

from homl_cv import training, viz

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    matplotlib.pyplot.close("all")


def test_plot_heatmaps_marks_each_peak_where_the_map_peaks():
    images = np.zeros((2, 16, 16, 3), np.float32)
    heatmaps = np.zeros((2, 4, 4), np.float32)
    heatmaps[0, 0, 3] = 1.0  # top right
    heatmaps[1, 3, 0] = 1.0  # bottom left
    fig = viz.plot_heatmaps(images, heatmaps, boxes=[[0, 0, 8, 8], [8, 8, 16, 16]], titles=["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    (x0, y0), (x1, y1) = (np.concatenate(ax.lines[0].get_data()) for ax in fig.axes)
    assert x0 > 8 and y0 < 8 and x1 < 8 and y1 > 8
    assert len(fig.axes[0].patches) == 1  # the box


def test_plot_heatmaps_names_a_missing_batch_axis():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\).*image\[None\]"):
        viz.plot_heatmaps(np.zeros((16, 16, 3)), np.zeros((4, 4)))


def test_plot_feature_maps_one_panel_per_channel():
    fig = viz.plot_feature_maps(np.random.default_rng(0).random((6, 6, 20)), max_channels=8)
    assert len(fig.axes) == 8 and fig.axes[7].get_title() == "#7"
    with pytest.raises(ValueError, match=r"maps\[0\]"):
        viz.plot_feature_maps(np.zeros((1, 6, 6, 4)))


def test_learning_curves_take_a_trained_model_result():
    result = training.TrainedModel(model=None, history={"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]})
    fig = viz.plot_learning_curves(result, metrics=("loss", "accuracy"))
    (ax,) = fig.axes
    assert ax.get_title() == "loss" and len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3.0, 2.0, 1.0])


def test_plot_iou_title_is_the_iou():
    ax = viz.plot_iou([0, 0, 10, 10], [5, 5, 15, 15])
    assert ax.get_title() == "IoU = 0.143"


def test_masks_are_coloured_by_class():
    rgb = viz.mask_to_rgb(np.array([[0, 1], [2, 11]]))
    np.testing.assert_array_equal(rgb[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(rgb[1, 1], viz.SEGMENTATION_COLORS[1])  # 11 wraps to 1
    with pytest.raises(ValueError, match=r"masks must hold integers \(class ids\); got dtype"):
        viz.mask_to_rgb(np.zeros((2, 2)))


def test_plot_style_losses_labels_both_axes_and_weights_the_curves():
    history = {"content": [4.0, 2.0], "style": [1.0, 0.5], "total": [5.0, 2.5]}
    fig = viz.plot_style_losses(history, weights={"style": 2.0})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "weighted loss (log scale)"
    lines = {line.get_label(): line.get_ydata().tolist() for line in ax.lines}
    assert lines == {"content": [4.0, 2.0], "2 x style": [2.0, 1.0], "total": [5.0, 2.5]}
    assert viz.plot_style_losses(history).axes[0].get_ylabel() == "loss (log scale)"


def test_stretched_maps_the_percentiles_of_each_image_to_black_and_white():
    image = np.full((10, 10, 3), 0.5)
    image[0, 0] = 0.0          # one dark and one bright outlier pixel ...
    image[9, 9] = 1.0
    image[2:8, 2:8, 0] = 0.52  # ... hide a faint red square from a min-max stretch
    out = viz.stretched(image, (5, 95))
    assert out.min() == 0.0 and out.max() == 1.0
    assert out[4, 4, 0] == 1.0 and out[4, 4, 1] == 0.0  # the square is now full red on black
    assert viz.stretched(image, (0, 100))[4, 4, 0] == pytest.approx(0.52)  # min-max: still faint
    assert viz.stretched(np.full((4, 4), 0.3)).tolist() == np.full((4, 4), 0.5).tolist()


def test_plot_images_stretches_each_image_on_its_own():
    faint = 0.5 + 0.01 * np.arange(16.0).reshape(1, 4, 4)
    strong = np.linspace(0, 1, 16).reshape(1, 4, 4)
    fig = viz.plot_images(np.concatenate([faint, strong]), stretch=(0, 100))
    shown = [ax.images[0].get_array() for ax in fig.axes[:2]]
    assert [float(s.min()) for s in shown] == [0.0, 0.0] and [float(s.max()) for s in shown] == [1.0, 1.0]
    assert float(viz.plot_images(faint).axes[0].images[0].get_array().max()) == pytest.approx(0.65)


@pytest.mark.parametrize("bad", [(99, 1), (-1, 50), (1, 101), (5,), "wide"])
def test_stretch_percentiles_are_checked(bad):
    with pytest.raises(ValueError, match=r"percentiles=.*0 <= low < high <= 100"):
        viz.plot_images(np.zeros((1, 4, 4)), stretch=bad)
