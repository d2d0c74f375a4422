"""Instance segmentation: targets, pasting, mask IoU and the head, on hand cases."""

import numpy as np
import pytest

from homl_cv import data, instances as inst


def test_paste_full_and_half_masks_by_hand():
    full = inst.paste_masks(np.ones((1, 4, 4)), [[1, 2, 5, 4]], (6, 6))[0]
    expected = np.zeros((6, 6), bool)
    expected[2:4, 1:5] = True
    np.testing.assert_array_equal(full, expected)
    # left half of a 4x4 mask on an 8-pixel-wide box: the left 4 columns of the box
    half = np.zeros((1, 4, 4))
    half[0, :, :2] = 1
    pasted = inst.paste_masks(half, [[0, 0, 8, 4]], (4, 10))[0]
    np.testing.assert_array_equal(pasted[:, :4], True)
    np.testing.assert_array_equal(pasted[:, 4:], False)


def test_targets_then_paste_give_the_true_mask_back():
    shapes = data.make_shapes(6, image_size=48, min_objects=2, max_objects=2, seed=3)
    objects = inst.instance_set(shapes)
    assert len(objects) == int((shapes.instances.reshape(6, -1)[:, :, None] == [1, 2]).any(1).sum())
    targets = inst.mask_targets(objects, 16)
    assert targets.shape == (len(objects), 16, 16) and set(np.unique(targets)) <= {0.0, 1.0}
    back = inst.paste_masks(targets, objects.boxes, (48, 48))
    # a 16x16 copy loses a little detail on the larger shapes, no more
    assert inst.mask_iou(back, objects.masks).mean() > 0.85
    # each true mask lies inside its own box
    for box, mask in zip(objects.boxes.astype(int), objects.masks):
        rows, cols = np.nonzero(mask)
        assert box[0] <= cols.min() and cols.max() < box[2] and box[1] <= rows.min() and rows.max() < box[3]


def test_mask_iou_by_hand_and_box_baseline():
    true = np.zeros((2, 4, 4), bool)
    true[0, :2, :2] = True           # 4 pixels
    true[1, 1:3, 1:3] = True
    pred = np.zeros((2, 4, 4), bool)
    pred[0, :2, :3] = True           # 6 pixels, 4 shared -> 4/6
    pred[1] = true[1]
    np.testing.assert_allclose(inst.mask_iou(pred, true), [4 / 6, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        inst.mask_iou(pred[:1], true)
    # a triangle-ish object filling half its 4x4 box: the box baseline scores 0.5
    tri = np.zeros((1, 4, 4), bool)
    tri[0][np.tril_indices(4)] = True
    box = inst.box_masks([[0, 0, 4, 4]], (4, 4))
    assert inst.mask_iou(box, tri)[0] == pytest.approx(10 / 16)


def test_evaluate_masks_uses_sigmoid_and_threshold():
    objects = inst.InstanceSet(boxes=np.array([[0, 0, 4, 4]], np.float32), image_index=np.array([0]),
                               classes=np.array([2]), masks=np.pad(np.ones((1, 2, 4), bool), ((0, 0), (0, 2), (0, 0))))
    logits = np.full((1, 2, 2, 1), -5.0)
    logits[0, 0] = 5.0               # top half of the box is the object
    scores = inst.evaluate_masks(logits, objects)
    assert scores.ious.tolist() == [1.0] and scores.share_above(0.5) == 1.0
    assert "mean mask IoU 1.00" in scores.summary(["a", "b", "c"]) and "c 1.00" in scores.summary(["a", "b", "c"])


def test_head_shapes_and_training_arguments():
    head = inst.build_mask_head(channels=5, output_size=16, filters=8)
    assert head.output_shape == (None, 16, 16, 1)
    with pytest.raises(ValueError, match=r"targets must have shape \(3, 16, 16\) \(one \(P, P\) mask target per RoI of roi_features\); got shape \(3, 14, 14\)"):
        inst.train_mask_head(head, np.zeros((3, 16, 16, 5)), np.zeros((3, 14, 14)), epochs=1)
    with pytest.raises(ValueError, match=r"mask_probs must have shape \(2, P_h, P_w\) \(one mask per box\)"):
        inst.paste_masks(np.zeros((1, 4, 4)), np.zeros((2, 4)), (8, 8))


def test_train_mask_head_returns_the_head_and_its_history():
    from homl_cv import training

    rng = np.random.default_rng(0)
    rois = rng.random((6, 8, 8, 2)).astype(np.float32)
    targets = (rois[..., 0] > 0.5).astype(np.float32)
    head = inst.build_mask_head(channels=2, output_size=8, filters=4, convs=1)
    result = inst.train_mask_head(head, rois, targets, epochs=2, batch_size=3, verbose=0)
    assert isinstance(result, training.TrainedModel) and result.model is head
    assert len(result.history["loss"]) == 2
