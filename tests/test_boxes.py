"""homl_cv.boxes (formats, validation, IoU) against Keras / keras-cv, and the
shapes generator's ground truth (homl_cv.data.make_shapes)."""

import numpy as np
import pytest

from homl_cv import boxes, data

RNG_SEED = 0


def random_xyxy(n, rng, size=100.0):
    """n valid "xyxy" boxes inside a size x size image, some degenerate."""
    corners = rng.uniform(0, size, (n, 2, 2))
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    out = np.concatenate([lo, hi], axis=1).astype(np.float32)
    out[0, 2] = out[0, 0]  # a box of zero width
    return out


# ------------------------------------------------------------------ IoU
def test_iou_worked_example():
    a = [[0, 0, 10, 10]]
    b = [[5, 5, 15, 15], [20, 20, 30, 30], [0, 0, 10, 10], [2, 2, 4, 4]]
    np.testing.assert_allclose(boxes.iou(a, b), [[25 / 175, 0.0, 1.0, 4 / 100]], rtol=1e-6)


def test_iou_matches_keras_compute_iou():
    import keras

    rng = np.random.default_rng(RNG_SEED)
    a, b = random_xyxy(40, rng), random_xyxy(30, rng)
    ours = boxes.iou(a, b)
    theirs = np.asarray(keras.utils.bounding_boxes.compute_iou(a, b, "xyxy"))
    assert ours.shape == (40, 30)
    assert (ours > 0).mean() > 0.2  # the random boxes really overlap
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_iou_matches_keras_cv_compute_iou():
    keras_cv = pytest.importorskip("keras_cv")
    rng = np.random.default_rng(RNG_SEED + 1)
    a, b = random_xyxy(25, rng), random_xyxy(35, rng)
    theirs = np.asarray(keras_cv.bounding_box.compute_iou(a, b, "xyxy"))
    np.testing.assert_allclose(boxes.iou(a, b), theirs, atol=1e-5)


@pytest.mark.parametrize("box_format", ["xywh", "center_xywh", "yxyx"])
def test_iou_other_formats_equal_xyxy(box_format):
    rng = np.random.default_rng(RNG_SEED + 2)
    a, b = random_xyxy(10, rng), random_xyxy(12, rng)
    a_f, b_f = (boxes.convert(x, "xyxy", box_format) for x in (a, b))
    np.testing.assert_allclose(boxes.iou(a_f, b_f, box_format), boxes.iou(a, b), atol=1e-5)


def test_paired_iou_is_the_diagonal_of_iou():
    rng = np.random.default_rng(RNG_SEED + 3)
    a, b = random_xyxy(20, rng), random_xyxy(20, rng)
    paired = boxes.paired_iou(a, b)
    assert paired.shape == (20,)
    np.testing.assert_allclose(paired, np.diag(boxes.iou(a, b)), atol=1e-6)
    np.testing.assert_allclose(boxes.paired_iou(a, a)[1:], 1.0, atol=1e-6)  # [0] has no area
    assert boxes.paired_iou(a, a)[0] == 0.0


def test_paired_iou_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same shape"):
        boxes.paired_iou(np.zeros((3, 4)), np.zeros((2, 4)))


# ------------------------------------------------------------------ formats
ABSOLUTE = ("xyxy", "xywh", "center_xywh", "yxyx")
RELATIVE = ("rel_xyxy", "rel_xywh", "rel_center_xywh", "rel_yxyx")


# One box, x from 10 to 50 and y from 20 to 40, in a 50-high, 100-wide image,
# written by hand in every format (not computed by any library).
HAND_BOX = {
    "xyxy": [10, 20, 50, 40],
    "xywh": [10, 20, 40, 20],
    "center_xywh": [30, 30, 40, 20],
    "yxyx": [20, 10, 40, 50],
    "rel_xyxy": [0.1, 0.4, 0.5, 0.8],
    "rel_xywh": [0.1, 0.4, 0.4, 0.4],
    "rel_center_xywh": [0.3, 0.6, 0.4, 0.4],
    "rel_yxyx": [0.4, 0.1, 0.8, 0.5],
}


@pytest.mark.parametrize("source", ABSOLUTE + RELATIVE)
@pytest.mark.parametrize("target", ABSOLUTE + RELATIVE)
def test_convert_between_every_pair_of_formats_by_hand(source, target):
    converted = boxes.convert([HAND_BOX[source]], source, target, image_size=(50, 100))
    np.testing.assert_allclose(converted, [HAND_BOX[target]], atol=1e-5)


def test_convert_known_values():
    box = [[10, 20, 50, 40]]  # xyxy
    np.testing.assert_allclose(boxes.convert(box, "xyxy", "xywh"), [[10, 20, 40, 20]])
    np.testing.assert_allclose(boxes.convert(box, "xyxy", "center_xywh"), [[30, 30, 40, 20]])
    np.testing.assert_allclose(boxes.convert(box, "xyxy", "yxyx"), [[20, 10, 40, 50]])
    np.testing.assert_allclose(boxes.convert(box, "xyxy", "rel_xyxy", image_size=(50, 100)),
                               [[0.1, 0.4, 0.5, 0.8]])


def test_convert_between_absolute_and_relative_needs_image_size():
    with pytest.raises(ValueError, match="image_size"):
        boxes.convert([[0, 0, 1, 1]], "xyxy", "rel_xyxy")


# ------------------------------------------------------------------ validation
def test_validate_boxes_accepts_and_returns_float32():
    out = boxes.validate_boxes([[1, 2, 3, 4]], image_size=(10, 10))
    assert out.dtype == np.float32 and out.shape == (1, 4)


@pytest.mark.parametrize("bad_shape", [(3,), (2, 3), (2, 5), ()])
def test_validate_boxes_wrong_last_axis(bad_shape):
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\) \(.xyxy. boxes: 4 coordinates on the last axis\)"):
        boxes.validate_boxes(np.ones(bad_shape))


def test_validate_boxes_second_corner_first_suggests_xywh():
    # (x, y, w, h) passed as xyxy: the "x2" (a width) is smaller than x1
    with pytest.raises(ValueError, match="box_format='xywh'"):
        boxes.validate_boxes([[30, 40, 10, 10]], "xyxy", name="my_boxes")
    with pytest.raises(ValueError, match="my_boxes"):
        boxes.validate_boxes([[30, 40, 10, 10]], "xyxy", name="my_boxes")


def test_validate_boxes_negative_size():
    with pytest.raises(ValueError, match=r"boxes\[\.\.\., 2:\] must hold values in \[0, inf\] \(the widths and heights of '\w+' boxes\)"):
        boxes.validate_boxes([[10, 10, -5, 3]], "xywh")


def test_validate_boxes_relative_out_of_range():
    with pytest.raises(ValueError, match=r"boxes must hold values in \[0, 1\] \(relative .rel_xyxy. coordinates\); got \[0.1, 12\]"):
        boxes.validate_boxes([[0.1, 0.1, 12.0, 0.5]], "rel_xyxy")


def test_validate_boxes_outside_the_image():
    with pytest.raises(ValueError, match="outside the 64x32 image"):
        boxes.validate_boxes([[0, 0, 40, 10]], "xyxy", image_size=(64, 32))
    with pytest.raises(ValueError, match="clip"):
        boxes.validate_boxes([[20, 50, 10, 20]], "xywh", image_size=(64, 64))


def test_validate_boxes_unknown_format():
    with pytest.raises(ValueError, match=r"box_format=.xyzw. must be .xyxy., "):
        boxes.validate_boxes([[0, 0, 1, 1]], "xyzw")
    with pytest.raises(ValueError, match=r"box_format=.corners. must be .xyxy., "):
        boxes.iou([[0, 0, 1, 1]], [[0, 0, 1, 1]], box_format="corners")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_validate_boxes_non_finite(value):
    # the message names the argument, the value, where it is and the fix
    with pytest.raises(ValueError, match=rf"boxes has a non-finite value {value} at index \(1, 2\).*np.nan_to_num"):
        boxes.validate_boxes([[0, 0, 1, 1], [0, 0, value, 1]])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nms_rejects_non_finite_scores(value):
    b = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]
    # before: a NaN score silently dropped its box (NaN > threshold is False)
    with pytest.raises(ValueError, match=rf"scores has a non-finite value {value} at index 1 "):
        boxes.non_max_suppression(b, [0.9, value, 0.7])
    with pytest.raises(ValueError, match=r"boxes has a non-finite value nan at index \(2, 0\)"):
        boxes.non_max_suppression(b[:2] + [[np.nan, 20, 30, 30]], [0.9, 0.8, 0.7])
    with pytest.raises(ValueError, match="score_threshold=nan"):
        boxes.non_max_suppression(b, [0.9, 0.8, 0.7], score_threshold=np.nan)


def test_nms_thresholds_at_equality():
    b = [[0, 0, 20, 10], [0, 0, 10, 10], [50, 50, 60, 60]]   # IoU 100 / 200 = 0.5
    assert boxes.iou(b[:1], b[1:2])[0, 0] == 0.5
    # an overlap *equal* to iou_threshold is kept (only IoU > threshold suppresses), as in TF
    assert boxes.non_max_suppression(b, [0.9, 0.8, 0.7], iou_threshold=0.5).tolist() == [0, 1, 2]
    assert boxes.non_max_suppression(b, [0.9, 0.8, 0.7], iou_threshold=0.49).tolist() == [0, 2]
    # a score *equal* to score_threshold is dropped (only scores > threshold stay)
    assert boxes.non_max_suppression(b, [0.9, 0.8, 0.7], score_threshold=0.8).tolist() == [0]
    assert boxes.non_max_suppression(b, [0.9, 0.8, 0.7], score_threshold=0.79).tolist() == [0, 1]


def test_area():
    np.testing.assert_allclose(boxes.area([[0, 0, 4, 5], [1, 1, 1, 9]]), [20, 0])


# ------------------------------------------------------------------ make_shapes ground truth
@pytest.fixture(scope="module")
def single():
    return data.make_shapes(60, image_size=48, seed=7)


def test_make_shapes_is_deterministic(single):
    again = data.make_shapes(60, image_size=48, seed=7)
    for field in ("images", "boxes", "classes", "masks"):
        np.testing.assert_array_equal(getattr(single, field), getattr(again, field))
    other = data.make_shapes(60, image_size=48, seed=8)
    assert not np.array_equal(single.boxes, other.boxes)


def test_make_shapes_single_object_layout(single):
    assert single.images.shape == (60, 48, 48, 3) and single.images.dtype == np.float32
    assert single.boxes.shape == (60, 1, 4) and single.classes.shape == (60, 1)
    assert 0.0 <= single.images.min() and single.images.max() <= 1.0
    np.testing.assert_array_equal(single.num_objects(), 1)
    assert set(np.unique(single.classes)) == {0, 1, 2, 3}  # all classes appear
    boxes.validate_boxes(single.boxes, "xyxy", image_size=(48, 48))


def test_make_shapes_boxes_are_tight_around_the_mask(single):
    for mask, box, cls in zip(single.masks, single.boxes[:, 0], single.classes[:, 0]):
        rows, cols = np.nonzero(mask)
        np.testing.assert_array_equal(box, [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
        assert set(np.unique(mask[rows, cols])) == {cls + 1}  # mask value = class + 1


def test_make_shapes_masks_match_classes_with_several_objects():
    many = data.make_shapes(20, image_size=64, min_objects=2, max_objects=3, seed=1)
    for mask, classes in zip(many.masks, many.classes):
        present = set(np.unique(mask)) - {0}
        assert present <= {c + 1 for c in classes if c >= 0}


def test_make_shapes_to_dataset_structure(single):
    import tensorflow as tf

    element = next(iter(single.to_dataset(batch_size=8)))
    assert set(element) == {"images", "bounding_boxes", "segmentation_masks"}
    assert element["images"].shape == (8, 48, 48, 3)
    assert element["bounding_boxes"]["boxes"].shape == (8, 1, 4)
    assert element["bounding_boxes"]["classes"].shape == (8, 1)
    assert element["segmentation_masks"].shape == (8, 48, 48, 1)
    assert element["images"].dtype == tf.float32
    np.testing.assert_array_equal(element["bounding_boxes"]["boxes"].numpy(), single.boxes[:8])


def test_make_shapes_bad_arguments():
    with pytest.raises(ValueError, match="min_objects"):
        data.make_shapes(4, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="image_size"):
        data.make_shapes(4, image_size=8)


def test_intersection_areas_by_hand():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[5, 5, 15, 15]], np.float32)
    np.testing.assert_array_equal(boxes.intersection(a, b), [[25], [0]])
    with pytest.raises(ValueError, match="second corner is before the first"):
        boxes.intersection([[10, 0, 0, 10]], b)


# ============================================================================ R-CNN box deltas, Detections
def test_deltas_hand_case_and_round_trip():
    # anchor centre (5, 5), 10x10; target centre (15, 10), 20x5
    deltas = boxes.encode_deltas([[0, 0, 10, 10]], [[5, 7.5, 25, 12.5]])
    np.testing.assert_allclose(deltas, [[1.0, 0.5, np.log(2), np.log(0.5)]], atol=1e-6)
    np.testing.assert_allclose(boxes.decode_deltas([[0, 0, 10, 10]], deltas), [[5, 7.5, 25, 12.5]], atol=1e-5)
    rng = np.random.default_rng(0)
    a, b = (np.concatenate([c, c + rng.uniform(2, 30, (50, 2))], axis=1) for c in rng.uniform(0, 30, (2, 50, 2)))
    np.testing.assert_allclose(boxes.decode_deltas(a, boxes.encode_deltas(a, b)), b, atol=1e-3)
    huge = boxes.decode_deltas([[0, 0, 10, 10]], [[0, 0, 50, 50]])  # clipped at log(1000 / 16)
    np.testing.assert_allclose(huge[0, 2] - huge[0, 0], 10 * 1000 / 16, rtol=1e-4)
    with pytest.raises(ValueError, match="same shape"):
        boxes.encode_deltas([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 2, 2]])
    with pytest.raises(ValueError, match=r"anchors. \(width, height\) must hold finite, positive numbers; got 0.0 at index \(0, 0\)"):
        boxes.encode_deltas([[0, 0, 0, 1]], [[0, 0, 1, 1]])
    # the clip is the constant, and only on the log sizes: one step under it is not clipped
    assert boxes.DELTA_CLIP == pytest.approx(np.log(1000 / 16))
    below = boxes.decode_deltas([[0, 0, 10, 10]], [[0, 0, boxes.DELTA_CLIP - 0.5, 0]])
    np.testing.assert_allclose(below[0, 2] - below[0, 0], 10 * np.exp(boxes.DELTA_CLIP - 0.5), rtol=1e-5)


def test_detections_hold_predictions_and_optional_proposals():
    found = boxes.Detections([{"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "classes": np.zeros(0)}] * 3)
    assert len(found) == 3 and found.proposals is None
