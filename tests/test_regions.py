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


# ============================================================================ mutation testing (issue 23)
@BOTH
def test_error_messages_name_the_argument_from_the_start(roi_align):
    fmap = np.zeros((2, 8, 8, 4), np.float32)
    with pytest.raises(ValueError, match=r"^feature_map must have shape \(batch, H, W, C\); got shape \(8, 8, 4\)\. "
                                         r"Add a batch axis for one image: pass feature_map\[None\]\.$"):
        roi_align(fmap[0], [[0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match=r"^feature_map must have shape \(batch, H, W, C\); got shape \(1, 2, 8, 8, 4\)"):
        roi_align(fmap[None], [[0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match=r"^boxes must have shape \(K, 4\) \('xyxy' pixels\); got shape \(4,\)\.$"):
        roi_align(fmap, [0, 0, 4, 4], 2)
    with pytest.raises(ValueError, match=r"^output_size=0 must be a positive integer"):
        roi_align(fmap, [[0, 0, 4, 4]], (2, 0))
    with pytest.raises(ValueError, match=r"^spatial_scale=-0\.5 must be a positive number \(1 / the map's stride, "
                                         r"e\.g\. 0\.125\)\.$"):
        roi_align(fmap, [[0, 0, 4, 4]], 2, spatial_scale=-0.5)
    with pytest.raises(ValueError, match=r"^sampling_ratio=0 must be a positive integer"):
        roi_align(fmap, [[0, 0, 4, 4]], 2, sampling_ratio=0)
    with pytest.raises(ValueError, match=r"^box_indices must have shape \(1,\) \(one image index per box\); "
                                         r"got shape \(2,\)\.$"):
        roi_align(fmap, [[0, 0, 4, 4]], 2, box_indices=[0, 1])
    with pytest.raises(ValueError, match=r"^box_indices has 2 at index 1 \(1 in all\), outside \[0, 2\) "
                                         r"\(images of the feature map's batch\)\.$"):
        roi_align(fmap, [[0, 0, 4, 4]] * 2, 2, box_indices=[1, 2])


@BOTH
def test_samples_at_exactly_one_pixel_outside_read_the_edge(roi_align):
    # value = 10 * row + column on a 3 x 4 map; one sample per bin, at the bin centre - 0.5
    fmap = (10 * np.arange(3)[:, None] + np.arange(4)[None, :]).astype(np.float32)[None, :, :, None]
    # x centres -0.5 (index -1: the edge, column 0) and 4.5 (index 4 = W: the edge, column 3); y centre 1.5 (row 1)
    patch = np.asarray(roi_align(fmap, [[-1, 1, 0, 2], [4, 1, 5, 2]], 1, sampling_ratio=1))
    np.testing.assert_allclose(patch[:, 0, 0, 0], [10, 13], atol=1e-5)
    # y centres -0.5 and 3.5 (index 3 = H): rows 0 and 2, column 2
    patch = np.asarray(roi_align(fmap, [[2, -1, 3, 0], [2, 3, 3, 4]], 1, sampling_ratio=1))
    np.testing.assert_allclose(patch[:, 0, 0, 0], [2, 22], atol=1e-5)
    # a quarter of a pixel further: outside, 0
    patch = np.asarray(roi_align(fmap, [[-1.5, 1, -0.5, 2], [4.5, 1, 5.5, 2], [2, -1.5, 3, -0.5], [2, 3.5, 3, 4.5]],
                                 1, sampling_ratio=1))
    np.testing.assert_allclose(patch[:, 0, 0, 0], 0.0, atol=1e-6)


@BOTH
def test_dtypes_batches_and_empty_boxes(roi_align):
    rng = np.random.default_rng(5)
    fmaps = rng.random((3, 6, 7, 2))
    boxes = np.array([[0.5, 1, 6, 5.5], [1, 0, 7, 6]], np.float32)
    got = np.asarray(roi_align(fmaps, boxes, (2, 3), box_indices=[2, 1]))
    assert got.dtype == np.float32 and got.shape == (2, 2, 3, 2)
    for k, n in enumerate([2, 1]):
        np.testing.assert_allclose(got[k], np.asarray(roi_align(fmaps[n:n + 1], boxes[k:k + 1], (2, 3)))[0],
                                   atol=1e-5)
    # no indices: every box from image 0
    np.testing.assert_allclose(np.asarray(roi_align(fmaps, boxes, (2, 3))),
                               np.asarray(roi_align(fmaps, boxes, (2, 3), box_indices=[0, 0])), atol=1e-6)
    empty = np.asarray(roi_align(fmaps, np.zeros((0, 4)), (2, 3)))
    assert empty.dtype == np.float32 and empty.shape == (0, 2, 3, 2)


def test_crop_boxes_normalize_by_each_side_and_a_one_pixel_side_by_one():
    # samples at y = 1 + (0.5 + i) * 2 - 0.5, x = 2 + (0.5 + j) * 7/3 - 0.5 (output (1, 3): one row)
    box = [[2.0, 1.0, 9.0, 3.0]]
    xs = 2 + (np.arange(3) + 0.5) * 7 / 3 - 0.5
    got = regions.crop_boxes(box, (9, 11), (1, 3), sampling_ratio=1).numpy()
    np.testing.assert_allclose(got, [[1.5 / 8, xs[0] / 10, 1.5 / 8, xs[-1] / 10]], atol=1e-6)
    # spatial_scale and sampling_ratio: a stride-2 map, two samples per bin
    got = regions.crop_boxes([[4.0, 2.0, 12.0, 10.0]], (9, 11), 2, spatial_scale=0.5, sampling_ratio=2).numpy()
    first, last = 2 + 0.5 - 0.5, 2 + 3.5 - 0.5     # box 2..6 in feature pixels, 4 sub-bins of 1
    np.testing.assert_allclose(got, [[(first - 1) / 8, first / 10, (last - 1) / 8, last / 10]], atol=1e-6)
    # a side of one pixel has no span between centres: divided by 1, not 0
    got = regions.crop_boxes([[0.0, 0.0, 1.0, 1.0]], (1, 1), 1, sampling_ratio=1).numpy()
    np.testing.assert_allclose(got, [[0.0, 0.0, 0.0, 0.0]], atol=1e-6)
    got = regions.crop_boxes([[0.0, 0.0, 2.0, 2.0]], (1, 1), 1, sampling_ratio=1).numpy()
    np.testing.assert_allclose(got, [[0.5, 0.5, 0.5, 0.5]], atol=1e-6)


def test_layer_shapes_config_and_messages():
    layer = regions.RoiAlign((3, 2), spatial_scale=0.25, sampling_ratio=3)
    assert layer.compute_output_shape((5, 8, 8, 7), (5, 6, 4)) == (5, 6, 3, 2, 7)
    assert layer.compute_output_shape((None, 8, 8, 7), (None, 3, 4)) == (None, 3, 3, 2, 7)
    config = layer.get_config()
    assert (config["output_size"], config["spatial_scale"], config["sampling_ratio"]) == ((3, 2), 0.25, 3)
    rng = np.random.default_rng(6)
    fmaps = rng.random((2, 6, 6, 3)).astype(np.float32)
    boxes = np.array([[[0, 0, 20, 16], [4, 4, 24, 24]], [[2, 0, 10, 24], [0, 8, 24, 12]]], np.float32)
    out = np.asarray(layer(fmaps, boxes))
    assert out.shape == (2, 2, 3, 2, 3)
    for n in range(2):
        np.testing.assert_allclose(out[n], regions.roi_align_numpy(fmaps[n:n + 1], boxes[n], (3, 2), None, 0.25, 3),
                                   atol=1e-5)
    with pytest.raises(ValueError, match=r"^RoiAlign's feature_maps must have shape \(N, H, W, C\); got \(4, 4, 1\)\.$"):
        regions.RoiAlign(2).build((4, 4, 1), (1, 2, 4))
    with pytest.raises(ValueError, match=r"^RoiAlign's boxes must have shape \(N, R, 4\) in 'xyxy' pixels; "
                                         r"got \(1, 4\)\.$"):
        regions.RoiAlign(2).build((1, 4, 4, 1), (1, 4))
    with pytest.raises(ValueError, match=r"^RoiAlign's boxes must have shape \(N, R, 4\) in 'xyxy' pixels; "
                                         r"got \(1, 2, 5\)\.$"):
        regions.RoiAlign(2).build((1, 4, 4, 1), (1, 2, 5))
    fresh = regions.RoiAlign(2)
    fresh.build((1, 4, 4, 1), (1, 2, 4))
    assert fresh.built


@BOTH
def test_two_samples_per_bin_by_default(roi_align):
    # a map that is not linear, so that the number of samples per bin changes the mean
    fmap = (np.arange(64, dtype=np.float32).reshape(1, 8, 8, 1) % 5) ** 2
    box = [[0.5, 1.0, 7.5, 6.0]]
    np.testing.assert_allclose(np.asarray(roi_align(fmap, box, 2)), np.asarray(roi_align(fmap, box, 2, sampling_ratio=2)),
                               atol=1e-6)
    assert not np.allclose(np.asarray(roi_align(fmap, box, 2, sampling_ratio=3)),
                           np.asarray(roi_align(fmap, box, 2, sampling_ratio=2)), atol=1e-3)


def test_crop_boxes_defaults_and_messages():
    box = [[2.0, 1.0, 9.0, 7.0]]
    np.testing.assert_array_equal(regions.crop_boxes(box, (9, 11), 3).numpy(),
                                  regions.crop_boxes(box, (9, 11), 3, sampling_ratio=2).numpy())
    assert not np.allclose(regions.crop_boxes(box, (9, 11), 3).numpy(),
                           regions.crop_boxes(box, (9, 11), 3, sampling_ratio=3).numpy())
    with pytest.raises(ValueError, match=r"^output_size=0 must be a positive integer"):
        regions.crop_boxes(box, (9, 11), 0)
    with pytest.raises(ValueError, match=r"^output_size='a' must be an int or a pair of ints"):
        regions.crop_boxes(box, (9, 11), "a")
    with pytest.raises(ValueError, match=r"^sampling_ratio=0 must be a positive integer"):
        regions.crop_boxes(box, (9, 11), 2, sampling_ratio=0)


@BOTH
def test_boxes_are_read_in_float32_and_indices_as_int32(roi_align):
    rng = np.random.default_rng(7)
    fmaps = rng.random((2, 9, 11, 3)).astype(np.float32)
    corners = rng.uniform(-2, 40, (30, 2, 2))
    boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1) / 3.0     # float64, not float32 numbers
    index = rng.integers(0, 2, 30)
    exact = np.asarray(roi_align(fmaps, boxes.astype(np.float32), (2, 3), index, 0.5))
    np.testing.assert_array_equal(np.asarray(roi_align(fmaps, boxes, (2, 3), index, 0.5)), exact)
    # whole-number indices of another dtype (e.g. read from a float tensor) are cast to int32
    np.testing.assert_array_equal(np.asarray(roi_align(fmaps, boxes, (2, 3), index.astype(np.float64), 0.5)), exact)
