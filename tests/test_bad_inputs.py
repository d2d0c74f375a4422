"""Bad inputs across the public API: each gives a ValueError that names the argument (issue 23).

One row per bad input: the call, and a pattern the message must contain (the
argument's name, and where it matters the value or the fix). The checks run
before Keras or NumPy see the input, so no row builds a large model.
"""

import keras
import numpy as np
import pytest

from homl_cv import boxes, checks, detection, interpret, pretrained, segmentation, ssd, superres, training

BOXES = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]
SCORES = [0.9, 0.8, 0.7]
NAN = float("nan")


def _tiny_rgb_model():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs)
    return keras.Model(inputs, x)


def _tiny_base():
    return keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])


ROWS = [
    # ---- boxes: NMS, IoU, formats
    ("nms NaN score", lambda: boxes.non_max_suppression(BOXES, [0.9, NAN, 0.7]), r"scores has a non-finite value nan at index 1"),
    ("nms inf score", lambda: boxes.non_max_suppression(BOXES, [np.inf, 0.8, 0.7]), r"scores has a non-finite value inf at index 0"),
    ("nms NaN box", lambda: boxes.non_max_suppression([[0, 0, NAN, 1]] + BOXES[1:], SCORES), r"boxes has a non-finite value nan"),
    ("nms scores shape", lambda: boxes.non_max_suppression(BOXES, [0.9, 0.8]), r"scores must have shape \(3,\)"),
    ("nms classes shape", lambda: boxes.non_max_suppression(BOXES, SCORES, classes=[0, 1]), r"classes must have shape \(3,\)"),
    ("nms boxes rank", lambda: boxes.non_max_suppression([BOXES], SCORES), r"boxes must have shape \(N, 4\)"),
    ("nms iou_threshold range", lambda: boxes.non_max_suppression(BOXES, SCORES, iou_threshold=1.5), r"iou_threshold=1.5 must be a number in \[0, 1\]"),
    ("nms iou_threshold type", lambda: boxes.non_max_suppression(BOXES, SCORES, iou_threshold="0.5"), r"iou_threshold='0.5'"),
    ("nms max_outputs", lambda: boxes.non_max_suppression(BOXES, SCORES, max_outputs=-1), r"max_outputs=-1"),
    ("nms score_threshold NaN", lambda: boxes.non_max_suppression(BOXES, SCORES, score_threshold=NAN), r"score_threshold=nan"),
    ("boxes last axis", lambda: boxes.validate_boxes([[0, 0, 1]]), r"boxes must have shape \(\.\.\., 4\) \(.xyxy. boxes: 4 coordinates on the last axis\); got shape \(1, 3\)"),
    ("boxes not numbers", lambda: boxes.validate_boxes([["a", "b", "c", "d"]]), r"boxes must be an array"),
    ("boxes format", lambda: boxes.validate_boxes([[0, 0, 1, 1]], "corners"), r"box_format=.corners. must be .xyxy., "),
    ("boxes corner order", lambda: boxes.validate_boxes([[5, 0, 1, 1]]), r"boxes has 1 box\(es\).*box_format='xywh'"),
    ("boxes relative range", lambda: boxes.validate_boxes([[0, 0, 2, 2]], "rel_xyxy"), r"boxes must hold values in \[0, 1\] \(relative .rel_xyxy. coordinates\); got \[0, 2\]\. Divide pixel coordinates"),
    ("iou NaN", lambda: boxes.iou([[0, 0, 1, NAN]], [[0, 0, 1, 1]]), r"boxes1 has a non-finite value nan"),
    ("paired_iou shapes", lambda: boxes.paired_iou(BOXES, BOXES[:2]), r"boxes1 \(3, 4\) and boxes2 \(2, 4\)"),
    ("convert image_size", lambda: boxes.convert(BOXES, "xyxy", "rel_xyxy"), r"needs image_size="),
    ("anchor sizes", lambda: boxes.anchor_iou([[1, -2]], [[1, 1]]), r"sizes must hold finite, positive numbers \(widths and heights\); got -2.0 at index \(0, 1\); drop padding rows first"),
    ("kmeans k", lambda: boxes.kmeans_anchors([[1, 2], [3, 4]], 0), r"k=0"),
    # ---- SSD
    ("ssd ratios per map count", lambda: ssd.default_boxes((4, 2), 64, [[1.0]]), r"aspect_ratios \(1\) and the feature maps \(2\) must have the same length \(one list of ratios per map"),
    ("ssd ratios ragged mix", lambda: ssd.default_boxes((4, 2), 64, [1.0, [2.0]]), r"aspect_ratios=.*mixes numbers and lists"),
    ("ssd ratios negative", lambda: ssd.default_boxes((4,), 64, (-1.0,)), r"aspect_ratios must hold finite, positive numbers \(width / height ratios\); got -1.0 at index 0"),
    ("ssd feature sizes", lambda: ssd.default_boxes((0,), 64), r"feature_sizes\[0\]=0 must be a positive integer"),
    ("ssd NaN truth", lambda: ssd.match_default_boxes(BOXES, [[0, 0, NAN, 1]], [0]), r"true_boxes has a non-finite value nan"),
    ("ssd iou_threshold", lambda: ssd.match_default_boxes(BOXES, BOXES, [0, 1, 2], iou_threshold=0), r"iou_threshold=0.0"),
    ("ssd classes length", lambda: ssd.match_default_boxes(BOXES, BOXES, [0]), r"true_boxes \(3\) and true_classes \(1\)"),
    # ---- YOLO decoding and detection matching
    ("yolo NaN raw", lambda: detection.decode_yolo_outputs(np.full((1, 2, 2, 1, 7), NAN), np.ones((1, 2)), 16), r"raw has a non-finite value nan"),
    ("yolo raw shape", lambda: detection.decode_yolo_outputs(np.zeros((1, 2, 2, 2, 7)), np.ones((1, 2)), 16), r"raw must have shape \(N, S, S, 1, 5 \+ classes\)"),
    ("yolo anchors", lambda: detection.decode_yolo_outputs(np.zeros((1, 2, 2, 1, 7)), np.zeros((1, 2)), 16), r"anchors must hold finite, positive numbers \(widths and heights\); got 0.0 at index \(0, 0\)"),
    ("yolo NaN offsets", lambda: detection.decode_yolo_boxes(np.full((2, 2, 1, 4), NAN), 16, np.ones((1, 2))), r"offsets has a non-finite value"),
    ("match NaN scores", lambda: detection.match_detections([[0, 0, 1, 1]], [NAN], [[0, 0, 1, 1]]), r"pred_scores has a non-finite value nan"),
    # ---- segmentation metrics
    ("seg class id too big", lambda: segmentation.confusion_counts(np.array([0, 5]), np.array([0, 1]), 3), r"y_true has class id 5 at index 1 .*pass num_classes=6"),
    ("seg negative id", lambda: segmentation.mean_iou(np.array([0, 1]), np.array([-1, 1]), 3), r"y_pred has class id -1 at index 0"),
    ("seg float labels", lambda: segmentation.iou_per_class(np.array([0, 1]), np.array([0.0, 1.0]), 2), r"y_pred must hold integers \(class ids: use argmax on logits first\); got dtype float64"),
    ("seg shapes", lambda: segmentation.dice_per_class(np.zeros((2, 2), int), np.zeros((2, 3), int), 2), r"y_true \(2, 2\) and y_pred \(2, 3\)"),
    ("seg num_classes", lambda: segmentation.mean_iou(np.zeros(2, int), np.zeros(2, int), 0), r"num_classes=0"),
    ("seg input_shape", lambda: segmentation.build_unet(3, input_shape=(30, 30, 3)), r"input_shape=\(30, 30, 3\)"),
    ("unet encoder type", lambda: segmentation.build_unet(3, encoder="resnet50"), r"encoder='str' must be a model from build_unet_encoder"),
    # ---- images into models: grayscale, rank
    ("grayscale into checks", lambda: checks.image_batch(np.zeros((2, 8, 8, 1)), channels=3), r"images has shape \(2, 8, 8, 1\).*grayscale_to_rgb"),
    ("grayscale into pretrained", lambda: pretrained.prepare_images(np.zeros((2, 8, 8, 1)), 32, lambda x: x), r"images has shape \(2, 8, 8, 1\): 1 channel.*grayscale_to_rgb"),
    ("pretrained rank", lambda: pretrained.prepare_images(np.zeros((8, 8, 3)), 32, lambda x: x), r"images must be a batch.*image\[None\]"),
    ("grayscale into feature_maps", lambda: interpret.feature_maps(_tiny_rgb_model(), np.zeros((1, 8, 8, 1)), "conv"), r"images has shape \(1, 8, 8, 1\).*np.repeat\(images, 3, axis=-1\)"),
    ("grayscale into predict_masks", lambda: segmentation.predict_masks(_tiny_rgb_model(), np.zeros((1, 8, 8, 1))), r"images has shape .*grayscale_to_rgb"),
    ("images not numbers", lambda: checks.image_batch([["a"]]), r"images must be a batch"),
    # ---- transfer learning, super-resolution
    ("transfer base type", lambda: training.build_transfer_model({"model": None}, 3), r"base=dict must be a Keras model or what pretrained.build_base returns"),
    ("transfer num_classes", lambda: training.build_transfer_model(_tiny_base(), 1), r"num_classes=1"),
    ("psnr rank", lambda: superres.psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3))), r"images must have shape \(N, H, W, C\); got shape \(4, 4, 3\)"),
    ("subpixel factor", lambda: superres.SubPixelUpsampling(1), r"factor=1"),
    ("bicubic factor", lambda: superres.BicubicUpsampling(True), r"factor=True"),
    ("superres part", lambda: superres.make_superres_pairs("valid"), r"part='valid'"),
]


def test_the_table_has_at_least_30_rows():
    assert len(ROWS) >= 30 and len({name for name, _, _ in ROWS}) == len(ROWS)


@pytest.mark.parametrize("call, pattern", [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_bad_input_names_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
