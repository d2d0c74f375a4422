"""How vision systems fail, measured: accuracy per subgroup, confidence out of distribution, occlusion.

Three failure modes a single test accuracy hides:

* **A rare subgroup.** When one kind of input (a fill, a background, a skin
  tone) is rare in training, the model can be accurate on average and much
  worse on that kind. :func:`subgroup_accuracy` splits the accuracy by group
  and reports the gap :math:`\\Delta = \\max_g \\mathrm{acc}_g - \\min_g
  \\mathrm{acc}_g`; :func:`rare_subgroup_split` draws a training set in which
  one group has a chosen share.
* **Inputs from elsewhere.** A softmax always sums to 1, so a classifier
  answers with some class even on an image of nothing it knows.
  :func:`max_softmax_confidence` is the usual confidence score
  :math:`\\max_k p_k`, and :func:`ood_detection` measures how well it tells
  in-distribution inputs from out-of-distribution ones (AUROC, by
  :func:`homl_cv.roc.roc_auc`).
* **Occlusion.** :func:`occlude` paints a grey patch over a chosen fraction of
  each object's box.

Example:
    >>> result = subgroup_accuracy([0, 1, 1, 0], [0, 1, 0, 1], groups=[0, 0, 1, 1])
    >>> result.accuracy.tolist(), float(result.gap)
    ([1.0, 0.0], 1.0)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from homl_cv import boxes as boxes_lib
from homl_cv import checks, roc

__all__ = [
    "OODDetection",
    "SubgroupAccuracy",
    "max_softmax_confidence",
    "occlude",
    "ood_detection",
    "rare_subgroup_split",
    "subgroup_accuracy",
]


def _int_vector(values, name: str) -> np.ndarray:
    values = checks.shaped(values, name, ("N",), "integer ids, one per example")
    if values.size:
        checks.integers(values, name, "ids: use argmax on probabilities first")
    return values


@dataclasses.dataclass(frozen=True)
class SubgroupAccuracy:
    """Accuracy of one model on each subgroup of a test set.

    Attributes:
        groups: int (G,), the group ids present, sorted.
        accuracy: float (G,), the accuracy on each group.
        counts: int (G,), how many test examples each group has.
        overall: the accuracy on all examples.
    """

    groups: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    overall: float

    @property
    def gap(self) -> float:
        """Best group's accuracy minus the worst group's (0 for a single group)."""
        return float(self.accuracy.max() - self.accuracy.min())

    @property
    def worst(self) -> float:
        """The lowest accuracy of any group (worst-group accuracy)."""
        return float(self.accuracy.min())

    def of(self, group) -> float:
        """The accuracy on ``group``."""
        where = np.flatnonzero(self.groups == group)
        if not where.size:
            raise ValueError(f"group={group!r} is not in the test set; its groups are {self.groups.tolist()}.")
        return float(self.accuracy[where[0]])


def subgroup_accuracy(labels, predictions, groups) -> SubgroupAccuracy:
    """Accuracy per subgroup: :math:`\\mathrm{acc}_g = \\frac{1}{n_g}\\sum_{i: g_i = g} [\\hat y_i = y_i]`.

    Args:
        labels: int (N,), the true classes.
        predictions: int (N,), the predicted classes.
        groups: int (N,), each example's subgroup (an attribute that is not
            the class, e.g. the fill of a shape).

    Returns:
        A :class:`SubgroupAccuracy`; its ``gap`` is max minus min accuracy.

    Example:
        >>> r = subgroup_accuracy([0, 1, 2, 0, 1], [0, 1, 2, 1, 1], groups=[0, 0, 0, 1, 1])
        >>> r.groups.tolist(), r.accuracy.tolist(), r.counts.tolist(), round(r.gap, 2)
        ([0, 1], [1.0, 0.5], [3, 2], 0.5)
    """
    labels = _int_vector(labels, "labels")
    predictions = _int_vector(predictions, "predictions")
    groups = _int_vector(groups, "groups")
    checks.non_empty(labels, "labels", "one per example")
    checks.same_length(("labels", labels), ("predictions", predictions), ("groups", groups), why="one per example")
    correct = labels == predictions
    ids, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    accuracy = np.bincount(inverse, weights=correct, minlength=len(ids)) / counts
    return SubgroupAccuracy(ids, accuracy, counts, float(correct.mean()))


def rare_subgroup_split(groups, rare_group, rare_fraction: float, size: int, seed: int = 0) -> np.ndarray:
    """Indices of a training set of ``size`` examples in which ``rare_group`` has the share ``rare_fraction``.

    ``round(rare_fraction * size)`` examples are drawn from the rare group and
    the rest from all the other groups, at random without replacement. If the
    group is independent of the class in ``groups``' data, it stays so in the
    split (the draw never looks at the class).

    Args:
        groups: int (N,), the group of each example of the pool.
        rare_group: the group to make rare (or common: any share in [0, 1]).
        rare_fraction: its share of the split, in [0, 1].
        size: how many examples to draw, at most N.
        seed: random seed.

    Returns:
        int (size,), sorted indices into the pool.

    Example:
        >>> pool = np.array([0, 1] * 50)
        >>> split = rare_subgroup_split(pool, rare_group=1, rare_fraction=0.1, size=40)
        >>> len(split), int((pool[split] == 1).sum())
        (40, 4)
    """
    groups = _int_vector(groups, "groups")
    rare_fraction = checks.number_in(rare_fraction, "rare_fraction", 0.0, 1.0)
    size = checks.positive_int(size, "size")
    rare = np.flatnonzero(groups == rare_group)
    common = np.flatnonzero(groups != rare_group)
    want_rare = int(round(rare_fraction * size))
    want_common = size - want_rare
    if want_rare > len(rare) or want_common > len(common):
        raise ValueError(
            f"size={size} with rare_fraction={rare_fraction} needs {want_rare} examples of group "
            f"{rare_group!r} and {want_common} of the others; the pool has {len(rare)} and {len(common)}. "
            f"Pass a smaller size or a larger pool."
        )
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(rare, want_rare, replace=False),
                             rng.choice(common, want_common, replace=False)])
    return np.sort(chosen)


def max_softmax_confidence(probabilities) -> np.ndarray:
    """The model's confidence in its own answer, :math:`c(x) = \\max_k p_k(x)`.

    Args:
        probabilities: (N, K) softmax outputs, each row in [0, 1] summing to 1.

    Returns:
        float32 (N,), each in [1/K, 1].

    Example:
        >>> max_softmax_confidence([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]).tolist()
        [0.699999988079071, 0.5]
    """
    probabilities = checks.finite(probabilities, "probabilities")
    checks.shaped(probabilities, "probabilities", ("N", "K"), hint="For one example pass probabilities[None].")
    checks.int_at_least(probabilities.shape[1], "K", 2, "classes: softmax over one class is always 1")
    sums = probabilities.sum(axis=1)
    if (probabilities < 0).any() or (probabilities > 1).any() or not np.allclose(sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"probabilities must be softmax outputs (rows in [0, 1] summing to 1); row {worst} "
                         f"sums to {sums[worst]:.4g}. For logits, apply a softmax first "
                         f"(keras.ops.softmax(logits) or scipy.special.softmax(logits, axis=1)).")
    return probabilities.max(axis=1)


@dataclasses.dataclass(frozen=True)
class OODDetection:
    """How well a confidence score tells in-distribution inputs from the others.

    Attributes:
        auroc: area under the ROC curve with in-distribution as the positive
            class: the probability that a random in-distribution input gets a
            higher confidence than a random out-of-distribution one (0.5:
            no better than chance, below 0.5: the OOD inputs are the *more*
            confident ones).
        threshold: the confidence level of the two fractions below.
        confident_in: share of in-distribution inputs with confidence > threshold.
        confident_out: share of out-of-distribution inputs with confidence > threshold.
    """

    auroc: float
    threshold: float
    confident_in: float
    confident_out: float


def ood_detection(in_confidence, out_confidence, threshold: float = 0.9) -> OODDetection:
    """Score a confidence as an out-of-distribution detector.

    Args:
        in_confidence: float (N,), confidences on in-distribution inputs.
        out_confidence: float (M,), confidences on out-of-distribution inputs.
        threshold: report the shares of each above this confidence.

    Returns:
        An :class:`OODDetection`.

    Example:
        >>> r = ood_detection([0.9, 0.8, 0.6], [0.95, 0.7], threshold=0.85)
        >>> round(r.auroc, 3), round(r.confident_in, 3), r.confident_out
        (0.333, 0.333, 0.5)
    """
    threshold = checks.number_in(threshold, "threshold", 0.0, 1.0)
    scores = []
    for values, name in ((in_confidence, "in_confidence"), (out_confidence, "out_confidence")):
        values = checks.finite(values, name, dtype=np.float64)
        checks.non_empty(checks.shaped(values, name, ("N",), "confidences, one per image"), name)
        scores.append(values)
    inside, outside = scores
    y_true = np.r_[np.ones(len(inside), int), np.zeros(len(outside), int)]
    auroc = roc.roc_auc(y_true, np.r_[inside, outside])
    return OODDetection(auroc, threshold, float((inside > threshold).mean()), float((outside > threshold).mean()))


def occlude(images, boxes, fraction: float, value: float = 0.5) -> np.ndarray:
    """Cover the centre of each object's box with a flat patch of ``fraction`` of the box's area.

    The patch has the box's aspect ratio, each side scaled by
    :math:`\\sqrt{f}`, and is centred on the box; its edges are rounded to
    whole pixels, so the covered share is ``fraction`` up to a pixel on each
    side. ``fraction=1`` covers the whole box.

    Args:
        images: (N, H, W, C) images.
        boxes: (N, 4) one box per image, "xyxy" in pixels.
        fraction: share of each box's area to cover, in [0, 1].
        value: the patch's value in every channel (0.5: mid grey for images
            in [0, 1]).

    Returns:
        float32 (N, H, W, C), a copy; the inputs are not changed.

    Example:
        >>> out = occlude(np.ones((2, 8, 8, 1)), [[0, 0, 8, 8], [2, 2, 6, 6]], fraction=0.25, value=0)
        >>> int((out[0] == 0).sum()), int((out[1] == 0).sum())
        (16, 4)
    """
    images = checks.image_batch(images, "images", dtype=np.float32).copy()
    fraction = checks.number_in(fraction, "fraction", 0.0, 1.0)
    boxes = checks.finite(boxes, "boxes")
    checks.shaped(boxes, "boxes", (len(images), 4), "one 'xyxy' box per image",
                  hint="For a ShapesData with one object each, pass shapes.boxes[:, 0].")
    boxes_lib.validate_boxes(boxes, "xyxy", "boxes")  # corners in order: convert 'xywh' boxes first
    scale = np.sqrt(fraction)
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half_w, half_h = scale * (boxes[:, 2] - boxes[:, 0]) / 2, scale * (boxes[:, 3] - boxes[:, 1]) / 2
    height, width = images.shape[1:3]
    def edge(v, size):  # to the nearest pixel edge, halves up (np.round would round halves to even)
        return np.clip(np.floor(v + 0.5), 0, size).astype(int)

    x1, x2 = edge(centre_x - half_w, width), edge(centre_x + half_w, width)
    y1, y2 = edge(centre_y - half_h, height), edge(centre_y + half_h, height)
    for image, a, b, c, d in zip(images, x1, x2, y1, y2):
        image[c:d, a:b] = value
    return images
