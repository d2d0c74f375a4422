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


# ------------------------------------------------------------------ mutation testing (issue 23)
def _paste_reference(probs, box, image_size, threshold):
    """paste_masks pixel by pixel: bilinear reads of the mask (edge values beyond it), by scipy."""
    from scipy import ndimage

    x1, y1, x2, y2 = box
    ph, pw = probs.shape
    out = np.zeros(image_size, bool)
    for r in range(image_size[0]):
        for c in range(image_size[1]):
            if not (np.floor(y1) <= r < np.ceil(y2) and np.floor(x1) <= c < np.ceil(x2)):
                continue
            v = (r + 0.5 - y1) * ph / (y2 - y1) - 0.5
            u = (c + 0.5 - x1) * pw / (x2 - x1) - 0.5
            value = ndimage.map_coordinates(probs, [[v], [u]], order=1, mode="nearest")[0]
            out[r, c] = value >= threshold
    return out


@pytest.mark.parametrize("box", [(1.3, 0.6, 7.8, 5.2), (-2.5, 1.0, 4.5, 9.5), (0.0, 0.0, 9.0, 7.0),
                                 (2.2, 3.7, 5.1, 4.4),      # under a pixel high
                                 (3.3, 1.0, 3.9, 5.0),      # under a pixel wide
                                 (0.0, 0.0, 2.1, 1.1)])     # last pixel centre past the mask's edge
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_paste_masks_matches_a_pixel_by_pixel_bilinear_reference(box, threshold):
    rng = np.random.default_rng(7)
    probs = rng.random((2, 3, 5))             # P_h != P_w, two boxes of which the second is the case's
    boxes = [[0, 0, 2, 2], box]
    got = inst.paste_masks(probs, boxes, (7, 9), threshold)
    assert got.shape == (2, 7, 9) and got.dtype == bool
    np.testing.assert_array_equal(got[1], _paste_reference(probs[1], box, (7, 9), threshold))
    np.testing.assert_array_equal(got[0], _paste_reference(probs[0], boxes[0], (7, 9), threshold))


def test_paste_masks_threshold_at_equality_and_empty_boxes():
    half = np.full((1, 2, 2), 0.5)
    assert inst.paste_masks(half, [[0, 0, 2, 2]], (2, 2), threshold=0.5).all()        # >= threshold
    assert not inst.paste_masks(half, [[0, 0, 2, 2]], (2, 2), threshold=0.5001).any()
    assert inst.paste_masks(half, [[0, 0, 2, 2]], (2, 2)).all()                          # default 0.5
    # boxes outside the image or of zero size paste nothing
    out = inst.paste_masks(np.ones((3, 2, 2)), [[5, 5, 8, 8], [1, 1, 1, 2], [1, 1, 2, 1]], (4, 4))
    assert out.shape == (3, 4, 4) and not out.any()
    # ... and the boxes after them are still pasted
    out = inst.paste_masks(np.ones((2, 2, 2)), [[5, 5, 8, 8], [0, 0, 1, 1]], (4, 4))
    assert not out[0].any() and out[1].sum() == 1 and out[1, 0, 0]


def test_mask_iou_of_two_empty_masks_is_one_and_batches_are_per_mask():
    pred = np.zeros((3, 2, 2), bool)
    true = np.zeros((3, 2, 2), bool)
    pred[1, 0, 0] = True                        # predicted, absent: 0
    pred[2] = true[2] = True                    # equal: 1
    np.testing.assert_allclose(inst.mask_iou(pred, true), [1.0, 0.0, 1.0])


def test_mask_targets_threshold_at_equality():
    # a 4x4 object mask whose left half is set: one 1x1 target reads x = 0.5 (1) and x = 2.5 (0)
    # (sampling ratio 2), mean 0.5, which is the object's (>= 0.5)
    masks = np.zeros((1, 4, 4), bool)
    masks[0, :, :2] = True
    objects = inst.InstanceSet(np.array([[0, 0, 4, 4]], np.float32), np.array([0], np.int32),
                               np.array([1], np.int32), masks)
    assert inst.mask_targets(objects, 1).tolist() == [[[1.0]]]
    np.testing.assert_array_equal(inst.mask_targets(objects, 2)[0], [[1, 0], [1, 0]])
    assert inst.mask_targets(objects).shape == (1, 16, 16)                  # default output size 16
    assert inst.mask_targets(objects).dtype == np.float32


class _FakeShapes:
    """What instance_set reads of a ShapesData: two images, class 0 included, one hidden object."""

    def __init__(self):
        self.images = np.zeros((2, 3, 4, 3), np.float32)
        self.classes = np.array([[0, 2, -1], [-1, 1, -1]])
        self.boxes = np.array([[[0, 0, 1, 1], [0, 0, 4, 3], [0, 0, 0, 0]],     # ints: made float32
                               [[0, 0, 0, 0], [1, 1, 3, 3], [0, 0, 0, 0]]])
        self.instances = np.zeros((2, 3, 4), np.int32)
        self.instances[0, 0, 0] = 1                 # object 0 of image 0 (class 0); object 1 hidden
        self.instances[1, 1:3, 1:3] = 2             # object 1 of image 1 (class 1)

    def __len__(self):
        return 2


def test_instance_set_keeps_class_zero_and_skips_hidden_objects():
    objects = inst.instance_set(_FakeShapes())
    assert len(objects) == 2
    np.testing.assert_array_equal(objects.classes, [0, 1])
    np.testing.assert_array_equal(objects.image_index, [0, 1])
    np.testing.assert_array_equal(objects.boxes, [[0, 0, 1, 1], [1, 1, 3, 3]])
    assert objects.masks.shape == (2, 3, 4) and objects.masks.dtype == bool
    assert objects.masks[0].sum() == 1 and objects.masks[1].sum() == 4 and objects.masks[1, 1, 1]
    assert objects.boxes.dtype == np.float32 and objects.image_index.dtype == np.int32
    assert objects.classes.dtype == np.int32
    shapes = _FakeShapes()
    shapes.classes[:] = -1                                   # no objects at all: empty, but shaped
    empty = inst.instance_set(shapes)
    assert len(empty) == 0 and empty.boxes.shape == (0, 4) and empty.masks.shape == (0, 3, 4)
    assert empty.masks.dtype == bool and empty.boxes.dtype == np.float32 and empty.classes.dtype == np.int32


def test_mask_scores_share_at_equality_and_summary_per_class():
    scores = inst.MaskScores(np.array([0.5, 0.25, 1.0, 0.75]), np.array([0, 2, 2, 0]))
    assert scores.share_above(0.5) == 0.75 and scores.share_above() == 0.75     # 0.5 counts
    assert scores.share_above(0.76) == 0.25 and scores.mean_iou == pytest.approx(0.625)
    text = scores.summary()
    assert text.startswith("4 instances | mean mask IoU 0.62 | IoU >= 0.5: 75%")
    assert "per class: 0 0.62, 2 0.62" in text and "1 " not in text.split("per class:")[1]
    assert "per class: bg 0.62, b 0.62" in scores.summary(["bg", "a", "b"])


def test_evaluate_masks_sigmoid_threshold_and_3d_logits():
    objects = inst.InstanceSet(boxes=np.array([[0, 0, 2, 1]], np.float32), image_index=np.array([0]),
                               classes=np.array([0]), masks=np.array([[[True, False]]]))
    logits = np.array([[[1.0, -0.5]]])            # (K, P_h, P_w): sigmoid 0.731, 0.378
    assert inst.evaluate_masks(logits, objects).ious.tolist() == [1.0]
    assert inst.evaluate_masks(logits, objects, threshold=0.3).ious.tolist() == [0.5]   # both pixels
    assert inst.evaluate_masks(logits, objects, threshold=0.75).ious.tolist() == [0.0]  # neither
    assert inst.evaluate_masks(logits[..., None], objects, threshold=0.3).ious.tolist() == [0.5]


def test_box_masks_of_several_boxes():
    out = inst.box_masks([[0, 0, 2, 1], [1.5, 0.5, 3, 3]], (3, 4))
    expected = np.zeros((2, 3, 4), bool)
    expected[0, 0, :2] = True
    expected[1, 0:3, 1:3] = True          # floor(1.5) .. ceil(3), floor(0.5) .. ceil(3)
    np.testing.assert_array_equal(out, expected)


def test_mask_iou_reads_any_nonzero_value_as_the_object():
    true = np.array([[[0, 255], [255, 255]]], np.uint8)        # an 8-bit mask image
    pred = np.array([[[0.0, 1.0], [0.0, 2.0]]])                # float, values other than 1
    np.testing.assert_allclose(inst.mask_iou(pred, true), [2 / 3])
    np.testing.assert_allclose(inst.mask_iou(true, pred), [2 / 3])
