"""Chapter 05: NMS, anchors, YOLO targets, sliding windows, Dense -> Conv, mAP,
the tiny YOLO detector (it learns) and keras-cv's YOLOV8Detector (it runs)."""

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
    with pytest.raises(ValueError, match="multiple of grid_size"):
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
    assert 0.1 < coco["mAP"] < voc["mAP"] < 0.95  # a non-trivial case
    # Same matching, same 101-point interpolation. One known difference: pycocotools'
    # recall levels come from np.linspace unrounded (0.7000000000000001), so a recall of
    # exactly 7/10 does not "reach" 0.7 there but does here. On this data that moves
    # AP@[.5:.95] by 1e-4 (0.15538 here vs 0.15528; with unrounded levels both agree to 1e-12).
    assert voc["mAP"] == pytest.approx(reference["AP50"], abs=1e-4)
    assert coco["mAP"] == pytest.approx(reference["AP"], abs=5e-4)
    # The book's 11-point AP differs a little (coarser recall levels), not a lot.
    book = detection.evaluate_detections(preds, shapes.boxes, shapes.classes, 4, (0.5,), recall_points=11)
    assert abs(book["mAP"] - voc["mAP"]) < 0.05


def test_map_hand_cases():
    shapes = data.make_shapes(10, 64, 1, 3, seed=2)
    perfect = [{"boxes": b[c >= 0], "scores": np.linspace(1, 0.5, (c >= 0).sum()), "classes": c[c >= 0]}
               for b, c in zip(shapes.boxes, shapes.classes)]
    nothing = [{"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "classes": np.zeros(0)} for _ in range(10)]
    for thresholds in [(0.5,), detection.COCO_IOU_THRESHOLDS]:
        assert detection.evaluate_detections(perfect, shapes.boxes, shapes.classes, 4, thresholds)["mAP"] == 1.0
        assert detection.evaluate_detections(nothing, shapes.boxes, shapes.classes, 4, thresholds)["mAP"] == 0.0
    assert detection.coco_reference(perfect, shapes.boxes, shapes.classes, 64)["AP"] == pytest.approx(1.0)
    # a duplicate of a found object is a false positive
    duplicate = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 10]], "scores": [0.9, 0.8], "classes": [0, 0]}]
    truth = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], np.float32)
    result = detection.evaluate_detections(duplicate, truth, np.array([[0, 0]]), 1, recall_points=11)
    assert result["mAP"] == pytest.approx(6 / 11)  # recall 0.5 at precision 1 for levels 0 .. 0.5


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


# ============================================================================ tiny YOLO learns
@pytest.fixture(scope="module")
def trained_yolo():
    recipe = detection.yolo_recipe()
    train = data.make_shapes(recipe["num_train"], recipe["image_size"], 1, recipe["max_objects"], seed=1)
    test = data.make_shapes(recipe["num_test"], recipe["image_size"], 1, recipe["max_objects"], seed=2)
    sizes = (train.boxes[..., 2:] - train.boxes[..., :2])[train.classes >= 0]
    anchors = boxes.kmeans_anchors(sizes, recipe["num_anchors"])
    trained = detection.train_yolo_detector(train, anchors, recipe["epochs"], recipe["batch_size"],
                                            recipe["learning_rate"], verbose=0)
    assert set(trained.history) == {"loss"} and len(trained.history["loss"]) == recipe["epochs"]
    return trained.model, anchors, test


def test_tiny_yolo_learns_map50(trained_yolo):
    """Reached 0.891 (pycocotools agrees) on 200 held-out images with seed 1/2 data.

    The issue expected >= 0.5 in quick mode; 0.7 keeps a margin of about 0.19
    for seed and platform noise and still fails for a detector that finds only
    some of the objects or misplaces its boxes.
    """
    model, anchors, test = trained_yolo
    preds = detection.decode_yolo_outputs(model.predict(test.images, verbose=0), anchors, 64)
    result = detection.evaluate_detections(preds, test.boxes, test.classes, 4)
    print(f"tiny YOLO on {len(test)} held-out images: mAP@0.5 = {result['mAP']:.3f}")
    assert result["mAP"] >= 0.7


def test_yolo_loss_serializes_and_decode_checks_shape():
    loss = detection.YoloLoss(box_weight=2.0)
    assert detection.YoloLoss.from_config(loss.get_config()).box_weight == 2.0
    with pytest.raises(ValueError, match="raw must have shape"):
        detection.decode_yolo_outputs(np.zeros((1, 8, 8, 2, 9)), np.ones((3, 2)), 64)


# ============================================================================ keras-cv YOLOV8
def test_keras_cv_yolov8_from_config_trains_one_step_and_predicts():
    shapes = data.make_shapes(8, 64, 1, 3, seed=4)
    detector = detection.build_keras_cv_yolov8(num_classes=4, image_size=64)
    batch = next(iter(shapes.to_dataset(batch_size=8)))
    # one training step (keras-cv 0.9's train_step cannot take train_on_batch's (x, y, weights))
    history = detector.fit(batch["images"], batch["bounding_boxes"], batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and {"box_loss", "class_loss"} <= set(history.history)
    outputs = detector.predict(shapes.images, verbose=0)
    assert outputs["boxes"].shape == (8, 100, 4) and outputs["confidence"].shape == (8, 100)
    assert outputs["classes"].shape == (8, 100) and outputs["num_detections"].shape == (8,)
    preds = detection.keras_cv_to_predictions(outputs)
    assert len(preds) == 8 and all(len(p["boxes"]) == len(p["scores"]) for p in preds)
    assert 0.0 <= detection.evaluate_detections(preds, shapes.boxes, shapes.classes, 4)["mAP"] <= 1.0
