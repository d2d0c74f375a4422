"""Tracking by detection: the IoU cost, the association (Hungarian and greedy, gated), the
constant-velocity filter, SORT's track management, the CLEAR MOT counts, and the moving-shapes clip."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from homl_cv import boxes, data, tracking


def _tracks(frames):
    """Tracks from [[(id, box), ...] per frame]."""
    return tracking.Tracks([np.array([b for _, b in f], np.float32).reshape(-1, 4) for f in frames],
                           [np.array([i for i, _ in f], np.int64) for f in frames])


# ------------------------------------------------------------------ cost and association
def test_iou_cost_is_one_minus_the_package_iou():
    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 50, (5, 2, 2)), axis=1).transpose(0, 2, 1).reshape(5, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.uniform(0, 50, (3, 2, 2)), axis=1).transpose(0, 2, 1).reshape(3, 4)[:, [0, 2, 1, 3]]
    cost = tracking.iou_cost(a, b)
    assert cost.shape == (5, 3)
    np.testing.assert_allclose(cost, 1 - boxes.iou(a, b), atol=1e-6)
    assert tracking.iou_cost(np.zeros((0, 4)), b).shape == (0, 3)
    assert tracking.iou_cost(a, []).shape == (5, 0)


def test_hungarian_is_the_least_total_cost_without_a_gate():
    rng = np.random.default_rng(1)
    for shape in [(4, 4), (3, 6), (6, 2)]:
        cost = rng.random(shape)
        found = tracking.associate(cost, max_cost=1.0)
        rows, cols = linear_sum_assignment(cost)
        assert len(found.matches) == min(shape)
        assert found.total_cost == pytest.approx(cost[rows, cols].sum())
        assert len(found.unmatched_tracks) == shape[0] - min(shape)
        assert len(found.unmatched_detections) == shape[1] - min(shape)


def test_greedy_is_suboptimal_on_a_crafted_matrix():
    cost = [[0.1, 0.2], [0.3, 0.9]]
    hungarian, greedy = tracking.associate(cost, 1.0), tracking.associate(cost, 1.0, "greedy")
    assert hungarian.matches.tolist() == [[0, 1], [1, 0]] and hungarian.total_cost == pytest.approx(0.5)
    assert greedy.matches.tolist() == [[0, 0], [1, 1]] and greedy.total_cost == pytest.approx(1.0)
    # with a gate, greedy's early cheap pair leaves the second track unmatched
    gated = tracking.associate(cost, 0.5, "greedy")
    assert gated.matches.tolist() == [[0, 0]] and gated.unmatched_tracks.tolist() == [1]
    assert tracking.associate(cost, 0.5).matches.tolist() == [[0, 1], [1, 0]]
    # on a matrix where the cheapest pairs do not collide, both agree
    easy = [[0.1, 0.9], [0.8, 0.2]]
    assert tracking.associate(easy, 1.0).matches.tolist() == tracking.associate(easy, 1.0, "greedy").matches.tolist()


@pytest.mark.parametrize("method", tracking.METHODS)
def test_the_gate_allows_a_cost_equal_to_max_cost_and_forbids_above(method):
    cost = np.array([[0.5, 0.6], [0.9, 0.50001]])
    found = tracking.associate(cost, max_cost=0.5, method=method)
    assert found.matches.tolist() == [[0, 0]]
    assert found.unmatched_tracks.tolist() == [1] and found.unmatched_detections.tolist() == [1]
    assert tracking.associate(np.zeros((0, 3)), 0.5, method).unmatched_detections.tolist() == [0, 1, 2]


# ------------------------------------------------------------------ the motion model
def test_the_filter_learns_a_constant_velocity():
    states = tracking.boxes_to_states([[0, 0, 10, 10]])
    for t in range(1, 30):
        states = tracking.update_states(tracking.predict_states(states), [[2 * t, -t, 2 * t + 10, 10 - t]])
    np.testing.assert_allclose(states[0, 4:], [2, -1], atol=0.05)
    predicted = tracking.states_to_boxes(tracking.predict_states(states))
    np.testing.assert_allclose(predicted[0], [60, -30, 70, -20], atol=0.2)
    # alpha 1, beta 0: the state is the last box, the velocity stays what it was
    trusted = tracking.update_states(states, [[1, 2, 5, 6]], alpha=1.0, beta=0.0)
    np.testing.assert_allclose(tracking.states_to_boxes(trusted)[0], [1, 2, 5, 6], atol=1e-6)
    np.testing.assert_allclose(trusted[0, 4:], states[0, 4:])


def _occluded_crossing(num_frames=12, hidden=(6, 7)):
    """A 10x10 box moving right by 4 px a frame passes under a still one at x = 30; the
    detector misses it in the ``hidden`` frames."""
    frames, truth_frames = [], []
    for t in range(num_frames):
        a, b = [4.0 * t, 10, 4.0 * t + 10, 20], [30, 10, 40, 20]
        truth_frames.append([(0, a), (1, b)])
        frames.append(np.array([b] if t in hidden else [a, b], np.float32))
    return frames, _tracks(truth_frames)


def test_constant_velocity_keeps_an_identity_through_an_occlusion_that_breaks_the_iou_tracker():
    frames, truth = _occluded_crossing()
    for method in tracking.METHODS:
        sort = tracking.evaluate_tracking(truth, tracking.track_detections(frames, method=method, min_hits=1))
        assert (sort.id_switches, sort.misses, sort.false_positives) == (0, 2, 0)
        still = tracking.evaluate_tracking(truth, tracking.track_detections(frames, method=method, motion="none",
                                                                           min_hits=1))
        assert (still.id_switches, still.misses, still.false_positives) == (1, 2, 0)
        assert still.mota < sort.mota
    # seen in every frame, both trackers keep both identities
    seen, truth = _occluded_crossing(hidden=())
    for motion in tracking.MOTIONS:
        assert tracking.evaluate_tracking(truth, tracking.track_detections(seen, motion=motion, min_hits=1)).mota == 1.0


def test_track_birth_min_hits_and_death_max_age():
    box = np.array([[0, 0, 10, 10]], np.float32)
    empty = np.zeros((0, 4), np.float32)
    lone_false_positive = [empty, np.array([[40, 40, 50, 50]], np.float32), empty, empty]
    assert all(len(ids) == 0 for ids in tracking.track_detections(lone_false_positive, min_hits=2).ids)
    assert [len(ids) for ids in tracking.track_detections(lone_false_positive, min_hits=1).ids] == [0, 1, 0, 0]
    # a gap of 2 frames: survived with max_age=2 (same id), a new track with max_age=1
    gap = [box, box, empty, empty, box]
    assert [i.tolist() for i in tracking.track_detections(gap, max_age=2).ids] == [[], [0], [], [], [0]]
    assert [i.tolist() for i in tracking.track_detections(gap, max_age=1).ids] == [[], [0], [], [], []]
    assert [i.tolist() for i in tracking.track_detections(gap + [box], max_age=1).ids][-1] == [1]


def test_track_detections_takes_detector_output():
    found = boxes.Detections([{"boxes": np.array([[0, 0, 10, 10]], np.float32), "scores": np.array([0.9]),
                               "classes": np.array([0])}] * 3)
    tracks = tracking.track_detections(found)
    assert len(tracks) == 3 and [i.tolist() for i in tracks.ids] == [[], [0], [0]] and tracks.num_ids == 1


# ------------------------------------------------------------------ CLEAR MOT
A, B, FAR = [0, 0, 10, 10], [20, 0, 30, 10], [40, 40, 50, 50]


def test_mota_counts_a_switch_a_miss_and_a_false_positive_by_hand():
    truth = _tracks([[(0, A), (1, B)]] * 3)
    predicted = _tracks([[(7, A), (8, B)],
                         [(8, A), (7, B)],     # both swapped: 2 switches
                         [(8, A), (9, FAR)]])  # B missed, a false positive far away
    scores = tracking.evaluate_tracking(truth, predicted)
    assert (scores.misses, scores.false_positives, scores.id_switches, scores.num_truth, scores.matches) == (1, 1, 2, 6, 5)
    assert scores.mota == pytest.approx(1 - 4 / 6)


def test_stable_ids_make_no_switch_and_a_kept_correspondence_wins():
    truth = _tracks([[(0, A)]] * 3)
    stable = tracking.evaluate_tracking(truth, _tracks([[(5, A)]] * 3))
    assert (stable.id_switches, stable.misses, stable.false_positives, stable.mota) == (0, 0, 0, 1.0)
    # frame 1: track 5 still overlaps A with IoU 0.5 (>= the threshold), track 6 sits exactly on A:
    # the previous correspondence is kept (no switch), track 6 is a false positive
    half = [0, 0, 10, 20]  # IoU with A = 100 / 200 = 0.5
    kept = tracking.evaluate_tracking(truth, _tracks([[(5, A)], [(5, half), (6, A)], [(5, A)]]))
    assert (kept.id_switches, kept.false_positives, kept.misses) == (0, 1, 0)
    # just below the threshold the old track no longer counts: the new one takes over, a switch
    below = [0, 0, 10, 20.5]
    moved = tracking.evaluate_tracking(truth, _tracks([[(5, A)], [(5, below), (6, A)], [(6, A)]]))
    assert (moved.id_switches, moved.false_positives) == (1, 1)


def test_a_new_id_after_a_gap_is_a_switch():
    truth = _tracks([[(0, A)]] * 3)
    scores = tracking.evaluate_tracking(truth, _tracks([[(5, A)], [], [(9, A)]]))
    assert (scores.id_switches, scores.misses) == (1, 1)
    assert scores.mota == pytest.approx(1 - 2 / 3)


def test_pooled_scores_add_counts():
    a = tracking.TrackingScores(2, 1, 1, 10, 8, 0.6)
    b = tracking.TrackingScores(0, 0, 0, 30, 30, 1.0)
    total = tracking.pooled([a, b])
    assert (total.misses, total.num_truth, total.matches) == (2, 40, 38)
    assert total.mota == pytest.approx(1 - 4 / 40)


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("call, pattern", [
    (lambda: tracking.associate([[0.1]], method="hungry"), r"method='hungry' must be 'hungarian' or 'greedy'"),
    (lambda: tracking.associate([0.1, 0.2]), r"cost must have shape \(tracks, detections\); got shape \(2,\)"),
    (lambda: tracking.associate([[np.nan]]), r"cost has a non-finite value nan"),
    (lambda: tracking.associate([[0.1]], max_cost=-1), r"max_cost=-1.0 must be a number in"),
    (lambda: tracking.track_detections([np.zeros((0, 4))], min_hits=0), r"min_hits=0 must be a positive integer"),
    (lambda: tracking.track_detections([np.zeros((0, 4))], motion="kalman"), r"motion='kalman' must be"),
    (lambda: tracking.track_detections(np.zeros((3, 4))), r"detections must have shape \(frames, K, 4\) \(one \(K, 4\) array per frame\); got shape \(3, 4\)"),
    (lambda: tracking.track_detections([[[0, 0, 1]]]), r"detections\[0\] must have shape \(\.\.\., 4\) \(.xyxy. boxes: 4 coordinates on the last axis\)"),
    (lambda: tracking.update_states(np.zeros((2, 6)), [[0, 0, 1, 1]]), r"boxes \(1\) and predicted \(2\) must have the same length \(one matched box per state\)"),
    (lambda: tracking.predict_states(np.zeros((2, 4))), r"states must have shape \(N, 6\) \(track states \(cx, cy, w, h, vx, vy\)\); got shape \(2, 4\)"),
    (lambda: tracking.evaluate_tracking(_tracks([[(0, A)]]), _tracks([[(0, A)]] * 2)),
     r"truth's frames \(1\) and predicted's frames \(2\) must have the same length \(track the same clip"),
    (lambda: tracking.evaluate_tracking(tracking.Tracks([np.array([A])], [np.array([0, 1])]), _tracks([[(0, A)]])),
     r"truth.boxes\[0\] \(1\) and truth.ids\[0\] \(2\) must have the same length \(one id per box\)"),
    (lambda: tracking.evaluate_tracking(_tracks([[(0, A), (0, B)]]), _tracks([[(0, A)]])), r"truth.ids\[0\]=\[0, 0\] repeats 0; its items must be unique \(one id per object in a frame\)"),
    (lambda: tracking.evaluate_tracking([np.array([A])], _tracks([[(0, A)]])), r"truth must have boxes and ids \(per frame: a tracking.Tracks or a data.MovingShapes clip\); got list"),
    (lambda: tracking.evaluate_tracking(_tracks([[(0, A)]]), _tracks([[(0, A)]]), iou_threshold=0),
     r"iou_threshold=0.0 must be a number in \(0, 1\]"),
    (lambda: tracking.pooled([]), r"scores=\[\] is empty: pass at least one item, TrackingScores from evaluate_tracking"),
    (lambda: data.make_moving_shapes(num_frames=1), r"num_frames=1 must be an integer of at least 2"),
    (lambda: data.make_moving_shapes(speed_range=(3, 1)), r"speed_range=\(3, 1\) must be \(min, max\) with 0 <= min <= max \(pixels per frame\)"),
    (lambda: data.make_moving_shapes(num_classes=5), r"num_classes=5 must be an integer from 1 to 4 \(one per shape class\)"),
])
def test_bad_input_names_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ------------------------------------------------------------------ the clip
@pytest.fixture(scope="module")
def clip():
    return data.make_moving_shapes(num_frames=40, num_objects=4, image_size=64, seed=3)


def test_clip_shapes_identities_and_boxes_inside(clip):
    assert clip.frames.shape == (40, 64, 64, 3) and clip.frames.dtype == np.float32 and len(clip) == 40
    assert 0 <= clip.frames.min() and clip.frames.max() <= 1
    assert clip.boxes.shape == (40, 4, 4) and clip.velocities.shape == (40, 4, 2)
    np.testing.assert_array_equal(clip.ids, np.tile(np.arange(4), (40, 1)))
    assert clip.classes.shape == (4,) and set(clip.classes.tolist()) <= {0, 1, 2, 3}
    boxes.validate_boxes(clip.boxes, "xyxy", image_size=(64, 64))
    sides = clip.boxes[..., 2:] - clip.boxes[..., :2]
    assert sides.min() >= 0.22 * 64 - 2 and sides.max() <= 0.32 * 64 + 2
    # objects start apart, then come close at some point (the clip is there to be hard)
    assert np.triu(boxes.iou(clip.boxes[0], clip.boxes[0]), 1).max() < 0.05
    assert max(np.triu(boxes.iou(b, b), 1).max() for b in clip.boxes) > 0.2


def test_clip_velocities_are_constant_apart_from_bounces(clip):
    speed = np.abs(clip.velocities)
    np.testing.assert_allclose(speed, np.broadcast_to(speed[:1], speed.shape))  # |vx|, |vy| never change
    flips = np.sign(clip.velocities[1:]) != np.sign(clip.velocities[:-1])
    assert flips.any()  # some object bounced
    centres = (clip.boxes[..., :2] + clip.boxes[..., 2:]) / 2
    step = centres[1:] - centres[:-1]
    # where an object did not bounce, it moved by its velocity (up to the jitter and whole pixels)
    still = ~flips
    assert np.median(np.abs(step - clip.velocities[1:])[still]) < 1.0
    # a bounce happens at a border: the box touches it in that frame or the one before
    t, k, axis = np.nonzero(flips)
    near = np.minimum(clip.boxes[t, k, axis], 64 - clip.boxes[t, k, axis + 2])
    near_before = np.minimum(clip.boxes[t + 1, k, axis], 64 - clip.boxes[t + 1, k, axis + 2])
    assert np.minimum(near, near_before).max() <= 4


def test_clip_is_deterministic_and_draws_make_shapes_outlines():
    a = data.make_moving_shapes(num_frames=3, num_objects=2, image_size=32, seed=5)
    b = data.make_moving_shapes(num_frames=3, num_objects=2, image_size=32, seed=5)
    c = data.make_moving_shapes(num_frames=3, num_objects=2, image_size=32, seed=6)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.frames, c.frames)
    still = data.make_moving_shapes(num_frames=3, num_objects=1, speed_range=(0, 0), jitter=0.0, seed=1)
    np.testing.assert_array_equal(still.boxes[0], still.boxes[2])  # speed 0, no jitter: it stays put


def test_default_gains_beat_the_last_box_when_objects_move_fast():
    # Objects moving 4-6 px per frame (about a third of their size): the default filter (0.7, 0.5)
    # made 68 identity switches against the last box's 96 on these ten clips; the old defaults
    # (0.5, 0.3) lagged so far behind that they made 100 (BENCHMARKS.md, chapter 05 tracking).
    clips = [data.make_moving_shapes(36, num_objects=3, image_size=64, speed_range=(4.0, 6.0), seed=k)
             for k in range(10)]
    detections = [data.simulated_detections(c, k) for k, c in enumerate(clips)]

    def switches(**kwargs):
        tracks = [tracking.track_detections(d, **kwargs) for d in detections]
        return tracking.pooled(tracking.evaluate_tracking(c, t) for c, t in zip(clips, tracks)).id_switches

    last_box, sort = switches(motion="none"), switches()
    assert sort <= 0.8 * last_box, (sort, last_box)
    assert switches(alpha=0.5, beta=0.3) > 0.9 * last_box  # the lagging filter gains nothing
