"""Chapter 05: NMS, anchors, YOLO targets, sliding windows, Dense -> Conv, mAP,
YOLO loss and decoding by hand, window labels. The learning claims (tiny YOLO, keras-cv YOLOv8)
are chapter 05's claim cells, so the chapter's training is not repeated here."""

import math

import numpy as np
import pytest
import tensorflow as tf

from homl_cv import boxes, data, detection


def random_boxes(rng, n, size=100.0):
    corners = rng.uniform(0, size, (n, 2, 2))
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).astype(np.float32)


# ============================================================================ NMS
@pytest.mark.parametrize("iou_threshold,score_threshold,max_outputs",
                         [(0.5, float("-inf"), 100), (0.3, 0.4, 100), (0.7, 0.0, 5), (0.0, 0.2, 100)])
def test_nms_equals_tensorflow(iou_threshold, score_threshold, max_outputs):
    rng = np.random.default_rng(0)
    for trial in range(5):
        b = random_boxes(rng, 60)
        s = rng.random(60).astype(np.float32)
        mine = boxes.non_max_suppression(b, s, iou_threshold, score_threshold, max_outputs)
        theirs = tf.image.non_max_suppression(b, s, max_outputs, iou_threshold, score_threshold).numpy()
        np.testing.assert_array_equal(mine, theirs)
        assert len(mine) > 1


def test_per_class_nms_equals_tensorflow_per_class():
    rng = np.random.default_rng(1)
    b, s = random_boxes(rng, 80), rng.random(80).astype(np.float32)
    classes = rng.integers(0, 3, 80)
    mine = boxes.non_max_suppression(b, s, 0.4, classes=classes)
    theirs = np.concatenate([
        np.flatnonzero(classes == c)[tf.image.non_max_suppression(b[classes == c], s[classes == c], 80, 0.4).numpy()]
        for c in range(3)])
    theirs = theirs[np.argsort(-s[theirs])]
    np.testing.assert_array_equal(mine, theirs)
    agnostic = boxes.non_max_suppression(b, s, 0.4)
    assert len(agnostic) < len(mine)  # across classes more boxes suppress each other


def test_nms_hand_case():
    b = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 20, 31, 30]]
    assert boxes.non_max_suppression(b, [0.9, 0.8, 0.7, 0.95]).tolist() == [3, 0]
    assert boxes.non_max_suppression(b, [0.9, 0.8, 0.7, 0.95], max_outputs=1).tolist() == [3]
    assert boxes.non_max_suppression(b, [0.9, 0.8, 0.7, 0.95], score_threshold=0.92).tolist() == [3]
    assert boxes.non_max_suppression(np.zeros((0, 4)), np.zeros(0)).tolist() == []


def test_nms_ties_at_the_thresholds_match_tensorflow():
    """A score equal to score_threshold is dropped; an IoU equal to iou_threshold does not suppress."""
    b = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30], [40, 40, 50, 50]], np.float32)
    s = np.array([0.9, 0.8, 0.5, 0.7], np.float32)  # IoU(b0, b1) = 50 / 100 = 0.5 exactly
    mine = boxes.non_max_suppression(b, s, iou_threshold=0.5, score_threshold=0.5)
    theirs = tf.image.non_max_suppression(b, s, 10, iou_threshold=0.5, score_threshold=0.5).numpy()
    assert mine.tolist() == theirs.tolist() == [0, 1, 3]
    assert boxes.non_max_suppression(b, s, iou_threshold=0.49, score_threshold=0.49).tolist() == [0, 3, 2]


def test_nms_max_outputs_caps_the_image_not_each_class():
    b = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [60, 0, 70, 10]], np.float32)
    kept = boxes.non_max_suppression(b, [0.9, 0.8, 0.7, 0.6], max_outputs=3, classes=[0, 1, 0, 1])
    assert kept.tolist() == [0, 1, 2]


def test_nms_bad_input():
    b = [[0, 0, 10, 10], [1, 1, 11, 11]]
    with pytest.raises(ValueError, match="scores must have shape"):
        boxes.non_max_suppression(b, [0.9])
    with pytest.raises(ValueError, match="classes must have shape"):
        boxes.non_max_suppression(b, [0.9, 0.8], classes=[0])
    with pytest.raises(ValueError, match="second corner is before the first"):
        boxes.non_max_suppression([[10, 10, 0, 0]], [0.9])
    with pytest.raises(ValueError, match="iou_threshold"):
        boxes.non_max_suppression(b, [0.9, 0.8], iou_threshold=1.5)
    with pytest.raises(ValueError, match="one image at a time"):
        boxes.non_max_suppression([b], [0.9, 0.8])


# ============================================================================ anchors
def test_kmeans_anchors_recover_planted_clusters():
    rng = np.random.default_rng(0)
    planted = np.array([[8, 8], [30, 12], [14, 40]], np.float32)
    sizes = np.concatenate([c * rng.uniform(0.93, 1.07, (200, 2)) for c in planted])
    anchors = boxes.kmeans_anchors(sizes, 3, seed=3)
    np.testing.assert_allclose(anchors, planted[np.argsort(planted.prod(1))], rtol=0.05)


def test_kmeans_anchors_beat_a_fixed_grid_on_shapes():
    shapes = data.make_shapes(300, 64, 1, 3, seed=5)
    sizes = (shapes.boxes[..., 2:] - shapes.boxes[..., :2])[shapes.classes >= 0]
    learned = boxes.kmeans_anchors(sizes, 3)
    fixed = np.array([[8, 8], [24, 24], [48, 48]], np.float32)  # a "sensible" hand-made set
    learned_iou = boxes.anchor_iou(sizes, learned).max(1).mean()
    fixed_iou = boxes.anchor_iou(sizes, fixed).max(1).mean()
    assert learned_iou > fixed_iou + 0.03, (learned_iou, fixed_iou)


def test_anchor_bad_input():
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        boxes.kmeans_anchors(np.ones((5, 4)), 2)
    with pytest.raises(ValueError, match="positive"):
        boxes.kmeans_anchors([[1, 2], [-1, -1]], 1)
    with pytest.raises(ValueError, match="k=5"):
        boxes.kmeans_anchors([[1, 2], [3, 4]], 5)


# ============================================================================ YOLO targets
def test_yolo_encode_then_decode_returns_the_boxes():
    anchors = np.array([[10, 10], [20, 12], [14, 30]], np.float32)
    true_boxes = np.array([[3, 4, 15, 14], [30, 30, 52, 44], [40, 2, 55, 35], [-1, -1, -1, -1]], np.float32)
    true_classes = np.array([2, 0, 3, -1])
    target = detection.encode_yolo_targets(true_boxes, true_classes, 64, 8, anchors)
    assert target.shape == (8, 8, 3, 6) and target[..., 4].sum() == 3
    # the first box: centre (9, 9) is in cell row 1, col 1, at (0.125, 0.125); its best anchor is 10x10
    np.testing.assert_allclose(target[1, 1, 0], [0.125, 0.125, np.log(1.2), 0.0, 1, 2], atol=1e-6)
    decoded, decoded_classes = detection.decode_yolo_targets(target, 64, anchors)
    order = np.argsort(decoded[:, 0])
    np.testing.assert_allclose(decoded[order], true_boxes[:3][np.argsort(true_boxes[:3, 0])], atol=1e-4)
    assert sorted(decoded_classes.tolist()) == [0, 2, 3]


def test_yolo_targets_bad_input():
    anchors = [[10, 10]]
    with pytest.raises(ValueError, match="same length"):
        detection.encode_yolo_targets([[0, 0, 5, 5]], [0, 1], 64, 8, anchors)
    with pytest.raises(ValueError, match=r"image_size=64 must be a positive multiple of 7 \(grid_size=7 cells\), e.g. 70"):
        detection.encode_yolo_targets([[0, 0, 5, 5]], [0], 64, 7, anchors)
    with pytest.raises(ValueError, match="outside the 64x64 image"):
        detection.encode_yolo_targets([[0, 0, 80, 5]], [0], 64, 8, anchors)
    with pytest.raises(ValueError, match="offsets must have shape"):
        detection.decode_yolo_boxes(np.zeros((8, 8, 2, 4)), 64, anchors)


# ============================================================================ windows and FCN
def test_window_crops_and_boxes():
    image = np.arange(10 * 12 * 1).reshape(10, 12, 1)
    crops = detection.window_crops(image, 4, 2)
    assert crops.shape == (4, 5, 4, 4, 1)
    np.testing.assert_array_equal(crops[1, 2], image[2:6, 4:8])
    np.testing.assert_array_equal(detection.window_boxes((4, 5), 4, 2)[1, 2], [4, 2, 8, 6])
    with pytest.raises(ValueError, match="no larger"):
        detection.window_crops(image, 11, 2)


def test_window_training_set_labels():
    shapes = data.make_shapes(20, 64, 1, 2, size_range=(0.3, 0.45), seed=0)
    crops, labels = detection.window_training_set(shapes, 32, 8)
    assert crops.shape[1:] == (32, 32, 3) and len(crops) == len(labels)
    assert set(np.unique(labels)) <= set(range(5)) and (labels == 4).any() and (labels < 4).any()


def test_window_training_set_on_a_two_object_scene():
    """48x48 scene, 16-pixel windows every 8 pixels (5x5): A = [0, 0, 16, 16] (class 1), B = [26, 26, 42, 42]
    (class 3). Window (3, 3) = [24, 24, 40, 40] has IoU 196 / 316 = 0.62 with B: class 3; window (0, 1)
    covers half of A (IoU 1/3): left out; window (2, 2) holds 36 / 256 = 0.14 of B (> 0.1): left out."""
    from types import SimpleNamespace

    rows, cols = np.mgrid[0:48, 0:48]
    image = np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.float32)  # pixels say where they are
    scene = SimpleNamespace(images=image[None], class_names=("a", "b", "c", "d"),
                            boxes=np.array([[[0, 0, 16, 16], [26, 26, 42, 42], [-1, -1, -1, -1]]], np.float32),
                            classes=np.array([[1, 3, -1]]))
    crops, labels = detection.window_training_set(scene, 16, 8, min_iou=0.4, max_background=0.1)
    grid = np.full((5, 5), -1)
    for crop, label in zip(crops, labels):
        grid[int(crop[0, 0, 0]) // 8, int(crop[0, 0, 1]) // 8] = label
    assert grid.tolist() == [[1, -1, 4, 4, 4],
                             [-1, -1, 4, 4, 4],
                             [4, 4, -1, -1, -1],
                             [4, 4, -1, 3, -1],
                             [4, 4, -1, -1, -1]]


def test_dense_to_conv_identical_and_grid_equals_crops():
    classifier = detection.build_window_classifier(32, 5, filters=8)
    x = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    classifier.fit(x, np.array([0, 1, 4]), epochs=2, verbose=0)  # weights that are not the initial ones
    fcn = detection.dense_to_conv(classifier)
    same_size = fcn.predict(x, verbose=0)
    assert same_size.shape == (3, 1, 1, 5)
    np.testing.assert_allclose(same_size[:, 0, 0], classifier.predict(x, verbose=0), atol=1e-5)
    big = np.random.default_rng(1).random((1, 64, 80, 3)).astype(np.float32)
    grid = fcn.predict(big, verbose=0)[0]
    assert grid.shape == (5, 7, 5)  # (64 - 32) / 8 + 1 rows, (80 - 32) / 8 + 1 columns
    crops = detection.window_crops(big[0], 32, 8)
    per_crop = classifier.predict(crops.reshape(-1, 32, 32, 3), verbose=0).reshape(5, 7, 5)
    np.testing.assert_allclose(grid, per_crop, atol=1e-5)


def test_dense_to_conv_functional_model_and_bad_models():
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(3)(keras.layers.Dense(6, activation="relu")(x))
    model = keras.Model(inputs, outputs)
    fcn = detection.dense_to_conv(model)
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(fcn(x).numpy()[:, 0, 0], model(x).numpy(), atol=1e-5)
    gap = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3),
                            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="exactly one Flatten"):
        detection.dense_to_conv(gap)
    odd = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                            keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="after Flatten is not supported"):
        detection.dense_to_conv(odd)


# ============================================================================ mAP
def test_average_precision_book_example():
    # 5 detections of 4 objects: hit, miss, hit, hit, miss -> the curve of the chapter
    precision, recall = detection.precision_recall_curve([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 1, 0], 4)
    np.testing.assert_allclose(precision, [1, 0.5, 2 / 3, 0.75, 0.6])
    np.testing.assert_allclose(recall, [0.25, 0.25, 0.5, 0.75, 0.75])
    # levels 0, 0.1, 0.2, 0.3 ... 0.7 reach precision 1 (first 3) and 0.75; 0.8 - 1.0 are never reached
    assert detection.average_precision(precision, recall, 11) == pytest.approx((3 * 1 + 5 * 0.75) / 11)
    with pytest.raises(ValueError, match="recall_points"):
        detection.average_precision(precision, recall, 1)


def noisy_predictions(shapes, rng):
    """Jittered true boxes with random scores, some wrong classes, some extra boxes."""
    preds = []
    for tb, tc in zip(shapes.boxes, shapes.classes):
        tb, tc = tb[tc >= 0], tc[tc >= 0]
        jitter = rng.normal(0, 2.5, tb.shape)
        b = np.clip(tb + jitter, 0, 64)
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
        c = np.where(rng.random(len(tc)) < 0.15, rng.integers(0, 4, len(tc)), tc)
        extra = random_boxes(rng, rng.integers(0, 3), 64)
        preds.append({"boxes": np.concatenate([b, extra]),
                      "scores": rng.random(len(b) + len(extra)).astype(np.float32),
                      "classes": np.concatenate([c, rng.integers(0, 4, len(extra))])})
    return preds


def test_map_matches_pycocotools():
    shapes = data.make_shapes(60, 64, 1, 3, seed=11)
    preds = noisy_predictions(shapes, np.random.default_rng(0))
    reference = detection.coco_reference(preds, shapes.boxes, shapes.classes, 64)
    voc = detection.evaluate_detections(preds, shapes.boxes, shapes.classes, 4, (0.5,), recall_points=101)
    coco = detection.evaluate_detections(preds, shapes.boxes, shapes.classes, 4, detection.COCO_IOU_THRESHOLDS)
    assert 0.1 < coco.mAP < voc.mAP < 0.95  # a non-trivial case
    # Same matching, same 101-point interpolation. One known difference: pycocotools'
    # recall levels come from np.linspace unrounded (0.7000000000000001), so a recall of
    # exactly 7/10 does not "reach" 0.7 there but does here. On this data that moves
    # AP@[.5:.95] by 1e-4 (0.15538 here vs 0.15528; with unrounded levels both agree to 1e-12).
    assert voc.mAP == pytest.approx(reference["AP50"], abs=1e-4)
    assert coco.mAP == pytest.approx(reference["AP"], abs=5e-4)
    # The book's 11-point AP differs a little (coarser recall levels), not a lot.
    book = detection.evaluate_detections(preds, shapes.boxes, shapes.classes, 4, (0.5,), recall_points=11)
    assert abs(book.mAP - voc.mAP) < 0.05
    # a dataclass: mAP is the mean of the (T, C) AP table, class_ap its mean over thresholds
    assert isinstance(coco, detection.DetectionScores) and coco.ap.shape == (10, 4)
    assert coco.iou_thresholds == detection.COCO_IOU_THRESHOLDS
    assert coco.mAP == pytest.approx(float(np.nanmean(coco.ap)))
    np.testing.assert_allclose(coco.class_ap, coco.ap.mean(axis=0))
    # a Detections is taken as its predictions
    again = detection.evaluate_detections(boxes.Detections(preds), shapes.boxes, shapes.classes, 4, (0.5,))
    assert again.mAP == voc.mAP


def test_map_hand_cases():
    shapes = data.make_shapes(10, 64, 1, 3, seed=2)
    perfect = [{"boxes": b[c >= 0], "scores": np.linspace(1, 0.5, (c >= 0).sum()), "classes": c[c >= 0]}
               for b, c in zip(shapes.boxes, shapes.classes)]
    nothing = [{"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "classes": np.zeros(0)} for _ in range(10)]
    for thresholds in [(0.5,), detection.COCO_IOU_THRESHOLDS]:
        assert detection.evaluate_detections(perfect, shapes.boxes, shapes.classes, 4, thresholds).mAP == 1.0
        assert detection.evaluate_detections(nothing, shapes.boxes, shapes.classes, 4, thresholds).mAP == 0.0
    assert detection.coco_reference(perfect, shapes.boxes, shapes.classes, 64)["AP"] == pytest.approx(1.0)
    # a duplicate of a found object is a false positive
    duplicate = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 10]], "scores": [0.9, 0.8], "classes": [0, 0]}]
    truth = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], np.float32)
    result = detection.evaluate_detections(duplicate, truth, np.array([[0, 0]]), 1, recall_points=11)
    assert result.mAP == pytest.approx(6 / 11)  # recall 0.5 at precision 1 for levels 0 .. 0.5


def test_average_precision_reaches_recall_levels_hit_exactly():
    # 3 of 10 objects found, all at precision 1: recall 3/10 reaches the level 0.3 (levels 0, 0.1, 0.2, 0.3)
    precision, recall = detection.precision_recall_curve([0.9, 0.8, 0.7, 0.6], [1, 1, 1, 0], num_true=10)
    assert detection.average_precision(precision, recall, 11) == pytest.approx(4 / 11)
    # 7 of 10 with 101 levels: levels 0.00 .. 0.70 are reached (71 of them)
    precision, recall = detection.precision_recall_curve(np.linspace(1, 0.1, 7), [1] * 7, num_true=10)
    assert detection.average_precision(precision, recall, 101) == pytest.approx(71 / 101)


def test_max_detections_caps_each_image_and_class_like_pycocotools():
    """100 false detections of class 0 outrank its one true detection, which the cap of 100 drops;
    class 1's single true detection (lower score still) is not affected by class 0's count."""
    truth = np.array([[[0, 0, 10, 10], [30, 30, 40, 40]]], np.float32)
    truth_classes = np.array([[0, 1]])
    false = np.array([[50, 50, 52, 52]] * 100, np.float32)
    pred = [{"boxes": np.concatenate([false, [[0, 0, 10, 10], [30, 30, 40, 40]]]),
             "scores": np.concatenate([np.linspace(0.99, 0.5, 100), [0.4, 0.3]]),
             "classes": np.array([0] * 101 + [1])}]
    mine = detection.evaluate_detections(pred, truth, truth_classes, 2, max_detections=100)
    np.testing.assert_allclose(mine.ap[0], [0.0, 1.0])
    np.testing.assert_allclose(mine.class_ap, [0.0, 1.0])
    assert mine.mAP == pytest.approx(detection.coco_reference(pred, truth, truth_classes, 64)["AP50"], abs=1e-6)
    uncapped = detection.evaluate_detections(pred, truth, truth_classes, 2, max_detections=101)
    assert uncapped.ap[0, 0] == pytest.approx(1 / 101)  # found last: precision 1/101 at recall 1


def test_map_bad_input():
    truth, classes = np.zeros((2, 1, 4)), np.zeros((2, 1))
    one = {"boxes": [[0, 0, 1, 1]], "scores": [0.5], "classes": [0]}
    with pytest.raises(ValueError, match="one dict of boxes/scores/classes per image"):
        detection.evaluate_detections([one], truth, classes, 1)
    with pytest.raises(ValueError, match="same length"):
        detection.evaluate_detections([one, {**one, "scores": [0.5, 0.4]}], truth, classes, 1)
    with pytest.raises(ValueError, match="lacks"):
        detection.evaluate_detections([one, {"boxes": [[0, 0, 1, 1]]}], truth, classes, 1)
    with pytest.raises(ValueError, match="second corner"):
        detection.evaluate_detections([one, {**one, "boxes": [[5, 5, 1, 1]]}], truth, classes, 1)


# ============================================================================ tiny YOLO: loss and decoding by hand
# (the learning claims live in chapter 05's claim cells: mAP@0.5 >= 0.7 and = pycocotools)
def test_yolo_loss_one_cell_by_hand():
    """A 1x1 grid with 2 anchors: slot 0 holds an object, slot 1 is empty; each term by hand."""
    y_true = np.zeros((1, 1, 1, 2, 6), np.float32)
    y_true[0, 0, 0, 0] = [0.25, 0.5, 0.1, -0.2, 1.0, 2.0]
    y_pred = np.zeros((1, 1, 1, 2, 9), np.float32)
    y_pred[0, 0, 0, 0] = [0.0, 0.0, 0.3, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]  # sigmoid(0) = 0.5 for tx, ty
    y_pred[0, 0, 0, 1] = [5.0, 5.0, 5.0, 5.0, -2.0, 5.0, 0.0, 0.0, 0.0]  # empty: only its objectness counts
    objectness = math.log1p(math.exp(-1.0)) + 0.5 * math.log1p(math.exp(-2.0))  # BCE(1, 1) + 0.5 BCE(0, -2)
    box = 5.0 * ((0.5 - 0.25) ** 2 + 0.0 + (0.3 - 0.1) ** 2 + (0.0 + 0.2) ** 2)
    cls = math.log(math.e + 3) - 1.0  # -log softmax([0, 0, 1, 0])[2]
    loss = detection.YoloLoss(box_weight=5.0, noobj_weight=0.5)
    assert float(loss(y_true, y_pred)) == pytest.approx(objectness + box + cls, rel=1e-5)
    # the no-object weight scales the empty slot only
    heavier = detection.YoloLoss(box_weight=5.0, noobj_weight=1.0)
    assert float(heavier(y_true, y_pred)) - float(loss(y_true, y_pred)) == pytest.approx(
        0.5 * math.log1p(math.exp(-2.0)), rel=1e-4)


def test_decode_yolo_outputs_scores_objectness_times_class_probability():
    anchors = np.array([[4, 4], [8, 8]], np.float32)
    raw = np.zeros((1, 1, 1, 2, 9), np.float32)  # 16x16 image, one 16-pixel cell, centre (8, 8)
    raw[0, 0, 0, 0, 4] = 0.0  # objectness 0.5
    raw[0, 0, 0, 0, 5:] = np.log([0.2, 0.6, 0.1, 0.1])  # class 1 with probability 0.6
    raw[0, 0, 0, 1, 4] = math.log(9.0)  # objectness 0.9
    raw[0, 0, 0, 1, 5:] = np.log([0.5, 0.3, 0.1, 0.1])  # class 0 with probability 0.5
    (result,) = detection.decode_yolo_outputs(raw, anchors, 16, score_threshold=0.05)
    np.testing.assert_allclose(result["scores"], [0.45, 0.3], rtol=1e-5)  # 0.9 x 0.5, 0.5 x 0.6
    assert result["classes"].tolist() == [0, 1]
    np.testing.assert_allclose(result["boxes"], [[4, 4, 12, 12], [6, 6, 10, 10]], atol=1e-5)
    (strict,) = detection.decode_yolo_outputs(raw, anchors, 16, score_threshold=0.35)
    assert strict["classes"].tolist() == [0]  # 0.3 is below the threshold (objectness alone would be 0.5)


def test_detect_yolo_is_the_model_then_decode_yolo_outputs():
    anchors = np.array([[8, 8], [16, 16]], np.float32)
    model = detection.build_yolo_detector(32, num_anchors=2, num_classes=3, filters=4)
    images = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    found = detection.detect_yolo(model, images, anchors, score_threshold=0.0, max_outputs=5)
    assert isinstance(found, boxes.Detections) and found.proposals is None and len(found) == 3
    expected = detection.decode_yolo_outputs(model(images, training=False).numpy(), anchors, 32, 0.0, 0.5, 5)
    for mine, theirs in zip(found.predictions, expected):
        assert len(mine["boxes"]) == 5
        for key in ("boxes", "scores", "classes"):
            np.testing.assert_allclose(mine[key], theirs[key], atol=1e-5)
    with pytest.raises(ValueError, match=r"images must be a batch of shape \(N, H, W, C\)"):
        detection.detect_yolo(model, images[0], anchors)


def test_yolo_loss_serializes_and_decode_checks_shape():
    loss = detection.YoloLoss(box_weight=2.0)
    assert detection.YoloLoss.from_config(loss.get_config()).box_weight == 2.0
    with pytest.raises(ValueError, match="raw must have shape"):
        detection.decode_yolo_outputs(np.zeros((1, 8, 8, 2, 9)), np.ones((3, 2)), 64)


def test_detector_inputs_with_nan_raise():
    raw = np.zeros((1, 2, 2, 1, 7), np.float32)
    raw[0, 1, 0, 0, 4] = np.nan   # before: its score was NaN and the slot silently vanished in NMS
    with pytest.raises(ValueError, match=r"raw has a non-finite value nan at index \(0, 1, 0, 0, 4\)"):
        detection.decode_yolo_outputs(raw, np.ones((1, 2)), 16)
    with pytest.raises(ValueError, match="offsets has a non-finite value nan"):
        detection.decode_yolo_boxes(np.full((2, 2, 1, 4), np.nan), 16, np.ones((1, 2)))
    with pytest.raises(ValueError, match="pred_scores has a non-finite value nan at index 0"):
        detection.match_detections([[0, 0, 1, 1]], [np.nan], [[0, 0, 1, 1]])


# ============================================================================ keras-cv YOLOV8
# (chapter 05 builds, trains and evaluates the detector, with a claim cell; this checks the conversion)
def test_keras_cv_to_predictions_keeps_the_counted_rows_and_fixes_flipped_corners():
    outputs = {"boxes": np.array([[[1, 2, 5, 6], [9, 9, 3, 12], [-2, 0, 4, 4], [7, 7, 8, 8]]], np.float32),
               "confidence": np.array([[0.9, 0.8, 0.7, 0.6]], np.float32),
               "classes": np.array([[1, 0, 2, 3]], np.float32), "num_detections": np.array([3])}
    (pred,) = detection.keras_cv_to_predictions(outputs)
    np.testing.assert_allclose(pred["boxes"], [[1, 2, 5, 6], [9, 9, 9, 12], [0, 0, 4, 4]])
    np.testing.assert_allclose(pred["scores"], [0.9, 0.8, 0.7])
    assert pred["classes"].dtype == np.int32 and pred["classes"].tolist() == [1, 0, 2]
