"""Chapter 04: box encoding, the IoU metric, the two-headed model, and that it learns."""

import numpy as np
import pytest

from homl_cv import boxes, data, localization

# Learning thresholds. Quick mode (4,000 images, 12 epochs, about 1.5 CPU-minutes)
# reached 0.69 mean IoU (88 % of boxes with IoU >= 0.5) and 99.0 % accuracy on
# the 400 held-out images, the same in the notebook and this test (seeded); with
# seed 1 the same recipe reached 0.64. The IoU threshold is the 0.6, a box
# that covers the object well. It is far above what a model that has not learned
# gets: a fixed box in the image centre or an untrained model score under 0.3
# (asserted in test_untrained_model_is_far_below_the_thresholds), and guessing the
# class gets 25 %. The old loss weights (0.2 class / 0.8 box) reached only 0.54
# with the same budget: the test fails if the box loss is not weighted enough.
MIN_MEAN_IOU = 0.6
MIN_ACCURACY = 0.9


def random_xyxy(n, rng, size):
    corners = rng.uniform(0, size, (n, 2, 2))
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).astype(np.float32)


# ------------------------------------------------------------------ encoding
def test_encode_known_box():
    # centre (32, 24), size 32x16 in a 64x64 image -> (0.5, 0.375, sqrt(0.5), sqrt(0.25))
    np.testing.assert_allclose(localization.encode_boxes([[16, 16, 48, 32]], (64, 64)),
                               [[0.5, 0.375, np.sqrt(0.5), 0.5]], rtol=1e-6)


def test_encode_uses_width_and_height_separately():
    encoded = localization.encode_boxes([[0, 0, 100, 50]], image_size=(50, 200))  # (height, width)
    np.testing.assert_allclose(encoded, [[0.25, 0.5, np.sqrt(0.5), 1.0]], rtol=1e-6)


def test_encode_decode_are_inverses():
    rng = np.random.default_rng(0)
    xyxy = random_xyxy(200, rng, 64) * np.array([1.5, 1, 1.5, 1], np.float32)  # 64 high, 96 wide
    encoded = localization.encode_boxes(xyxy, image_size=(64, 96))
    assert encoded.shape == (200, 4) and encoded.dtype == np.float32
    assert encoded.min() >= 0 and encoded.max() <= 1
    np.testing.assert_allclose(localization.decode_boxes(encoded, image_size=(64, 96)), xyxy, atol=1e-3)
    np.testing.assert_allclose(localization.encode_boxes(localization.decode_boxes(encoded, (64, 96)), (64, 96)),
                               encoded, atol=1e-5)


def test_encode_rejects_boxes_outside_the_image():
    with pytest.raises(ValueError, match="outside the 64x64 image"):
        localization.encode_boxes([[10, 10, 70, 20]], image_size=(64, 64))


def test_decode_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"encoded must have shape \(N, 4\)"):
        localization.decode_boxes(np.zeros((3, 5)), image_size=(64, 64))


# ------------------------------------------------------------------ IoU metric
def test_mean_box_iou_matches_paired_iou_over_batches():
    rng = np.random.default_rng(1)
    true = localization.encode_boxes(random_xyxy(64, rng, 64), (64, 64))
    pred = np.clip(true + rng.normal(0, 0.08, true.shape), 0, 1).astype(np.float32)
    metric = localization.MeanBoxIoU()
    for batch in (slice(0, 40), slice(40, 64)):
        metric.update_state(true[batch], pred[batch])
    expected = boxes.paired_iou(localization.decode_boxes(pred, (64, 64)), localization.decode_boxes(true, (64, 64)))
    assert 0.2 < expected.mean() < 0.9  # a mix of good and bad boxes
    np.testing.assert_allclose(float(metric.result()), expected.mean(), atol=1e-5)
    metric.reset_state()
    metric.update_state(true, true)
    np.testing.assert_allclose(float(metric.result()), 1.0, atol=1e-5)


def test_mean_box_iou_is_serializable():
    import keras

    metric = localization.MeanBoxIoU(name="my_iou")
    config = keras.saving.serialize_keras_object(metric)
    assert config["registered_name"] == "homl_cv>MeanBoxIoU"
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, localization.MeanBoxIoU) and restored.name == "my_iou"


# ------------------------------------------------------------------ model
def test_localization_model_heads_and_save(tmp_path):
    import keras

    model = localization.build_localizer((32, 32, 3), num_classes=3, filters=(8, 8, 8))
    out = model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    assert out["class"].shape == (2, 3) and out["box"].shape == (2, 4)
    np.testing.assert_allclose(out["class"].sum(axis=1), 1.0, rtol=1e-5)
    assert out["box"].min() >= 0 and out["box"].max() <= 1
    path = tmp_path / "localizer.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    again = reloaded.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    np.testing.assert_allclose(again["box"], out["box"], atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_shape"):
        localization.build_localizer((64, 64), num_classes=4)
    with pytest.raises(ValueError, match="loss_weights"):
        localization.compile_localizer(localization.build_localizer(filters=(4,)),
                                          loss_weights={"cls": 1.0, "box": 1.0})
    with pytest.raises(ValueError, match="exactly one object per image"):
        localization.localization_targets(data.make_shapes(4, 32, min_objects=2, max_objects=2))
    with pytest.raises(ValueError, match="num_images"):
        localization.train_localizer(num_images=10)


# ------------------------------------------------------------------ learning
@pytest.fixture(scope="module")
def trained():
    return localization.train_localizer(verbose=0)  # what the chapter runs, quick mode


def test_localizer_learns_boxes_and_classes(trained):
    print(trained.summary())
    assert len(trained.test) == 400
    assert trained.mean_iou >= MIN_MEAN_IOU, trained.summary()
    assert trained.accuracy >= MIN_ACCURACY, trained.summary()


def test_training_history_has_both_heads_and_the_iou_metric(trained):
    history = trained.history
    for key in ("class_loss", "box_loss", "class_accuracy", "box_iou", "val_box_iou"):
        assert key in history, sorted(history)
    assert history["val_box_iou"][-1] > history["val_box_iou"][0] + 0.2  # IoU rose while training


def test_reported_ious_are_the_test_boxes(trained):
    np.testing.assert_allclose(trained.ious, boxes.paired_iou(trained.pred_boxes, trained.test.boxes[:, 0]))


def test_untrained_model_is_far_below_the_thresholds(trained):
    model = localization.build_localizer(trained.test.images.shape[1:], num_classes=4)
    pred = model.predict(trained.test.images, verbose=0)
    ious = boxes.paired_iou(localization.decode_boxes(pred["box"], (64, 64)), trained.test.boxes[:, 0])
    centre_box = np.tile(localization.encode_boxes([[16, 16, 48, 48]], (64, 64)), (len(ious), 1))
    centre_ious = boxes.paired_iou(localization.decode_boxes(centre_box, (64, 64)), trained.test.boxes[:, 0])
    assert ious.mean() < MIN_MEAN_IOU / 2
    assert centre_ious.mean() < MIN_MEAN_IOU / 2
