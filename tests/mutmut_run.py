"""Mutation testing with mutmut 3, one module at a time (issue 23).

    pip install "mutmut>=3.8,<4"                  # or: pip install -e ".[mutation]"
    python tests/mutmut_run.py segmentation         # mutate homl_cv/segmentation.py, run tests/test_segmentation.py
    python tests/mutmut_run.py segmentation run --survivors   # re-run the survivors (after new tests)
    python tests/mutmut_run.py --table segmentation instances   # BENCHMARKS.md's table
    python tests/mutmut_run.py segmentation results # then mutmut's own sub-commands: results, show NAME, browse
    python tests/mutmut_run.py segmentation show homl_cv.segmentation.x_dice__mutmut_3

The settings shared by all modules are in pyproject.toml, ``[tool.mutmut]``. This
script adds the per-module ones (mutmut's config has no per-module form):
``only_mutate`` is ``homl_cv/MODULE.py`` and the tests are ``tests/test_MODULE.py``
(minus the node ids in :data:`DESELECT`). Each module runs in its own directory,
``mutants/MODULE/`` (git-ignored), which links to the repository's ``homl_cv``,
``tests``, ``conftest.py`` and ``pyproject.toml``, so that one module's results and
mutmut's cache survive a run of another. mutmut runs each mutant against only the
tests that call the mutated function (its stats run records them), in one worker
process (``--max-children 1``; pass ``--max-children N`` after ``run`` for more).
``run`` without mutant names runs the mutants that have no result yet (an
interrupted run resumes), ``run --all`` all of them, ``run --survivors`` the
survivors.

Not collected by pytest and not run in CI: a full pass takes minutes per module.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Tests that only build or train Keras models: slow under mutmut's per-mutant runs and
# not about the module's formulas. Deselected from the mutation run (they still run in CI).
DESELECT: dict[str, tuple[str, ...]] = {}

# Functions not mutated (``run`` without mutant names runs every other function's mutants):
# the ones that only build, compile or train Keras models, load or generate data, or plot.
# Their mutants change layer counts, names, epochs and the like, which the fast tests check
# by shape at most; the chapters' claims test them end to end. ("Class.method" for methods.)
SKIP: dict[str, tuple[str, ...]] = {
    "segmentation": ("build_fcn", "build_unet", "_conv_block", "_upsample", "train_segmentation",
                     "load_segmentation_data", "shapes_segmentation_splits", "dataset_arrays"),
    "instances": ("build_mask_head", "train_mask_head"),
    "superres": ("make_superres_pairs", "build_subpixel_upsampler", "train_superres"),
    "localization": ("build_localizer", "compile_localizer", "train_localizer"),
}


# Surviving mutants that no test can kill: the program does the same for every input the
# function accepts. Name (as mutmut shows it, after "homl_cv.") -> why.
_NEG = "NumPy's reshape takes any negative size as 'infer', so -2 is -1"
_EMPTY_RANGE = ("an empty row or column range pastes nothing either way; the check only skips the work")
EQUIVALENT: dict[str, str] = {
    # regions
    "regions.x_roi_align_numpy__mutmut_5": "every sample is a product with the float64 interpolation weights, so a "
                                           "float32 or integer map is promoted exactly either way",
    "regions.x_roi_align_numpy__mutmut_7": "as x_roi_align_numpy__mutmut_5",
    "regions.x_roi_align_numpy__mutmut_34": "astype(None) is float64, the type it names",
    "regions.x_roi_align_numpy__mutmut_79": _NEG,
    "regions.x_roi_align__mutmut_23": "tf.zeros' default dtype is float32, the one named",
    "regions.x__crop__mutmut_14": "the mirrored image padded after the batch is never read: box indices are "
                                  "checked to be below the batch size (the layer makes them from range(batch))",
    "regions.x__crop__mutmut_22": "tf.pad reads its mode case-insensitively: 'symmetric' is 'SYMMETRIC'",
    "regions.x__crop__mutmut_49": "crop_and_resize's method defaults to 'bilinear', and None is read as the default",
    "regions.x__crop__mutmut_54": "crop_and_resize's method defaults to 'bilinear', the one named",
    "regions.xǁRoiAlignǁbuild__mutmut_14": "Keras wraps build and sets built = True once it returns",
    "regions.xǁRoiAlignǁbuild__mutmut_15": "Keras wraps build and sets built = True once it returns",
    # boxes
    "boxes.x_convert__mutmut_8": "np.zeros(4) is a valid box in every format: only the format check can raise, "
                                 "and its message names box_format, not the box",
    "boxes.x_convert__mutmut_11": "as x_convert__mutmut_8",
    "boxes.x_convert__mutmut_14": "as x_convert__mutmut_8",
    "boxes.x_convert__mutmut_15": "as x_convert__mutmut_8",
    "boxes.x_convert__mutmut_29": "np.ones' default dtype is float64, the type it names",
    "boxes.x_convert__mutmut_31": "np.ones' default dtype is float64, the type it names",
    "boxes.x_convert__mutmut_28": "np.ones(None, float64) is a 0-d 1.0, which scales the corners like four ones",
    "boxes.x_encode_deltas__mutmut_49": "dtype=None keeps the float64 sizes as they are: the float64 that was named",
    "boxes.x_encode_deltas__mutmut_63": "as x_encode_deltas__mutmut_49",
    "boxes.x_convert__mutmut_43": "astype(None) is float64, the type it names",
    "boxes.x_paired_iou__mutmut_5": "validate_boxes converts the boxes to float32 itself (the shape check before "
                                    "it does not depend on the dtype)",
    "boxes.x_paired_iou__mutmut_7": "as x_paired_iou__mutmut_5",
    "boxes.x_paired_iou__mutmut_10": "as x_paired_iou__mutmut_5",
    "boxes.x_paired_iou__mutmut_12": "as x_paired_iou__mutmut_5",
    "boxes.x_non_max_suppression__mutmut_14": "validate_boxes' name defaults to 'boxes', the name passed",
    "boxes.x_non_max_suppression__mutmut_109": "NumPy reads sort kinds case-insensitively: 'STABLE' is 'stable'",
    "boxes.x_non_max_suppression__mutmut_129": "float ones are as true as True in `s and o > iou_threshold`",
    "boxes.x_non_max_suppression__mutmut_131": "float ones are as true as True in `s and o > iou_threshold`",
    "boxes.x_validate_sizes__mutmut_6": "positive_values converts the sizes to float32 itself",
    "boxes.x_validate_sizes__mutmut_11": "positive_values converts the sizes to float32 itself",
    "boxes.x_kmeans_anchors__mutmut_1": "one more step allowed: only a run still moving after 100 steps could show "
                                        "it (k-means on medians settles in a few steps; none found)",
    "boxes.x_kmeans_anchors__mutmut_52": "'' is not None either, and no assignment equals it: the first step runs "
                                         "either way",
    "boxes.x_kmeans_anchors__mutmut_62": "never stopping early: once the assignment repeats, each further step "
                                         "recomputes the same medians (stopping only saves work)",
    "boxes.x_kmeans_anchors__mutmut_63": "as x_kmeans_anchors__mutmut_62",
    "boxes.x_kmeans_anchors__mutmut_64": "as x_kmeans_anchors__mutmut_62",
    "boxes.x__broadcast_iou__mutmut_29": "the divisor put in for a zero union is never read: np.where picks 0.0 "
                                         "there",
    "boxes.x_intersection__mutmut_21": _NEG,
    "boxes.x_intersection__mutmut_41": _NEG,
    "boxes.x_paired_iou__mutmut_39": _NEG,
    "boxes.x_paired_iou__mutmut_59": _NEG,
    "boxes.x_iou__mutmut_21": _NEG,
    "boxes.x_iou__mutmut_41": _NEG,
    "boxes.x__broadcast_iou__mutmut_18": "a zero union has a zero intersection: 0 / 1 is the 0.0 the other "
                                         "branch gives",
    # ssd
    "ssd.x_match_default_boxes__mutmut_14": "validate_boxes converts the defaults to float32 itself",
    "ssd.x_match_default_boxes__mutmut_16": "validate_boxes converts the defaults to float32 itself",
    "ssd.x_match_default_boxes__mutmut_18": _NEG,
    "ssd.x_match_default_boxes__mutmut_36": _NEG,
    "ssd.x_match_default_boxes__mutmut_42": _NEG,
    "ssd.x_match_default_boxes__mutmut_78": "np.full(n, -1) is int64 already (NumPy 2's default integer)",
    "ssd.x_match_default_boxes__mutmut_81": "np.full(n, -1) is int64 already (NumPy 2's default integer)",
    "ssd.x_match_default_boxes__mutmut_105": "NumPy reads sort kinds case-insensitively: 'STABLE' is 'stable'",
    "ssd.x_match_default_boxes__mutmut_127": "with no true box every default is background: the value for a match "
                                             "is never picked",
    "ssd.x_default_boxes__mutmut_86": _NEG,
    "ssd.x_default_boxes__mutmut_107": _NEG,
    "ssd.x__ratios_per_map__mutmut_23": _NEG,
    # localization
    "localization.xǁMeanBoxIoUǁupdate_state__mutmut_8": "ops.cast(x, None) keeps the dtype; float64 boxes "
                                                        "against float32 ones are promoted, the same IoU",
    "localization.xǁMeanBoxIoUǁupdate_state__mutmut_19": "as xǁMeanBoxIoUǁupdate_state__mutmut_8",
    "localization.xǁMeanBoxIoUǁupdate_state__mutmut_45": "for the (B, 4) boxes the metric takes, the corner "
                                                         "differences are (B, 2): axis 1 is axis -1",
    "localization.xǁMeanBoxIoUǁupdate_state__mutmut_68": "a zero union has a zero intersection: 0 / 1e-12 is the "
                                                         "0.0 the other branch gives",
    "localization.x__decode_boxes__mutmut_21": "both callers pass (N, 4) boxes: stacking (N,) columns on axis "
                                               "1 is axis -1",
    "localization.x_encode_boxes__mutmut_11": "validate_boxes' box_format defaults to 'xyxy'",
    "localization.x_encode_boxes__mutmut_16": _NEG,
    "localization.x_encode_boxes__mutmut_21": "dividing by float64 sizes instead of float32 ones changes only the "
                                              "rounding before the float32 result (at most 1 ulp)",
    "localization.x_encode_boxes__mutmut_23": "as x_encode_boxes__mutmut_21",
    "localization.x_decode_boxes__mutmut_3": "float64 instead of float32 arithmetic; the result is cast to "
                                             "float32 (at most 1 ulp apart)",
    "localization.x_decode_boxes__mutmut_5": "as x_decode_boxes__mutmut_3",
    "localization.x_decode_boxes__mutmut_16": "as x_decode_boxes__mutmut_3",
    "localization.x_decode_boxes__mutmut_18": "as x_decode_boxes__mutmut_3",
    # superres
    "superres.x_evaluate_superres__mutmut_10": "predict's batch size does not change a per-image model's output",
    "superres.x_evaluate_superres__mutmut_13": "predict's batch size does not change a per-image model's output",
    "superres.x_evaluate_superres__mutmut_15": "predict's batch size does not change a per-image model's output",
    "superres.x_evaluate_superres__mutmut_11": "Keras' predict treats verbose=None as 0 (no progress bar; "
                                               "verbose left out, 'auto', prints one and is killed)",
    "superres.x_psnr__mutmut_4": "the other image stays float64, so the difference is float64 anyway",
    "superres.x_psnr__mutmut_6": "the other image stays float64, so the difference is float64 anyway",
    "superres.x_psnr__mutmut_8": "the other image stays float64, so the difference is float64 anyway",
    "superres.x_psnr__mutmut_10": "the other image stays float64, so the difference is float64 anyway",
    "superres.x_bicubic_upsample__mutmut_4": "tf.image.resize computes bicubic in float32 and returns float32 "
                                             "for any input dtype (same values, tested by hand)",
    "superres.x_bicubic_upsample__mutmut_6": "as x_bicubic_upsample__mutmut_4",
    # segmentation
    "segmentation.x__dice_from_counts__mutmut_2": "astype(None) is float64, the type it names",
    "segmentation.x__dice_from_counts__mutmut_11": "no division by zero can happen (2 * inter <= total), only 0/0",
    "segmentation.x__dice_from_counts__mutmut_13": "no division by zero can happen (2 * inter <= total), only 0/0",
    "segmentation.x__dice_from_counts__mutmut_24": "total >= 0 lets 0/0 through, which is NaN, the value the "
                                                   "test put there (the 0/0 warning is silenced)",
    "segmentation.x__crop_start__mutmut_2": "with 'valid' padding the formula gives 0 too: out >= (n - 1) s + k",
    "segmentation.x__crop_start__mutmut_3": "with 'valid' padding the formula gives 0 too: out >= (n - 1) s + k",
    "segmentation.x__crop_start__mutmut_15": "max(x, 1) // 2 == max(x, 0) // 2 for every integer x",
    "segmentation.x_conv_transpose_zero_insertion__mutmut_3": "checks.padding reads the padding "
                                                              "case-insensitively: 'VALID' is 'valid'",
    "segmentation.x_conv_transpose_zero_insertion__mutmut_79": "pad_bottom is never negative (it is s - 1 + top, "
                                                               "k + p - 1 or k - 2 (k // 2) + p - 1 + top >= 0), so "
                                                               "the crop subtracts 0 either way",
    "segmentation.x_conv_transpose_zero_insertion__mutmut_93": "as __mutmut_79, for pad_right",
    "segmentation.x_conv_transpose_zero_insertion__mutmut_120": "tf.nn.conv2d takes strides=None as stride 1",
    "segmentation.x__iou_from_counts__mutmut_2": "astype(None) is float64, the type it names",
    "segmentation.x__iou_from_counts__mutmut_12": "no division by zero can happen (inter <= union), only 0/0",
    "segmentation.x__iou_from_counts__mutmut_14": "no division by zero can happen (inter <= union), only 0/0",
    "segmentation.x__iou_from_counts__mutmut_25": "union >= 0 lets 0/0 through, which is NaN, the value the test "
                                                  "put there (the 0/0 warning is silenced)",
    "segmentation.x_bilinear_kernel__mutmut_32": "the float64 weights are stored into the float32 kernel anyway",
    "segmentation.x_evaluate_segmentation__mutmut_53": "float('NAN') is NaN",
    "segmentation.x_predict_masks__mutmut_1": "the batch size does not change a per-image model's masks",
    "segmentation.x_predict_masks__mutmut_9": "a Keras model called with training=None runs in inference mode",
    "segmentation.x_predict_masks__mutmut_11": "a Keras model called with training=None runs in inference mode",
    "segmentation.xǁDiceLossǁcall__mutmut_8": "keras.ops.softmax's default axis is -1",
    "segmentation.xǁDiceLossǁcall__mutmut_13": "ops.cast(x, None) keeps the dtype, and Keras' one_hot and sparse "
                                                "cross-entropy cast float class ids to integers themselves",
    "segmentation.xǁDiceLossǁcall__mutmut_29": "Loss.__call__ hands call float32 probabilities, and one_hot's "
                                                "default dtype is float32",
    "segmentation.xǁDiceLossǁcall__mutmut_32": "as xǁDiceLossǁcall__mutmut_29",
    # instances
    "instances.x_instance_set__mutmut_34": _NEG,
    "instances.x_instance_set__mutmut_50": _NEG,
    "instances.x_mask_targets__mutmut_3": "roi_align reads a float64 map like a float32 one: crop_and_resize "
                                          "returns float32 and 0/1 masks are exact in both",
    "instances.x_paste_masks__mutmut_4": "float32 or integer probabilities are promoted to float64 exactly by "
                                         "the float64 interpolation weights",
    "instances.x_paste_masks__mutmut_6": "as x_paste_masks__mutmut_4",
    "instances.x_paste_masks__mutmut_13": "integer or float32 boxes give the same floor/ceil and, promoted, "
                                          "the same float64 coordinates",
    "instances.x_paste_masks__mutmut_15": "as x_paste_masks__mutmut_13",
    "instances.x_paste_masks__mutmut_17": _NEG,
    "instances.x_paste_masks__mutmut_62": _EMPTY_RANGE,
    "instances.x_paste_masks__mutmut_63": _EMPTY_RANGE,
    "instances.x_paste_masks__mutmut_64": _EMPTY_RANGE,
    "instances.x_box_masks__mutmut_7": "paste_masks converts the boxes to float64 itself",
    "instances.x_box_masks__mutmut_9": "paste_masks converts the boxes to float64 itself",
    "instances.x_box_masks__mutmut_11": _NEG,
    "instances.x_box_masks__mutmut_20": "an all-ones mask reads 1 everywhere, whatever its size",
    "instances.x_box_masks__mutmut_21": "an all-ones mask reads 1 everywhere, whatever its size",
    "instances.xǁMaskScoresǁsummary__mutmut_7": "one name too many is never read: only the classes present "
                                                "are listed",
    "instances.x_evaluate_masks__mutmut_4": "float logits (what a model returns) give the same float64 sigmoid "
                                            "(np.exp promotes)",
    "instances.x_evaluate_masks__mutmut_6": "as x_evaluate_masks__mutmut_4",
}


def mutant_patterns(module: str) -> list[str]:
    """mutmut's name patterns for the mutants of every function of ``module`` but :data:`SKIP`'s."""
    import ast

    tree = ast.parse((ROOT / "homl_cv" / f"{module}.py").read_text())
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append((node.name, f"x_{node.name}"))
        elif isinstance(node, ast.ClassDef):
            names += [(f"{node.name}.{item.name}", f"x\u01c1{node.name}\u01c1{item.name}")
                      for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
    skip = SKIP.get(module, ())
    return [f"homl_cv.{module}.{mangled}__mutmut_*" for name, mangled in names if name not in skip]


def pending(module: str, everything: bool = False, survivors: bool = False) -> list[str]:
    """The mutants to run: without results yet (or all, or the survivors), skipping :data:`SKIP`'s functions.

    mutmut re-runs every mutant named on its command line, so a run interrupted
    part-way resumes here with the mutants that have no result yet.
    """
    import fnmatch
    import json

    patterns = mutant_patterns(module)
    meta = ROOT / "mutants" / module / "mutants" / "homl_cv" / f"{module}.py.meta"
    if not meta.is_file():                      # first run: mutmut has not generated the mutants yet
        return patterns
    results = json.loads(meta.read_text())["exit_code_by_key"]
    wanted = [name for name in results if any(fnmatch.fnmatch(name, p) for p in patterns)]
    if survivors:
        return [name for name in wanted if results[name] in (0, 5, 33)]
    return wanted if everything else [name for name in wanted if results[name] is None]


def workdir(module: str) -> Path:
    """``mutants/MODULE/`` with links to the sources, the tests and the configuration."""
    path = ROOT / "mutants" / module
    path.mkdir(parents=True, exist_ok=True)
    for name in ("homl_cv", "tests", "conftest.py", "pyproject.toml"):
        link = path / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    return path


def table(modules: list[str]) -> str:
    """BENCHMARKS.md's per-module table, from the results mutmut stored, and the equivalent mutants."""
    import json

    rows = ["| module | mutants | not run yet | killed | survived, equivalent | survived, left "
            "| killed of non-equivalent (run) |",
            "|---|---|---|---|---|---|---|"]
    notes = []
    for module in modules:
        meta = ROOT / "mutants" / module / "mutants" / "homl_cv" / f"{module}.py.meta"
        results = json.loads(meta.read_text())["exit_code_by_key"]
        names = set(pending(module, everything=True))
        codes = {name: results[name] for name in names if results[name] not in (None, 2)}
        not_run = len(names) - len(codes)
        # killed: a test failed, or the run timed out or crashed; "no tests" counts as survived
        survived = {name for name, code in codes.items() if code in (0, 5, 33)}
        equivalent = {name for name in survived if name.removeprefix("homl_cv.") in EQUIVALENT}
        left = survived - equivalent
        killed = len(codes) - len(survived)
        share = killed / (len(codes) - len(equivalent))
        rows.append(f"| {module} | {len(names)} | {not_run} | {killed} | {len(equivalent)} | {len(left)} "
                    f"| {share:.1%} |")
        notes += [f"- `{name.removeprefix('homl_cv.')}`: {EQUIVALENT[name.removeprefix('homl_cv.')]}"
                  for name in sorted(equivalent)]
        notes += [f"- `{name.removeprefix('homl_cv.')}`: left (no test kills it yet)" for name in sorted(left)]
    return "\n".join(rows + [""] + notes)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--table":
        print(table(argv[1:]))
        return 0
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    module, args = argv[0], argv[1:] or ["run"]
    if not (ROOT / "homl_cv" / f"{module}.py").is_file():
        raise SystemExit(f"mutmut_run: no module homl_cv/{module}.py; pass a module name such as 'segmentation'.")
    tests = ROOT / "tests" / f"test_{module}.py"
    if not tests.is_file():
        raise SystemExit(f"mutmut_run: no tests/test_{module}.py for module {module!r}.")
    os.chdir(workdir(module))
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, Path.cwd())]
    os.environ.pop("PYTHONPATH", None)
    os.environ.setdefault("HOML_CV_QUICK", "1")
    os.environ.setdefault("HOML_CV_OFFLINE", "1")

    from mutmut.configuration import config  # reads ./pyproject.toml, [tool.mutmut]

    cfg = config()
    cfg.only_mutate = [f"homl_cv/{module}.py"]
    cfg.pytest_add_cli_args_test_selection = [f"tests/test_{module}.py"] + [
        f"--deselect=tests/test_{module}.py::{node}" for node in DESELECT.get(module, ())
    ]
    if args[0] == "run":
        options = [a for a in args[1:] if a.startswith("-") and a not in ("--all", "--survivors")]
        names = [a for a in args[1:] if not a.startswith("-")]
        if not names:
            names = pending(module, "--all" in args, "--survivors" in args)
            if not names:
                print(f"mutmut_run: nothing to run for {module} (every mutant has a result; --all reruns them).")
                return 0
        if "--max-children" not in " ".join(options):
            options = ["--max-children", "1", *options]
        args = ["run", *options, *names]

    from mutmut.__main__ import cli

    return cli.main(args=args, prog_name=f"mutmut_run.py {module}", standalone_mode=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
