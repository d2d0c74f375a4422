"""Object detection (chapter 05): sliding windows, Dense -> Conv (FCN), a small
YOLO-style detector with everything it needs, and mean average precision.

* :func:`window_crops`, :func:`window_training_set`,
  :func:`build_window_classifier`, :func:`train_window_classifier`: slide a
  small classifier over a grid of windows (objectness per window).
* :func:`dense_to_conv`: turn a CNN + Flatten + Dense classifier into a fully
  convolutional network (FCN) with the same weights; on a larger image it
  outputs the whole grid of window predictions in one pass.
* YOLO, all of it here: the model :func:`build_yolo_detector`, the targets
  (:func:`encode_yolo_targets`, :func:`yolo_targets`, :func:`decode_yolo_boxes`,
  :func:`decode_yolo_targets`), the loss :class:`YoloLoss`, the trainer
  :func:`train_yolo_detector` with its :func:`yolo_recipe`, and
  :func:`decode_yolo_outputs` (scores, boxes, per-class NMS), and
  :func:`detect_yolo`, the whole detector on images (a
  :class:`homl_cv.boxes.Detections`, like ``rcnn.detect_two_stage``). Anchors
  (k-means, ``anchor_iou``) and NMS come from :mod:`homl_cv.boxes`.
* :func:`evaluate_detections`: precision/recall, AP (max precision at recall
  >= r), mAP@0.5 (VOC) and AP@[.5:.95] (COCO), a :class:`DetectionScores`;
  :func:`coco_reference` gives pycocotools' numbers on the same predictions.
* :func:`build_keras_cv_yolov8`: keras-cv's YOLOV8Detector built from a config.

Predictions are lists (one item per image) of dicts ``{"boxes": (K, 4) xyxy
pixels, "scores": (K,), "classes": (K,)}``, or a :class:`homl_cv.boxes.Detections`
holding such a list; ground truth is padded arrays as in
:class:`homl_cv.data.ShapesData` (boxes (N, M, 4), classes (N, M), -1 padding).

Example:
    >>> import numpy as np
    >>> truth_boxes = np.array([[[0., 0., 10., 10.]]]); truth_classes = np.array([[0]])
    >>> perfect = [{"boxes": truth_boxes[0], "scores": np.array([0.9]), "classes": np.array([0])}]
    >>> evaluate_detections(perfect, truth_boxes, truth_classes, num_classes=1).mAP
    1.0
"""

from __future__ import annotations

import contextlib
import dataclasses
import io

import keras
import numpy as np

from homl_cv import boxes as boxes_lib
from homl_cv import checks, config, distribute, training

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "DetectionScores",
    "YoloLoss",
    "average_precision",
    "build_keras_cv_yolov8",
    "build_window_classifier",
    "build_yolo_detector",
    "coco_reference",
    "decode_yolo_boxes",
    "decode_yolo_outputs",
    "decode_yolo_targets",
    "detect_yolo",
    "dense_to_conv",
    "encode_yolo_targets",
    "evaluate_detections",
    "keras_cv_to_predictions",
    "match_detections",
    "precision_recall_curve",
    "train_window_classifier",
    "train_yolo_detector",
    "window_boxes",
    "window_crops",
    "window_training_set",
    "yolo_recipe",
    "yolo_targets",
]

COCO_IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))


# ============================================================================ sliding windows
def window_crops(image, window: int, stride: int) -> np.ndarray:
    """All ``window`` x ``window`` crops of an image on a grid with step ``stride``.

    Args:
        image: (H, W, C) array.
        window: side of the square window, in pixels.
        stride: step between windows, in pixels.

    Returns:
        (rows, cols, window, window, C) with ``rows = (H - window) // stride + 1``
        (same for cols); crop [i, j] starts at pixel (i * stride, j * stride).
    """
    image = checks.shaped(image, "image", ("H", "W", "C"), "one image")
    height, width = image.shape[:2]
    checks.int_in(window, "window", 1, min(height, width), f"no larger than the {height}x{width} image")
    checks.positive_int(stride, "stride")
    rows, cols = (height - window) // stride + 1, (width - window) // stride + 1
    return np.stack([
        np.stack([image[i * stride:i * stride + window, j * stride:j * stride + window] for j in range(cols)])
        for i in range(rows)
    ])


def window_boxes(grid_shape, window: int, stride: int) -> np.ndarray:
    """The "xyxy" pixel boxes of a (rows, cols) grid of windows: (rows, cols, 4)."""
    rows, cols = grid_shape
    y, x = np.meshgrid(np.arange(rows) * stride, np.arange(cols) * stride, indexing="ij")
    return np.stack([x, y, x + window, y + window], axis=-1).astype(np.float32)


def window_training_set(data, window: int, stride: int, min_iou: float = 0.4, max_background: float = 0.1):
    """Labelled crops for a window classifier, cut from multi-object images.

    A window gets the class of the box it overlaps most when their IoU is at
    least ``min_iou``; it is background (label ``num_classes``) when it holds
    at most ``max_background`` of every box's area; other windows (half an
    object) are left out, so the classifier learns "a whole object, centred".

    Args:
        data: a :class:`homl_cv.data.ShapesData`.
        window, stride: as in :func:`window_crops`.

    Returns:
        ``(crops, labels)``: float32 (K, window, window, 3) and int32 (K,).
    """
    background = len(data.class_names)
    crops, labels = [], []
    for image, boxes, classes in zip(data.images, data.boxes, data.classes):
        grid = window_crops(image, window, stride)
        wins = window_boxes(grid.shape[:2], window, stride).reshape(-1, 4)
        real = classes >= 0
        overlap = boxes_lib.iou(wins, boxes[real])
        covered = boxes_lib.intersection(wins, boxes[real]) / boxes_lib.area(boxes[real])[None]
        best = overlap.argmax(axis=1)
        label = np.where(overlap.max(axis=1) >= min_iou, classes[real][best], -1)
        label = np.where(covered.max(axis=1) <= max_background, background, label)
        keep = label >= 0
        crops.append(grid.reshape(-1, window, window, 3)[keep])
        labels.append(label[keep])
    return np.concatenate(crops).astype(np.float32), np.concatenate(labels).astype(np.int32)


def build_window_classifier(window: int = 32, num_outputs: int = 5, filters: int = 16) -> keras.Model:
    """A small CNN + Flatten + Dense classifier for ``window`` x ``window`` crops.

    Three 3x3 conv + 2x2 max-pool blocks (an output stride of 8), then
    Flatten, a hidden Dense layer and a softmax Dense layer with
    ``num_outputs`` units (the shape classes + background). The convolutions
    use "valid" padding: a window then sees its own pixels only, so the FCN
    made by :func:`dense_to_conv` gives on a large image exactly what the
    classifier gives on each crop ("same" padding would pad each crop with
    zeros where the large image has real neighbours).
    """
    checks.multiple_of(window, "window", 8, "three 2x2 poolings")
    return keras.Sequential([
        keras.Input((window, window, 3)),
        keras.layers.Conv2D(filters, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(2 * filters, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(4 * filters, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(num_outputs, activation="softmax"),
    ], name="window_classifier")


def train_window_classifier(crops, labels, num_outputs: int, epochs: int = 4, batch_size: int = 64,
                            seed: int = 42, verbose="auto", strategy=None):
    """Train :func:`build_window_classifier` on labelled crops.

    The model is built, compiled and trained under ``strategy`` (default:
    ``config.pick_strategy()``); ``batch_size`` is per replica (global batch =
    ``batch_size`` x replicas; the learning rate is not scaled).

    Returns:
        A :class:`homl_cv.training.TrainedModel`; the model's outputs are
        softmax probabilities.
    """
    config.set_seeds(seed)
    strategy = distribute.get_strategy(strategy)
    with strategy.scope():
        model = build_window_classifier(crops.shape[1], num_outputs)
    training.compile_classifier(model, 2e-3, "adam", jit_compile="auto")  # Keras' default
    history = model.fit(crops, labels, epochs=epochs, verbose=verbose,
                        batch_size=distribute.global_batch_size(batch_size, strategy))
    return training.TrainedModel(model, history.history)


# ============================================================================ Dense -> Conv
_PASS_THROUGH = (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
                 keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU,
                 keras.layers.Dropout, keras.layers.Rescaling, keras.layers.DepthwiseConv2D,
                 keras.layers.SeparableConv2D)


def dense_to_conv(model: keras.Model) -> keras.Model:
    """A fully convolutional copy of a CNN + Flatten + Dense classifier.

    The first Dense layer after ``Flatten`` sees an (h, w, c) feature map
    flattened; it becomes a ``Conv2D`` with an (h, w) kernel and "valid"
    padding whose kernel is the Dense weight matrix reshaped to (h, w, c,
    units). Later Dense layers become 1x1 convolutions. Convolution, pooling
    and activation layers are copied with their weights. The new model takes
    images of any size (at least the training size): on the training size it
    gives exactly the classifier's output (as a 1x1 grid); on a larger image
    it gives one output per window position, with a step equal to the product
    of the strides (e.g. 8 for three 2x2 poolings), in a single pass. Those
    equal the classifier run on each crop when the conv layers use "valid"
    padding (with "same" padding, the crops' zero borders differ).

    Args:
        model: a Sequential or functional model whose layers form a single
            chain: conv/pool/normalization/activation layers, one ``Flatten``,
            then ``Dense`` (and ``Dropout``/``Activation``) layers.

    Returns:
        A functional model from (None, None, channels) images to
        (batch, rows, cols, units).
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    flatten_at = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten)]
    if len(flatten_at) != 1:
        raise ValueError(
            f"model must have exactly one Flatten layer between its conv part and its Dense part; "
            f"found {len(flatten_at)}. (A model ending in global pooling is already fully convolutional.)"
        )
    input_shape = model.inputs[0].shape
    if len(input_shape) != 4 or None in input_shape[1:]:
        raise ValueError(f"model must take images of a fixed size (batch, h, w, c); got input shape {input_shape}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("model must have one input and one output (a simple chain of layers).")
    inputs = keras.Input((None, None, input_shape[-1]))
    x = inputs
    for layer in layers[:flatten_at[0]]:
        if not isinstance(layer, _PASS_THROUGH):
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) before Flatten is not supported: "
                f"use convolution, pooling, normalization, activation or dropout layers."
            )
        x = _copy_layer(layer, x)
    height, width, channels = layers[flatten_at[0]].input.shape[1:]
    first = True
    for layer in layers[flatten_at[0] + 1:]:
        if isinstance(layer, keras.layers.Dense):
            kernel, *bias = layer.get_weights()
            size = (height, width) if first else (1, 1)
            depth = channels if first else kernel.shape[0]
            conv = keras.layers.Conv2D(layer.units, size, activation=layer.activation,
                                       use_bias=layer.use_bias, name=f"{layer.name}_as_conv")
            x = conv(x)
            conv.set_weights([kernel.reshape(size[0], size[1], depth, layer.units), *bias])
            first = False
        elif isinstance(layer, (keras.layers.Dropout, keras.layers.Activation, keras.layers.ReLU)):
            x = _copy_layer(layer, x)
        else:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) after Flatten is not supported: "
                f"only Dense, Dropout and Activation layers can be converted."
            )
    return keras.Model(inputs, x, name=f"{model.name}_fcn")


def _copy_layer(layer, x):
    clone = type(layer).from_config(layer.get_config())
    out = clone(x)
    clone.set_weights(layer.get_weights())
    return out


# ============================================================================ YOLO-style detector
def build_yolo_detector(image_size: int = 64, num_anchors: int = 3, num_classes: int = 4,
                       filters: int = 8) -> keras.Model:
    """A tiny YOLO-style detector: a CNN with an output stride of 8.

    Three conv + pool blocks shrink the image 8 times (64x64 -> an 8x8 grid of
    8-pixel cells); two more 3x3 convolutions widen the receptive field to
    whole objects; a 1x1 convolution predicts, for each cell and anchor,
    ``5 + num_classes`` raw numbers: ``tx, ty`` (logits of the centre's
    position inside the cell), ``tw, th`` (log-scale size offsets from the
    anchor), the objectness logit and the class logits.

    Returns:
        A model from (batch, image_size, image_size, 3) images to raw outputs
        (batch, S, S, num_anchors, 5 + num_classes), S = image_size / 8.
    """
    checks.multiple_of(image_size, "image_size", 8, "the output stride")
    inputs = keras.Input((image_size, image_size, 3))
    x = inputs
    for k in range(3):
        x = keras.layers.Conv2D(filters * 2 ** k, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(2)(x)
    for _ in range(2):
        x = keras.layers.Conv2D(filters * 8, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(num_anchors * (5 + num_classes), 1)(x)
    grid = image_size // 8
    outputs = keras.layers.Reshape((grid, grid, num_anchors, 5 + num_classes))(x)
    return keras.Model(inputs, outputs, name="tiny_yolo")


@keras.saving.register_keras_serializable(package="homl_cv")
class YoloLoss(keras.losses.Loss):
    """YOLO loss: objectness + class + box terms, summed per image.

    ``y_true`` is (batch, S, S, A, 6) from :func:`yolo_targets`: ``(tx, ty,
    tw, th, objectness, class)``; ``y_pred`` the raw model output (batch, S,
    S, A, 5 + C). Per image, the loss sums:

    * objectness: binary cross-entropy on every slot, the empty ones weighted
      by ``noobj_weight`` (most slots are empty);
    * box: squared error on ``sigmoid(tx), sigmoid(ty)`` and on ``tw, th``,
      for slots holding an object only, times ``box_weight``;
    * class: cross-entropy for slots holding an object only.

    Example:
        >>> model.compile(optimizer="adam", loss=YoloLoss())  # doctest: +SKIP
    """

    def __init__(self, box_weight: float = 5.0, noobj_weight: float = 0.5, name: str = "yolo_loss", **kwargs):  # pragma: no mutate block
        super().__init__(name=name, **kwargs)
        self.box_weight = box_weight
        self.noobj_weight = noobj_weight

    def call(self, y_true, y_pred):
        from keras import ops

        y_true = ops.cast(y_true, y_pred.dtype)
        obj = y_true[..., 4]
        obj_bce = ops.binary_crossentropy(obj, y_pred[..., 4], from_logits=True)
        obj_loss = ops.sum(obj_bce * (obj + self.noobj_weight * (1.0 - obj)), axis=(1, 2, 3))
        xy_err = ops.sum(ops.square(ops.sigmoid(y_pred[..., :2]) - y_true[..., :2]), axis=-1)
        wh_err = ops.sum(ops.square(y_pred[..., 2:4] - y_true[..., 2:4]), axis=-1)
        box_loss = self.box_weight * ops.sum(obj * (xy_err + wh_err), axis=(1, 2, 3))
        cls_ce = ops.sparse_categorical_crossentropy(ops.cast(y_true[..., 5], "int32"), y_pred[..., 5:],
                                                     from_logits=True)
        cls_loss = ops.sum(obj * cls_ce, axis=(1, 2, 3))
        return obj_loss + box_loss + cls_loss

    def get_config(self):
        return {**super().get_config(), "box_weight": self.box_weight, "noobj_weight": self.noobj_weight}


def encode_yolo_targets(boxes, classes, image_size: int, grid_size: int, anchors) -> np.ndarray:
    """YOLO training targets for one image: one slot per (cell, anchor).

    A box belongs to the grid cell holding its centre and to the anchor whose
    shape fits it best (:func:`homl_cv.boxes.anchor_iou`). Its slot holds
    ``(tx, ty, tw, th, 1, class)``: ``tx, ty`` in [0, 1) the centre's position
    inside the cell, ``tw = log(w / anchor_w)`` and ``th = log(h / anchor_h)``
    (log-scale size offsets: 0 means "exactly the anchor"). Empty slots are
    all 0 (objectness 0). When two boxes claim one slot, the later one wins.

    Args:
        boxes: (M, 4) "xyxy" pixel boxes; rows of -1 (padding) are skipped.
        classes: (M,) class ids, -1 for padding.
        image_size: side of the square image, in pixels.
        grid_size: cells per side (``image_size / grid_size`` pixels each).
        anchors: (A, 2) anchor (width, height) in pixels.

    Returns:
        float32 (grid_size, grid_size, A, 6), indexed [row, column, anchor].
    """
    anchors = boxes_lib.validate_sizes(anchors, "anchors")
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    classes = np.asarray(classes).reshape(-1)
    checks.same_length(("boxes", boxes), ("classes", classes), why="one class per box")
    checks.multiple_of(image_size, "image_size", grid_size, f"grid_size={grid_size} cells")
    real = classes >= 0
    boxes, classes = boxes_lib.validate_boxes(boxes[real], "xyxy", image_size=(image_size, image_size)), classes[real]
    cell = image_size / grid_size
    target = np.zeros((grid_size, grid_size, len(anchors), 6), np.float32)
    if not len(boxes):
        return target
    wh = np.maximum(boxes[:, 2:] - boxes[:, :2], 1e-3)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    col_row = np.minimum((centre // cell).astype(int), grid_size - 1)
    best = boxes_lib.anchor_iou(wh, anchors).argmax(axis=1)
    for (col, row), a, c, (w, h), cls in zip(col_row, best, centre, wh, classes):
        tx, ty = c / cell - (col, row)
        target[row, col, a] = (tx, ty, np.log(w / anchors[a, 0]), np.log(h / anchors[a, 1]), 1.0, cls)
    return target


def decode_yolo_boxes(offsets, image_size: int, anchors) -> np.ndarray:
    """Pixel "xyxy" boxes from YOLO offsets (the inverse of the encoding).

    Args:
        offsets: (..., S, S, A, 4) holding ``(tx, ty, tw, th)`` with
            ``tx, ty`` the centre inside its cell (in [0, 1]) and ``tw, th``
            log-scale sizes relative to the anchors.
        image_size: side of the square image, in pixels.
        anchors: (A, 2) anchor (width, height) in pixels.

    Returns:
        float32 (..., S, S, A, 4) "xyxy" boxes (not clipped to the image).
    """
    anchors = boxes_lib.validate_sizes(anchors, "anchors")
    offsets = checks.finite(offsets, "offsets")
    if offsets.ndim < 4 or offsets.shape[-1] != 4 or offsets.shape[-2] != len(anchors) \
            or offsets.shape[-4] != offsets.shape[-3]:
        raise ValueError(
            f"offsets must have shape (..., S, S, {len(anchors)}, 4) for {len(anchors)} anchors; "
            f"got {offsets.shape}."
        )
    grid_size = offsets.shape[-3]
    cell = image_size / grid_size
    rows, cols = np.meshgrid(np.arange(grid_size), np.arange(grid_size), indexing="ij")
    cx = (cols[:, :, None] + offsets[..., 0]) * cell
    cy = (rows[:, :, None] + offsets[..., 1]) * cell
    w = anchors[:, 0] * np.exp(offsets[..., 2])
    h = anchors[:, 1] * np.exp(offsets[..., 3])
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).astype(np.float32)


def decode_yolo_targets(target, image_size: int, anchors):
    """The boxes and classes stored in an :func:`encode_yolo_targets` array.

    Returns:
        ``(boxes, classes)``: float32 (K, 4) "xyxy" pixels and int32 (K,),
        one per slot whose objectness is 1, in (row, column, anchor) order.
    """
    target = checks.shaped(target, "target", ("S", "S", "A", 6), "one image's YOLO target", dtype=np.float32)
    boxes = decode_yolo_boxes(target[..., :4], image_size, anchors)
    filled = target[..., 4] > 0.5
    return boxes[filled], target[..., 5][filled].astype(np.int32)


def yolo_targets(data, grid_size: int, anchors) -> np.ndarray:
    """:func:`encode_yolo_targets` for every image of a ShapesData.

    Returns:
        float32 (N, grid_size, grid_size, A, 6).
    """
    size = data.images.shape[1]
    return np.stack([encode_yolo_targets(b, c, size, grid_size, anchors)
                     for b, c in zip(data.boxes, data.classes)])


def decode_yolo_outputs(raw, anchors, image_size: int, score_threshold: float = 0.05,
                       iou_threshold: float = 0.5, max_outputs: int = 20) -> list:
    """Boxes, scores and classes from raw YOLO outputs, after per-class NMS.

    The score of a slot is ``sigmoid(objectness) * max softmax(class)``; its
    box comes from :func:`decode_yolo_boxes` with ``sigmoid``
    applied to ``tx, ty``, clipped to the image.

    Args:
        raw: (N, S, S, A, 5 + C) model outputs, finite (NaN raises).
        anchors: (A, 2) anchor sizes in pixels.
        image_size: side of the square images.
        score_threshold, iou_threshold, max_outputs: passed to
            :func:`homl_cv.boxes.non_max_suppression`.

    Returns:
        A list of N dicts ``{"boxes": (K, 4), "scores": (K,), "classes": (K,)}``.
    """
    raw = checks.finite(raw, "raw")
    anchors = boxes_lib.validate_sizes(anchors, "anchors")
    checks.shaped(raw, "raw", ("N", "S", "S", len(anchors), "5 + classes"), f"{len(anchors)} anchors")
    checks.int_at_least(raw.shape[4], "raw.shape[-1]", 6, "5 + at least one class")
    offsets = np.concatenate([_sigmoid(raw[..., :2]), raw[..., 2:4]], axis=-1)
    all_boxes = np.clip(decode_yolo_boxes(offsets, image_size, anchors), 0, image_size)
    logits = raw[..., 5:] - raw[..., 5:].max(axis=-1, keepdims=True)
    class_probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    scores = _sigmoid(raw[..., 4]) * class_probs.max(axis=-1)
    classes = class_probs.argmax(axis=-1)
    results = []
    for b, s, c in zip(all_boxes, scores, classes):
        b, s, c = b.reshape(-1, 4), s.reshape(-1), c.reshape(-1)
        keep = boxes_lib.non_max_suppression(b, s, iou_threshold, score_threshold, max_outputs, classes=c)
        results.append({"boxes": b[keep], "scores": s[keep], "classes": c[keep].astype(np.int32)})
    return results


def detect_yolo(model, images, anchors, score_threshold: float = 0.05, iou_threshold: float = 0.5,
                max_outputs: int = 20) -> boxes_lib.Detections:
    """Run a YOLO detector on images: the model once, then :func:`decode_yolo_outputs`.

    The one-stage counterpart of ``rcnn.detect_two_stage`` (same arguments
    after ``images``, same result type).

    Args:
        model: a trained :func:`build_yolo_detector` model (raw outputs
            (N, S, S, A, 5 + C)).
        images: float (N, H, W, 3) square images, the size the model was trained on.
        anchors: (A, 2) anchor sizes in pixels, those it was trained with.
        score_threshold, iou_threshold, max_outputs: the per-class NMS of
            :func:`homl_cv.boxes.non_max_suppression`.

    Returns:
        A :class:`homl_cv.boxes.Detections` (``proposals`` is None: one stage).

    Example:
        >>> model = build_yolo_detector(32, num_anchors=1, num_classes=2, filters=4)
        >>> found = detect_yolo(model, np.zeros((3, 32, 32, 3), "float32"), [[8.0, 8.0]])
        >>> len(found), found.proposals is None
        (3, True)
    """
    images = checks.image_batch(images, "images", np.float32)
    raw = np.asarray(model(images, training=False))
    predictions = decode_yolo_outputs(raw, anchors, images.shape[1], score_threshold, iou_threshold, max_outputs)
    return boxes_lib.Detections(predictions)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def yolo_recipe() -> dict:
    """Data and training sizes for chapter 05's tiny YOLO (quick vs full mode)."""
    return dict(image_size=64, max_objects=3, num_anchors=3, filters=16,
                num_train=config.pick(1500, 8000), num_test=config.pick(200, 1000),
                epochs=config.pick(12, 40), batch_size=16, learning_rate=3e-3)


def train_yolo_detector(train_data, anchors, epochs: int = 12, batch_size: int = 32,
                        learning_rate: float = 3e-3, filters: int = 8, seed: int = 42, verbose="auto",
                        strategy=None):
    """Train :func:`build_yolo_detector` on a ShapesData.

    Targets come from :func:`yolo_targets` on an 8x8-pixel
    grid; Adam with a cosine-decayed learning rate and the
    :class:`YoloLoss`. Random horizontal flips of image and
    targets would be the next step for more data; here the generator gives
    fresh images instead.

    The model is built, compiled and trained under ``strategy`` (default:
    ``config.pick_strategy()``); ``batch_size`` is per replica (global batch =
    ``batch_size`` x replicas; the learning rate is not scaled).

    Returns:
        A :class:`homl_cv.training.TrainedModel` (``model``, ``history``).
    """
    config.set_seeds(seed)
    image_size = train_data.images.shape[1]
    strategy = distribute.get_strategy(strategy)
    global_batch = distribute.global_batch_size(batch_size, strategy)
    targets = yolo_targets(train_data, image_size // 8, anchors)
    schedule = training.cosine_schedule(learning_rate, epochs, len(train_data), global_batch, alpha=0.05)
    with strategy.scope():
        model = build_yolo_detector(image_size, len(anchors), len(train_data.class_names), filters)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss=YoloLoss())
    history = model.fit(train_data.images, targets, epochs=epochs, batch_size=global_batch,
                        verbose=verbose)
    return training.TrainedModel(model, history.history)


# ============================================================================ mAP
def _check_predictions(predictions, num_images: int) -> list:
    if isinstance(predictions, boxes_lib.Detections):
        predictions = predictions.predictions
    checks.same_length(("predictions", predictions), ("the ground truth's images", range(num_images)),
                       why="one dict of boxes/scores/classes per image, an empty one for no detections")
    checked = []
    for i, pred in enumerate(predictions):
        missing = {"boxes", "scores", "classes"} - set(pred)
        if missing:
            raise ValueError(f"predictions[{i}] lacks {sorted(missing)}: each needs boxes, scores and classes.")
        boxes = boxes_lib.validate_boxes(np.asarray(pred["boxes"], np.float32).reshape(-1, 4), "xyxy",
                                         f"predictions[{i}]['boxes']")
        scores = np.asarray(pred["scores"], np.float32).reshape(-1)
        classes = np.asarray(pred["classes"]).reshape(-1).astype(np.int64)
        checks.same_length((f"predictions[{i}]['boxes']", boxes), (f"predictions[{i}]['scores']", scores),
                           (f"predictions[{i}]['classes']", classes))
        checked.append((boxes, scores, classes))
    return checked


def match_detections(pred_boxes, pred_scores, true_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Which detections of one image and one class are true positives.

    Detections are taken by decreasing score; each one is matched to the
    not-yet-matched true box it overlaps most, if their IoU is at least
    ``iou_threshold`` (a true positive); otherwise it is a false positive
    (a duplicate of an already found object is a false positive too).

    Returns:
        bool (K,), in the order of ``pred_scores`` sorted decreasingly.
    """
    order = np.argsort(-checks.finite(pred_scores, "pred_scores", np.float64).reshape(-1), kind="mergesort")
    pred_boxes = np.asarray(pred_boxes, np.float32).reshape(-1, 4)[order]
    true_boxes = np.asarray(true_boxes, np.float32).reshape(-1, 4)
    hits = np.zeros(len(pred_boxes), bool)
    if not len(true_boxes) or not len(pred_boxes):
        return hits
    overlaps = boxes_lib.iou(pred_boxes, true_boxes)
    taken = np.zeros(len(true_boxes), bool)
    for k, row in enumerate(overlaps):
        row = np.where(taken, -1.0, row)
        best = int(row.argmax())
        if row[best] >= iou_threshold:
            hits[k], taken[best] = True, True
    return hits


def precision_recall_curve(scores, hits, num_true: int):
    """Precision and recall after each detection, by decreasing score.

    Args:
        scores: (K,) scores of all detections of one class (all images).
        hits: (K,) whether each is a true positive.
        num_true: number of true objects of that class.

    Returns:
        ``(precision, recall)``: float64 (K,) each.
    """
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    hits = np.asarray(hits, bool)[order]
    tp = np.cumsum(hits)
    fp = np.cumsum(~hits)
    precision = tp / np.maximum(tp + fp, np.spacing(1))
    recall = tp / max(num_true, 1)
    return precision, recall


def average_precision(precision, recall, recall_points: int = 11) -> float:
    """AP: the mean, over recall levels r, of the best precision at recall >= r.

    Args:
        precision, recall: from :func:`precision_recall_curve`.
        recall_points: the number of evenly spaced recall levels from 0 to 1:
            11 (0, 0.1, ..., 1; the book and PASCAL VOC 2007) or 101 (COCO).
            Where recall never reaches r, the precision counts as 0.
    """
    checks.int_at_least(recall_points, "recall_points", 2, "e.g. 11 or 101")
    precision = np.asarray(precision, np.float64)
    recall = np.asarray(recall, np.float64)
    checks.same_shape(("precision", precision), ("recall", recall))
    best_after = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    # Rounded so that a recall of exactly 3/5 reaches the level 0.6 (np.linspace
    # gives 0.6000000000000001 there; pycocotools keeps that quirk).
    levels = np.round(np.linspace(0.0, 1.0, recall_points), 10)
    where = np.searchsorted(recall, levels, side="left")
    reached = where < len(recall)
    return float(np.where(reached, best_after[np.minimum(where, len(recall) - 1)] if len(recall) else 0.0,
                          0.0).mean())


@dataclasses.dataclass(frozen=True)
class DetectionScores:
    """Average precision of a detector (see :func:`evaluate_detections`).

    Attributes:
        mAP: the mean of ``ap`` over the classes that have true objects and
            the thresholds (0.0 when no class has any).
        ap: float (T, C) AP per IoU threshold and class, NaN for classes
            without true objects.
        iou_thresholds: the T thresholds, e.g. ``(0.5,)`` for mAP@0.5.
    """

    mAP: float
    ap: np.ndarray
    iou_thresholds: tuple

    @property
    def class_ap(self) -> np.ndarray:
        """float (C,): each class's AP averaged over the thresholds (NaN without true objects)."""
        counted = np.isfinite(self.ap).any(axis=0)
        return np.where(counted, np.nanmean(np.where(counted, self.ap, 0.0), axis=0), np.nan)


def evaluate_detections(predictions, true_boxes, true_classes, num_classes: int,
                        iou_thresholds=(0.5,), recall_points: int = 101, max_detections: int = 100) -> DetectionScores:
    """Mean average precision of detections over a set of images.

    For each IoU threshold and class: match detections to true boxes per image
    (:func:`match_detections`), pool them over all images, compute the
    precision/recall curve and its AP (:func:`average_precision`). The mAP is
    the mean over classes that have true objects and over the thresholds.

    * mAP@0.5 (PASCAL VOC style): ``iou_thresholds=(0.5,)``.
    * AP@[.5:.95] (COCO): ``iou_thresholds=COCO_IOU_THRESHOLDS`` (0.5, 0.55,
      ..., 0.95) with ``recall_points=101``.

    Args:
        predictions: list of N dicts, or a :class:`homl_cv.boxes.Detections` (see the module docstring).
        true_boxes: (N, M, 4) "xyxy" pixels, padded with -1.
        true_classes: (N, M) int, -1 for padding.
        num_classes: number of classes.
        iou_thresholds: IoU levels a match needs.
        recall_points: 11 (book / VOC 2007) or 101 (COCO).
        max_detections: the top detections per image and class that count.

    Returns:
        A :class:`DetectionScores` (``mAP``, ``ap`` (T, C), ``iou_thresholds``).
    """
    true_boxes = checks.shaped(true_boxes, "true_boxes", ("N", "M", 4), "M boxes per image", dtype=np.float32)
    true_classes = checks.shaped(true_classes, "true_classes", true_boxes.shape[:2], "one class per box, -1 for padding")
    checked = _check_predictions(predictions, len(true_boxes))
    thresholds = tuple(float(t) for t in np.atleast_1d(iou_thresholds))
    ap = np.full((len(thresholds), num_classes), np.nan)
    for c in range(num_classes):
        truths = [tb[tc == c] for tb, tc in zip(true_boxes, true_classes)]
        num_true = sum(len(t) for t in truths)
        if num_true == 0:
            continue
        detections = []  # per image: its class-c boxes and scores, best first, at most max_detections
        for pb, ps, pc in checked:
            mine = pc == c
            order = np.argsort(-ps[mine], kind="mergesort")[:max_detections]
            detections.append((pb[mine][order], ps[mine][order]))
        scores = np.concatenate([s for _, s in detections])
        for t, threshold in enumerate(thresholds):
            hits = [match_detections(b, s, truth, threshold) for (b, s), truth in zip(detections, truths)]
            precision, recall = precision_recall_curve(scores, np.concatenate(hits), num_true)
            ap[t, c] = average_precision(precision, recall, recall_points)
    return DetectionScores(float(np.nanmean(ap)) if np.isfinite(ap).any() else 0.0, ap, thresholds)


def coco_reference(predictions, true_boxes, true_classes, image_size) -> dict:
    """pycocotools' COCOeval on the same predictions, built in memory.

    Returns:
        ``{"AP": AP@[.5:.95], "AP50": AP@0.5}`` for all areas, 100 detections
        per image (COCOeval's first two summary numbers).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    checked = _check_predictions(predictions, len(true_boxes))
    height, width = (image_size, image_size) if np.isscalar(image_size) else image_size
    images, annotations, results = [], [], []
    for i, (tb, tc) in enumerate(zip(np.asarray(true_boxes), np.asarray(true_classes))):
        images.append({"id": i, "height": height, "width": width})
        for box, cls in zip(tb[tc >= 0], tc[tc >= 0]):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(cls),
                                "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h, "iscrowd": 0})
    for i, (pb, ps, pc) in enumerate(checked):
        for box, score, cls in zip(pb, ps, pc):
            results.append({"image_id": i, "category_id": int(cls), "score": float(score),
                            "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]})
    categories = sorted({int(c) for c in np.asarray(true_classes).ravel() if c >= 0} | {r["category_id"] for r in results})
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {"images": images, "annotations": annotations,
                         "categories": [{"id": c, "name": str(c)} for c in categories]}
        truth.createIndex()
        if not results:
            return {"AP": 0.0, "AP50": 0.0}
        detections = truth.loadRes(results)
        evaluator = COCOeval(truth, detections, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {"AP": float(max(evaluator.stats[0], 0.0)), "AP50": float(max(evaluator.stats[1], 0.0))}


# ============================================================================ keras-cv YOLOv8
def build_keras_cv_yolov8(num_classes: int = 4, image_size: int = 64, channels=(16, 32, 64, 64),
                         learning_rate: float = 1e-3, strategy=None):
    """keras-cv's ``YOLOV8Detector`` on a small backbone built from a config.

    No preset (presets download weights): the ``YOLOV8Backbone`` is built from
    ``stackwise_channels=channels`` with one CSP block per stage, and the
    detector gets a one-block feature pyramid. Boxes are "xyxy" pixels, the
    same convention as :meth:`homl_cv.data.ShapesData.to_dataset`.

    Built and compiled under ``strategy`` (default: ``config.pick_strategy()``).

    Returns:
        The compiled detector (binary cross-entropy class loss, CIoU box loss).
    """
    import keras_cv

    with distribute.get_strategy(strategy).scope():
        backbone = keras_cv.models.YOLOV8Backbone(
            stackwise_channels=list(channels), stackwise_depth=[1] * len(channels),
            include_rescaling=False, activation="swish", input_shape=(image_size, image_size, 3))
        detector = keras_cv.models.YOLOV8Detector(num_classes=num_classes, bounding_box_format="xyxy",
                                                  backbone=backbone, fpn_depth=1)
        detector.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, global_clipnorm=10.0),
                         classification_loss="binary_crossentropy", box_loss="ciou")
    return detector


def keras_cv_to_predictions(outputs) -> list:
    """keras-cv's padded prediction dict -> this module's list of dicts."""
    results = []
    for boxes, scores, classes, count in zip(np.asarray(outputs["boxes"]), np.asarray(outputs["confidence"]),
                                             np.asarray(outputs["classes"]), np.asarray(outputs["num_detections"])):
        n = int(count)
        boxes = np.clip(boxes[:n], 0, None)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])  # an untrained head can flip corners
        results.append({"boxes": boxes, "scores": scores[:n],
                        "classes": classes[:n].astype(np.int32)})
    return results
