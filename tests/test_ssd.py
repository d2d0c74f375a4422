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


def test_default_boxes_per_map_aspect_ratios_ssd300():
    four, six = (1.0, 2.0, 0.5), (1.0, 2.0, 0.5, 3.0, 1 / 3)
    boxes = ssd.default_boxes((38, 19, 10, 5, 3, 1), 300, [four, six, six, six, four, four])
    assert boxes.shape == (8732, 4)   # SSD300's count: 38^2 4 + 19^2 6 + 10^2 6 + 5^2 6 + 3^2 4 + 1 4
    # hand case: map 0 gets ratio 1 only (+ extra square), map 1 ratios 1 and 4 (+ extra square)
    boxes = ssd.default_boxes((2, 1), 64, [[1.0], [1.0, 4.0]])
    assert boxes.shape == (4 * 2 + 1 * 3, 4)
    np.testing.assert_allclose(boxes[2], [48 - 6.4, 16 - 6.4, 48 + 6.4, 16 + 6.4], atol=1e-4)  # cell (0, 1), ratio 1
    w, h = 0.9 * 64 * 2, 0.9 * 64 / 2   # map 1, ratio 4: width s sqrt(4), height s / sqrt(4)
    np.testing.assert_allclose(boxes[9], [32 - w / 2, 32 - h / 2, 32 + w / 2, 32 + h / 2], atol=1e-4)
    np.testing.assert_allclose(boxes[10, 2] - boxes[10, 0], math.sqrt(0.9) * 64, atol=1e-4)  # extra square last
    # one list for every map is the same as that list repeated per map
    np.testing.assert_array_equal(ssd.default_boxes((4, 2), 64, (1.0, 2.0)),
                                  ssd.default_boxes((4, 2), 64, [(1.0, 2.0), (1.0, 2.0)]))
    with pytest.raises(ValueError, match=r"aspect_ratios \(2\) and the feature maps \(3\) must have the same length \(one list of ratios per map"):
        ssd.default_boxes((4, 2, 1), 64, [[1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="mixes numbers and lists"):
        ssd.default_boxes((4, 2), 64, [1.0, [1.0, 2.0]])
    with pytest.raises(ValueError, match=r"aspect_ratios\[1\] must hold finite, positive numbers \(width / height ratios\); got -2.0 at index 0"):
        ssd.default_boxes((4, 2), 64, [[1.0], [-2.0]])


def test_match_default_boxes_iou_threshold_at_equality_and_nan():
    defaults = [[0, 0, 20, 10], [100, 100, 110, 110]]
    truth = [[0, 0, 10, 10], [100, 100, 120, 110]]   # IoU exactly 0.5 with defaults 0 and 1 respectively
    # a default box whose IoU *equals* the threshold is positive (>=), as in SSD
    extra = [[0, 0, 10, 20]]   # IoU 0.5 with truth 0 too, but not truth 0's best (the first one wins ties)
    labels, matched, _ = ssd.match_default_boxes(defaults + extra, truth[:1], [2], iou_threshold=0.5)
    assert matched.tolist() == [0, -1, 0] and labels.tolist() == [3, 0, 3]
    labels, matched, _ = ssd.match_default_boxes(defaults + extra, truth[:1], [2], iou_threshold=0.51)
    assert matched.tolist() == [0, -1, -1]
    with pytest.raises(ValueError, match=r"true_boxes has a non-finite value nan at index \(0, 1\)"):
        ssd.match_default_boxes(defaults, [[0, np.nan, 1, 1]], [0])
    with pytest.raises(ValueError, match="iou_threshold=0.0 must be a number in"):
        ssd.match_default_boxes(defaults, truth, [0, 1], iou_threshold=0.0)


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


# ------------------------------------------------------------------ mutation testing (issue 23)
def test_ssd_scales_bounds_at_equality():
    np.testing.assert_allclose(ssd.ssd_scales(2, 0.5, 0.5), [0.5, 0.5])      # s_min == s_max is allowed
    np.testing.assert_allclose(ssd.ssd_scales(3, 0.1, 1.0), [0.1, 0.55, 1.0])  # s_max == 1 too
    np.testing.assert_allclose(ssd.ssd_scales(4, 0.3, 0.6), [0.3, 0.4, 0.5, 0.6])
    assert ssd.ssd_scales(1, 0.4, 0.9).tolist() == [0.4]                     # one map: s_min
    for bad in [dict(s_min=0.0), dict(s_max=1.01), dict(s_min=-0.1)]:
        with pytest.raises(ValueError, match=r"^\(s_min, s_max\)=\(.*\) must be \(min, max\) with 0 < min <= max <= 1"):
            ssd.ssd_scales(**{"num_maps": 2, "s_min": 0.2, "s_max": 0.9, **bad})
    with pytest.raises(ValueError, match=r"^num_maps=0 must be a positive integer"):
        ssd.ssd_scales(0)


def test_default_boxes_rectangular_cells_scales_and_image_size():
    # one 3x3 map, scale 0.5 (s_min = s_max), one ratio 4, 90-pixel image: boxes 90 wide x 22.5 high
    boxes = ssd.default_boxes((3,), 90, aspect_ratios=(4.0,), s_min=0.5, s_max=0.5)
    assert boxes.shape == (9 * 2, 4) and boxes.dtype == np.float32
    centres = (boxes[::2, :2] + boxes[::2, 2:]) / 2
    # row-major cells: (row 0, col 0) (row 0, col 1) ... ; x from the column, y from the row
    expected = [(x, y) for y in (15, 45, 75) for x in (15, 45, 75)]
    np.testing.assert_allclose(centres, expected, atol=1e-4)
    np.testing.assert_allclose(boxes[0], [15 - 45, 15 - 11.25, 15 + 45, 15 + 11.25], atol=1e-4)
    # the extra square of the only (last) map: side sqrt(0.5 * 1) * 90
    np.testing.assert_allclose(boxes[1, 2] - boxes[1, 0], np.sqrt(0.5) * 90, atol=1e-4)
    np.testing.assert_allclose(boxes[1, 3] - boxes[1, 1], np.sqrt(0.5) * 90, atol=1e-4)
    # the default ratios are 1, 2, 1/2, and s_min 0.2, s_max 0.9
    default = ssd.default_boxes((1, 1), 100)
    widths = default[:, 2] - default[:, 0]
    np.testing.assert_allclose(widths, [20, 20 * np.sqrt(2), 20 / np.sqrt(2), np.sqrt(0.2 * 0.9) * 100,
                                        90, 90 * np.sqrt(2), 90 / np.sqrt(2), np.sqrt(0.9) * 100], rtol=1e-5)
    np.testing.assert_array_equal(ssd.default_boxes(np.array([2.0, 1.0]), 64), ssd.default_boxes((2, 1), 64))
    np.testing.assert_array_equal(ssd.default_boxes(2, 64), ssd.default_boxes((2,), 64))   # one map as an int
    with pytest.raises(ValueError, match=r"^feature_sizes=\[\] is empty"):
        ssd.default_boxes((), 64)


def test_forced_matches_go_to_the_truth_that_needs_them_most():
    # both truths overlap default 0 most; the one with the smaller best IoU is matched last, so it
    # keeps default 0 (the other still reaches default 1 by the threshold)
    defaults = [[0, 0, 10, 10], [0, 0, 12, 10]]
    truth = [[0, 0, 10, 10],          # IoU 1 with default 0, 10/12 with default 1
             [0, 0, 8, 10]]           # IoU 0.8 with default 0, 8/12 with default 1
    labels, matched, _ = ssd.match_default_boxes(defaults, truth, [0, 1])
    assert matched.tolist() == [1, 0] and labels.tolist() == [2, 1]
    labels, matched, _ = ssd.match_default_boxes(defaults, truth[::-1], [1, 0])
    assert matched.tolist() == [0, 1] and labels.tolist() == [2, 1]
    assert labels.dtype == np.int32 and matched.dtype == np.int64


def test_match_default_boxes_messages():
    with pytest.raises(ValueError, match=r"true_boxes \(2\) and true_classes \(1\) must have the same length"):
        ssd.match_default_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 2, 2]], [0])
    with pytest.raises(ValueError, match=r"^defaults has 1 box\(es\) whose second corner is before the first"):
        ssd.match_default_boxes([[2, 2, 1, 1]], [[0, 0, 1, 1]], [0])
    with pytest.raises(ValueError, match=r"^true_boxes has 1 box\(es\) whose second corner is before the first"):
        ssd.match_default_boxes([[0, 0, 1, 1]], [[2, 2, 1, 1]], [0])
    with pytest.raises(ValueError, match="iou_threshold=1.5 must be a number in"):
        ssd.match_default_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]], [0], iou_threshold=1.5)
    labels, matched, deltas = ssd.match_default_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]], [0], iou_threshold=1.0)
    assert labels.tolist() == [1] and deltas.dtype == np.float32    # iou_threshold 1.0 is allowed


def test_forced_matches_break_ties_by_truth_order_over_many_truths():
    # 20 truths compete for one default box: IoU 1 (a copy of it) or 0.8 (8 of its 10 columns).
    # The truths are taken by decreasing IoU, ties in their order (a stable sort), so the last
    # 0.8 truth, index 13, keeps the box. (An unstable sort picks another one here.)
    small = np.array([0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    truth = np.where(small[:, None], [0, 0, 8, 10], [0, 0, 10, 10])
    labels, matched, _ = ssd.match_default_boxes([[0, 0, 10, 10]], truth, np.arange(20))
    assert matched.tolist() == [13] and labels.tolist() == [14]


def test_match_default_boxes_takes_classes_in_any_shape():
    labels, matched, _ = ssd.match_default_boxes([[0, 0, 10, 10], [20, 20, 30, 30]],
                                                 [[0, 0, 10, 10], [20, 20, 30, 30]], [[4], [-1]])
    assert labels.tolist() == [5, 0] and matched.tolist() == [0, -1]


def test_default_boxes_pass_s_max_and_a_single_ratio():
    boxes = ssd.default_boxes((2, 1), 100, (1.0,), s_min=0.3, s_max=0.6)
    widths = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_allclose(widths[[0, 1, 8, 9]], [30, np.sqrt(0.3 * 0.6) * 100, 60, np.sqrt(0.6) * 100],
                               rtol=1e-5)
    np.testing.assert_array_equal(ssd.default_boxes((2,), 64, aspect_ratios=2.0),     # one number
                                  ssd.default_boxes((2,), 64, aspect_ratios=(2.0,)))


def test_every_matched_default_gets_its_deltas_truth_zero_included():
    from homl_cv import boxes

    defaults = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 44, 44]], np.float32)
    truth = np.array([[1, 1, 9, 9], [40, 40, 52, 52]], np.float32)
    labels, matched, deltas = ssd.match_default_boxes(defaults, truth, [3, 0])
    assert matched.tolist() == [0, -1, 1]
    np.testing.assert_allclose(deltas[0], boxes.encode_deltas(defaults[:1], truth[:1])[0], atol=1e-6)
    assert np.abs(deltas[0]).sum() > 0.1 and (deltas[1] == 0).all()


@pytest.mark.parametrize("ratios", [(), (1.0, np.nan), (np.inf,), (1.0, None), ("wide",), (0.0,), (2.0, -1.0)])
def test_bad_flat_aspect_ratios_name_the_argument(ratios):
    with pytest.raises(ValueError) as err:
        ssd.default_boxes((2,), 64, aspect_ratios=ratios)
    # one list for every map: the argument is named, no map is
    assert str(err.value).startswith("aspect_ratios") and "map" not in str(err.value)


def test_per_map_ratios_of_any_array_shape_are_flattened():
    np.testing.assert_array_equal(ssd.default_boxes((2,), 64, [np.array([[1.0, 2.0]])]),
                                  ssd.default_boxes((2,), 64, (1.0, 2.0)))
    np.testing.assert_array_equal(ssd.default_boxes((2,), 64, (1, 2)), ssd.default_boxes((2,), 64, (1.0, 2.0)))
