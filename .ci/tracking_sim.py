"""Chapter 05's trackers on simulated detections of its clips: no TensorFlow, the same on every CPU.

    PYTHONPATH=. python .ci/tracking_sim.py

The ten clips of chapter 05 (``data.make_moving_shapes``, seeds 0-9), at the chapter's speeds (1.5-3 px
per frame) and at 3-5 and 4-6 px per frame (what halving the frame rate does). The detections are the true
boxes with Gaussian noise (``sigma`` pixels); each box is dropped at random (``drop``), and every
object hidden behind one drawn after it (box IoU > ``hide``) is dropped too. Prints, per setting,
the pooled (misses, false positives, identity switches, MOTA) of the four trackers of the chapter and of
SORT with the old filter gains
(BENCHMARKS.md, chapter 05 tracking).
"""
import numpy as np

from homl_cv import boxes, data, tracking

TRACKERS = {"sort": dict(), "greedy": dict(method="greedy", motion="none"),
            "hung_last": dict(motion="none"), "greedy_vel": dict(method="greedy"),
            "sort_0.5_0.3": dict(alpha=0.5, beta=0.3)}  # the filter gains before 2026-12-07
SPEEDS = [(1.5, 3.0), (3.0, 5.0), (4.0, 6.0)]  # pixels per frame
SETTINGS = [(1.0, 0.3, 0.1), (2.0, 0.3, 0.1), (2.0, 0.3, 0.2)]  # sigma, hide, drop


def simulated(clip, seed, sigma, hide, drop):
    """Per frame, the (K, 4) boxes a detector with these errors would give."""
    rng = np.random.default_rng(seed)
    out = []
    for frame_boxes in clip.boxes:
        overlap = np.triu(boxes.iou(frame_boxes, frame_boxes), 1)  # [k, j]: k is drawn before j
        keep = (rng.random(len(frame_boxes)) >= drop) & ~(overlap > hide).any(axis=1)
        noisy = frame_boxes + rng.normal(0, sigma, frame_boxes.shape)
        out.append(noisy.astype(np.float32)[keep])
    return out


def main():
    for speed in SPEEDS:
        clips = [data.make_moving_shapes(36, num_objects=3, image_size=64, speed_range=speed, seed=k)
                 for k in range(10)]
        for sigma, hide, drop in SETTINGS:
            detections = [simulated(clip, k, sigma, hide, drop) for k, clip in enumerate(clips)]
            results = {}
            for name, options in TRACKERS.items():
                tracks = [tracking.track_detections(d, **options) for d in detections]
                s = tracking.pooled(tracking.evaluate_tracking(c, t) for c, t in zip(clips, tracks))
                results[name] = (s.misses, s.false_positives, s.id_switches, round(s.mota, 3))
            print(speed, sigma, hide, drop, results)


if __name__ == "__main__":
    main()
