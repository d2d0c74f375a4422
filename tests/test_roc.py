"""ROC curve and AUC by hand (chapter 02): against scikit-learn, ties included."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from homl_cv import roc


def test_hand_case():
    # positives score 0.9 and 0.5; negatives 0.5 and 0.2: pairs (0.9 > 0.5), (0.9 > 0.2),
    # (0.5 = 0.5: one half), (0.5 > 0.2) -> 3.5 / 4
    assert roc.roc_auc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.2]) == 0.875
    fpr, tpr, thresholds = roc.roc_curve([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.2])
    np.testing.assert_array_equal(fpr, [0, 0, 0.5, 1])
    np.testing.assert_array_equal(tpr, [0, 0.5, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.5, 0.2])


def test_perfect_reversed_and_constant_scores():
    y = np.array([0, 0, 0, 1, 1])
    assert roc.roc_auc(y, [1, 2, 3, 4, 5]) == 1.0
    assert roc.roc_auc(y, [5, 4, 3, 2, 1]) == 0.0
    assert roc.roc_auc(y, np.zeros(5)) == 0.5  # all tied: the diagonal


@pytest.mark.parametrize("seed", range(6))
def test_matches_sklearn_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    y = (rng.random(n) < rng.uniform(0.03, 0.5)).astype(int)
    y[:2] = [0, 1]
    scores = rng.normal(size=n) + y * rng.uniform(0, 2)
    if seed % 2:  # coarse scores: many ties, across the classes too
        scores = np.round(scores * 2) / 2
    assert roc.roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    fpr, tpr, thresholds = roc.roc_curve(y, scores)
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert len(thresholds) == len(np.unique(scores)) + 1


def test_tie_handling_matters():
    """Breaking the tie positive-first (a naive sort) would give 1.0, negative-first 0.75."""
    y, scores = [1, 0, 0], [0.5, 0.5, 0.1]
    assert roc.roc_auc(y, scores) == 0.75 == roc_auc_score(y, scores)
    assert roc.roc_auc([0, 1, 0], [0.5, 0.5, 0.1]) == 0.75  # the order in the input does not matter


@pytest.mark.parametrize("y, scores, message", [
    ([0, 1, 2], [0.1, 0.2, 0.3], r"y_true must hold only 0 and 1 \(or booleans\); 1 positive, 0 negative: encode the classes first"),
    ([0, 0, 0], [0.1, 0.2, 0.3], r"y_true has 0 positives out of 3"),
    ([0, 1], [0.1, 0.2, 0.3], r"y_true \(2,\) and scores \(3,\) must have the same shape\."),
    ([0, 1], [0.1, np.nan], r"scores has a non-finite value nan at index 1"),
])
def test_bad_input(y, scores, message):
    with pytest.raises(ValueError, match=message):
        roc.roc_auc(y, scores)
