"""SSD (Single Shot MultiBox Detector): multi-scale default boxes and their matching.

SSD is one-stage like YOLO (one network pass predicts classes and box offsets
for a fixed set of boxes, no proposals), but it predicts from *several*
feature maps: early, fine maps (small cells) hold the default boxes for small
objects, later, coarse maps those for large ones. This module builds the two
pieces that define SSD's training targets:

* :func:`ssd_scales` and :func:`default_boxes`: the default boxes of each
  feature map (scales ``s_k`` growing linearly from ``s_min`` to ``s_max``,
  several aspect ratios per cell, plus one extra square of scale
  ``sqrt(s_k s_{k+1})``);
* :func:`match_default_boxes`: which default box is responsible for which
  true box (each true box's best default, then every default with IoU >= 0.5),
  with the class targets (0 = background) and the box deltas.

Example:
    >>> boxes = default_boxes((2, 1), image_size=64, aspect_ratios=(1.0,))
    >>> boxes.shape  # 2x2 cells x 2 boxes (ratio 1 + extra square) + 1x1 cell x 2 boxes
    (10, 4)
"""

from __future__ import annotations

import numpy as np

from homl_cv import boxes as boxes_lib
from homl_cv import checks

__all__ = ["ssd_scales", "default_boxes", "match_default_boxes"]


def ssd_scales(num_maps: int, s_min: float = 0.2, s_max: float = 0.9) -> np.ndarray:
    """SSD's scale per feature map: ``s_k = s_min + (s_max - s_min) (k - 1) / (m - 1)``.

    Args:
        num_maps: m, the number of feature maps (>= 1; one map gets ``s_min``).
        s_min, s_max: scales of the first (finest) and last map, as fractions
            of the image side.

    Returns:
        float64 (m,).

    Example:
        >>> ssd_scales(3).round(12).tolist()
        [0.2, 0.55, 0.9]
    """
    checks.positive_int(num_maps, "num_maps")
    checks.ordered_range((s_min, s_max), "(s_min, s_max)", 0, 1, low_open=True, unit="fractions of the image side")
    if num_maps == 1:
        return np.array([s_min])
    return s_min + (s_max - s_min) * np.arange(num_maps) / (num_maps - 1)


def default_boxes(feature_sizes, image_size: int, aspect_ratios=(1.0, 2.0, 0.5), s_min: float = 0.2,
                  s_max: float = 0.9) -> np.ndarray:
    """All default boxes of an SSD, map after map, in "xyxy" pixels.

    For map ``k`` of ``f_k`` x ``f_k`` cells and scale ``s_k``
    (:func:`ssd_scales`), every cell ``(i, j)`` gets boxes centred at
    ``((j + 0.5) / f_k, (i + 0.5) / f_k)`` (times the image side): one per
    aspect ratio ``a`` with width ``s_k sqrt(a)`` and height ``s_k / sqrt(a)``,
    plus an extra square of side ``sqrt(s_k s_{k+1})`` (``s_{m+1} = 1``).

    Args:
        feature_sizes: cells per side of each feature map, finest first
            (e.g. (8, 4, 2) for a 64x64 image with strides 8, 16, 32).
        image_size: side of the square image, in pixels.
        aspect_ratios: width / height ratios (positive), either one list for
            every map or one list per map (a list of lists, as many as
            ``feature_sizes``; the lists may differ in length).
        s_min, s_max: as in :func:`ssd_scales`.

    Returns:
        float32 (K, 4) with ``K = sum_k f_k^2 (len(ratios_k) + 1)``, ordered
        by map, then cell row, cell column, then box (ratios in order, the extra
        square last). Not clipped to the image.

    Example:
        SSD300's layout, 4 or 6 boxes per cell on maps of 38, 19, 10, 5, 3
        and 1 cells per side, gives its 8,732 default boxes:

        >>> four, six = (1.0, 2.0, 0.5), (1.0, 2.0, 0.5, 3.0, 1 / 3)
        >>> default_boxes((38, 19, 10, 5, 3, 1), 300, [four, six, six, six, four, four]).shape
        (8732, 4)
    """
    sizes = checks.non_empty([int(f) for f in np.atleast_1d(feature_sizes)], "feature_sizes",
                             "cell counts, finest map first")
    for k, f in enumerate(sizes):
        checks.positive_int(f, f"feature_sizes[{k}]")
    per_map = _ratios_per_map(aspect_ratios, len(sizes))
    scales = ssd_scales(len(sizes), s_min, s_max)
    next_scales = np.append(scales[1:], 1.0)
    out = []
    for f, s, s_next, ratios in zip(sizes, scales, next_scales, per_map):
        shapes = [(s * np.sqrt(a), s / np.sqrt(a)) for a in ratios] + [(np.sqrt(s * s_next),) * 2]
        shapes = np.array(shapes) * image_size  # (B, 2) width, height
        cy, cx = np.meshgrid((np.arange(f) + 0.5) / f * image_size, (np.arange(f) + 0.5) / f * image_size,
                             indexing="ij")
        centres = np.stack([cx, cy], -1).reshape(-1, 1, 2)
        out.append(np.concatenate([centres - shapes / 2, centres + shapes / 2], -1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def _ratios_per_map(aspect_ratios, num_maps: int) -> list:
    """One float64 array of aspect ratios per map, from one list or a list of lists."""
    items = list(aspect_ratios) if isinstance(aspect_ratios, (list, tuple, np.ndarray)) else [aspect_ratios]
    nested = [isinstance(a, (list, tuple, np.ndarray)) for a in items]
    if items and all(nested):
        checks.same_length(("aspect_ratios", items), ("the feature maps", range(num_maps)),
                           why=f"one list of ratios per map, e.g. [[1, 2, 0.5]] * {num_maps}, or one flat list for all")
    elif any(nested):
        raise ValueError(
            f"aspect_ratios={aspect_ratios!r} mixes numbers and lists; pass one flat list of ratios for every "
            f"map, or one list per map (a list of lists)."
        )
    else:
        items = [items] * num_maps
    per_map = []
    for k, ratios in enumerate(items):
        name = f"aspect_ratios[{k}]" if any(nested) else "aspect_ratios"
        arr = checks.positive_values(ratios, name, "width / height ratios", dtype=np.float64).reshape(-1)
        per_map.append(checks.non_empty(arr, name, "e.g. [1, 2, 0.5]"))
    return per_map


def match_default_boxes(defaults, true_boxes, true_classes, iou_threshold: float = 0.5):
    """SSD's matching: which default box predicts which true box.

    1. Each true box takes the default box it overlaps most (so every object
       has one, even a small or oddly shaped one);
    2. every other default box whose best IoU with a true box is at least
       ``iou_threshold`` is matched to that box too;
    3. the rest are background.

    Args:
        defaults: (K, 4) "xyxy" default boxes (:func:`default_boxes`).
        true_boxes: (M, 4) "xyxy" boxes; rows whose class is -1 are padding.
        true_classes: (M,) class ids (-1 for padding).
        iou_threshold: the IoU that makes a default box positive (0.5 in SSD).

    Returns:
        ``(labels, matched, deltas)``: int32 (K,) with 0 for background and
        ``class + 1`` for a matched box; int64 (K,) the matched true box
        (-1 for background); float32 (K, 4) the deltas from each default box to
        its true box (:func:`homl_cv.boxes.encode_deltas`; 0 for background).

    Example:
        >>> labels, matched, _ = match_default_boxes([[0, 0, 10, 10], [0, 0, 4, 4], [20, 20, 30, 30]],
        ...                                          [[1, 1, 9, 9]], [2])
        >>> labels.tolist(), matched.tolist()
        ([3, 0, 0], [0, -1, -1])
    """
    defaults = boxes_lib.validate_boxes(np.asarray(defaults, np.float32).reshape(-1, 4), "xyxy", "defaults")
    true_boxes = checks.finite(true_boxes, "true_boxes").reshape(-1, 4)
    true_classes = np.asarray(true_classes).reshape(-1)
    checks.same_length(("true_boxes", true_boxes), ("true_classes", true_classes), why="one class per box")
    checks.number_in(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    real = true_classes >= 0
    truth = boxes_lib.validate_boxes(true_boxes[real], "xyxy", "true_boxes")
    classes = true_classes[real]
    matched = np.full(len(defaults), -1, np.int64)
    if len(truth):
        overlaps = boxes_lib.iou(defaults, truth)  # (K, M)
        best = overlaps.argmax(axis=1)
        good = overlaps.max(axis=1) >= iou_threshold
        matched[good] = best[good]
        for m in np.argsort(-overlaps.max(axis=0), kind="stable"):  # step 1 wins over step 2
            matched[int(overlaps[:, m].argmax())] = m
    labels = np.where(matched >= 0, classes[np.maximum(matched, 0)] + 1 if len(truth) else 0, 0).astype(np.int32)
    deltas = np.zeros((len(defaults), 4), np.float32)
    fg = matched >= 0
    if fg.any():
        deltas[fg] = boxes_lib.encode_deltas(defaults[fg], truth[matched[fg]])
    return labels, matched, deltas
