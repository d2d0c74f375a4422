"""Tracking by detection: link a detector's boxes over frames into tracks (SORT), and score it (CLEAR MOT).

A detector sees each frame alone; a tracker gives each object one identity
for the whole clip. SORT (Bewley et al., 2016) does it with three small
parts, each a function here:

* a **motion model** that predicts where each track's box will be in the next
  frame: constant velocity, with an alpha-beta filter (a Kalman filter with
  fixed gains) on the box centre (:func:`boxes_to_states`,
  :func:`predict_states`, :func:`update_states`, :func:`states_to_boxes`);
* an **association** of the predicted boxes with the new detections: the cost
  matrix ``1 - IoU`` (:func:`iou_cost`), solved by the Hungarian algorithm
  (``scipy.optimize.linear_sum_assignment``) or greedily, with pairs of IoU
  below a threshold forbidden (:func:`associate`);
* **track management**: an unmatched detection starts a track, a track is
  reported once it was matched ``min_hits`` times, and dropped after
  ``max_age`` frames without a match (:func:`track_detections`).

:func:`evaluate_tracking` counts misses, false positives and identity
switches against the truth with the CLEAR MOT matching, and MOTA.

Example:
    >>> import numpy as np
    >>> clip = [np.array([[0., 0., 10., 10.]]), np.array([[2., 0., 12., 10.]]),
    ...         np.array([[4., 0., 14., 10.]])]
    >>> tracks = track_detections(clip, min_hits=1)
    >>> [ids.tolist() for ids in tracks.ids]
    [[0], [0], [0]]
    >>> evaluate_tracking(tracks, tracks).mota
    1.0
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

from homl_cv import boxes as boxes_lib
from homl_cv import checks

__all__ = [
    "METHODS",
    "MOTIONS",
    "Assignment",
    "TrackingScores",
    "Tracks",
    "associate",
    "boxes_to_states",
    "evaluate_tracking",
    "iou_cost",
    "pooled",
    "predict_states",
    "states_to_boxes",
    "track_detections",
    "update_states",
]

METHODS = ("hungarian", "greedy")
MOTIONS = ("constant_velocity", "none")
_FORBIDDEN = 1e6  # the cost given to gated pairs: more than any sum of allowed costs in [0, 1]


@dataclasses.dataclass
class Assignment:
    """The result of :func:`associate` on a (T, D) cost matrix.

    Attributes:
        matches: int64 (M, 2), pairs ``(track row, detection column)``, by track row.
        unmatched_tracks: int64 (T - M,) rows left without a detection.
        unmatched_detections: int64 (D - M,) columns left without a track.
        total_cost: the sum of the matched pairs' costs.
    """

    matches: np.ndarray
    unmatched_tracks: np.ndarray
    unmatched_detections: np.ndarray
    total_cost: float


@dataclasses.dataclass
class Tracks:
    """Boxes with identities, frame by frame (a tracker's output, or the truth).

    Attributes:
        boxes: list of T float32 arrays (K_t, 4), "xyxy" pixels.
        ids: list of T int64 arrays (K_t,), the identity of each box.
    """

    boxes: list
    ids: list

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def num_ids(self) -> int:
        """How many different identities appear."""
        return len(set().union(*(set(ids.tolist()) for ids in self.ids))) if self.ids else 0


@dataclasses.dataclass
class TrackingScores:
    """CLEAR MOT counts of :func:`evaluate_tracking` over a clip.

    Attributes:
        misses: true boxes matched by no track (false negatives, FN).
        false_positives: track boxes matching no true box (FP).
        id_switches: times a true object's matched track id changed (IDSW).
        num_truth: true boxes in all frames (GT).
        matches: matched (true, track) pairs in all frames.
        mota: ``1 - (FN + FP + IDSW) / GT`` (can be negative).
    """

    misses: int
    false_positives: int
    id_switches: int
    num_truth: int
    matches: int
    mota: float


def iou_cost(tracks, detections) -> np.ndarray:
    """The association cost ``1 - IoU`` of every (track box, detection box) pair.

    Args:
        tracks: (T, 4) "xyxy" boxes (the tracks' predicted boxes).
        detections: (D, 4) "xyxy" boxes.

    Returns:
        float32 (T, D), in [0, 1]: 0 for identical boxes, 1 for disjoint ones.

    Example:
        >>> print(iou_cost([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]).round(3))
        [[0.    0.667 1.   ]]
    """
    tracks = _box_rows(tracks, "tracks")
    detections = _box_rows(detections, "detections")
    if not len(tracks) or not len(detections):
        return np.zeros((len(tracks), len(detections)), np.float32)
    return (1.0 - boxes_lib.iou(tracks, detections)).astype(np.float32)


def associate(cost, max_cost: float = 0.7, method: str = "hungarian") -> Assignment:
    """Match rows (tracks) to columns (detections) of a cost matrix; pairs above ``max_cost`` are forbidden.

    ``"hungarian"``: the assignment of least total cost among those with the
    most allowed pairs (``scipy.optimize.linear_sum_assignment``, with the
    forbidden pairs given a prohibitive cost and dropped afterwards).
    ``"greedy"``: repeatedly take the cheapest allowed pair left (ties: the
    first in row-major order); fast, but an early cheap pair can force a
    costly one later.

    Args:
        cost: (T, D) finite costs, e.g. :func:`iou_cost`.
        max_cost: the gate: a pair is allowed when its cost is <= ``max_cost``
            (``1 - IoU threshold`` for an IoU cost).
        method: one of :data:`METHODS`.

    Returns:
        An :class:`Assignment`.

    Example:
        >>> cost = [[0.1, 0.2], [0.3, 0.9]]
        >>> associate(cost, 1.0).matches.tolist(), associate(cost, 1.0, "greedy").matches.tolist()
        ([[0, 1], [1, 0]], [[0, 0], [1, 1]])
    """
    cost = checks.shaped(checks.finite(cost, "cost", np.float64), "cost", ("tracks", "detections"))
    max_cost = checks.number_in(max_cost, "max_cost", 0.0, float("inf"))
    checks.one_of(method, "method", METHODS)
    allowed = cost <= max_cost
    if method == "hungarian":
        rows, cols = linear_sum_assignment(np.where(allowed, cost, _FORBIDDEN))
        keep = allowed[rows, cols]
        pairs = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    else:
        pairs, used_rows, used_cols = [], set(), set()
        for flat in np.argsort(cost, axis=None, kind="stable"):
            row, col = divmod(int(flat), cost.shape[1])
            if not allowed[row, col]:
                break  # sorted: every pair left costs more
            if row not in used_rows and col not in used_cols:
                pairs.append((row, col))
                used_rows.add(row)
                used_cols.add(col)
        pairs = np.array(sorted(pairs), np.int64).reshape(-1, 2)
    return Assignment(
        matches=pairs,
        unmatched_tracks=np.setdiff1d(np.arange(cost.shape[0]), pairs[:, 0]).astype(np.int64),
        unmatched_detections=np.setdiff1d(np.arange(cost.shape[1]), pairs[:, 1]).astype(np.int64),
        total_cost=float(cost[pairs[:, 0], pairs[:, 1]].sum()),
    )


def boxes_to_states(boxes) -> np.ndarray:
    """New track states from boxes: centre and size, velocity 0.

    Args:
        boxes: (N, 4) "xyxy" boxes.

    Returns:
        float64 (N, 6) states ``(cx, cy, w, h, vx, vy)``.

    Example:
        >>> boxes_to_states([[0, 0, 10, 20]]).tolist()
        [[5.0, 10.0, 10.0, 20.0, 0.0, 0.0]]
    """
    xyxy = _box_rows(boxes, "boxes").astype(np.float64)
    centre, size = (xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]
    return np.concatenate([centre, size, np.zeros_like(centre)], axis=1)


def predict_states(states) -> np.ndarray:
    """One frame ahead at constant velocity: the centre moves by the velocity, the rest stays.

    Args:
        states: (N, 6) ``(cx, cy, w, h, vx, vy)``.

    Returns:
        float64 (N, 6).

    Example:
        >>> predict_states([[5, 10, 10, 20, 2, -1]]).tolist()
        [[7.0, 9.0, 10.0, 20.0, 2.0, -1.0]]
    """
    states = _states(states)
    predicted = states.copy()
    predicted[:, :2] += states[:, 4:]
    return predicted


def update_states(predicted, boxes, alpha: float = 0.7, beta: float = 0.5) -> np.ndarray:
    """Correct predicted states with their matched boxes (the alpha-beta filter).

    With the residual ``r = z - x_pred`` between the measured centre ``z`` and
    the predicted one: ``x = x_pred + alpha r`` and ``v = v + beta r``; the
    size moves towards the measured size by ``alpha`` of the difference.
    ``alpha = 1, beta = 0`` trusts the detections alone (no smoothing, no
    velocity learned). The defaults 0.7 and 0.5 suit detections that are off
    by a pixel or two: the position mostly follows them, and a new track's
    velocity is learned within two or three frames. With 0.5 and 0.3 the
    filter lagged so far behind objects moving 3-6 px per frame that it made
    as many identity switches as no motion model at all (BENCHMARKS.md,
    chapter 05 tracking).

    Args:
        predicted: (N, 6) states from :func:`predict_states`.
        boxes: (N, 4) "xyxy" boxes, row ``i`` matched to state ``i``.
        alpha: position (and size) gain in [0, 1].
        beta: velocity gain in [0, 1].

    Returns:
        float64 (N, 6) corrected states.

    Example:
        >>> update_states([[7, 9, 10, 20, 2, -1]], [[4, 0, 14, 20]], alpha=0.5, beta=0.5).tolist()
        [[8.0, 9.5, 10.0, 20.0, 3.0, -0.5]]
    """
    predicted = _states(predicted, "predicted")
    measured = boxes_to_states(boxes)
    checks.same_length(("boxes", measured), ("predicted", predicted), why="one matched box per state")
    alpha = checks.number_in(alpha, "alpha", 0.0, 1.0)
    beta = checks.number_in(beta, "beta", 0.0, 1.0)
    residual = measured[:, :2] - predicted[:, :2]
    corrected = predicted.copy()
    corrected[:, :2] += alpha * residual
    corrected[:, 2:4] += alpha * (measured[:, 2:4] - predicted[:, 2:4])
    corrected[:, 4:] += beta * residual
    return corrected


def states_to_boxes(states) -> np.ndarray:
    """The "xyxy" boxes of states.

    Args:
        states: (N, 6) ``(cx, cy, w, h, vx, vy)``.

    Returns:
        float32 (N, 4).

    Example:
        >>> states_to_boxes([[5, 10, 10, 20, 2, -1]]).tolist()
        [[0.0, 0.0, 10.0, 20.0]]
    """
    states = _states(states)
    half = states[:, 2:4] / 2
    return np.concatenate([states[:, :2] - half, states[:, :2] + half], axis=1).astype(np.float32)


def track_detections(detections, iou_threshold: float = 0.3, method: str = "hungarian",
                     motion: str = "constant_velocity", min_hits: int = 2, max_age: int = 3,
                     alpha: float = 0.7, beta: float = 0.5) -> Tracks:
    """Link per-frame detections into tracks, SORT-style.

    Each frame: predict every live track's box (``motion``), match the
    predictions to the detections (:func:`associate` on :func:`iou_cost`, the
    gate ``IoU >= iou_threshold``), correct the matched tracks with their boxes
    (:func:`update_states`), start a track for each unmatched detection, and
    drop the tracks unmatched for more than ``max_age`` frames. A track is
    reported in the frames where it is matched, once it has been matched
    ``min_hits`` times (a lone false positive never is; an object's first
    ``min_hits - 1`` frames are misses).

    Args:
        detections: one (K_t, 4) "xyxy" array per frame, or a
            :class:`homl_cv.boxes.Detections` / list of dicts with ``"boxes"``.
        iou_threshold: the least IoU of an allowed (track, detection) pair.
        method: the association, one of :data:`METHODS`.
        motion: ``"constant_velocity"`` (the alpha-beta filter) or ``"none"``
            (a track's box is its last matched detection).
        min_hits: matches before a track is reported, >= 1.
        max_age: frames a track survives without a match, >= 0.
        alpha, beta: the filter's gains (:func:`update_states`).

    Returns:
        :class:`Tracks`: per frame, the reported boxes (the corrected states)
        and their track ids (0, 1, ... in order of birth).

    Example:
        >>> frames = [np.array([[0., 0, 10, 10]]), np.array([[3., 0, 13, 10], [40, 40, 50, 50]])]
        >>> [ids.tolist() for ids in track_detections(frames, min_hits=1).ids]
        [[0], [0, 1]]
    """
    frames = _detection_frames(detections)
    iou_threshold = checks.number_in(iou_threshold, "iou_threshold", 0.0, 1.0)
    checks.one_of(method, "method", METHODS)
    checks.one_of(motion, "motion", MOTIONS)
    min_hits = checks.positive_int(min_hits, "min_hits")
    max_age = checks.int_at_least(max_age, "max_age", 0, "frames a track may go unmatched")
    checks.number_in(alpha, "alpha", 0.0, 1.0)
    checks.number_in(beta, "beta", 0.0, 1.0)
    if motion == "none":
        alpha, beta = 1.0, 0.0  # the state is the last box, its velocity stays 0
    states, ids, hits, misses = np.zeros((0, 6)), np.zeros(0, np.int64), np.zeros(0, int), np.zeros(0, int)
    next_id, out_boxes, out_ids = 0, [], []
    for found in frames:
        states = predict_states(states)
        match = associate(iou_cost(states_to_boxes(states), found), 1.0 - iou_threshold, method)
        rows, cols = match.matches[:, 0], match.matches[:, 1]
        states[rows] = update_states(states[rows], found[cols], alpha, beta)
        hits[rows] += 1
        misses += 1
        misses[rows] = 0
        shown = rows[hits[rows] >= min_hits]
        out_boxes.append(states_to_boxes(states[shown]))
        out_ids.append(ids[shown].copy())
        born = match.unmatched_detections
        states = np.concatenate([states, boxes_to_states(found[born])])
        ids = np.concatenate([ids, np.arange(next_id, next_id + len(born))])
        hits = np.concatenate([hits, np.ones(len(born), int)])
        misses = np.concatenate([misses, np.zeros(len(born), int)])
        next_id += len(born)
        if min_hits == 1 and len(born):  # reported from their first frame
            out_boxes[-1] = np.concatenate([out_boxes[-1], states_to_boxes(states[-len(born):])])
            out_ids[-1] = np.concatenate([out_ids[-1], ids[-len(born):]])
        alive = misses <= max_age
        states, ids, hits, misses = states[alive], ids[alive], hits[alive], misses[alive]
    return Tracks(out_boxes, out_ids)


def evaluate_tracking(truth, predicted, iou_threshold: float = 0.5) -> TrackingScores:
    """Misses, false positives, identity switches and MOTA, with the CLEAR MOT matching.

    Frame by frame: a true object keeps the track it was matched to last if
    that track is still there with IoU >= ``iou_threshold``; the remaining
    true and track boxes are matched by the Hungarian algorithm on ``1 - IoU``
    (pairs below the threshold forbidden). A true object matched to another
    track id than its last one is an **identity switch**; unmatched true boxes
    are misses, unmatched track boxes false positives, and
    ``MOTA = 1 - (FN + FP + IDSW) / GT``.

    Args:
        truth: per frame, true boxes and ids: anything with ``boxes`` (T
            arrays (G_t, 4), or an array (T, G, 4)) and ``ids`` (T arrays
            (G_t,)), e.g. :class:`Tracks` or a ``data.MovingShapes`` clip.
        predicted: the same for the tracker's output (:class:`Tracks`).
        iou_threshold: the least IoU of a match, in (0, 1].

    Returns:
        A :class:`TrackingScores`.

    Example:
        >>> truth = Tracks([np.array([[0., 0, 10, 10]])] * 2, [np.array([7])] * 2)
        >>> swapped = Tracks(truth.boxes, [np.array([0]), np.array([1])])
        >>> scores = evaluate_tracking(truth, swapped)
        >>> scores.id_switches, scores.mota
        (1, 0.5)
    """
    truth_boxes, truth_ids = _frames_of(truth, "truth")
    pred_boxes, pred_ids = _frames_of(predicted, "predicted")
    checks.same_length(("truth's frames", truth_boxes), ("predicted's frames", pred_boxes),
                       why="track the same clip that the truth describes")
    iou_threshold = checks.number_in(iou_threshold, "iou_threshold", 0.0, 1.0, low_open=True)
    last = {}  # true id -> the track id it was last matched to
    misses = false_positives = switches = num_truth = matched = 0
    for g_boxes, g_ids, p_boxes, p_ids in zip(truth_boxes, truth_ids, pred_boxes, pred_ids):
        iou = 1.0 - iou_cost(g_boxes, p_boxes)
        pairs = []
        for g, gid in enumerate(g_ids.tolist()):  # keep last frame's correspondences that still hold
            if gid in last and last[gid] in p_ids.tolist():
                p = p_ids.tolist().index(last[gid])
                if iou[g, p] >= iou_threshold and p not in (q for _, q in pairs):
                    pairs.append((g, p))
        free_g = [g for g in range(len(g_ids)) if g not in {a for a, _ in pairs}]
        free_p = [p for p in range(len(p_ids)) if p not in {b for _, b in pairs}]
        if free_g and free_p:
            sub = associate(1.0 - iou[np.ix_(free_g, free_p)], 1.0 - iou_threshold, "hungarian")
            for a, b in sub.matches.tolist():
                g, p = free_g[a], free_p[b]
                gid, pid = int(g_ids[g]), int(p_ids[p])
                switches += gid in last and last[gid] != pid
                pairs.append((g, p))
        for g, p in pairs:
            last[int(g_ids[g])] = int(p_ids[p])
        num_truth += len(g_ids)
        matched += len(pairs)
        misses += len(g_ids) - len(pairs)
        false_positives += len(p_ids) - len(pairs)
    mota = 1.0 - (misses + false_positives + switches) / num_truth if num_truth else float("nan")
    return TrackingScores(int(misses), int(false_positives), int(switches), int(num_truth), int(matched),
                          float(mota))


def pooled(scores) -> TrackingScores:
    """The scores of several clips as one: counts added, MOTA over all their true boxes.

    Example:
        >>> a, b = TrackingScores(1, 0, 1, 10, 9, 0.8), TrackingScores(0, 2, 0, 10, 10, 0.8)
        >>> pooled([a, b]).mota
        0.8
    """
    counts = [f.name for f in dataclasses.fields(TrackingScores) if f.name != "mota"]
    scores = checks.non_empty(list(scores), "scores", "TrackingScores from evaluate_tracking")
    for item in scores:
        checks.has_attributes(item, "scores' items", counts, "TrackingScores from evaluate_tracking")
    total = {name: sum(getattr(s, name) for s in scores) for name in counts}
    errors = total["misses"] + total["false_positives"] + total["id_switches"]
    return TrackingScores(**total, mota=1.0 - errors / total["num_truth"] if total["num_truth"] else float("nan"))


def _box_rows(boxes, name: str) -> np.ndarray:
    arr = boxes_lib.validate_boxes(np.asarray(boxes, np.float32).reshape(-1, 4) if np.size(boxes) == 0
                                   else boxes, name=name)
    return checks.shaped(arr, name, ("N", 4), "the boxes of one frame")


def _states(states, name: str = "states") -> np.ndarray:
    arr = checks.finite(states, name, np.float64)
    if arr.size == 0:
        return arr.reshape(0, 6)
    return checks.shaped(arr, name, ("N", 6), "track states (cx, cy, w, h, vx, vy)")


def _detection_frames(detections) -> list:
    if isinstance(detections, boxes_lib.Detections):
        detections = detections.predictions
    if isinstance(detections, np.ndarray):
        checks.shaped(detections, "detections", ("frames", "K", 4), "one (K, 4) array per frame")
    try:
        frames = list(detections)
    except TypeError:
        raise ValueError(f"detections must be a sequence of per-frame (K, 4) boxes; got "
                         f"{type(detections).__name__}.") from None
    return [_box_rows(f["boxes"] if isinstance(f, dict) else f, f"detections[{t}]") for t, f in enumerate(frames)]


def _frames_of(tracks, name: str) -> tuple:
    checks.has_attributes(tracks, name, ("boxes", "ids"), "per frame: a tracking.Tracks or a data.MovingShapes clip")
    frame_boxes = [_box_rows(b, f"{name}.boxes[{t}]") for t, b in enumerate(tracks.boxes)]
    frame_ids = [np.asarray(i).reshape(-1).astype(np.int64) for i in tracks.ids]
    checks.same_length((f"{name}.boxes", frame_boxes), (f"{name}.ids", frame_ids), why="one entry per frame")
    for t, (b, i) in enumerate(zip(frame_boxes, frame_ids)):
        checks.same_length((f"{name}.boxes[{t}]", b), (f"{name}.ids[{t}]", i), why="one id per box")
        checks.unique(i.tolist(), f"{name}.ids[{t}]", "one id per object in a frame")
    return frame_boxes, frame_ids
