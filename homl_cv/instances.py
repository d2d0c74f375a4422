"""Instance segmentation, Mask R-CNN's idea: a small mask head on regions of interest.

Semantic segmentation gives every pixel a class; two touching circles become
one blob. Instance segmentation gives every *object* its own mask. Mask R-CNN
(He et al., 2017) adds a branch to a two-stage detector: for each box, RoIAlign
(:func:`homl_cv.regions.roi_align`) cuts a ``P x P`` patch of the shared
feature map, a small fully convolutional **mask head** predicts a ``P x P``
mask in box coordinates (one sigmoid per pixel: "is this pixel the box's
object?"), and :func:`paste_masks` resizes it back into the box.

This module runs that second stage on ground-truth boxes (the detector's job
is chapter 05's): :func:`instance_set` lists the objects of
:func:`homl_cv.data.make_shapes` images, :func:`mask_targets` gives each one
its ``P x P`` target, :func:`build_mask_head` / :func:`train_mask_head` learn
it, and :func:`evaluate_masks` scores the pasted masks by mask IoU per
instance.

Example:
    >>> import numpy as np
    >>> probs = np.ones((1, 4, 4), np.float32)           # "all object" in box coordinates
    >>> paste_masks(probs, [[1, 2, 5, 4]], (6, 6))[0].astype(int)
    array([[0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0]])
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from homl_cv import checks, regions, training

__all__ = ["InstanceSet", "MaskScores", "box_masks", "build_mask_head", "evaluate_masks", "instance_set",
           "mask_iou", "mask_targets", "paste_masks", "train_mask_head"]


@dataclasses.dataclass(frozen=True)
class InstanceSet:
    """One row per visible object of a set of images.

    Attributes:
        boxes: float32 (K, 4) "xyxy" pixels (x2, y2 exclusive).
        image_index: int32 (K,), the image each object is in.
        classes: int32 (K,), class ids.
        masks: bool (K, H, W), the object's visible pixels.
    """

    boxes: np.ndarray
    image_index: np.ndarray
    classes: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


def instance_set(shapes) -> InstanceSet:
    """The objects of a :class:`homl_cv.data.ShapesData`, skipping any hidden entirely by later ones."""
    boxes, index, classes, masks = [], [], [], []
    for i in range(len(shapes)):
        for j in np.flatnonzero(shapes.classes[i] >= 0):
            mask = shapes.instances[i] == j + 1
            if mask.any():
                boxes.append(shapes.boxes[i, j])
                index.append(i)
                classes.append(shapes.classes[i, j])
                masks.append(mask)
    size = shapes.images.shape[1:3]
    return InstanceSet(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(index, np.int32),
                       np.asarray(classes, np.int32), np.asarray(masks, bool).reshape((-1, *size)))


def mask_targets(instances: InstanceSet, output_size: int = 16) -> np.ndarray:
    """Each object's mask in its own box, as the head should predict it: float32 (K, P, P) of 0/1.

    The true mask is cut out with the same :func:`homl_cv.regions.roi_align`
    as the features (so target and input line up), then thresholded at 0.5.
    """
    maps = instances.masks.astype(np.float32)[..., None]                   # (K, H, W, 1)
    crops = regions.roi_align(maps, instances.boxes, output_size, box_indices=np.arange(len(instances)))
    return (np.asarray(crops)[..., 0] >= 0.5).astype(np.float32)


def build_mask_head(channels: int, output_size: int = 16, filters: int = 32, convs: int = 3,
                    name: str = "mask_head") -> keras.Model:
    """Mask R-CNN's mask branch, small: ``convs`` 3x3 convolutions, then one 1x1 logit per pixel.

    Args:
        channels: channels of the feature map the RoIs are cut from.
        output_size: P, the RoI patch size (the mask is predicted at P x P).
        filters: width of the 3x3 convolutions.

    Returns:
        A model mapping RoI features (K, P, P, channels) to mask logits (K, P, P, 1).
    """
    inputs = keras.Input((output_size, output_size, channels), name="roi_features")
    x = inputs
    for i in range(convs):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"mask_conv{i + 1}")(x)
    logits = keras.layers.Conv2D(1, 1, name="mask_logits")(x)
    return keras.Model(inputs, logits, name=name)


def train_mask_head(head, roi_features, targets, epochs: int = 10, batch_size: int = 32,
                    learning_rate: float = 3e-3, seed: int = 42, verbose="auto"):
    """Per-pixel sigmoid cross-entropy on (K, P, P, C) RoI features and (K, P, P) 0/1 targets.

    Adam with a cosine-decayed learning rate.

    Returns:
        A :class:`homl_cv.training.TrainedModel` (``model`` is ``head``, trained; ``history``).
    """
    import tensorflow as tf

    roi_features, targets = np.asarray(roi_features, np.float32), np.asarray(targets, np.float32)
    checks.shaped(roi_features, "roi_features", ("K", "P", "P", "C"), "one pooled feature map per RoI")
    checks.shaped(targets, "targets", roi_features.shape[:3], "one (P, P) mask target per RoI of roi_features")
    steps = epochs * -(-len(targets) // batch_size)
    head.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
                 loss=keras.losses.BinaryCrossentropy(from_logits=True))
    train = (tf.data.Dataset.from_tensor_slices((roi_features, targets[..., None]))
             .shuffle(len(targets), seed=seed).batch(batch_size))
    history = head.fit(train, epochs=epochs, shuffle=False, verbose=verbose)
    return training.TrainedModel(head, history.history)


def paste_masks(mask_probs, boxes, image_size, threshold: float = 0.5) -> np.ndarray:
    """Put each box's P x P mask back into the image: bool (K, H, W).

    Image pixel ``(y, x)`` inside a box reads the mask bilinearly at its
    centre, in box coordinates: ``u = (x + 0.5 - x_1) P_w / (x_2 - x_1) - 0.5``
    (the inverse of :func:`homl_cv.regions.roi_align`'s sampling), clamped to
    the mask's edge. Pixels outside the box are background.

    Args:
        mask_probs: (K, P_h, P_w) probabilities (apply a sigmoid to logits first).
        boxes: (K, 4) "xyxy" pixels.
        image_size: (H, W).
        threshold: a pixel is the object's where the probability is >= threshold.
    """
    probs = np.asarray(mask_probs, np.float64)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    checks.shaped(probs, "mask_probs", (len(boxes), "P_h", "P_w"), "one mask per box")
    height, width = (int(v) for v in image_size)
    out = np.zeros((len(boxes), height, width), bool)
    ph, pw = probs.shape[1:]
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        r0, r1 = max(int(np.floor(y1)), 0), min(int(np.ceil(y2)), height)
        c0, c1 = max(int(np.floor(x1)), 0), min(int(np.ceil(x2)), width)
        if r1 <= r0 or c1 <= c0:
            continue
        v = np.clip((np.arange(r0, r1) + 0.5 - y1) * ph / max(y2 - y1, 1e-6) - 0.5, 0, ph - 1)
        u = np.clip((np.arange(c0, c1) + 0.5 - x1) * pw / max(x2 - x1, 1e-6) - 0.5, 0, pw - 1)
        v0, u0 = np.floor(v).astype(int), np.floor(u).astype(int)
        v1, u1 = np.minimum(v0 + 1, ph - 1), np.minimum(u0 + 1, pw - 1)
        dv, du = (v - v0)[:, None], (u - u0)[None, :]
        p = probs[k]
        value = ((1 - dv) * (1 - du) * p[np.ix_(v0, u0)] + (1 - dv) * du * p[np.ix_(v0, u1)]
                 + dv * (1 - du) * p[np.ix_(v1, u0)] + dv * du * p[np.ix_(v1, u1)])
        out[k, r0:r1, c0:c1] = value >= threshold
    return out


def box_masks(boxes, image_size) -> np.ndarray:
    """The baseline "the object is its whole box": bool (K, H, W)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return paste_masks(np.ones((len(boxes), 1, 1)), boxes, image_size)


def mask_iou(pred_masks, true_masks) -> np.ndarray:
    """IoU of each predicted mask with its own true mask: float (K,) for bool (K, H, W) pairs."""
    pred, true = np.asarray(pred_masks, bool), np.asarray(true_masks, bool)
    checks.same_shape(("pred_masks", pred), ("true_masks", true))
    inter = (pred & true).sum(axis=(-2, -1))
    union = (pred | true).sum(axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


@dataclasses.dataclass(frozen=True)
class MaskScores:
    """Mask IoU per instance (see :func:`evaluate_masks`)."""

    ious: np.ndarray
    classes: np.ndarray

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.ious))

    def share_above(self, threshold: float = 0.5) -> float:
        """Fraction of instances whose mask IoU is at least ``threshold``."""
        return float(np.mean(self.ious >= threshold))

    def summary(self, class_names=None) -> str:
        names = class_names or [str(c) for c in range(int(self.classes.max()) + 1)]
        per_class = ", ".join(f"{names[c]} {self.ious[self.classes == c].mean():.2f}"
                              for c in range(len(names)) if (self.classes == c).any())
        return (f"{len(self.ious)} instances | mean mask IoU {self.mean_iou:.2f} | "
                f"IoU >= 0.5: {self.share_above(0.5):.0%}\n  per class: {per_class}")


def evaluate_masks(mask_logits, instances: InstanceSet, threshold: float = 0.5) -> MaskScores:
    """Paste (K, P, P[, 1]) logits into the images and score each against its true visible mask."""
    logits = np.asarray(mask_logits, np.float64)
    if logits.ndim == 4:
        logits = logits[..., 0]
    probs = 1 / (1 + np.exp(-logits))
    pasted = paste_masks(probs, instances.boxes, instances.masks.shape[1:], threshold)
    return MaskScores(mask_iou(pasted, instances.masks), instances.classes)
