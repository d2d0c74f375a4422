"""RoIAlign (homl_cv.regions): hand cases, the NumPy and TensorFlow versions against each other,
tf.image.crop_and_resize at hand-computed sample points, and the Keras layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from homl_cv import regions

BOTH = pytest.mark.parametrize("roi_align", [regions.roi_align, regions.roi_align_numpy],
                               ids=["tf", "numpy"])


@BOTH
def test_linear_ramp_gives_the_bin_centres(roi_align):
    # bilinear sampling is exact on a linear map: value = x index, so each bin reads its centre - 0.5
    ramp = np.tile(np.arange(10, dtype=np.float32), (10, 1))[None, :, :, None]
    patch = np.asarray(roi_align(ramp, [[2, 1, 8, 9]], output_size=3, sampling_ratio=2))
    # box x from 2 to 8, 3 bins of 2 pixels: centres 3, 5, 7 -> indices 2.5, 4.5, 6.5
    np.testing.assert_allclose(patch[0, :, :, 0], [[2.5, 4.5, 6.5]] * 3, atol=1e-5)


@BOTH
def test_box_on_pixel_edges_reads_those_pixels_exactly(roi_align):
    fmap = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    # the 2x2 block of pixels rows 1-2, columns 2-3 (edges x 2..4, y 1..3); one sample per bin
    patch = np.asarray(roi_align(fmap, [[2, 1, 4, 3]], 2, sampling_ratio=1))
    np.testing.assert_allclose(patch[0, :, :, 0], [[6, 7], [10, 11]], atol=1e-6)
    # a quarter-pixel shift moves the result by a quarter (no snapping to the grid, unlike roi_pool)
    inner = np.asarray(roi_align(fmap, [[1, 1, 3, 3]], 2, sampling_ratio=1))
    shifted = np.asarray(roi_align(fmap, [[1.25, 1, 3.25, 3]], 2, sampling_ratio=1))
    np.testing.assert_allclose(shifted - inner, 0.25, atol=1e-6)


@BOTH
def test_spatial_scale_maps_image_boxes_onto_a_strided_map(roi_align):
    fmap = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    # the same block, given in image pixels of a stride-4 network
    patch = np.asarray(roi_align(fmap, [[8, 4, 16, 12]], 2, spatial_scale=1 / 4, sampling_ratio=1))
    np.testing.assert_allclose(patch[0, :, :, 0], [[6, 7], [10, 11]], atol=1e-6)


@BOTH
def test_box_indices_pick_the_image(roi_align):
    fmaps = np.stack([np.zeros((4, 4, 1)), np.ones((4, 4, 1))]).astype(np.float32)
    patch = np.asarray(roi_align(fmaps, [[0, 0, 4, 4]] * 3, 1, box_indices=[1, 0, 1]))
    assert patch[:, 0, 0, 0].tolist() == [1.0, 0.0, 1.0]


@BOTH
def test_samples_within_one_pixel_outside_read_the_edge_further_ones_zero(roi_align):
    fmap = np.full((1, 4, 4, 1), 5.0, np.float32)
    # 8 sub-bins over 4 pixels: the first sample is at index -0.25, which must read 5, not 0
    np.testing.assert_allclose(np.asarray(roi_align(fmap, [[0, 0, 4, 4]], 4, sampling_ratio=4)), 5.0, atol=1e-6)
    # boxes are not clipped: bins [-3, -1) and [-1, 1) have centres -2, 0 -> indices -2.5 (outside: 0), -0.5 (edge)
    patch = np.asarray(roi_align(fmap, [[-3, 0, 1, 4]], (1, 2), sampling_ratio=1))
    np.testing.assert_allclose(patch[0, 0, :, 0], [0.0, 5.0], atol=1e-6)
    # the same on the far side: centres 4, 6 -> indices 3.5 (edge) and 5.5 (outside)
    patch = np.asarray(roi_align(fmap, [[3, 0, 7, 4]], (1, 2), sampling_ratio=1))
    np.testing.assert_allclose(patch[0, 0, :, 0], [5.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("ratio", [1, 2, 3])
def test_numpy_and_tensorflow_versions_agree_on_random_cases(ratio):
    rng = np.random.default_rng(ratio)
    fmaps = rng.random((3, 12, 10, 4)).astype(np.float32)
    corners = rng.uniform(-12, 52, (20, 2, 2))                  # some boxes cross or leave the map
    boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1).astype(np.float32)
    boxes = np.concatenate([boxes, [[12, 16, 14, 19], [0, 0, 40, 48]]]).astype(np.float32)
    index = rng.integers(0, 3, len(boxes))
    for size in (5, (2, 3)):
        fast = np.asarray(regions.roi_align(fmaps, boxes, size, index, 0.25, ratio))
        slow = regions.roi_align_numpy(fmaps, boxes, size, index, 0.25, ratio)
        assert fast.shape == slow.shape == (len(boxes), *((size, size) if np.isscalar(size) else size), 4)
        np.testing.assert_allclose(fast, slow, atol=1e-5)


@BOTH
@pytest.mark.parametrize("ratio", [1, 2])
def test_equals_crop_and_resize_at_the_sub_bin_centres(roi_align, ratio):
    """Independent reference: crop_and_resize at hand-computed sample points, then each bin's mean."""
    rng = np.random.default_rng(ratio)
    fmaps = rng.random((2, 9, 11, 2)).astype(np.float32)
    boxes = np.array([[2.0, 1.0, 9.0, 7.0], [4.5, 3.25, 10.5, 8.0]], np.float32)   # samples inside the map
    index, (ph, pw), scale = [1, 0], (3, 2), 1.0
    expected = []
    for (x1, y1, x2, y2), n in zip(boxes * scale, index):
        ys = y1 + (np.arange(ph * ratio) + 0.5) * (y2 - y1) / (ph * ratio) - 0.5   # sub-bin centres, index
        xs = x1 + (np.arange(pw * ratio) + 0.5) * (x2 - x1) / (pw * ratio) - 0.5
        norm = [[ys[0] / 8, xs[0] / 10, ys[-1] / 8, xs[-1] / 10]]                 # crop_and_resize: / (H - 1)
        crop = tf.image.crop_and_resize(fmaps, norm, [n], (ph * ratio, pw * ratio)).numpy()[0]
        expected.append(crop.reshape(ph, ratio, pw, ratio, 2).mean(axis=(1, 3)))
    got = np.asarray(roi_align(fmaps, boxes, (ph, pw), index, scale, ratio))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_crop_boxes_are_the_first_and_last_samples_normalized():
    # one sample per bin, 3 bins: centres x = 2 + (j + 0.5) * 7/3, y = 1 + (i + 0.5) * 2, read at - 0.5
    xs = 2 + (np.arange(3) + 0.5) * 7 / 3 - 0.5
    ys = 1 + (np.arange(3) + 0.5) * 2 - 0.5
    norm = [[ys[0] / 8, xs[0] / 10, ys[-1] / 8, xs[-1] / 10]]
    np.testing.assert_allclose(regions.crop_boxes([[2.0, 1.0, 9.0, 7.0]], (9, 11), 3, sampling_ratio=1), norm,
                               atol=1e-6)


@BOTH
def test_rectangular_output_and_no_boxes(roi_align):
    fmap = np.zeros((1, 8, 8, 4), np.float32)
    assert tuple(roi_align(fmap, [[0, 0, 8, 8]], (7, 3)).shape) == (1, 7, 3, 4)
    assert tuple(roi_align(fmap, np.zeros((0, 4)), 5).shape) == (0, 5, 5, 4)


@BOTH
def test_bad_arguments_say_what_to_pass(roi_align):
    fmap = np.zeros((2, 8, 8, 4), np.float32)
    with pytest.raises(ValueError, match=r"feature_map must have shape \(batch, H, W, C\).*feature_map\[None\]"):
        roi_align(fmap[0], [[0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match=r"boxes must have shape \(K, 4\)"):
        roi_align(fmap, [0, 0, 4, 4], 2)
    with pytest.raises(ValueError, match="output_size=0"):
        roi_align(fmap, [[0, 0, 4, 4]], 0)
    with pytest.raises(ValueError, match="spatial_scale=0"):
        roi_align(fmap, [[0, 0, 4, 4]], 2, spatial_scale=0)
    with pytest.raises(ValueError, match="sampling_ratio=0"):
        roi_align(fmap, [[0, 0, 4, 4]], 2, sampling_ratio=0)
    with pytest.raises(ValueError, match=r"box_indices has 2 at index 0 \(1 in all\), outside \[0, 2\) \(images of"):
        roi_align(fmap, [[0, 0, 4, 4]], 2, box_indices=[2])
    with pytest.raises(ValueError, match=r"box_indices has -1 at index 0 \(1 in all\), outside \[0, 2\)"):
        roi_align(fmap, [[0, 0, 4, 4]], 2, box_indices=[-1])


# ============================================================================ the Keras layer
def test_layer_crops_each_images_boxes_from_its_own_map():
    rng = np.random.default_rng(0)
    fmaps = rng.random((2, 8, 8, 3)).astype(np.float32)
    boxes = rng.uniform(0, 16, (2, 4, 4)).astype(np.float32)
    boxes[..., 2:] = boxes[..., :2] + rng.uniform(2, 16, (2, 4, 2))
    layer = regions.RoiAlign((3, 2), spatial_scale=0.5, sampling_ratio=2)
    out = np.asarray(layer(fmaps, boxes))
    assert out.shape == (2, 4, 3, 2, 3)
    for n in range(2):
        np.testing.assert_allclose(out[n], regions.roi_align_numpy(fmaps[n:n + 1], boxes[n], (3, 2), None, 0.5, 2),
                                   atol=1e-5)
    # in a functional model, and rebuilt from its config
    maps_in, boxes_in = keras.Input((8, 8, 3)), keras.Input((4, 4))
    model = keras.Model([maps_in, boxes_in], regions.RoiAlign.from_config(layer.get_config())(maps_in, boxes_in))
    assert model.output_shape == (None, 4, 3, 2, 3)
    np.testing.assert_allclose(np.asarray(model([fmaps, boxes])), out, atol=1e-6)


def test_layer_validates_its_arguments_and_inputs():
    with pytest.raises(ValueError, match="output_size=0"):
        regions.RoiAlign(0)
    with pytest.raises(ValueError, match="spatial_scale=-0.5"):
        regions.RoiAlign(2, spatial_scale=-0.5)
    with pytest.raises(ValueError, match="sampling_ratio=1.5"):
        regions.RoiAlign(2, sampling_ratio=1.5)
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, R, 4\)"):
        regions.RoiAlign(2)(np.zeros((1, 4, 4, 1), "float32"), np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match=r"feature_maps must have shape \(N, H, W, C\)"):
        regions.RoiAlign(2)(np.zeros((4, 4, 1), "float32"), np.zeros((1, 2, 4), "float32"))
