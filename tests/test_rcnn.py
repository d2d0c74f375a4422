"""Two-stage detector pieces (homl_cv.rcnn): RoI pooling against hand cases, anchors and their
IoU labels, RPN targets and loss, proposals, the small Faster R-CNN (RoIAlign: test_regions;
box deltas: test_boxes)."""

import math

import numpy as np
import pytest

from homl_cv import boxes, rcnn, regions

GRID = np.arange(16, dtype=np.float32).reshape(4, 4, 1)  # value = 4 * row + column


# ============================================================================ RoI pooling
def test_roi_pool_hand_cases():
    # the whole map, 2x2 bins: the max of each quadrant
    assert rcnn.roi_pool(GRID, [[0, 0, 4, 4]], 2)[0, ..., 0].tolist() == [[5, 7], [13, 15]]
    # stride 2: [1, 1, 5, 5] -> cells 0.5 -> 1 and 2.5 -> 3 (rounding half up, not to even), so cells 1..3;
    # 3 cells in 2 bins: rows [1, 3) and [2, 4) overlap (floor / ceil bin edges)
    assert rcnn.roi_pool(GRID, [[1, 1, 5, 5]], 2, spatial_scale=0.5)[0, ..., 0].tolist() == [[10, 11], [14, 15]]
    # one cell, one bin; channels are pooled separately
    two = np.concatenate([GRID, -GRID], axis=-1)
    np.testing.assert_array_equal(rcnn.roi_pool(two, [[2, 1, 2, 1]], 1)[0, 0, 0], [6, -6])
    # a 1x3 output over 3 columns of one row
    assert rcnn.roi_pool(GRID, [[1, 2, 3, 2]], (1, 3))[0, 0, :, 0].tolist() == [9, 10, 11]


def test_roi_bad_input():
    with pytest.raises(ValueError, match=r"feature_map must have shape \(H, W, C\)"):
        rcnn.roi_pool(GRID[..., 0], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="output_size"):
        rcnn.roi_pool(GRID, [[0, 0, 1, 1]], 0)
    with pytest.raises(ValueError, match="second corner is before the first"):
        rcnn.roi_pool(GRID, [[3, 3, 1, 1]])


# ============================================================================ anchors and deltas
def test_make_anchors_hand_case():
    anchors = rcnn.make_anchors((2, 3), 8, sizes=(8, 16), ratios=(1.0, 2.0))
    assert anchors.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(anchors[1, 2, 0], [16, 8, 24, 16])  # cell (1, 2): centre (20, 12), 8x8
    w, h = 16 * math.sqrt(2), 16 / math.sqrt(2)  # size 16, ratio 2 (width / height)
    np.testing.assert_allclose(anchors[0, 0, 3], [4 - w / 2, 4 - h / 2, 4 + w / 2, 4 + h / 2], atol=1e-5)
    with pytest.raises(ValueError, match="positive"):
        rcnn.make_anchors(2, 8, sizes=(0,))


def test_label_anchors_hand_case():
    truth = [[0, 0, 10, 10], [40, 40, 60, 60]]
    anchors = [[0, 0, 10, 11],    # IoU 100/110 = 0.91 with box 0: positive
               [0, 0, 10, 20],    # IoU 0.5: ignored
               [20, 20, 30, 30],  # IoU 0: negative
               [0, 5, 10, 15],    # IoU 50/150 = 0.33: ignored
               [40, 40, 52, 52],  # IoU 144/400 = 0.36 with box 1, its best anchor: positive anyway
               [0, 8, 10, 18]]    # IoU 20/180 = 0.11: negative
    labels, matched = rcnn.label_anchors(anchors, truth, 0.7, 0.3)
    assert labels.tolist() == [1, -1, 0, -1, 1, 0]
    assert matched[[0, 4]].tolist() == [0, 1]
    no_truth, _ = rcnn.label_anchors(anchors, np.zeros((0, 4)))
    assert no_truth.tolist() == [0] * 6
    with pytest.raises(ValueError, match="negative_iou"):
        rcnn.label_anchors(anchors, truth, 0.3, 0.7)


def test_rpn_targets_and_loss_by_hand():
    from types import SimpleNamespace

    anchors = np.array([[[[0, 0, 10, 10], [0, 0, 10, 20], [20, 20, 30, 30]]]], np.float32)  # 1x1 cell, 3 anchors
    data = SimpleNamespace(images=np.zeros((1, 32, 32, 3)), boxes=np.array([[[0, 0, 10, 11]]], np.float32),
                           classes=np.array([[0]]))
    target = rcnn.rpn_targets(data, anchors)
    assert target.shape == (1, 1, 1, 3, 5)
    assert target[0, 0, 0, :, 0].tolist() == [1, -1, 0]  # IoU 0.91, 0.55, 0
    np.testing.assert_allclose(target[0, 0, 0, 0, 1:], [0, 0.05, 0, math.log(1.1)], atol=1e-6)
    pred = np.zeros((1, 1, 1, 3, 5), np.float32)
    pred[..., 0] = [2.0, 5.0, -1.0]  # the ignored anchor's logit must not count
    pred[0, 0, 0, 0, 1:] = [0.5, 0.05, 2.0, math.log(1.1)]  # |diff| 0.5 (quadratic) and 2.0 (linear)
    loss = float(rcnn.RpnLoss(box_weight=1.0)(target, pred))
    cls = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0))) / 2  # BCE(1, 2), BCE(0, -1); 2 labelled
    box = 0.5 * 0.5 ** 2 + (2.0 - 0.5)  # smooth L1, 1 positive anchor
    assert loss == pytest.approx(cls + box, rel=1e-5)


# ============================================================================ proposals
def test_propose_decodes_nms_and_keeps_top_n():
    anchors = rcnn.make_anchors((1, 2), 16, sizes=(16,))  # two cells: [0, 0, 16, 16] and [16, 0, 32, 16]
    out = np.zeros((1, 1, 2, 1, 5), np.float32)
    out[0, 0, :, 0, 0] = [1.0, 3.0]  # the second cell scores higher
    out[0, 0, 0, 0, 1] = 1.0  # the first anchor moved one width right: on top of the second
    props = rcnn.propose(out, anchors, image_size=32, top_n=5, iou_threshold=0.7)
    assert len(props) == 1 and len(props[0]["boxes"]) == 1  # the duplicate is suppressed
    np.testing.assert_allclose(props[0]["boxes"][0], [16, 0, 32, 16], atol=1e-5)
    np.testing.assert_allclose(props[0]["scores"], [1 / (1 + math.exp(-3))], rtol=1e-6)
    out[0, 0, 0, 0, 1] = 0.0
    both = rcnn.propose(out, anchors, 32, top_n=1)
    assert len(both[0]["boxes"]) == 1
    with pytest.raises(ValueError, match="rpn_outputs must have shape"):
        rcnn.propose(np.zeros((1, 2, 2, 1, 5)), anchors, 32)


def test_proposal_recall_hand_case():
    truth = np.array([[[0, 0, 10, 10], [20, 20, 30, 30], [-1, -1, -1, -1]]], np.float32)
    classes = np.array([[0, 1, -1]])
    props = [{"boxes": np.array([[0, 0, 10, 12], [50, 50, 60, 60], [20, 20, 30, 40]], np.float32)}]
    assert rcnn.proposal_recall(props, truth, classes, top_n=3, iou_threshold=0.5) == 1.0  # IoU 0.83 and 0.5
    assert rcnn.proposal_recall(props, truth, classes, top_n=3, iou_threshold=0.51) == 0.5
    assert rcnn.proposal_recall(props, truth, classes, top_n=1) == 0.5
    with pytest.raises(ValueError, match="no object"):
        rcnn.proposal_recall(props, truth, -np.ones((1, 3)))


def test_sample_rois_labels_by_iou():
    rng = np.random.default_rng(0)
    truth, classes = np.array([[4, 4, 24, 24], [30, 30, 60, 50]], np.float32), np.array([2, 0])
    rois, labels, deltas = rcnn.sample_rois(truth, classes, 16, 64, 4, rng)
    overlaps = np.array([[max(0.0, min(r[2], t[2]) - max(r[0], t[0])) * max(0.0, min(r[3], t[3]) - max(r[1], t[1]))
                          / ((r[2] - r[0]) * (r[3] - r[1]) + (t[2] - t[0]) * (t[3] - t[1])
                             - max(0.0, min(r[2], t[2]) - max(r[0], t[0])) * max(0.0, min(r[3], t[3]) - max(r[1], t[1])))
                          for t in truth] for r in rois])
    expected = np.where(overlaps.max(1) >= 0.5, classes[overlaps.argmax(1)], 4)
    assert labels.tolist() == expected.tolist() and (labels < 4).sum() >= 4
    np.testing.assert_allclose(boxes.decode_deltas(rois[labels < 4], deltas[labels < 4]),
                               truth[overlaps.argmax(1)][labels < 4], atol=1e-3)
    assert (deltas[labels == 4] == 0).all() and rois.min() >= 0 and rois.max() <= 64


# ============================================================================ the model (shapes only; chapter 05 trains it)
def test_build_faster_rcnn_shapes_and_detect_runs_untrained():
    parts = rcnn.build_faster_rcnn(64, num_anchors=3, num_classes=4, filters=4, pool_size=4, stride=8,
                                   rois_per_image=5)
    images = np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)
    rois = np.tile(np.array([[0, 0, 20, 20], [10, 10, 50, 40], [30, 0, 64, 30], [0, 0, 64, 64], [5, 5, 9, 9]],
                            np.float32), (2, 1, 1))
    out = parts["train"]([images, rois])
    assert tuple(out["rpn"].shape) == (2, 8, 8, 3, 5)
    assert tuple(out["cls"].shape) == (2, 5, 5) and tuple(out["box"].shape) == (2, 5, 4)
    # the training model's RoI head is the inference head (shared weights)
    fmaps = parts["backbone"](images)
    pooled = regions.roi_align(fmaps, rois.reshape(-1, 4), 4, np.repeat([0, 1], 5), 1 / 8, 2)
    logits, _ = parts["head"](pooled)
    np.testing.assert_allclose(logits.numpy().reshape(2, 5, 5), out["cls"].numpy(), atol=1e-4)
    model = rcnn.FasterRcnn(parts["backbone"], parts["rpn"], parts["head"], rcnn.make_anchors(8, 8, (12, 18, 26)),
                            8, 4, 64, {"loss": [2.0, 1.0]}, 3.0)
    found = rcnn.detect_two_stage(model, images, top_n=7)
    assert isinstance(found, boxes.Detections) and len(found) == 2
    predictions, proposals = found.predictions, found.proposals
    assert len(predictions) == len(proposals) == 2 and all(len(p["boxes"]) <= 7 for p in proposals)
    assert all(set(p) == {"boxes", "scores", "classes"} for p in predictions)
    assert model.summary().startswith("Faster R-CNN 64px, stride 8, 3 anchors/cell, loss 2.00 -> 1.00 in 2 epochs")
    with pytest.raises(ValueError, match="stride"):
        rcnn.build_faster_rcnn(64, stride=5)
