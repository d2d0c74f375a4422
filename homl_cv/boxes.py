"""Bounding boxes: formats, validation, IoU, non-max suppression, anchors, R-CNN deltas.

Used by localization (04), detection (05) and the plots. YOLO's targets and
decoding live in :mod:`homl_cv.detection`, next to the model they serve; the
R-CNN box deltas (:func:`encode_deltas`, :func:`decode_deltas`) live here
because both the two-stage detector (``rcnn``) and SSD (``ssd``) use them, and
:class:`Detections` is what every ``detect_*`` function returns.

Formats follow Keras' names (``keras.utils.bounding_boxes``): "xyxy"
(corners), "xywh" (top-left corner + size), "center_xywh", "yxyx", and the
relative versions "rel_xyxy", ... with coordinates divided by the image width
and height, i.e. in [0, 1]. Conversions are written out (exact on every Keras
version) and tested against hand-written values; :func:`iou`
is written out to teach it and is tested against ``compute_iou``.

Example:
    >>> import numpy as np
    >>> a = np.array([[0., 0., 10., 10.]])
    >>> b = np.array([[5., 5., 15., 15.]])
    >>> round(float(iou(a, b)[0, 0]), 4)  # 25 / (100 + 100 - 25)
    0.1429
"""

from __future__ import annotations

import dataclasses

import numpy as np

from homl_cv import checks

__all__ = [
    "DELTA_CLIP",
    "Detections",
    "FORMATS",
    "anchor_iou",
    "area",
    "convert",
    "decode_deltas",
    "encode_deltas",
    "intersection",
    "iou",
    "kmeans_anchors",
    "non_max_suppression",
    "paired_iou",
    "to_xyxy",
    "validate_boxes",
    "validate_sizes",
]

FORMATS = ("xyxy", "xywh", "center_xywh", "yxyx", "rel_xyxy", "rel_xywh", "rel_center_xywh", "rel_yxyx")


def validate_boxes(boxes, box_format: str = "xyxy", name: str = "boxes", image_size=None) -> np.ndarray:
    """Check boxes and return them as a float32 array of shape (..., 4).

    Args:
        boxes: array-like whose last axis has 4 coordinates.
        box_format: one of :data:`FORMATS`.
        name: the argument's name, used in error messages.
        image_size: ``(height, width)``; when given, absolute boxes must lie
            inside the image (relative boxes must always lie in [0, 1]).

    Raises:
        ValueError: unknown format, wrong shape, non-finite values (the
            message names the first one and its index), corners in
            the wrong order or negative sizes, or coordinates out of range.
    """
    checks.one_of(box_format, "box_format", FORMATS)
    arr = checks.shaped(boxes, name, ("...", 4), f"{box_format!r} boxes: 4 coordinates on the last axis",
                        dtype=np.float32)
    checks.finite(arr, name)
    if box_format.endswith(("xyxy", "yxyx")):
        bad = (arr[..., 2] < arr[..., 0]) | (arr[..., 3] < arr[..., 1])
        if bad.any():
            raise ValueError(
                f"{name} has {int(bad.sum())} box(es) whose second corner is before the first: "
                f"in {box_format!r} each box is {_LAYOUT[box_format.removeprefix('rel_')]}. "
                f"If your boxes are (x, y, width, height), pass box_format='xywh'."
            )
    else:
        checks.values_in(arr[..., 2:], f"{name}[..., 2:]", 0, np.inf, f"the widths and heights of {box_format!r} boxes")
    if box_format.startswith("rel_"):
        checks.values_in(arr, name, 0, 1, f"relative {box_format!r} coordinates",
                         f"Divide pixel coordinates by the image width and height, or use the absolute format "
                         f"{box_format[4:]!r}.", tolerance=1e-6)
    elif image_size is not None:
        xyxy = to_xyxy(arr, box_format)
        height, width = image_size
        if (xyxy < -1e-3).any() or (xyxy[..., [0, 2]] > width + 1e-3).any() or (
            xyxy[..., [1, 3]] > height + 1e-3
        ).any():
            raise ValueError(
                f"{name} reach outside the {height}x{width} image; clip them first "
                f"(keras.utils.bounding_boxes.clip_to_image_size)."
            )
    return arr


_LAYOUT = {
    "xyxy": "(x_min, y_min, x_max, y_max)",
    "yxyx": "(y_min, x_min, y_max, x_max)",
}


def convert(boxes, source: str, target: str, image_size=None) -> np.ndarray:
    """Convert boxes between formats, exactly, through corner form.

    The formats and their names are Keras' (``keras.utils.bounding_boxes``),
    but the arithmetic is written here: Keras 3.13's ``convert_format`` gets
    ``rel_center_xywh`` wrong (xyxy ``[10, 20, 50, 40]`` in a 50x100 image
    came back as ``[5, 40, 25, 80]``), and a course that runs on several Keras
    versions needs one answer on all of them.

    Args:
        boxes: float array (..., 4) in ``source`` format.
        source, target: formats from :data:`FORMATS`.
        image_size: ``(height, width)``, needed when exactly one of the two
            formats is relative.

    Returns:
        float32 array (..., 4) in ``target`` format.

    Example:
        >>> convert([[10., 20., 50., 40.]], "xyxy", "rel_center_xywh", image_size=(50, 100))
        array([[0.3, 0.6, 0.4, 0.4]], dtype=float32)
    """
    arr = validate_boxes(boxes, source)
    validate_boxes(np.zeros(4), target, name="target")
    if source.startswith("rel_") != target.startswith("rel_") and image_size is None:
        raise ValueError(
            f"Converting {source!r} to {target!r} needs image_size=(height, width)."
        )
    if source == target:
        return arr.copy()
    scale = np.ones(4, np.float64)
    if image_size is not None:
        height, width = (float(v) for v in image_size)
        scale = np.array([width, height, width, height])
    corners = _corners(arr.astype(np.float64), source.removeprefix("rel_"))
    if source.startswith("rel_"):
        corners = corners * scale
    if target.startswith("rel_"):
        corners = corners / scale
    return _from_corners(corners, target.removeprefix("rel_")).astype(np.float32)


def _corners(b: np.ndarray, fmt: str) -> np.ndarray:
    """(..., 4) boxes in absolute format ``fmt`` -> (x_min, y_min, x_max, y_max)."""
    if fmt == "xyxy":
        return b
    if fmt == "yxyx":
        return b[..., [1, 0, 3, 2]]
    if fmt == "xywh":
        return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], axis=-1)
    half = b[..., 2:] / 2  # center_xywh
    return np.concatenate([b[..., :2] - half, b[..., :2] + half], axis=-1)


def _from_corners(c: np.ndarray, fmt: str) -> np.ndarray:
    """(x_min, y_min, x_max, y_max) -> (..., 4) boxes in absolute format ``fmt``."""
    if fmt == "xyxy":
        return c
    if fmt == "yxyx":
        return c[..., [1, 0, 3, 2]]
    size = c[..., 2:] - c[..., :2]
    if fmt == "xywh":
        return np.concatenate([c[..., :2], size], axis=-1)
    return np.concatenate([(c[..., :2] + c[..., 2:]) / 2, size], axis=-1)  # center_xywh


def to_xyxy(boxes, box_format: str) -> np.ndarray:
    """Shortcut for ``convert(boxes, box_format, "xyxy")`` on absolute formats."""
    if box_format == "xyxy":
        return np.asarray(boxes, dtype=np.float32)
    return convert(boxes, box_format, "xyxy")


def area(boxes) -> np.ndarray:
    """Areas of "xyxy" boxes, shape (...,)."""
    boxes = np.asarray(boxes, dtype=np.float32)
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def _broadcast_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of "xyxy" boxes that broadcast against each other."""
    top_left = np.maximum(a[..., :2], b[..., :2])
    bottom_right = np.minimum(a[..., 2:], b[..., 2:])
    return np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)


def _broadcast_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of "xyxy" boxes that broadcast against each other."""
    inter = _broadcast_intersection(a, b)
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0).astype(np.float32)


def intersection(boxes1, boxes2, box_format: str = "xyxy") -> np.ndarray:
    """Intersection areas of every pair: (N, 4) x (M, 4) -> (N, M)."""
    a = to_xyxy(validate_boxes(boxes1, box_format, "boxes1"), box_format).reshape(-1, 4)
    b = to_xyxy(validate_boxes(boxes2, box_format, "boxes2"), box_format).reshape(-1, 4)
    return _broadcast_intersection(a[:, None, :], b[None, :, :]).astype(np.float32)


def iou(boxes1, boxes2, box_format: str = "xyxy") -> np.ndarray:
    """Intersection over union of every pair: (N, 4) x (M, 4) -> (N, M).

    The intersection of two boxes is the box from the larger of the two
    top-left corners to the smaller of the two bottom-right corners (empty if
    that has a negative side). IoU = intersection / (area1 + area2 - intersection).
    Two empty boxes have IoU 0.
    """
    a = to_xyxy(validate_boxes(boxes1, box_format, "boxes1"), box_format).reshape(-1, 4)
    b = to_xyxy(validate_boxes(boxes2, box_format, "boxes2"), box_format).reshape(-1, 4)
    return _broadcast_iou(a[:, None, :], b[None, :, :])


def paired_iou(boxes1, boxes2, box_format: str = "xyxy") -> np.ndarray:
    """IoU of matching rows: (N, 4) and (N, 4) -> (N,). E.g. prediction vs truth."""
    a = np.asarray(boxes1, dtype=np.float32)
    b = np.asarray(boxes2, dtype=np.float32)
    checks.same_shape(("boxes1", a), ("boxes2", b))
    a = to_xyxy(validate_boxes(a, box_format, "boxes1"), box_format).reshape(-1, 4)
    b = to_xyxy(validate_boxes(b, box_format, "boxes2"), box_format).reshape(-1, 4)
    return _broadcast_iou(a, b)


# ============================================================ 05 detection: NMS, anchors
def non_max_suppression(boxes, scores, iou_threshold: float = 0.5, score_threshold: float = float("-inf"),
                        max_outputs: int | None = None, classes=None, box_format: str = "xyxy") -> np.ndarray:
    """Greedy non-max suppression, written out to teach it.

    Repeat: take the highest-scoring box left, keep it, and drop every box left
    that overlaps it with IoU > ``iou_threshold``. Boxes scoring
    ``<= score_threshold`` are dropped before starting. With ``classes``, a box
    only suppresses boxes of its own class (per-class NMS); without it, any box
    suppresses any other (class-agnostic). Same result as
    ``tf.image.non_max_suppression`` (tested).

    Args:
        boxes: (N, 4) boxes in ``box_format``.
        scores: (N,) confidence scores, finite (a NaN score raises: it would
            sort anywhere and compare false with every threshold).
        iou_threshold: overlap above which the lower-scoring box is dropped.
        score_threshold: scores at or below it are dropped first.
        max_outputs: keep at most this many boxes (``None``: no limit).
        classes: optional (N,) class ids for per-class NMS.
        box_format: format of ``boxes``.

    Returns:
        int64 (K,) indices of the kept boxes, by decreasing score.

    Example:
        >>> b = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]
        >>> non_max_suppression(b, [0.9, 0.8, 0.7]).tolist()
        [0, 2]
    """
    xyxy = to_xyxy(validate_boxes(boxes, box_format, "boxes"), box_format)
    checks.shaped(xyxy, "boxes", ("N", 4), hint="Run NMS on one image at a time.")
    scores = checks.shaped(checks.finite(scores, "scores"), "scores", (len(xyxy),), "one per box")
    if classes is not None:
        classes = checks.shaped(classes, "classes", (len(xyxy),), "one per box")
    checks.number_in(iou_threshold, "iou_threshold", 0.0, 1.0)
    if np.isnan(score_threshold):
        raise ValueError("score_threshold=nan would drop every box; pass a number (float('-inf') keeps all).")
    if max_outputs is not None:
        checks.int_at_least(max_outputs, "max_outputs", 0, "or None for no limit")
    limit = len(xyxy) if max_outputs is None else max_outputs
    candidates = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > score_threshold]
    keep = []
    while candidates and len(keep) < limit:
        best = candidates.pop(0)
        keep.append(best)
        if not candidates:
            break
        overlaps = _broadcast_iou(xyxy[best][None], xyxy[candidates])
        same_class = np.ones(len(candidates), bool) if classes is None else classes[candidates] == classes[best]
        candidates = [c for c, o, s in zip(candidates, overlaps, same_class) if not (s and o > iou_threshold)]
    return np.asarray(keep, dtype=np.int64)


def anchor_iou(sizes, anchors) -> np.ndarray:
    """IoU of box shapes, as if every box and anchor shared one centre.

    Args:
        sizes: (N, 2) box (width, height).
        anchors: (K, 2) anchor (width, height).

    Returns:
        float32 (N, K): ``min(w) * min(h) / (area_box + area_anchor - that)``.
    """
    sizes = validate_sizes(sizes, "sizes")
    anchors = validate_sizes(anchors, "anchors")
    inter = np.minimum(sizes[:, None, 0], anchors[None, :, 0]) * np.minimum(sizes[:, None, 1], anchors[None, :, 1])
    union = sizes[:, None].prod(-1) + anchors[None].prod(-1) - inter
    return (inter / np.maximum(union, 1e-12)).astype(np.float32)


def validate_sizes(sizes, name: str) -> np.ndarray:
    """Check box or anchor sizes: float32 (N, 2) of finite, positive (width, height)."""
    arr = checks.shaped(sizes, name, ("N", 2), "(width, height) rows", dtype=np.float32)
    return checks.positive_values(arr, name, "widths and heights", "drop padding rows first")


def kmeans_anchors(sizes, k: int, iterations: int = 100, seed: int = 0) -> np.ndarray:
    """Anchor shapes by k-means on box (width, height) with distance 1 - IoU.

    Euclidean k-means would let big boxes dominate; ``1 - anchor_iou`` treats
    a 4-pixel error on a small box as worse than on a large one, which is what
    matters when a box is matched to its best anchor (YOLOv2's recipe).
    Each step assigns every box to the anchor it overlaps most, then moves each
    anchor to the median size of its boxes.

    Args:
        sizes: (N, 2) box widths and heights (N >= k).
        k: number of anchors.
        iterations: maximum number of steps (stops early when stable).
        seed: the random choice of the k starting boxes (k-means++: each
            next start is drawn with probability growing with its distance
            to the starts already chosen).

    Returns:
        float32 (k, 2) anchors (width, height), sorted by area.
    """
    sizes = validate_sizes(sizes, "sizes")
    checks.int_in(k, "k", 1, len(sizes), "at most the number of boxes")
    rng = np.random.default_rng(seed)
    anchors = sizes[[rng.integers(len(sizes))]]
    while len(anchors) < k:  # k-means++ start: far boxes (low IoU) are likelier picks
        distance = 1.0 - anchor_iou(sizes, anchors).max(axis=1)
        weights = distance ** 2 if distance.any() else np.ones(len(sizes))
        anchors = np.concatenate([anchors, sizes[[rng.choice(len(sizes), p=weights / weights.sum())]]])
    assignment = None
    for _ in range(iterations):
        new_assignment = anchor_iou(sizes, anchors).argmax(axis=1)
        if assignment is not None and np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        for j in range(k):
            if (assignment == j).any():
                anchors[j] = np.median(sizes[assignment == j], axis=0)
    return anchors[np.argsort(anchors.prod(axis=1))].astype(np.float32)


# ============================================================================ R-CNN box deltas
DELTA_CLIP = float(np.log(1000.0 / 16))  # largest log-size change decoded (Detectron's guard)


def encode_deltas(anchors, target_boxes) -> np.ndarray:
    """Box deltas from anchors to targets (R-CNN's parametrization).

    .. math::
        t_x = (x - x_a) / w_a, \\quad t_y = (y - y_a) / h_a, \\quad
        t_w = \\log(w / w_a), \\quad t_h = \\log(h / h_a)

    with ``(x, y)`` the centres and ``(w, h)`` the sizes.

    Args:
        anchors, target_boxes: (..., 4) "xyxy" boxes of the same shape.

    Returns:
        float32 (..., 4) ``(tx, ty, tw, th)``.

    Example:
        >>> [round(float(t), 4) for t in encode_deltas([[0, 0, 10, 10]], [[5, 0, 25, 10]])[0]]
        [1.0, 0.0, 0.6931, 0.0]
    """
    a = np.asarray(anchors, np.float64)
    b = np.asarray(target_boxes, np.float64)
    checks.same_shape(("anchors", a), ("target_boxes", b))
    checks.shaped(a, "anchors", ("...", 4), "'xyxy' boxes")
    aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    bw, bh = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    checks.positive_values(np.stack([aw, ah], -1), "anchors' (width, height)", dtype=np.float64)
    checks.positive_values(np.stack([bw, bh], -1), "target_boxes' (width, height)", dtype=np.float64)
    tx = ((b[..., 0] + b[..., 2]) - (a[..., 0] + a[..., 2])) / 2 / aw
    ty = ((b[..., 1] + b[..., 3]) - (a[..., 1] + a[..., 3])) / 2 / ah
    return np.stack([tx, ty, np.log(bw / aw), np.log(bh / ah)], axis=-1).astype(np.float32)


def decode_deltas(anchors, deltas) -> np.ndarray:
    """Boxes from anchors and deltas: the inverse of :func:`encode_deltas`.

    ``tw, th`` are clipped at :data:`DELTA_CLIP` ``= log(1000 / 16)`` so that
    an untrained head cannot overflow ``exp``.

    Args:
        anchors, deltas: (..., 4) "xyxy" anchors and ``(tx, ty, tw, th)`` of the same shape.

    Returns:
        float32 (..., 4) "xyxy" boxes (not clipped to the image).

    Example:
        >>> decode_deltas([[0, 0, 10, 10]], [[1.0, 0.0, 0.0, 0.0]]).tolist()
        [[10.0, 0.0, 20.0, 10.0]]
    """
    a = np.asarray(anchors, np.float64)
    d = np.asarray(deltas, np.float64)
    checks.same_shape(("anchors", a), ("deltas", d))
    checks.shaped(a, "anchors", ("...", 4), "'xyxy' boxes")
    aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    cx = (a[..., 0] + a[..., 2]) / 2 + d[..., 0] * aw
    cy = (a[..., 1] + a[..., 3]) / 2 + d[..., 1] * ah
    w = aw * np.exp(np.minimum(d[..., 2], DELTA_CLIP))
    h = ah * np.exp(np.minimum(d[..., 3], DELTA_CLIP))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).astype(np.float32)


# ============================================================================ what a detector returns
@dataclasses.dataclass(frozen=True)
class Detections:
    """What every ``detect_*`` function returns (``detection.detect_yolo``, ``rcnn.detect_two_stage``).

    Attributes:
        predictions: one dict per image, ``{"boxes": float32 (K, 4) "xyxy"
            pixels, "scores": float32 (K,), "classes": int32 (K,)}``, best
            first: what ``detection.evaluate_detections`` and
            ``detection.coco_reference`` take (they also take a ``Detections``).
        proposals: for a two-stage detector, one dict per image ``{"boxes":
            (P, 4), "scores": (P,)}`` of region proposals; None otherwise.
    """

    predictions: list
    proposals: list | None = None

    def __len__(self) -> int:
        return len(self.predictions)
