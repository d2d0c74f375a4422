"""homl_cv.failures: subgroup accuracy, rare-subgroup splits, max-softmax confidence, OOD AUROC, occlusion."""

import numpy as np
import pytest

from homl_cv import data, failures, roc


# --------------------------------------------------------------------------- subgroup accuracy
def test_subgroup_accuracy_by_hand():
    labels = [0, 1, 2, 3, 0, 1, 2, 3, 0]
    predictions = [0, 1, 2, 3, 1, 1, 0, 0, 0]
    groups = [5, 5, 5, 5, 2, 2, 2, 2, 5]  # group 5: 5 of 5 right; group 2: 1 of 4
    r = failures.subgroup_accuracy(labels, predictions, groups)
    assert r.groups.tolist() == [2, 5]
    np.testing.assert_allclose(r.accuracy, [0.25, 1.0])
    assert r.counts.tolist() == [4, 5]
    assert r.gap == pytest.approx(0.75) and r.worst == pytest.approx(0.25)
    assert r.overall == pytest.approx(6 / 9)
    assert r.of(5) == 1.0 and r.of(2) == 0.25
    # the other direction: swap which group is right, the gap is the same, the worst group changes
    flipped = failures.subgroup_accuracy(labels, [0, 1, 0, 0, 0, 1, 2, 3, 1], groups)
    np.testing.assert_allclose(flipped.accuracy, [1.0, 0.4])
    assert flipped.gap == pytest.approx(0.6) and flipped.worst == pytest.approx(0.4)


def test_subgroup_accuracy_equal_groups_have_no_gap_and_one_group_is_the_overall():
    r = failures.subgroup_accuracy([0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 1, 1])
    assert r.gap == 0.0 and r.worst == 0.5
    one = failures.subgroup_accuracy([0, 1, 1], [0, 1, 0], [3, 3, 3])
    assert one.gap == 0.0 and one.accuracy.tolist() == pytest.approx([2 / 3]) and one.overall == pytest.approx(2 / 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"labels": [0, 1], "predictions": [0], "groups": [0, 1]}, "must have the same length"),
    ({"labels": [0, 1], "predictions": [0.2, 0.8], "groups": [0, 1]}, "predictions must hold integers"),
    ({"labels": [[0, 1]], "predictions": [[0, 1]], "groups": [[0, 1]]}, "labels must have shape"),
    ({"labels": [], "predictions": [], "groups": []}, "is empty: pass at least one item, one per example."),
])
def test_subgroup_accuracy_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        failures.subgroup_accuracy(**kwargs)


def test_subgroup_of_a_missing_group_names_the_groups():
    r = failures.subgroup_accuracy([0, 1], [0, 1], [0, 1])
    with pytest.raises(ValueError, match=r"group=7 is not in the test set; its groups are \[0, 1\]"):
        r.of(7)


# --------------------------------------------------------------------------- rare-subgroup split
def test_rare_subgroup_split_has_the_share_asked_for():
    groups = np.array([0] * 600 + [1] * 400)
    for share, size in ((0.03, 500), (0.5, 500), (0.0, 300), (1.0, 400)):
        split = failures.rare_subgroup_split(groups, rare_group=1, rare_fraction=share, size=size, seed=3)
        assert len(split) == size == len(np.unique(split))
        assert (np.diff(split) > 0).all()
        assert int((groups[split] == 1).sum()) == round(share * size)
    a = failures.rare_subgroup_split(groups, 1, 0.1, 100, seed=0)
    assert (a == failures.rare_subgroup_split(groups, 1, 0.1, 100, seed=0)).all()
    assert not (a == failures.rare_subgroup_split(groups, 1, 0.1, 100, seed=1)).all()


def test_rare_subgroup_split_bad_inputs():
    groups = np.array([0] * 10 + [1] * 5)
    with pytest.raises(ValueError, match=r"needs 6 examples of group 1 and 6 of the others; the pool has 5 and 10"):
        failures.rare_subgroup_split(groups, 1, 0.5, 12)
    with pytest.raises(ValueError, match=r"rare_fraction=1.5 must be a number in \[0, 1\]"):
        failures.rare_subgroup_split(groups, 1, 1.5, 4)
    with pytest.raises(ValueError, match="size=0 must be a positive integer"):
        failures.rare_subgroup_split(groups, 1, 0.5, 0)


def test_the_fill_says_nothing_about_the_class_in_a_rare_split():
    # The subgroup must not be a cue: a classifier given only the fill (and the split's
    # share of it) stays at chance for the class. Measured 0.25 on the full pool, about
    # 0.26 on the 3 % split (4 classes: chance 0.25).
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    pool = data.make_shapes(1200, 16, size_range=(0.4, 0.6), seed=5)
    for share in (0.5, 0.03):
        split = failures.rare_subgroup_split(pool.fills[:, 0], 1, share, size=600, seed=0)
        fills, labels = pool.fills[split, :1].astype(float), pool.classes[split, 0]
        score = cross_val_score(LogisticRegression(), fills, labels, cv=5).mean()
        assert score <= 0.33, (share, score)


# --------------------------------------------------------------------------- confidence and OOD
def test_max_softmax_confidence_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(failures.max_softmax_confidence(p), [0.7, 0.5, 1 / 3], rtol=1e-6)


@pytest.mark.parametrize("probabilities, message", [
    ([[2.0, -1.0]], "must be softmax outputs"),
    ([[0.3, 0.3]], "row 0 sums to 0.6"),
    ([0.3, 0.7], "must have shape \\(N, K\\)"),
    ([[1.0]], "K=1 must be an integer of at least 2"),
    ([[0.5, float("nan")]], "non-finite value nan"),
])
def test_max_softmax_confidence_bad_inputs(probabilities, message):
    with pytest.raises(ValueError, match=message):
        failures.max_softmax_confidence(probabilities)


def test_ood_detection_by_hand_and_both_directions():
    r = failures.ood_detection([0.9, 0.8, 0.6], [0.95, 0.7], threshold=0.85)
    assert r.auroc == pytest.approx(2 / 6)  # 0.9 > 0.7 and 0.8 > 0.7 only
    assert r.confident_in == pytest.approx(1 / 3) and r.confident_out == 0.5
    swapped = failures.ood_detection([0.95, 0.7], [0.9, 0.8, 0.6], threshold=0.85)
    assert swapped.auroc == pytest.approx(4 / 6)
    assert failures.ood_detection([0.9, 0.99], [0.5, 0.6]).auroc == 1.0
    # a confidence exactly at the threshold is not above it; ties count one half
    at = failures.ood_detection([0.9, 0.9], [0.9], threshold=0.9)
    assert at.confident_in == 0.0 and at.confident_out == 0.0 and at.auroc == 0.5
    rng = np.random.default_rng(0)
    inside, outside = rng.random(50), rng.random(40)
    y = np.r_[np.ones(50), np.zeros(40)].astype(int)
    assert failures.ood_detection(inside, outside).auroc == pytest.approx(roc.roc_auc(y, np.r_[inside, outside]))


def test_ood_detection_bad_inputs():
    with pytest.raises(ValueError, match=r"out_confidence=.* is empty: pass at least one item"):
        failures.ood_detection([0.9], [])
    with pytest.raises(ValueError, match=r"threshold=2.0 must be a number in \[0, 1\]"):
        failures.ood_detection([0.9], [0.5], threshold=2)
    with pytest.raises(ValueError, match="in_confidence has a non-finite value"):
        failures.ood_detection([np.inf], [0.5])


def test_make_ood_images():
    ood = data.make_ood_images(per_kind=4, image_size=20, seed=1)
    assert ood.images.shape == (12, 20, 20, 3) and ood.images.dtype == np.float32 and len(ood) == 12
    assert ood.kinds.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and ood.kind_names == data.OOD_KINDS
    assert 0 <= ood.images.min() and ood.images.max() <= 1
    grey = ood.images[:8]
    assert (grey[..., 0] == grey[..., 2]).all()  # digits and textures are grey
    assert (ood.images[:4] == data.make_ood_images(per_kind=4, image_size=20, seed=1).images[:4]).all()
    with pytest.raises(ValueError, match="per_kind=0 must be a positive integer"):
        data.make_ood_images(per_kind=0)


# --------------------------------------------------------------------------- occlusion
def test_occlude_by_hand():
    images = np.ones((3, 10, 10, 2), np.float32)
    boxes = [[0, 0, 10, 10], [2, 4, 6, 8], [1, 1, 9, 5]]
    out = failures.occlude(images, boxes, fraction=0.25, value=0.0)
    assert out.shape == images.shape and (images == 1).all()  # a copy: the input is untouched
    assert (out[0, 3:8, 3:8] == 0).all() and int((out[0] == 0).sum()) == 25 * 2
    assert (out[1, 5:7, 3:5] == 0).all() and int((out[1] == 0).sum()) == 4 * 2
    assert (out[2, 2:4, 3:7] == 0).all() and int((out[2] == 0).sum()) == 8 * 2  # 8x4 box: a 4x2 patch
    full = failures.occlude(images, boxes, fraction=1.0, value=0.5)
    assert (full[1, 4:8, 2:6] == 0.5).all() and int((full[1] == 0.5).sum()) == 16 * 2
    assert (failures.occlude(images, boxes, fraction=0.0) == images).all()


def test_occlude_bad_inputs():
    images = np.ones((2, 8, 8, 3))
    with pytest.raises(ValueError, match=r"boxes must have shape \(2, 4\) \(one 'xyxy' box per image\); got shape \(2, 1, 4\)\. .*shapes.boxes\[:, 0\]"):
        failures.occlude(images, np.zeros((2, 1, 4)), 0.5)
    with pytest.raises(ValueError, match=r"fraction=-0.1 must be a number in \[0, 1\]"):
        failures.occlude(images, np.zeros((2, 4)), -0.1)
    with pytest.raises(ValueError, match=r"boxes has 1 box\(es\) whose second corner is before the first"):
        failures.occlude(images, [[4, 0, 2, 3], [0, 0, 1, 1]], 0.5)
    with pytest.raises(ValueError, match="Add a batch axis"):
        failures.occlude(images[0], np.zeros((1, 4)), 0.5)


# --------------------------------------------------------------------------- learning
def test_a_rare_subgroup_is_learned_worse():
    # Chapter 07's setting: 800 small shapes, striped ones 3 % of them, tested on a
    # half-striped set: the striped accuracy is well below the plain one. On the outline
    # shapes (8 epochs, the chapter's recipe) measured gaps 0.13, 0.15 and 0.28 for seeds
    # 0, 1, 2 (15 epochs: 0.10 for seed 0); the bound of 0.1 is the chapter's claim.
    import keras

    from homl_cv import models

    pool = data.make_shapes(2400, 24, size_range=(0.5, 0.8), seed=11)
    test = data.make_shapes(400, 24, size_range=(0.5, 0.8), seed=12)
    split = failures.rare_subgroup_split(pool.fills[:, 0], 1, 0.03, size=800, seed=0)
    keras.utils.set_random_seed(0)
    net = models.build_gap_cnn((24, 24, 3), num_classes=4, filters=(8, 16, 32))
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, 8 * 800 // 32)
    net.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    net.fit(pool.images[split], pool.classes[split, 0], epochs=8, batch_size=32, verbose=0)
    r = failures.subgroup_accuracy(test.classes[:, 0], net.predict(test.images, verbose=0).argmax(1), test.fills[:, 0])
    assert r.of(0) >= 0.8, r  # it did learn the shapes
    assert r.of(0) - r.of(1) >= 0.1, r
