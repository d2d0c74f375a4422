"""Two-stage detectors: R-CNN -> Fast R-CNN -> Faster R-CNN, small enough for a CPU.

The pieces follow chapter 05, section "Two-stage detectors":

* :func:`roi_pool` (Fast R-CNN): a fixed-size feature grid for any box of a
  shared feature map, snapped to the feature cells, written out in NumPy to
  teach it. RoIAlign (Mask R-CNN), which removes the snapping, lives in
  :mod:`homl_cv.regions` (:func:`homl_cv.regions.roi_align_numpy` to read it,
  :func:`homl_cv.regions.roi_align` and the :class:`homl_cv.regions.RoiAlign`
  layer to train with).
* :func:`make_anchors`, :func:`label_anchors`, :func:`rpn_targets`: Faster
  R-CNN's anchors at every feature-map cell, labelled positive / negative /
  ignored by IoU thresholds, and the box deltas a region proposal network
  (RPN) predicts (:func:`homl_cv.boxes.encode_deltas` /
  :func:`homl_cv.boxes.decode_deltas`).
* :func:`build_faster_rcnn`: a small backbone shared by an RPN head and a
  second-stage RoI head; :func:`train_faster_rcnn` trains both at once
  ("approximate joint training"); :func:`propose` turns RPN outputs into
  proposals; :func:`proposal_recall` measures them; :func:`detect_two_stage`
  runs the whole detector and returns predictions for
  :func:`homl_cv.detection.evaluate_detections` (a :class:`homl_cv.boxes.Detections`).

Boxes are "xyxy" pixels; a feature map of stride ``s`` has its cell ``(i, j)``
covering pixels ``[j*s, (j+1)*s) x [i*s, (i+1)*s)``.

Example:
    >>> import numpy as np
    >>> fmap = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    >>> roi_pool(fmap, [[0, 0, 4, 4]], output_size=2)[0, ..., 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from homl_cv import boxes as boxes_lib
from homl_cv import checks, config, regions, training

__all__ = [
    "roi_pool", "make_anchors", "label_anchors", "rpn_targets", "RpnLoss", "build_faster_rcnn", "sample_rois",
    "FasterRcnn", "train_faster_rcnn", "propose", "proposal_recall", "detect_two_stage",
    "faster_rcnn_recipe",
]

def _check_feature_map(feature_map) -> np.ndarray:
    return checks.shaped(feature_map, "feature_map", ("H", "W", "C"), "one image", dtype=np.float32)


def _check_output_size(output_size) -> tuple:
    return checks.pair(output_size, "output_size")


# ============================================================================ RoI pooling
def roi_pool(feature_map, rois, output_size=2, spatial_scale: float = 1.0) -> np.ndarray:
    """Fast R-CNN's RoI max pooling: each box -> an ``output_size`` grid of maxima.

    Each box is first snapped to whole feature-map cells
    (``floor(x * spatial_scale + 0.5)`` for both corners, i.e. rounding half up;
    the end cell is included),
    then split into ``output_size`` bins of (almost) equal size
    (bin ``k`` of ``n`` over ``L`` cells spans ``[floor(k L / n), ceil((k + 1) L / n))``),
    and each bin keeps the maximum of its cells, per channel. The snapping is what
    :func:`homl_cv.regions.roi_align` removes.

    Args:
        feature_map: (H, W, C) feature map of one image.
        rois: (K, 4) "xyxy" boxes in image pixels.
        output_size: int or (rows, cols) of the pooled grid.
        spatial_scale: feature-map cells per image pixel (1 / stride).

    Returns:
        float32 (K, rows, cols, C).

    Example:
        >>> fmap = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
        >>> roi_pool(fmap, [[0, 0, 1, 1]], 1)[0, 0, 0, 0]  # cells (0..1, 0..1): max is 5
        5.0
    """
    fmap = _check_feature_map(feature_map)
    rois = boxes_lib.validate_boxes(np.asarray(rois, np.float32).reshape(-1, 4), "xyxy", "rois")
    rows, cols = _check_output_size(output_size)
    height, width = fmap.shape[:2]
    out = np.zeros((len(rois), rows, cols, fmap.shape[2]), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(np.floor(rois * spatial_scale + 0.5).astype(int)):  # round half up
        x1, x2 = np.clip([x1, x2], 0, width - 1)
        y1, y2 = np.clip([y1, y2], 0, height - 1)
        roi_h, roi_w = y2 - y1 + 1, x2 - x1 + 1
        for i in range(rows):
            r0, r1 = y1 + int(np.floor(i * roi_h / rows)), y1 + int(np.ceil((i + 1) * roi_h / rows))
            for j in range(cols):
                c0, c1 = x1 + int(np.floor(j * roi_w / cols)), x1 + int(np.ceil((j + 1) * roi_w / cols))
                out[k, i, j] = fmap[r0:r1, c0:c1].max(axis=(0, 1))
    return out


# ============================================================================ anchors and deltas
def make_anchors(feature_size, stride: int, sizes=(16, 32), ratios=(1.0,)) -> np.ndarray:
    """Faster R-CNN anchors: ``len(sizes) * len(ratios)`` boxes centred on every cell.

    Cell ``(i, j)`` of a stride-``s`` feature map has its centre at pixel
    ``((j + 0.5) s, (i + 0.5) s)``; an anchor of size ``a`` and ratio ``r``
    (width / height) has width ``a sqrt(r)`` and height ``a / sqrt(r)``.

    Args:
        feature_size: (rows, cols) of the feature map, or an int for square maps.
        stride: pixels per feature-map cell.
        sizes: anchor sides (square root of the area), in pixels.
        ratios: width / height ratios.

    Returns:
        float32 (rows, cols, A, 4) "xyxy" pixel boxes, A = len(sizes) * len(ratios),
        ordered size-major (all ratios of the first size, then the next size).

    Example:
        >>> make_anchors(2, 8, sizes=(8,))[1, 0, 0].tolist()  # row 1, column 0
        [0.0, 8.0, 8.0, 16.0]
    """
    rows, cols = (feature_size, feature_size) if np.isscalar(feature_size) else feature_size
    checks.positive_values(checks.non_empty(sizes, "sizes", "e.g. (16, 32)"), "sizes", "anchor sides in pixels")
    checks.positive_values(checks.non_empty(ratios, "ratios", "e.g. (0.5, 1, 2)"), "ratios", "width / height")
    shapes = np.array([[a * np.sqrt(r), a / np.sqrt(r)] for a in sizes for r in ratios], np.float32)
    cy, cx = np.meshgrid((np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij")
    centres = np.stack([cx, cy], -1)[:, :, None, :]  # (rows, cols, 1, 2)
    return np.concatenate([centres - shapes / 2, centres + shapes / 2], axis=-1).astype(np.float32)


def label_anchors(anchors, true_boxes, positive_iou: float = 0.7, negative_iou: float = 0.3):
    """Label anchors for RPN training, as in Faster R-CNN.

    * positive (1): IoU >= ``positive_iou`` with some true box, **or** the
      anchor is a true box's best match (so every object gets at least one
      anchor even when none reaches the threshold);
    * negative (0): IoU < ``negative_iou`` with every true box;
    * ignored (-1): the rest (in between), left out of the loss.

    Args:
        anchors: (K, 4) "xyxy" anchors.
        true_boxes: (M, 4) "xyxy" true boxes (M may be 0: all negative).
        positive_iou, negative_iou: thresholds, ``negative_iou <= positive_iou``.

    Returns:
        ``(labels, matched)``: int32 (K,) in {1, 0, -1}, and int64 (K,) the
        index of each anchor's best true box (0 when there is none).

    Example:
        >>> labels, matched = label_anchors([[0, 0, 10, 10], [0, 0, 4, 4], [20, 20, 30, 30]],
        ...                                 [[0, 0, 10, 12]])
        >>> labels.tolist(), matched.tolist()
        ([1, 0, 0], [0, 0, 0])
    """
    checks.ordered_range((negative_iou, positive_iou), "(negative_iou, positive_iou)", 0, 1)
    anchors = boxes_lib.validate_boxes(np.asarray(anchors, np.float32).reshape(-1, 4), "xyxy", "anchors")
    true_boxes = boxes_lib.validate_boxes(np.asarray(true_boxes, np.float32).reshape(-1, 4), "xyxy", "true_boxes")
    labels = np.zeros(len(anchors), np.int32)
    if not len(true_boxes):
        return labels, np.zeros(len(anchors), np.int64)
    overlaps = boxes_lib.iou(anchors, true_boxes)  # (K, M)
    best = overlaps.max(axis=1)
    matched = overlaps.argmax(axis=1)
    labels[best >= negative_iou] = -1
    labels[best >= positive_iou] = 1
    for m in range(len(true_boxes)):  # each true box's best anchor(s) are positive, matched to it
        column = overlaps[:, m]
        if column.max() > 0:
            winners = np.flatnonzero(column == column.max())
            labels[winners] = 1
            matched[winners] = m
    return labels, matched.astype(np.int64)


def rpn_targets(data, anchors, positive_iou: float = 0.7, negative_iou: float = 0.3) -> np.ndarray:
    """RPN training targets for every image of a ShapesData.

    Returns:
        float32 (N, rows, cols, A, 5): ``(label, tx, ty, tw, th)`` per anchor,
        label 1 / 0 / -1 from :func:`label_anchors`, deltas from
        :func:`homl_cv.boxes.encode_deltas` (0 where the label is not 1).
    """
    anchors = np.asarray(anchors, np.float32)
    flat = anchors.reshape(-1, 4)
    out = np.zeros((len(data.images), len(flat), 5), np.float32)
    for n, (b, c) in enumerate(zip(data.boxes, data.classes)):
        truth = b[c >= 0]
        labels, matched = label_anchors(flat, truth, positive_iou, negative_iou)
        out[n, :, 0] = labels
        if len(truth):
            deltas = boxes_lib.encode_deltas(flat, truth[matched])
            out[n, :, 1:] = np.where(labels[:, None] == 1, deltas, 0.0)
    return out.reshape(len(data.images), *anchors.shape[:3], 5)


# ============================================================================ the model
@keras.saving.register_keras_serializable(package="homl_cv")
class RpnLoss(keras.losses.Loss):
    """RPN loss: objectness cross-entropy + smooth-L1 deltas on positive anchors.

    ``y_true`` (batch, rows, cols, A, 5) from :func:`rpn_targets`; ``y_pred``
    (batch, rows, cols, A, 5): objectness logit and 4 deltas. Per image,

    .. math::
        L = \\frac{1}{N_{cls}} \\sum_{i \\,:\\, l_i \\ne -1} \\mathrm{BCE}(l_i, p_i)
            + \\lambda \\frac{1}{N_{pos}} \\sum_{i \\,:\\, l_i = 1} \\mathrm{smooth}_{L1}(t_i - t_i^*)

    with ``N_cls`` the labelled anchors and ``N_pos`` the positive ones (at least 1).
    """

    def __init__(self, box_weight: float = 1.0, name: str = "rpn_loss", **kwargs):  # pragma: no mutate block
        super().__init__(name=name, **kwargs)
        self.box_weight = box_weight

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        labels = y_true[..., 0]
        labelled = ops.cast(labels >= 0, y_pred.dtype)
        positive = ops.cast(labels > 0.5, y_pred.dtype)
        bce = ops.binary_crossentropy(ops.maximum(labels, 0.0), y_pred[..., 0], from_logits=True)
        cls_loss = ops.sum(bce * labelled, axis=(1, 2, 3)) / ops.maximum(ops.sum(labelled, axis=(1, 2, 3)), 1.0)
        diff = ops.abs(y_pred[..., 1:] - y_true[..., 1:])
        smooth = ops.sum(ops.where(diff < 1.0, 0.5 * diff ** 2, diff - 0.5), axis=-1)
        box_loss = ops.sum(smooth * positive, axis=(1, 2, 3)) / ops.maximum(ops.sum(positive, axis=(1, 2, 3)), 1.0)
        return cls_loss + self.box_weight * box_loss

    def get_config(self):
        return {**super().get_config(), "box_weight": self.box_weight}


def faster_rcnn_recipe() -> dict:
    """Sizes of chapter 05's small Faster R-CNN (quick vs full mode)."""
    return dict(image_size=64, max_objects=3, stride=8, anchor_sizes=(12, 18, 26), filters=16,
                pool_size=4, rois_per_image=16, num_train=config.pick(1500, 8000),
                num_test=config.pick(200, 1000), epochs=config.pick(8, 30), batch_size=16,
                learning_rate=3e-3, proposals=20)


def build_faster_rcnn(image_size: int = 64, num_anchors: int = 3, num_classes: int = 4, filters: int = 16,
                      pool_size: int = 4, stride: int = 8, rois_per_image: int = 16) -> dict:
    """A small Faster R-CNN: shared backbone, RPN head and RoI head.

    * backbone: ``log2(stride)`` conv + BN + ReLU + max-pool blocks and one more
      3x3 conv: (image_size, image_size, 3) -> (S, S, 4 * filters) with S =
      image_size / stride;
    * RPN head: a 3x3 conv, then 1x1 convs giving per cell and anchor an
      objectness logit and 4 deltas -> (S, S, A, 5);
    * RoI head: on the RoIAligned ``pool_size`` x ``pool_size`` features of each
      region, Flatten + Dense(128) + two outputs: ``num_classes + 1`` class
      logits (the last one is background) and 4 deltas refining the region.

    Returns:
        A dict of Keras models: ``"backbone"``, ``"rpn"`` (feature map -> (S, S, A, 5)),
        ``"head"`` ((R, p, p, C) -> ((R, num_classes + 1), (R, 4))) and
        ``"train"``, the joint training model ``[images, rois (N, R, 4)] ->
        {"rpn": (N, S, S, A, 5), "cls": (N, R, num_classes + 1), "box": (N, R, 4)}``.
    """
    checks.one_of(stride, "stride", (4, 8, 16))
    checks.multiple_of(image_size, "image_size", stride, f"stride={stride} must divide it")
    images = keras.Input((image_size, image_size, 3), name="images")
    x = images
    for k in range(int(np.log2(stride))):
        x = keras.layers.Conv2D(filters * 2 ** min(k, 2), 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(filters * 4, 3, padding="same", activation="relu")(x)
    backbone = keras.Model(images, x, name="backbone")
    channels = filters * 4
    side = image_size // stride

    fmap_in = keras.Input((side, side, channels), name="feature_map")
    h = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(fmap_in)
    objectness = keras.layers.Conv2D(num_anchors, 1)(h)
    deltas = keras.layers.Conv2D(4 * num_anchors, 1)(h)
    rpn_out = keras.layers.Concatenate()([
        keras.layers.Reshape((side, side, num_anchors, 1))(objectness),
        keras.layers.Reshape((side, side, num_anchors, 4))(deltas)])
    rpn = keras.Model(fmap_in, rpn_out, name="rpn")

    pooled_in = keras.Input((pool_size, pool_size, channels), name="pooled")
    hidden = keras.layers.Dense(128, activation="relu", name="head_hidden")
    cls_layer, box_layer = keras.layers.Dense(num_classes + 1, name="cls"), keras.layers.Dense(4, name="box")
    z = hidden(keras.layers.Reshape((pool_size * pool_size * channels,))(pooled_in))
    head = keras.Model(pooled_in, [cls_layer(z), box_layer(z)], name="roi_head")

    rois = keras.Input((rois_per_image, 4), name="rois")
    fmap = backbone(images)
    pooled = regions.RoiAlign(pool_size, 1.0 / stride, 2)(fmap, rois)
    z = hidden(keras.layers.Reshape((rois_per_image, pool_size * pool_size * channels))(pooled))  # same weights
    train = keras.Model([images, rois], {"rpn": rpn(fmap), "cls": cls_layer(z), "box": box_layer(z)},
                        name="faster_rcnn")
    return {"backbone": backbone, "rpn": rpn, "head": head, "train": train}


def sample_rois(true_boxes, true_classes, num_rois: int, image_size: int, num_classes: int, rng,
                foreground_iou: float = 0.5):
    """Training regions for the RoI head: jittered true boxes and random boxes.

    Half of the regions are true boxes moved and resized by up to ~25 %, the
    rest random boxes; each is labelled with the class of the true box it
    overlaps most if their IoU >= ``foreground_iou``, else background
    (``num_classes``), with deltas from the region to that box (0 for background).

    Returns:
        ``(rois, labels, deltas)``: float32 (R, 4), int32 (R,), float32 (R, 4).
    """
    real = np.asarray(true_classes) >= 0
    truth, classes = np.asarray(true_boxes, np.float32)[real], np.asarray(true_classes)[real]
    rois = []
    for k in range(num_rois):
        if len(truth) and k < num_rois // 2:
            b = truth[k % len(truth)]
            w, h = b[2] - b[0], b[3] - b[1]
            centre = (b[:2] + b[2:]) / 2 + rng.uniform(-0.25, 0.25, 2) * (w, h)
            size = np.array([w, h]) * np.exp(rng.uniform(-0.25, 0.25, 2))
        else:
            size = rng.uniform(0.1, 0.5, 2) * image_size
            centre = rng.uniform(0, image_size, 2)
        rois.append(np.clip(np.concatenate([centre - size / 2, centre + size / 2]), 0, image_size))
    rois = np.array(rois, np.float32)
    rois[:, 2:] = np.maximum(rois[:, 2:], rois[:, :2] + 1)
    labels = np.full(num_rois, num_classes, np.int32)
    deltas = np.zeros((num_rois, 4), np.float32)
    if len(truth):
        overlaps = boxes_lib.iou(rois, truth)
        best = overlaps.argmax(axis=1)
        fg = overlaps.max(axis=1) >= foreground_iou
        labels[fg] = classes[best[fg]]
        deltas[fg] = boxes_lib.encode_deltas(rois[fg], truth[best[fg]])
    return rois, labels, deltas


@dataclasses.dataclass
class FasterRcnn:
    """A trained small Faster R-CNN (see :func:`train_faster_rcnn`).

    Attributes:
        backbone, rpn, head: the Keras models of :func:`build_faster_rcnn`.
        anchors: float32 (S, S, A, 4) pixel anchors.
        stride, pool_size, image_size: the geometry.
        history: the Keras training history dict.
        train_seconds: wall time of ``fit``.
    """

    backbone: keras.Model
    rpn: keras.Model
    head: keras.Model
    anchors: np.ndarray
    stride: int
    pool_size: int
    image_size: int
    history: dict
    train_seconds: float

    def summary(self) -> str:
        """One line: sizes, loss at the start and end of training, fit time."""
        loss = self.history.get("loss", [float("nan")])
        return (f"Faster R-CNN {self.image_size}px, stride {self.stride}, {self.anchors.shape[2]} anchors/cell, "
                f"loss {loss[0]:.2f} -> {loss[-1]:.2f} in {len(loss)} epochs, {self.train_seconds:.0f} s")


class _HeadLoss(keras.losses.Loss):
    """Smooth-L1 box loss of the RoI head, on foreground regions only (y_true: 4 deltas + fg flag)."""

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        diff = ops.abs(y_pred - y_true[..., :4])
        smooth = ops.sum(ops.where(diff < 1.0, 0.5 * diff ** 2, diff - 0.5), axis=-1)
        fg = y_true[..., 4]
        return ops.sum(smooth * fg, axis=-1) / ops.maximum(ops.sum(fg, axis=-1), 1.0)


def train_faster_rcnn(train_data, recipe: dict | None = None, seed: int = 42, verbose="auto") -> FasterRcnn:
    """Train :func:`build_faster_rcnn` jointly: RPN loss + RoI-head losses.

    RPN targets come from :func:`rpn_targets` (IoU 0.7 / 0.3); the RoI head
    trains on :func:`sample_rois` regions (drawn once per image, seeded), with
    class cross-entropy and a smooth-L1 box loss on foreground regions. Adam
    with a cosine-decayed learning rate.

    Args:
        train_data: a :class:`homl_cv.data.ShapesData`.
        recipe: :func:`faster_rcnn_recipe` (default) or a dict like it.

    Returns:
        A :class:`FasterRcnn`.
    """
    recipe = {**faster_rcnn_recipe(), **(recipe or {})}
    config.set_seeds(seed)
    size, stride = train_data.images.shape[1], recipe["stride"]
    num_classes = len(train_data.class_names)
    anchors = make_anchors(size // stride, stride, recipe["anchor_sizes"])
    parts = build_faster_rcnn(size, anchors.shape[2], num_classes, recipe["filters"], recipe["pool_size"], stride,
                              recipe["rois_per_image"])
    rng = np.random.default_rng(seed)
    sampled = [sample_rois(b, c, recipe["rois_per_image"], size, num_classes, rng)
               for b, c in zip(train_data.boxes, train_data.classes)]
    rois = np.stack([s[0] for s in sampled])
    labels = np.stack([s[1] for s in sampled])
    box_targets = np.stack([np.concatenate([s[2], (s[1] < num_classes)[:, None]], axis=-1) for s in sampled])
    schedule = training.cosine_schedule(recipe["learning_rate"], recipe["epochs"], len(train_data),
                                        recipe["batch_size"], alpha=0.05)
    model = parts["train"]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss={"rpn": RpnLoss(), "cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "box": _HeadLoss()})
    start = time.perf_counter()
    history = model.fit([train_data.images, rois],
                        {"rpn": rpn_targets(train_data, anchors), "cls": labels, "box": box_targets},
                        epochs=recipe["epochs"], batch_size=recipe["batch_size"], verbose=verbose)
    seconds = time.perf_counter() - start
    return FasterRcnn(parts["backbone"], parts["rpn"], parts["head"], anchors, stride, recipe["pool_size"], size,
                      history.history, seconds)


# ============================================================================ inference
def propose(rpn_outputs, anchors, image_size: int, top_n: int = 20, pre_nms: int = 100,
            iou_threshold: float = 0.7) -> list:
    """Region proposals from RPN outputs: decode, clip, keep the best after NMS.

    Args:
        rpn_outputs: (N, S, S, A, 5) objectness logits and deltas.
        anchors: (S, S, A, 4) pixel anchors.
        image_size: side of the square images (boxes are clipped to it).
        top_n: proposals kept per image (after NMS).
        pre_nms: best-scoring anchors decoded before NMS.
        iou_threshold: class-agnostic NMS threshold (0.7 in Faster R-CNN).

    Returns:
        A list of N dicts ``{"boxes": (K, 4), "scores": (K,)}``, K <= top_n, best first.
    """
    outputs = np.asarray(rpn_outputs, np.float32)
    anchors = np.asarray(anchors, np.float32)
    checks.shaped(outputs, "rpn_outputs", ("N", *anchors.shape[:3], 5), "to match the anchors")
    flat_anchors = anchors.reshape(-1, 4)
    results = []
    for out in outputs.reshape(len(outputs), -1, 5):
        scores = 1.0 / (1.0 + np.exp(-out[:, 0]))
        best = np.argsort(-scores, kind="stable")[:pre_nms]
        boxes = np.clip(boxes_lib.decode_deltas(flat_anchors[best], out[best, 1:]), 0, image_size)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        keep = boxes_lib.non_max_suppression(boxes, scores[best], iou_threshold, max_outputs=top_n)
        results.append({"boxes": boxes[keep], "scores": scores[best][keep]})
    return results


def proposal_recall(proposals, true_boxes, true_classes, top_n: int = 20, iou_threshold: float = 0.5) -> float:
    """Fraction of true objects covered (IoU >= ``iou_threshold``) by one of an image's top ``top_n`` proposals."""
    found = total = 0
    for prop, tb, tc in zip(proposals, np.asarray(true_boxes), np.asarray(true_classes)):
        truth = tb[tc >= 0]
        total += len(truth)
        candidates = np.asarray(prop["boxes"], np.float32).reshape(-1, 4)[:top_n]
        if len(truth) and len(candidates):
            found += int((boxes_lib.iou(truth, candidates).max(axis=1) >= iou_threshold).sum())
    if total == 0:
        raise ValueError("true_classes holds no object (all -1): recall is undefined.")
    return found / total


def detect_two_stage(model: FasterRcnn, images, top_n: int = 20, score_threshold: float = 0.05,
                     iou_threshold: float = 0.5, max_outputs: int = 20) -> boxes_lib.Detections:
    """Run the two stages: proposals from the RPN, then the RoI head on each.

    Each proposal's RoIAligned features get class probabilities (softmax over
    classes + background) and refining deltas; a detection's score is its best
    non-background probability; per-class NMS as in the one-stage detector.

    Args:
        model: a trained :class:`FasterRcnn`.
        images: float (N, H, W, 3), the size the model was trained on.
        top_n: proposals per image passed to the second stage.
        score_threshold, iou_threshold, max_outputs: the per-class NMS of
            :func:`homl_cv.boxes.non_max_suppression`.

    Returns:
        A :class:`homl_cv.boxes.Detections`: ``predictions`` (per image
        ``{"boxes", "scores", "classes"}``, for
        :func:`homl_cv.detection.evaluate_detections`) and ``proposals`` (those
        of :func:`propose`).
    """
    images = np.asarray(images, np.float32)
    fmaps = model.backbone(images, training=False)
    proposals = propose(model.rpn(fmaps, training=False).numpy(), model.anchors, model.image_size, top_n)
    counts = [len(p["boxes"]) for p in proposals]
    rois = np.concatenate([p["boxes"] for p in proposals]).astype(np.float32)
    indices = np.repeat(np.arange(len(images)), counts)
    pooled = regions.roi_align(fmaps, rois, model.pool_size, indices, 1.0 / model.stride, 2)
    logits, deltas = (t.numpy() for t in model.head(pooled, training=False))
    probs = tf.nn.softmax(logits).numpy()
    refined = np.clip(boxes_lib.decode_deltas(rois, deltas), 0, model.image_size)
    refined[:, 2:] = np.maximum(refined[:, 2:], refined[:, :2])
    predictions, start = [], 0
    for count in counts:
        p, b = probs[start:start + count, :-1], refined[start:start + count]
        start += count
        classes, scores = p.argmax(axis=1), p.max(axis=1)
        keep = boxes_lib.non_max_suppression(b, scores, iou_threshold, score_threshold, max_outputs, classes=classes)
        predictions.append({"boxes": b[keep], "scores": scores[keep], "classes": classes[keep].astype(np.int32)})
    return boxes_lib.Detections(predictions, proposals)
