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


# ============================================================================ mutation testing (issue 23)
@pytest.mark.parametrize("iou_threshold,score_threshold,max_outputs",
                         [(0.5, float("-inf"), None), (0.3, 0.4, 100), (0.7, 0.0, 5), (0.0, 0.2, None)])
def test_nms_equals_tensorflow_in_every_format(iou_threshold, score_threshold, max_outputs):
    import tensorflow as tf

    rng = np.random.default_rng(RNG_SEED + 4)
    b = random_xyxy(40, rng)
    s = rng.random(40).astype(np.float32)
    theirs = tf.image.non_max_suppression(b, s, 40 if max_outputs is None else max_outputs, iou_threshold,
                                          score_threshold).numpy()
    assert len(theirs) > 1
    for box_format in ("xyxy", "xywh", "center_xywh", "yxyx"):
        mine = boxes.non_max_suppression(boxes.convert(b, "xyxy", box_format), s, iou_threshold, score_threshold,
                                         max_outputs, box_format=box_format)
        assert mine.dtype == np.int64
        np.testing.assert_array_equal(mine, theirs)


def test_per_class_nms_by_hand():
    # b0 and b1 overlap (IoU 0.81), b2 far away; b1 is only suppressed by b0 when they share a class
    b = [[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60], [1, 0, 11, 10]]
    s = [0.9, 0.8, 0.7, 0.6]
    assert boxes.non_max_suppression(b, s, 0.5).tolist() == [0, 2]
    assert boxes.non_max_suppression(b, s, 0.5, classes=[0, 1, 0, 1]).tolist() == [0, 1, 2]
    assert boxes.non_max_suppression(b, s, 0.5, classes=[0, 0, 1, 1]).tolist() == [0, 2, 3]
    assert boxes.non_max_suppression(b, s, 0.5, classes=np.array([3, 3, 3, 3])).tolist() == [0, 2]
    # max_outputs counts kept boxes, 0 keeps none, None keeps all
    assert boxes.non_max_suppression(b, s, 0.5, max_outputs=0).tolist() == []
    assert boxes.non_max_suppression(b, s, 1.0, max_outputs=None).tolist() == [0, 1, 2, 3]
    assert boxes.non_max_suppression(b, s, 1.0, max_outputs=4).tolist() == [0, 1, 2, 3]
    assert boxes.non_max_suppression(b, s, 1.0, max_outputs=2).tolist() == [0, 1]
    # ties in the score keep the input order (a stable sort)
    assert boxes.non_max_suppression(b, [0.5, 0.5, 0.5, 0.5], 1.0).tolist() == [0, 1, 2, 3]
    # one box, and the default score threshold keeps negative scores
    assert boxes.non_max_suppression(b[:1], [-3.0]).tolist() == [0]


def test_nms_error_messages_name_the_argument():
    b = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]
    with pytest.raises(ValueError, match=r"^scores must have shape \(3,\) \(one per box\); got shape \(2,\)"):
        boxes.non_max_suppression(b, [0.9, 0.8])
    with pytest.raises(ValueError, match=r"^classes must have shape \(3,\) \(one per box\); got shape \(2,\)"):
        boxes.non_max_suppression(b, [0.9, 0.8, 0.7], classes=[0, 1])
    with pytest.raises(ValueError, match=r"^boxes must have shape \(N, 4\); got shape \(1, 3, 4\)\. "
                                         r"Run NMS on one image at a time\.$"):
        boxes.non_max_suppression([b], [0.9, 0.8, 0.7])
    with pytest.raises(ValueError, match=r"^iou_threshold=1\.5 must be a number in \[0, 1\]"):
        boxes.non_max_suppression(b, [0.9, 0.8, 0.7], iou_threshold=1.5)
    with pytest.raises(ValueError, match=r"^iou_threshold=-0\.1 must be a number in \[0, 1\]"):
        boxes.non_max_suppression(b, [0.9, 0.8, 0.7], iou_threshold=-0.1)
    with pytest.raises(ValueError, match=r"^max_outputs=-1 must be an integer of at least 0 \(or None for no limit\)"):
        boxes.non_max_suppression(b, [0.9, 0.8, 0.7], max_outputs=-1)
    with pytest.raises(ValueError, match=r"^score_threshold=nan would drop every box; pass a number "
                                         r"\(float\('-inf'\) keeps all\)\.$"):
        boxes.non_max_suppression(b, [0.9, 0.8, 0.7], score_threshold=float("nan"))
    with pytest.raises(ValueError, match=r"^boxes has 1 box\(es\) whose second corner"):
        boxes.non_max_suppression([[0, 0, 10, 10], [5, 5, 1, 1]], [0.9, 0.8])
    with pytest.raises(ValueError, match=r"^boxes\[\.\.\., 2:\] must hold values in \[0, inf\] "
                                         r"\(the widths and heights of 'xywh' boxes\)"):
        boxes.non_max_suppression([[0, 0, 10, -10]], [0.9], box_format="xywh")


def test_anchor_iou_by_hand_and_against_centred_boxes():
    sizes = np.array([[2, 4], [3, 3]], np.float32)
    anchors = np.array([[4, 2], [2, 4], [1, 1]], np.float32)
    # min(w) * min(h) / (area + area - that)
    expected = [[4 / 12, 1.0, 1 / 8], [6 / 11, 6 / 11, 1 / 9]]
    got = boxes.anchor_iou(sizes, anchors)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(boxes.anchor_iou(anchors, sizes), np.transpose(expected), rtol=1e-6)
    rng = np.random.default_rng(RNG_SEED + 5)
    sizes, anchors = rng.uniform(1, 30, (7, 2)), rng.uniform(1, 30, (5, 2))
    centred = lambda wh: np.concatenate([-wh / 2, wh / 2], axis=1)  # noqa: E731
    np.testing.assert_allclose(boxes.anchor_iou(sizes, anchors), boxes.iou(centred(sizes), centred(anchors)),
                               rtol=1e-5)


def test_validate_sizes_and_anchor_iou_messages():
    np.testing.assert_array_equal(boxes.validate_sizes([[1, 2]], "sizes"), [[1, 2]])
    assert boxes.validate_sizes([[1, 2]], "sizes").dtype == np.float32
    with pytest.raises(ValueError, match=r"^my_sizes must have shape \(N, 2\) \(\(width, height\) rows\); "
                                         r"got shape \(4,\)"):
        boxes.validate_sizes([1, 2, 3, 4], "my_sizes")
    with pytest.raises(ValueError, match=r"^my_sizes must hold finite, positive numbers \(widths and heights\); "
                                         r"got 0\.0 at index \(1, 1\); drop padding rows first\.$"):
        boxes.validate_sizes([[1, 2], [3, 0]], "my_sizes")
    with pytest.raises(ValueError, match=r"^sizes must have shape \(N, 2\)"):
        boxes.anchor_iou([[1, 2, 3]], [[1, 2]])
    with pytest.raises(ValueError, match=r"^anchors must have shape \(N, 2\)"):
        boxes.anchor_iou([[1, 2]], [[1, 2, 3]])
    with pytest.raises(ValueError, match=r"^anchors must hold finite, positive"):
        boxes.anchor_iou([[1, 2]], [[-1, 2]])
    with pytest.raises(ValueError, match=r"^sizes must hold finite, positive"):
        boxes.kmeans_anchors([[1, 2], [-1, 2]], 1)
    with pytest.raises(ValueError, match=r"^k=3 must be an integer from 1 to 2 \(at most the number of boxes\)\.$"):
        boxes.kmeans_anchors([[1, 2], [3, 4]], 3)
    with pytest.raises(ValueError, match=r"^k=0 must be an integer from 1 to 2 "):
        boxes.kmeans_anchors([[1, 2], [3, 4]], 0)


def _assign_and_take_medians(sizes, anchors):
    """One k-means step written out: each box to its best anchor by IoU, each anchor to its boxes' median."""
    best = boxes.anchor_iou(sizes, anchors).argmax(axis=1)
    moved = np.array([np.median(sizes[best == j], axis=0) if (best == j).any() else anchors[j]
                      for j in range(len(anchors))])
    return moved[np.argsort(moved.prod(axis=1))]


def test_kmeans_anchors_hand_cases():
    sizes = np.array([[1, 1], [2, 2], [10, 10], [3, 1], [1, 3]], np.float32)
    # k = 1: the median box; k = N: every box its own anchor, sorted by area
    for seed in range(3):
        np.testing.assert_array_equal(boxes.kmeans_anchors(sizes, 1, seed=seed), [[2, 2]])
        got = boxes.kmeans_anchors(sizes, 5, seed=seed)
        assert got.dtype == np.float32 and got.shape == (5, 2)
        np.testing.assert_array_equal(got.prod(axis=1), [1, 3, 3, 4, 100])
        assert {tuple(r) for r in got.tolist()} == {tuple(r) for r in sizes.tolist()}
    # identical boxes leave no distance to weigh the next start by: any box will do
    np.testing.assert_array_equal(boxes.kmeans_anchors([[3, 4]] * 4, 2), [[3, 4], [3, 4]])


def test_kmeans_anchors_steps_are_assign_then_median():
    rng = np.random.default_rng(RNG_SEED + 6)
    sizes = np.concatenate([c * rng.uniform(0.6, 1.4, (30, 2)) for c in ([6, 6], [20, 8], [9, 25], [30, 30])])
    sizes = sizes.astype(np.float32)
    for seed in (0, 1):
        starts = boxes.kmeans_anchors(sizes, 4, iterations=0, seed=seed)      # the k-means++ starts, sorted
        assert len({tuple(r) for r in starts.tolist()}) == 4
        assert {tuple(r) for r in starts.tolist()} <= {tuple(r) for r in sizes.tolist()}
        one = boxes.kmeans_anchors(sizes, 4, iterations=1, seed=seed)
        np.testing.assert_allclose(one, _assign_and_take_medians(sizes, starts), rtol=1e-6)
        two = boxes.kmeans_anchors(sizes, 4, iterations=2, seed=seed)
        np.testing.assert_allclose(two, _assign_and_take_medians(sizes, one), rtol=1e-6)
        final = boxes.kmeans_anchors(sizes, 4, seed=seed)                      # converged: a fixed point
        np.testing.assert_allclose(_assign_and_take_medians(sizes, final), final, rtol=1e-6)
        assert np.all(np.diff(final.prod(axis=1)) > 0)
    # the seed picks the starts
    assert not np.array_equal(boxes.kmeans_anchors(sizes, 4, iterations=0, seed=0),
                              boxes.kmeans_anchors(sizes, 4, iterations=0, seed=1))


def _kmeans_pp_starts(sizes, k, seed):
    """k-means++ as the docstring says: a first box at random, then each next one drawn with
    probability proportional to its squared distance (1 - IoU) to the nearest start."""
    rng = np.random.default_rng(seed)
    starts = [sizes[rng.integers(len(sizes))]]
    while len(starts) < k:
        distance = 1.0 - boxes.anchor_iou(sizes, np.array(starts)).max(axis=1)
        weights = distance ** 2 if distance.any() else np.ones(len(sizes))
        starts.append(sizes[rng.choice(len(sizes), p=weights / weights.sum())])
    starts = np.array(starts)
    return starts[np.argsort(starts.prod(axis=1))]


def test_kmeans_anchors_starts_are_kmeans_plus_plus_and_seeded():
    rng = np.random.default_rng(RNG_SEED + 7)
    sizes = rng.uniform(2, 40, (25, 2)).astype(np.float32)
    for seed in range(4):
        starts = boxes.kmeans_anchors(sizes, 5, iterations=0, seed=seed)
        np.testing.assert_array_equal(starts, _kmeans_pp_starts(sizes, 5, seed))
        np.testing.assert_array_equal(boxes.kmeans_anchors(sizes, 5, iterations=0, seed=seed), starts)
    # the default seed is 0
    np.testing.assert_array_equal(boxes.kmeans_anchors(sizes, 5, iterations=0), _kmeans_pp_starts(sizes, 5, 0))
    np.testing.assert_array_equal(boxes.kmeans_anchors(sizes, 5), boxes.kmeans_anchors(sizes, 5, seed=0))


def test_nms_ties_keep_the_input_order_beyond_small_arrays():
    # 40 boxes far apart, scores with many ties: a stable sort keeps index order inside a tie
    # (NumPy's default quicksort does not, from 17 elements on)
    b = np.array([[30 * i, 0, 30 * i + 10, 10] for i in range(40)], np.float32)
    s = np.random.default_rng(RNG_SEED).integers(0, 3, 40).astype(np.float32)
    expected = sorted(range(40), key=lambda i: (-s[i], i))
    assert boxes.non_max_suppression(b, s).tolist() == expected
    # an empty result is int64 too
    empty = boxes.non_max_suppression(b, s, score_threshold=5.0)
    assert empty.dtype == np.int64 and empty.shape == (0,)
    assert boxes.non_max_suppression(b, s, max_outputs=0).dtype == np.int64


def test_deltas_are_computed_in_float64_whatever_the_input_dtype():
    # 2**24 and 2**24 + 2 are exact in float32, but their sums are not: float32 arithmetic would be off
    big = 2.0 ** 24
    anchors = np.array([[big, 0, big + 2, 2], [big, big, big + 2, big + 4]], np.float32)
    targets = np.array([[big + 2, 0, big + 4, 2], [big + 2, big, big + 4, big + 4]], np.float32)
    deltas = boxes.encode_deltas(anchors, targets)
    assert deltas.dtype == np.float32
    np.testing.assert_array_equal(deltas, [[1, 0, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(deltas, boxes.encode_deltas(anchors.astype(np.float64), targets.astype(np.float64)))
    decoded = boxes.decode_deltas(anchors, deltas)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, targets)
    # float32 deltas are read as float64 too (exp and the clip in float32 would round differently)
    rng = np.random.default_rng(RNG_SEED + 8)
    d = rng.normal(0, 1, (500, 4)).astype(np.float32)
    a = np.tile(np.array([[3.0, 5.0, 40.0, 23.0]]), (500, 1))
    np.testing.assert_array_equal(boxes.decode_deltas(a, d), boxes.decode_deltas(a, d.astype(np.float64)))
    np.testing.assert_array_equal(boxes.decode_deltas(a.astype(np.float32), d),
                                  boxes.decode_deltas(a, d.astype(np.float64)))


def test_deltas_keep_batch_axes_and_name_the_bad_argument():
    rng = np.random.default_rng(RNG_SEED + 9)
    corners = rng.uniform(0, 30, (2, 3, 2))
    a = np.concatenate([corners, corners + rng.uniform(1, 20, (2, 3, 2))], axis=-1)
    b = np.concatenate([corners + 1, corners + rng.uniform(2, 20, (2, 3, 2))], axis=-1)
    deltas = boxes.encode_deltas(a, b)
    assert deltas.shape == (2, 3, 4)
    np.testing.assert_allclose(deltas.reshape(-1, 4), boxes.encode_deltas(a.reshape(-1, 4), b.reshape(-1, 4)))
    decoded = boxes.decode_deltas(a, deltas)
    assert decoded.shape == (2, 3, 4)
    np.testing.assert_allclose(decoded, b, atol=1e-4)
    # the (..., 2) sizes checked hold (width, height) on the last axis: the index names box and side
    bad = b.copy()
    bad[1, 2, 3] = bad[1, 2, 1]                      # zero height of box (1, 2)
    with pytest.raises(ValueError, match=r"^target_boxes' \(width, height\) must hold finite, positive numbers; "
                                         r"got 0\.0 at index \(1, 2, 1\)\.$"):
        boxes.encode_deltas(a, bad)
    with pytest.raises(ValueError, match=r"^anchors' \(width, height\) must hold finite, positive numbers; "
                                         r"got 0\.0 at index \(1, 2, 1\)\.$"):
        boxes.encode_deltas(bad, b)
    with pytest.raises(ValueError, match=r"^target_boxes' \(width, height\) must hold finite, positive numbers; "
                                         r"got -1\.0 at index \(0, 0\)\.$"):
        boxes.encode_deltas([[0, 0, 1, 1]], [[1, 0, 0, 1]])
    with pytest.raises(ValueError, match=r"^anchors \(1, 4\) and target_boxes \(2, 4\) must have the same shape\.$"):
        boxes.encode_deltas([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 2, 2]])
    with pytest.raises(ValueError, match=r"^anchors \(1, 4\) and deltas \(2, 4\) must have the same shape\.$"):
        boxes.decode_deltas([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 2, 2]])
    for function in (boxes.encode_deltas, boxes.decode_deltas):
        with pytest.raises(ValueError, match=r"^anchors must have shape \(\.\.\., 4\) \('xyxy' boxes\); "
                                             r"got shape \(1, 3\)\.$"):
            function([[0, 0, 1]], [[0, 0, 1]])
    # the clip is on each log size on its own
    only_width = boxes.decode_deltas([[0, 0, 10, 10]], [[0, 0, 50, 1]])
    np.testing.assert_allclose(only_width[0, 2:] - only_width[0, :2], [10 * 1000 / 16, 10 * np.e], rtol=1e-5)


def test_intersection_and_paired_iou_of_several_boxes_and_formats():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 8, 20]], np.float32)
    b = np.array([[5, 5, 15, 15], [0, 8, 40, 9]], np.float32)
    expected = [[25, 10], [0, 0], [30, 3]]
    np.testing.assert_array_equal(boxes.intersection(a, b), expected)
    np.testing.assert_array_equal(boxes.intersection(b, a), np.transpose(expected))
    assert boxes.intersection(a, b).dtype == np.float32
    np.testing.assert_array_equal(boxes.intersection(boxes.convert(a, "xyxy", "xywh"),
                                                     boxes.convert(b, "xyxy", "xywh"), "xywh"), expected)
    with pytest.raises(ValueError, match=r"^boxes2 has 1 box\(es\) whose second corner"):
        boxes.intersection(a, [[10, 0, 0, 10]])
    with pytest.raises(ValueError, match=r"^boxes1 has 1 box\(es\) whose second corner"):
        boxes.iou([[10, 0, 0, 10]], a)
    with pytest.raises(ValueError, match=r"^boxes2 has 1 box\(es\) whose second corner"):
        boxes.iou(a, [[10, 0, 0, 10]])
    with pytest.raises(ValueError, match=r"^boxes1 has 1 box\(es\)"):
        boxes.intersection([[10, 0, 0, 10]], a)
    # paired: row by row, in any format, of (..., 4) batches
    pa, pb = a[:2], b
    paired = boxes.paired_iou(pa, pb)
    np.testing.assert_allclose(paired, [25 / 175, 0.0], rtol=1e-6)
    np.testing.assert_allclose(boxes.paired_iou(boxes.convert(pa, "xyxy", "center_xywh"),
                                                boxes.convert(pb, "xyxy", "center_xywh"), "center_xywh"),
                               paired, rtol=1e-6)
    np.testing.assert_allclose(boxes.paired_iou(pa[None], pb[None]), paired, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^boxes1 \(3, 4\) and boxes2 \(2, 4\) must have the same shape\.$"):
        boxes.paired_iou(a, b)
    with pytest.raises(ValueError, match=r"^boxes1 has 1 box\(es\)"):
        boxes.paired_iou([[10, 0, 0, 10]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"^boxes2 has 1 box\(es\)"):
        boxes.paired_iou([[0, 0, 1, 1]], [[10, 0, 0, 10]])


@pytest.mark.parametrize("source", ABSOLUTE + RELATIVE)
def test_convert_keeps_batch_axes_and_float32(source):
    # (2, 3, 4) boxes: concatenating on axis 1 instead of -1 would mix boxes with coordinates
    rng = np.random.default_rng(RNG_SEED + 10)
    xyxy = np.stack([random_xyxy(3, rng, size=50.0) for _ in range(2)])
    batch = boxes.convert(xyxy, "xyxy", source, image_size=(50, 100))
    for target in ABSOLUTE + RELATIVE:
        out = boxes.convert(batch, source, target, image_size=(50, 100))
        assert out.shape == (2, 3, 4) and out.dtype == np.float32, (source, target)
        flat = boxes.convert(batch.reshape(-1, 4), source, target, image_size=(50, 100))
        np.testing.assert_allclose(out.reshape(-1, 4), flat, atol=1e-6)


def test_convert_checks_both_formats_and_needs_image_size_either_way():
    with pytest.raises(ValueError, match=r"^box_format='corners' must be 'xyxy', "):
        boxes.convert([[0, 0, 1, 1]], "xyxy", "corners")
    with pytest.raises(ValueError, match=r"^box_format='corners' must be 'xyxy', "):
        boxes.convert([[0, 0, 1, 1]], "corners", "xyxy")
    with pytest.raises(ValueError, match=r"^Converting 'rel_xyxy' to 'xyxy' needs image_size=\(height, width\)\.$"):
        boxes.convert([[0, 0, 0.5, 0.5]], "rel_xyxy", "xyxy")
    with pytest.raises(ValueError, match=r"^Converting 'xywh' to 'rel_center_xywh' needs image_size=\(height, width\)\.$"):
        boxes.convert([[0, 0, 1, 1]], "xywh", "rel_center_xywh")
    # relative to relative needs no image size, absolute to absolute ignores it
    np.testing.assert_allclose(boxes.convert([HAND_BOX["rel_xyxy"]], "rel_xyxy", "rel_center_xywh"),
                               [HAND_BOX["rel_center_xywh"]], atol=1e-6)
    np.testing.assert_allclose(boxes.convert([HAND_BOX["xywh"]], "xywh", "yxyx", image_size=(7, 3)),
                               [HAND_BOX["yxyx"]])
    # the same format: a float32 copy, not the caller's array
    given = np.array([[1, 2, 3, 4]], np.float32)
    same = boxes.convert(given, "xyxy", "xyxy")
    same[0, 0] = 99
    assert given[0, 0] == 1
    assert boxes.convert([[1, 2, 3, 4]], "xywh", "xywh").dtype == np.float32


def test_iou_is_float32_and_zero_for_two_empty_boxes():
    got = boxes.iou([[0, 0, 10, 10], [5, 5, 5, 5]], [[5, 5, 15, 15], [5, 5, 5, 5]])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[25 / 175, 0.0], [0.0, 0.0]], rtol=1e-6)
    assert boxes.paired_iou([[0, 0, 10, 10]], [[5, 5, 15, 15]]).dtype == np.float32


def test_validate_boxes_edges_and_messages():
    # zero width or height is a box (degenerate, not reversed); each axis is checked on its own
    boxes.validate_boxes([[5, 5, 5, 9], [5, 5, 9, 5]])
    boxes.validate_boxes([[-5, -5, 3, 3]], "xywh")                  # only sizes must be >= 0 without image_size
    with pytest.raises(ValueError, match=r"^boxes has 1 box\(es\) whose second corner is before the first: in 'xyxy' "
                                         r"each box is \(x_min, y_min, x_max, y_max\)\. If your boxes are "
                                         r"\(x, y, width, height\), pass box_format='xywh'\.$"):
        boxes.validate_boxes([[0, 5, 10, 4]])
    with pytest.raises(ValueError, match=r"^b has 2 box\(es\) whose second corner is before the first: in 'yxyx' "
                                         r"each box is \(y_min, x_min, y_max, x_max\)\."):
        boxes.validate_boxes([[5, 0, 4, 10], [0, 0, 1, 1], [0, 5, 10, 4]], "yxyx", name="b")
    with pytest.raises(ValueError, match=r"in 'rel_yxyx' each box is \(y_min, x_min, y_max, x_max\)"):
        boxes.validate_boxes([[0.5, 0, 0.4, 1]], "rel_yxyx")
    with pytest.raises(ValueError, match=r"^sz\[\.\.\., 2:\] must hold values in \[0, inf\] \(the widths and heights "
                                         r"of 'center_xywh' boxes\); got \[-3, 5\]\.$"):
        boxes.validate_boxes([[10, 10, 5, -3]], "center_xywh", name="sz")
    # relative coordinates: [0, 1] within 1e-6
    boxes.validate_boxes([[0, 0, 1 + 5e-7, 1]], "rel_xyxy")
    boxes.validate_boxes([[-5e-7, 0, 1, 1]], "rel_xyxy")
    with pytest.raises(ValueError, match=r"^r must hold values in \[0, 1\] \(relative 'rel_xywh' coordinates\); "
                                         r"got \[0, 1\.5\]\. Divide pixel coordinates by the image width and height, "
                                         r"or use the absolute format 'xywh'\.$"):
        boxes.validate_boxes([[0, 0.5, 1.5, 0.25]], "rel_xywh", name="r")
    with pytest.raises(ValueError, match=r"^boxes must hold values in \[0, 1\]"):
        boxes.validate_boxes([[0, 0, 1.00001, 1]], "rel_xyxy")
    with pytest.raises(ValueError, match=r"^boxes must hold values in \[0, 1\]"):
        boxes.validate_boxes([[-1e-5, 0, 1, 1]], "rel_xyxy", image_size=(10, 10))
    # inside the image within 1e-3; x against the width, y against the height
    height, width = 64, 32
    for ok in ([0, 0, 32, 64], [-5e-4, -5e-4, 32.0005, 64.0005]):
        boxes.validate_boxes([ok], image_size=(height, width))
    for bad in ([-0.002, 0, 10, 10], [0, -0.002, 10, 10], [0, 0, 32.01, 10], [0, 0, 10, 64.01], [0, 0, 40, 40]):
        with pytest.raises(ValueError, match=r"^bx reach outside the 64x32 image; clip them first "
                                             r"\(keras\.utils\.bounding_boxes\.clip_to_image_size\)\.$"):
            boxes.validate_boxes([bad], name="bx", image_size=(height, width))
    boxes.validate_boxes([[0, 0, 10, 64]], "xywh", image_size=(64, 10))   # converted to xyxy first
    with pytest.raises(ValueError, match="outside the 64x10 image"):
        boxes.validate_boxes([[1, 0, 10, 64]], "xywh", image_size=(64, 10))


def test_area_and_to_xyxy():
    got = boxes.area([[[0, 0, 4, 5], [0, 0, -4, 5]], [[0, 0, 4, -5], [0, 0, -4, -5]]])
    assert got.dtype == np.float32 and got.shape == (2, 2)
    np.testing.assert_array_equal(got, [[20, 0], [0, 0]])
    np.testing.assert_array_equal(boxes.area([[1, 2, 4, 7]]), [15])
    out = boxes.to_xyxy([[1, 2, 3, 4]], "xyxy")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 2, 3, 4]])
    out = boxes.to_xyxy([[2, 1, 4, 3]], "yxyx")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(boxes.to_xyxy([[1, 2, 2, 2]], "xywh"), [[1, 2, 3, 4]])
    # iou flattens leading axes of both arguments
    a = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], np.float32)
    assert boxes.iou(a, a[0, :1]).shape == (2, 1)
    assert boxes.iou(a[0, :1], a).shape == (1, 2)
    assert boxes.intersection(a, a).shape == (2, 2)


def test_encode_deltas_checks_sizes_in_float64():
    # a width of 1e-50 is positive in float64 (the arithmetic's type) though it is 0 in float32
    np.testing.assert_array_equal(boxes.encode_deltas([[0, 0, 1e-50, 1]], [[0, 0, 1e-50, 1]]), [[0, 0, 0, 0]])
    np.testing.assert_array_equal(boxes.encode_deltas([[0, 0, 1, 1]], [[0, 0, 1, 1e-50]])[0, :3], [0, -0.5, 0])


def test_iou_of_boxes_smaller_than_a_pixel():
    # unions below 1: the "no union" guard is at 0, not 1
    small = [[0, 0, 0.5, 0.5], [0.25, 0, 0.75, 0.5]]
    np.testing.assert_allclose(boxes.iou(small, small), [[1, 1 / 3], [1 / 3, 1]], rtol=1e-6)
    np.testing.assert_allclose(boxes.paired_iou(small, small[::-1]), [1 / 3, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(boxes.anchor_iou([[0.5, 0.5], [0.5, 0.25]], [[0.5, 0.5]]), [[1], [0.5]], rtol=1e-6)


def test_validate_boxes_image_bounds_at_equality_and_per_axis():
    # the tolerance is compared in float32: a coordinate equal to it is still inside
    tall, wide = (64, 32), (32, 64)
    boxes.validate_boxes([[np.float32(-1e-3), np.float32(-1e-3), 10, 10]], image_size=tall)
    boxes.validate_boxes([[0, 0, np.float32(32 + 1e-3), np.float32(64 + 1e-3)]], image_size=tall)
    # x is checked against the width only, y against the height only
    boxes.validate_boxes([[0, 40, 10, 50]], image_size=tall)           # y beyond the width, inside the height
    boxes.validate_boxes([[40, 0, 50, 10]], image_size=wide)           # x beyond the height, inside the width
    for bad, size in (([0, 40, 10, 50], wide), ([40, 0, 50, 10], tall)):
        with pytest.raises(ValueError, match=r"reach outside the"):
            boxes.validate_boxes([bad], image_size=size)


def test_to_xyxy_of_xyxy_is_a_float32_view_not_a_copy():
    given = np.array([[1, 2, 3, 4]], np.float32)
    assert np.shares_memory(boxes.to_xyxy(given, "xyxy"), given)
    assert not np.shares_memory(boxes.to_xyxy(given, "xywh"), given)


def test_iou_of_empty_boxes_divides_by_no_zero():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a 0 / 0 would warn "invalid value encountered in divide"
        np.testing.assert_array_equal(boxes.iou([[5, 5, 5, 5]], [[5, 5, 5, 5], [1, 1, 1, 3]]), [[0, 0]])
        np.testing.assert_array_equal(boxes.paired_iou([[5, 5, 5, 5]], [[5, 5, 5, 5]]), [0])
