"""Mutation check: plant realistic one-line bugs, one at a time, and see the fast tests catch them.

Each mutant replaces one snippet of a package file (it must occur exactly once,
or the mutant is reported stale) in a copy of the repository, then runs the
fast test files named for it. A mutant is *killed* when those tests fail. The
kill rate goes in BENCHMARKS.md; the bar is 90 %.

    python tests/mutation_check.py            # all mutants
    python tests/mutation_check.py nms yolo   # mutants whose name contains a word

Not collected by pytest (the file name does not start with ``test_``): it runs
many test sessions, a few minutes in all, so it is a maintainer's tool, run
after changing the tested code.

Kept beside mutmut (``tests/mutmut_run.py``, issue 23) because it plants bugs
mutmut does not make: mutmut changes one token at a time (an operator, a
constant by one, a string, an argument dropped or set to None), while these are
the multi-token mistakes people make in this math (a factor dropped from a
product, a mask added to a mean, half of a symmetric loss left out, ``+ 1``
inside an expression), each named by the bug it stands for.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # under homl_cv/
    old: str
    new: str
    tests: tuple  # test files (or node ids) expected to catch it


MUTANTS = (
    # --- boxes
    Mutant("iou off by one (inclusive pixels)", "boxes.py",
           "np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)",
           "np.prod(np.clip(bottom_right - top_left + 1, 0, None), axis=-1)", ("tests/test_boxes.py",)),
    Mutant("nms keeps a score equal to the threshold", "boxes.py",
           "if scores[i] > score_threshold]", "if scores[i] >= score_threshold]", ("tests/test_detection.py",)),
    Mutant("nms suppresses at iou equal to the threshold", "boxes.py",
           "not (s and o > iou_threshold)", "not (s and o >= iou_threshold)", ("tests/test_detection.py",)),
    # --- detection (05)
    Mutant("yolo decoding scores by objectness alone", "detection.py",
           "scores = _sigmoid(raw[..., 4]) * class_probs.max(axis=-1)", "scores = _sigmoid(raw[..., 4])",
           ("tests/test_detection.py",)),
    Mutant("yolo loss weights the object slots as empty ones", "detection.py",
           "obj_bce * (obj + self.noobj_weight * (1.0 - obj))", "obj_bce * self.noobj_weight",
           ("tests/test_detection.py",)),
    Mutant("ap recall levels not rounded (exact hits missed)", "detection.py",
           "levels = np.round(np.linspace(0.0, 1.0, recall_points), 10)",
           "levels = np.linspace(0.0, 1.0, recall_points)", ("tests/test_detection.py",)),
    Mutant("map counts every detection (no per-image/class cap)", "detection.py",
           'order = np.argsort(-ps[mine], kind="mergesort")[:max_detections]',
           'order = np.argsort(-ps[mine], kind="mergesort")', ("tests/test_detection.py",)),
    Mutant("window labels from a lower IoU", "detection.py",
           "label = np.where(overlap.max(axis=1) >= min_iou", "label = np.where(overlap.max(axis=1) > min_iou - 0.1",
           ("tests/test_detection.py",)),
    # --- rcnn, ssd (05)
    Mutant("roi pooling rounds half to even", "rcnn.py",
           "np.floor(rois * spatial_scale + 0.5)", "np.round(rois * spatial_scale)", ("tests/test_rcnn.py",)),
    Mutant("rpn labels forget each box's best anchor", "rcnn.py",
           "            labels[winners] = 1", "            pass", ("tests/test_rcnn.py",)),
    Mutant("roialign samples bin corners", "regions.py",
           "ys = y1 + (np.arange(ph * r) + 0.5) * (y2 - y1) / (ph * r) - 0.5",
           "ys = y1 + np.arange(ph * r) * (y2 - y1) / (ph * r) - 0.5", ("tests/test_regions.py",)),
    Mutant("roialign (tf) reads zero just outside the map", "regions.py",
           'padded = tf.pad(features, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")',
           'padded = tf.pad(features, [[0, 0], [1, 1], [1, 1], [0, 0]])', ("tests/test_regions.py",)),
    Mutant("box deltas not divided by the anchor size", "boxes.py",
           "tx = ((b[..., 0] + b[..., 2]) - (a[..., 0] + a[..., 2])) / 2 / aw",
           "tx = ((b[..., 0] + b[..., 2]) - (a[..., 0] + a[..., 2])) / 2", ("tests/test_boxes.py",)),
    Mutant("ssd matching forgets each box's best default box", "ssd.py",
           "            matched[int(overlaps[:, m].argmax())] = m", "            pass", ("tests/test_ssd.py",)),
    # --- interpret, segmentation, localization, clip, distribute
    Mutant("peak counts inside a box on its x-range or its y-range", "interpret.py",
           "(x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])",
           "((x >= boxes[:, 0]) & (x < boxes[:, 2])) | ((y >= boxes[:, 1]) & (y < boxes[:, 3]))",
           ("tests/test_interpret.py",)),
    Mutant("pixel accuracy over foreground pixels only", "segmentation.py",
           "pixel_accuracy=float(np.mean(y_true == y_pred))",
           "pixel_accuracy=float(np.mean((y_true == y_pred)[y_true > 0]))", ("tests/test_segmentation.py",)),
    Mutant("box encoding without the square root", "localization.py",
           "np.concatenate([centers, np.sqrt(sizes)], axis=1)", "np.concatenate([centers, sizes], axis=1)",
           ("tests/test_localization.py",)),
    Mutant("InfoNCE in one direction only", "clip.py",
           "return (keras.ops.mean(image_to_text) + keras.ops.mean(text_to_image)) / 2",
           "return keras.ops.mean(image_to_text)", ("tests/test_clip.py",)),
    Mutant("global batch forgets the replicas", "distribute.py",
           "return per_replica_batch * count", "return per_replica_batch", ("tests/test_distribute.py",)),
    # --- conv
    Mutant("same output size uses floor", "conv.py",
           "return -(-n // stride)", "return n // stride", ("tests/test_conv.py",)),
    Mutant("conv params forget the bias", "conv.py",
           "(kh * kw * c_in + int(bool(bias))) * c_out", "(kh * kw * c_in) * c_out", ("tests/test_conv.py",)),
    # --- checks
    Mutant("integers accept bools", "checks.py",
           "and not isinstance(value, (bool, np.bool_))", "", ("tests/test_checks.py",)),
    # --- claims
    Mutant("claim lower bound not inclusive", "claims.py",
           "if value < at_least:", "if value <= at_least:", ("tests/test_claims.py",)),
    Mutant("claim near ignores the tolerance", "claims.py",
           "if abs(value - near_f) > tol_f:", "if abs(value - near_f) > 10 * tol_f:", ("tests/test_claims.py",)),
    Mutant("claim checks the quick bound in full mode", "claims.py",
           "    elif full is None:\n", "    elif full is None and False:\n", ("tests/test_claims.py",)),
    Mutant("claim raises on a published figure", "claims.py",
           "        _show_published(name, value, fmt, full)\n        return value\n",
           "        bound = full\n", ("tests/test_claims.py",)),
    Mutant("claim in full mode ignores the measured full bound", "claims.py",
           "    else:\n        bound = full\n", "    else:\n        bound = Bound(at_least=at_least, at_most=at_most)\n",
           ("tests/test_claims.py",)),
    # --- exercises
    Mutant("checker ignores the tolerance", "exercises.py",
           "rtol=self.rtol", "rtol=0.5", ("tests/test_exercises.py",)),
    # --- data
    Mutant("expect_dataset label range off by one", "data.py",
           "if low < 0 or high >= count:", "if low < 0 or high > count:", ("tests/test_data.py",)),
    Mutant("expect_dataset ignores mask values", "data.py",
           "if not found <= allowed:", "if not found >= allowed:", ("tests/test_data.py",)),
    Mutant("shapes colour tied to the class", "data.py",
           "color_id, fill = int(rng.integers(len(COLOR_NAMES))), int(rng.integers(len(FILL_NAMES)))",
           "color_id, fill = cls, int(rng.integers(len(FILL_NAMES)))", ("tests/test_data.py",)),
    Mutant("shapes box not tight", "data.py",
           "cols.max() + 1, rows.max() + 1]", "cols.max() + 2, rows.max() + 1]", ("tests/test_boxes.py", "tests/test_data.py")),
)


def _copy_tree(dest: Path) -> None:
    for name in ("homl_cv", "tests"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, dest / name)


def run_mutant(mutant: Mutant, tree: Path, timeout: int = 900) -> str:
    """Apply ``mutant`` in ``tree``, run its tests, restore. Returns killed/survived/stale/timeout."""
    path = tree / "homl_cv" / mutant.file
    original = path.read_text(encoding="utf-8")
    if original.count(mutant.old) != 1:
        return "stale"
    path.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(tree), HOML_CV_QUICK="1", HOML_CV_OFFLINE="1",
               TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider",
               "-o", "addopts=", *mutant.tests]
    try:
        result = subprocess.run(command, cwd=tree, env=env, capture_output=True, timeout=timeout)
        return "killed" if result.returncode != 0 else "survived"
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        path.write_text(original, encoding="utf-8")


def main(argv=None) -> int:
    words = (argv if argv is not None else sys.argv[1:])
    chosen = [m for m in MUTANTS if not words or any(w in m.name for w in words)]
    if not chosen:
        print(f"No mutant matches {words}; names: " + "; ".join(m.name for m in MUTANTS))
        return 2
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        for mutant in chosen:
            start = time.perf_counter()
            outcome = run_mutant(mutant, tree)
            counts[outcome] = counts.get(outcome, 0) + 1
            print(f"{outcome:9} {time.perf_counter() - start:6.1f}s  {mutant.name}", flush=True)
    valid = sum(v for k, v in counts.items() if k != "stale")
    killed = counts.get("killed", 0)
    rate = killed / valid if valid else 0.0
    print(f"killed {killed} of {valid} mutants ({rate:.0%}); stale {counts.get('stale', 0)}")
    return 0 if counts.get("stale", 0) == 0 and rate >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
