"""ROC curves and the area under them (AUC), by hand, for skewed binary tasks.

With 5 % positives, a model that always answers "negative" is 95 % accurate
and useless. The ROC curve instead follows the true-positive rate
``TPR = TP / P`` against the false-positive rate ``FPR = FP / N`` as the
decision threshold sweeps down the scores, and its area (AUC) is the
probability that a random positive scores above a random negative (ties count
one half): 0.5 for a constant or random score, 1 for a perfect ranking.

Example:
    >>> fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    >>> float(roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
    0.75
"""

from __future__ import annotations

import numpy as np

from homl_cv import checks

__all__ = ["roc_auc", "roc_curve"]


def _labels_and_scores(y_true, scores):
    y_true = checks.shaped(y_true, "y_true", ("N",), "one label per example")
    checks.same_shape(("y_true", y_true), ("scores", np.asarray(scores, dtype=np.float64)))
    checks.binary(y_true, "y_true", "1 positive, 0 negative: encode the classes first, e.g. y_true = (labels == 8)")
    positives = int(y_true.sum())
    if positives in (0, len(y_true)):
        raise ValueError(f"y_true has {positives} positives out of {len(y_true)}: the ROC curve needs "
                         f"both classes (with stratified folds each fold gets some of each).")
    return y_true.astype(bool), checks.finite(scores, "scores", np.float64)


def roc_curve(y_true, scores) -> tuple:
    """The ROC curve's points, one per distinct score (ties form one step).

    Sort by decreasing score; at each distinct score ``t`` (the threshold:
    predict positive when score >= t) count the true and false positives
    above it. Equal scores are passed together, so a tie between a positive
    and a negative gives one diagonal segment, not an arbitrary staircase.

    Args:
        y_true: 0/1 labels, shape (n,), with both classes present.
        scores: the model's scores, shape (n,), larger = more positive.

    Returns:
        ``(fpr, tpr, thresholds)``, each of shape (m + 1,) for m distinct
        scores: the curve starts at (0, 0) (threshold ``inf``: nothing
        predicted positive) and ends at (1, 1).
    """
    y_true, scores = _labels_and_scores(y_true, scores)
    order = np.argsort(-scores, kind="stable")
    scores, y_true = scores[order], y_true[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tp = np.cumsum(y_true)[last_of_each_score]
    fp = (last_of_each_score + 1) - tp
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return fpr, tpr, np.r_[np.inf, scores[last_of_each_score]]


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve by the trapezoid rule over :func:`roc_curve`'s points.

    A tie between positives and negatives is a diagonal segment, whose
    trapezoid counts each tied (positive, negative) pair as one half: the
    result equals the Mann-Whitney statistic and
    ``sklearn.metrics.roc_auc_score``.

    Args:
        y_true: 0/1 labels, shape (n,), with both classes present.
        scores: scores, shape (n,).

    Returns:
        The AUC in [0, 1].

    Example:
        >>> roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])  # one tied pair counts 1/2
        0.875
    """
    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
