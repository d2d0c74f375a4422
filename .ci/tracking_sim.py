"""Chapter 05's trackers on simulated detections of its clips: no TensorFlow, the same on every CPU.

    PYTHONPATH=. python .ci/tracking_sim.py

The ten clips of chapter 05 (``data.make_moving_shapes``, seeds 0-9), at the chapter's speeds (1.5-3 px
per frame) and at 3-5 and 4-6 px per frame (what halving the frame rate does). The detections are the true
boxes with Gaussian noise (``sigma`` pixels); each box is dropped at random (``drop``), and every
object hidden behind one drawn after it (box IoU > ``hide``) is dropped too (``data.simulated_detections``).
Prints, per setting,
the pooled (misses, false positives, identity switches, MOTA) of the four trackers of the chapter and of
SORT with the old filter gains
(BENCHMARKS.md, chapter 05 tracking).
"""
from homl_cv import data, tracking

TRACKERS = {"sort": dict(), "greedy": dict(method="greedy", motion="none"),
            "hung_last": dict(motion="none"), "greedy_vel": dict(method="greedy"),
            "sort_0.5_0.3": dict(alpha=0.5, beta=0.3)}  # the filter gains before 2026-12-07
SPEEDS = [(1.5, 3.0), (3.0, 5.0), (4.0, 6.0)]  # pixels per frame
SETTINGS = [(1.0, 0.3, 0.1), (2.0, 0.3, 0.1), (2.0, 0.3, 0.2)]  # sigma, hide, drop


def main():
    for speed in SPEEDS:
        clips = [data.make_moving_shapes(36, num_objects=3, image_size=64, speed_range=speed, seed=k)
                 for k in range(10)]
        for sigma, hide, drop in SETTINGS:
            detections = [data.simulated_detections(clip, k, sigma=sigma, drop=drop, hide=hide)
                          for k, clip in enumerate(clips)]
            results = {}
            for name, options in TRACKERS.items():
                tracks = [tracking.track_detections(d, **options) for d in detections]
                s = tracking.pooled(tracking.evaluate_tracking(c, t) for c, t in zip(clips, tracks))
                results[name] = (s.misses, s.false_positives, s.id_switches, round(s.mota, 3))
            print(speed, sigma, hide, drop, results)


if __name__ == "__main__":
    main()
