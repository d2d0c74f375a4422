"""RoIAlign: hand cases, an independent NumPy version, and tf.image.crop_and_resize."""

import numpy as np
import pytest
import tensorflow as tf

from homl_cv import regions


def _bilinear(fmap, y, x):
    """Read a (H, W, C) map at array position (y, x), clamping to the edge pixels."""
    h, w = fmap.shape[:2]
    y, x = min(max(y, 0.0), h - 1.0), min(max(x, 0.0), w - 1.0)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    dy, dx = y - y0, x - x0
    return ((1 - dy) * (1 - dx) * fmap[y0, x0] + (1 - dy) * dx * fmap[y0, x1]
            + dy * (1 - dx) * fmap[y1, x0] + dy * dx * fmap[y1, x1])


def _roi_align_numpy(fmap, box, size, scale, ratio):
    """RoIAlign as the paper states it: average r x r bilinear samples at sub-bin centres."""
    x1, y1, x2, y2 = np.asarray(box, float) * scale
    bh, bw = (y2 - y1) / size, (x2 - x1) / size
    out = np.zeros((size, size, fmap.shape[2]))
    for i in range(size):
        for j in range(size):
            samples = [_bilinear(fmap, y1 + (i + (a + 0.5) / ratio) * bh - 0.5, x1 + (j + (b + 0.5) / ratio) * bw - 0.5)
                       for a in range(ratio) for b in range(ratio)]
            out[i, j] = np.mean(samples, axis=0)
    return out


def test_linear_ramp_gives_the_bin_centres():
    # bilinear sampling is exact on a linear map: value = x index, so each bin reads its centre - 0.5
    ramp = np.tile(np.arange(10, dtype=np.float32), (10, 1))[None, :, :, None]
    patch = np.asarray(regions.roi_align(ramp, [[2, 1, 8, 9]], output_size=3, sampling_ratio=2))
    # box x from 2 to 8, 3 bins of 2 pixels: centres 3, 5, 7 -> indices 2.5, 4.5, 6.5
    np.testing.assert_allclose(patch[0, :, :, 0], [[2.5, 4.5, 6.5]] * 3, atol=1e-5)


def test_box_on_pixel_edges_reads_those_pixels_exactly():
    fmap = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    # the 2x2 block of pixels rows 1-2, columns 2-3 (edges x 2..4, y 1..3); one sample per bin
    patch = np.asarray(regions.roi_align(fmap, [[2, 1, 4, 3]], 2, sampling_ratio=1))
    np.testing.assert_allclose(patch[0, :, :, 0], [[6, 7], [10, 11]], atol=1e-6)


def test_spatial_scale_maps_image_boxes_onto_a_strided_map():
    fmap = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    # the same block, given in image pixels of a stride-4 network
    patch = np.asarray(regions.roi_align(fmap, [[8, 4, 16, 12]], 2, spatial_scale=1 / 4, sampling_ratio=1))
    np.testing.assert_allclose(patch[0, :, :, 0], [[6, 7], [10, 11]], atol=1e-6)


@pytest.mark.parametrize("ratio", [1, 2, 3])
def test_matches_the_papers_definition_on_random_maps(ratio):
    rng = np.random.default_rng(ratio)
    fmaps = rng.random((2, 12, 10, 3)).astype(np.float32)
    boxes = np.array([[0, 0, 40, 48], [5.5, 3.25, 30, 20], [12, 16, 14, 19]], np.float32)
    index = np.array([0, 1, 1])
    got = np.asarray(regions.roi_align(fmaps, boxes, 5, box_indices=index, spatial_scale=0.25,
                                       sampling_ratio=ratio))
    assert got.shape == (3, 5, 5, 3)
    for k in range(3):
        np.testing.assert_allclose(got[k], _roi_align_numpy(fmaps[index[k]], boxes[k], 5, 0.25, ratio), atol=1e-5)


def test_is_crop_and_resize_at_the_sample_grid():
    rng = np.random.default_rng(0)
    fmap = rng.random((1, 9, 11, 2)).astype(np.float32)
    box = [[2.0, 1.0, 9.0, 7.0]]
    # one sample per bin, 3 bins: centres x = 2 + (j + 0.5) * 7/3, y = 1 + (i + 0.5) * 2, read at - 0.5
    xs = 2 + (np.arange(3) + 0.5) * 7 / 3 - 0.5
    ys = 1 + (np.arange(3) + 0.5) * 2 - 0.5
    norm = np.array([[ys[0] / 8, xs[0] / 10, ys[-1] / 8, xs[-1] / 10]], np.float32)
    np.testing.assert_allclose(regions.crop_boxes(box, (9, 11), 3, sampling_ratio=1), norm, atol=1e-6)
    expected = tf.image.crop_and_resize(fmap, norm, [0], (3, 3)).numpy()
    np.testing.assert_allclose(np.asarray(regions.roi_align(fmap, box, 3, sampling_ratio=1)), expected, atol=1e-6)


def test_samples_just_outside_the_map_read_the_edge_pixel():
    fmap = np.full((1, 4, 4, 1), 5.0, np.float32)
    # 8 sub-bins over 4 pixels: the first sample is at index -0.25, which must read 5, not 0
    patch = np.asarray(regions.roi_align(fmap, [[0, 0, 4, 4]], 4, sampling_ratio=4))
    np.testing.assert_allclose(patch, 5.0, atol=1e-6)


def test_rectangular_output_and_no_boxes():
    fmap = np.zeros((1, 8, 8, 4), np.float32)
    assert tuple(regions.roi_align(fmap, [[0, 0, 8, 8]], (7, 3)).shape) == (1, 7, 3, 4)
    assert tuple(regions.roi_align(fmap, np.zeros((0, 4)), 5).shape) == (0, 5, 5, 4)


def test_bad_arguments_say_what_to_pass():
    fmap = np.zeros((2, 8, 8, 4), np.float32)
    with pytest.raises(ValueError, match=r"feature_map must have shape \(batch, H, W, C\)"):
        regions.roi_align(fmap[0], [[0, 0, 4, 4]], 2)
    with pytest.raises(ValueError, match=r"boxes must have shape \(K, 4\)"):
        regions.roi_align(fmap, [0, 0, 4, 4], 2)
    with pytest.raises(ValueError, match="output_size=0"):
        regions.roi_align(fmap, [[0, 0, 4, 4]], 0)
    with pytest.raises(ValueError, match="spatial_scale=0"):
        regions.roi_align(fmap, [[0, 0, 4, 4]], 2, spatial_scale=0)
    with pytest.raises(ValueError, match="sampling_ratio=0"):
        regions.roi_align(fmap, [[0, 0, 4, 4]], 2, sampling_ratio=0)
    with pytest.raises(ValueError, match=r"box_indices .* \[0, batch=2\)"):
        regions.roi_align(fmap, [[0, 0, 4, 4]], 2, box_indices=[2])
