"""SSD default boxes and matching (homl_cv.ssd), on hand cases."""

import math

import numpy as np
import pytest

from homl_cv import ssd


def test_ssd_scales():
    np.testing.assert_allclose(ssd.ssd_scales(3), [0.2, 0.55, 0.9])
    np.testing.assert_allclose(ssd.ssd_scales(6), [0.2, 0.34, 0.48, 0.62, 0.76, 0.9])  # the paper's 6 maps
    assert ssd.ssd_scales(1).tolist() == [0.2]
    with pytest.raises(ValueError, match="s_min"):
        ssd.ssd_scales(3, 0.5, 0.2)


def test_default_boxes_hand_case():
    boxes = ssd.default_boxes((2, 1), image_size=64, aspect_ratios=(1.0, 2.0))
    assert boxes.shape == ((4 + 1) * 3, 4)
    # map 0 (2x2 cells, scale 0.2), cell (0, 0): centre (16, 16)
    side = 0.2 * 64
    np.testing.assert_allclose(boxes[0], [16 - side / 2, 16 - side / 2, 16 + side / 2, 16 + side / 2], atol=1e-4)
    w, h = side * math.sqrt(2), side / math.sqrt(2)
    np.testing.assert_allclose(boxes[1], [16 - w / 2, 16 - h / 2, 16 + w / 2, 16 + h / 2], atol=1e-4)
    extra = math.sqrt(0.2 * 0.9) * 64  # sqrt(s_1 s_2)
    np.testing.assert_allclose(boxes[2, 2] - boxes[2, 0], extra, atol=1e-4)
    # cell (0, 1) of map 0 is next: centre (48, 16)
    np.testing.assert_allclose((boxes[3, 0] + boxes[3, 2]) / 2, 48, atol=1e-4)
    # map 1 (1x1, scale 0.9): centred on the image; its extra square uses s_{m+1} = 1
    np.testing.assert_allclose(boxes[12], [32 - 28.8, 32 - 28.8, 32 + 28.8, 32 + 28.8], atol=1e-4)
    np.testing.assert_allclose(boxes[14, 2] - boxes[14, 0], math.sqrt(0.9) * 64, atol=1e-4)
    with pytest.raises(ValueError, match="aspect_ratios"):
        ssd.default_boxes((2,), 64, aspect_ratios=(0.0,))
    with pytest.raises(ValueError, match="feature_sizes"):
        ssd.default_boxes((0,), 64)


def test_match_default_boxes_hand_case():
    defaults = [[0, 0, 10, 10],    # IoU 0.64 with truth 0: matched by threshold
                [0, 0, 8, 8],      # IoU 0.64 too
                [20, 20, 30, 30],  # nothing: background
                [40, 40, 44, 44],  # IoU 16/144 = 0.11 with truth 1, its best default: matched anyway
                [1, 1, 9, 9]]      # IoU 1.0 with truth 0: its best
    truth = [[1, 1, 9, 9], [40, 40, 52, 52], [-1, -1, -1, -1]]
    labels, matched, deltas = ssd.match_default_boxes(defaults, truth, [3, 0, -1], iou_threshold=0.5)
    assert labels.tolist() == [4, 4, 0, 1, 4]  # class + 1; 0 = background
    assert matched.tolist() == [0, 0, -1, 1, 0]
    np.testing.assert_allclose(deltas[4], 0, atol=1e-6)
    np.testing.assert_allclose(deltas[3], [1.0, 1.0, math.log(3), math.log(3)], atol=1e-6)  # 4x4 -> 12x12
    assert (deltas[2] == 0).all()
    labels, matched, _ = ssd.match_default_boxes(defaults, truth, [3, 0, -1], iou_threshold=0.7)
    assert labels.tolist() == [0, 0, 0, 1, 4]
    empty, _, _ = ssd.match_default_boxes(defaults, np.zeros((0, 4)), np.zeros(0))
    assert empty.tolist() == [0] * 5
    with pytest.raises(ValueError, match="same length"):
        ssd.match_default_boxes(defaults, truth, [0])
