"""Speed benchmarks for chapter 03: the input pipeline and the transfer model.

One run measures, on the machine at hand:

* **input pipeline** throughput (images/s) of :func:`homl_cv.data.image_pipeline`
  on encoded JPEG photos (decode, resize, augment, preprocess), plain and
  then with a parallel ``map``, ``prefetch`` and ``cache`` switched on one by
  one (two passes over the data, so the cache has something to give);
* **training** throughput (images/s) of the transfer model (a
  ``keras.applications`` base with a new head) in float32, mixed precision
  and with XLA. Mixed precision needs a GPU: on a CPU its row says "skipped"
  instead of showing a number.

Run it with ``python -m homl_cv.bench`` (quick sizes, about a minute on a
laptop CPU); ``--full`` uses bigger sizes and Xception at 299 px (for a GPU);
``--write BENCHMARKS.md`` appends the table as a markdown section.

Example:
    >>> rows = run_benchmarks(quick=True)  # doctest: +SKIP
    >>> print(format_table(rows))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time

import numpy as np

from homl_cv import data, pretrained, training

__all__ = [
    "FULL",
    "PIPELINE_VARIANTS",
    "QUICK",
    "Result",
    "Sizes",
    "TRAINING_MODES",
    "device_description",
    "format_table",
    "main",
    "pipeline_throughput",
    "run_benchmarks",
    "to_markdown",
    "training_throughput",
]

PIPELINE_VARIANTS = (
    ("sequential map", dict(parallel=False, prefetch=False, cache=False)),
    ("parallel map", dict(parallel=True, prefetch=False, cache=False)),
    ("parallel map + prefetch", dict(parallel=True, prefetch=True, cache=False)),
    ("parallel map + prefetch + cache", dict(parallel=True, prefetch=True, cache=True)),
)
TRAINING_MODES = ("float32", "mixed precision", "XLA")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big one benchmark run is."""

    pipeline_images: int
    pipeline_size: int
    base: str
    train_size: int
    batch_size: int
    train_steps: int


QUICK = Sizes(pipeline_images=192, pipeline_size=96, base="MobileNetV2", train_size=96,
              batch_size=16, train_steps=4)
FULL = Sizes(pipeline_images=2048, pipeline_size=299, base="Xception", train_size=299,
             batch_size=32, train_steps=30)


@dataclasses.dataclass(frozen=True)
class Result:
    """One row of the benchmark table; ``images_per_s`` is None when skipped."""

    part: str
    variant: str
    images_per_s: float | None
    note: str = ""


def device_description() -> str:
    """The device in words: GPU name(s), else the CPU and its core count."""
    import os

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                 for g in gpus]
        return ", ".join(names)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _jpeg_dataset(num_images: int):
    """``(jpeg bytes, label)`` pairs cycling through the bundled photos."""
    import tensorflow as tf

    encoded = []
    for name in data.SAMPLE_PHOTOS:
        photo = data.load_sample_image(name)
        photo = np.repeat(photo[..., None], 3, axis=-1) if photo.ndim == 2 else photo[..., :3]
        encoded.append(tf.io.encode_jpeg(photo, quality=90).numpy())
    jpegs = [encoded[i % len(encoded)] for i in range(num_images)]
    labels = np.arange(num_images, dtype=np.int64) % 5
    return tf.data.Dataset.from_tensor_slices((jpegs, labels))


def pipeline_throughput(num_images: int = 192, image_size: int = 96, batch_size: int = 32,
                        passes: int = 2, parallel=True, prefetch=True, cache=True,
                        base: str = "Xception") -> float:
    """Images per second through a training pipeline, over ``passes`` passes.

    Each step: decode JPEG, resize, (cache), shuffle, batch, augment,
    ``preprocess_input`` of ``base``, (prefetch). Photos are 300x451 to
    640x512 JPEGs.
    """
    if num_images < batch_size:
        raise ValueError(f"num_images={num_images} must be at least batch_size={batch_size}.")
    ds = data.image_pipeline(
        _jpeg_dataset(num_images), image_size, pretrained.base_spec(base).preprocess_input,
        batch_size=batch_size, training=True, parallel=parallel, prefetch=prefetch, cache=cache,
    )
    start = time.perf_counter()
    count = 0
    for _ in range(passes):
        for images, _labels in ds:
            count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def training_throughput(mode: str = "float32", base: str = "MobileNetV2", image_size: int = 96,
                        batch_size: int = 16, steps: int = 4) -> float:
    """Images per second of training steps of the transfer model.

    ``mode`` is "float32", "mixed precision" (``mixed_float16`` policy) or
    "XLA" (``jit_compile=True``, float32). Random weights and random images:
    speed does not depend on them. Two warm-up steps (tracing, compiling)
    are not timed. The global Keras policy is restored afterwards.
    """
    import keras

    if mode not in TRAINING_MODES:
        raise ValueError(f"mode={mode!r}: use one of {TRAINING_MODES}.")
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16" if mode == "mixed precision"
                                            else "float32")
    try:
        keras.backend.clear_session()
        built = pretrained.build_base(base, weights=None, input_size=image_size, verbose=False)
        model = training.build_transfer_model(built.model, 5)
        training.compile_classifier(model, 0.01, jit_compile=(mode == "XLA"))
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype("float32")
        y = rng.integers(0, 5, batch_size)
        for _ in range(2):
            model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        return steps * batch_size / (time.perf_counter() - start)
    finally:
        keras.mixed_precision.set_global_policy(previous)
        keras.backend.clear_session()


def run_benchmarks(quick: bool = True, sizes: Sizes | None = None, progress: bool = True) -> list:
    """Run every benchmark once; returns a list of :class:`Result` rows."""
    import tensorflow as tf
    from tqdm.auto import tqdm

    sizes = sizes or (QUICK if quick else FULL)
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    jobs = [("input pipeline", name) for name, _ in PIPELINE_VARIANTS]
    jobs += [("training", mode) for mode in TRAINING_MODES]
    pipeline_batch = min(32, sizes.pipeline_images)
    rows = []
    for part, variant in tqdm(jobs, desc="benchmarks", disable=not progress, leave=False):
        if part == "input pipeline":
            switches = dict(PIPELINE_VARIANTS)[variant]
            speed = pipeline_throughput(sizes.pipeline_images, sizes.pipeline_size,
                                        pipeline_batch, **switches)
            note = f"{sizes.pipeline_images} JPEGs x 2 passes -> {sizes.pipeline_size} px"
        elif variant == "mixed precision" and not has_gpu:
            rows.append(Result(part, variant, None,
                               "skipped: float16 needs a GPU (slower than float32 on CPUs)"))
            continue
        else:
            speed = training_throughput(variant, sizes.base, sizes.train_size,
                                        sizes.batch_size, sizes.train_steps)
            note = (f"{sizes.base} {sizes.train_size} px + head, batch {sizes.batch_size}, "
                    f"{sizes.train_steps} steps")
        rows.append(Result(part, variant, speed, note))
    return rows


def format_table(rows, device: str | None = None) -> str:
    """The rows as an aligned text table, with the device on top."""
    device = device or device_description()
    lines = [f"device: {device}", f"{'part':<16}{'variant':<34}{'images/s':>10}  note"]
    for row in rows:
        speed = "-" if row.images_per_s is None else f"{row.images_per_s:.1f}"
        lines.append(f"{row.part:<16}{row.variant:<34}{speed:>10}  {row.note}")
    return "\n".join(lines)


def to_markdown(rows, device: str | None = None, command: str = "python -m homl_cv.bench") -> str:
    """A markdown section with the command, the versions, the device and the table."""
    import keras
    import tensorflow as tf

    device = device or device_description()
    out = [
        f"### {time.strftime('%Y-%m-%d')}: {device}",
        "",
        f"`{command}` (Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__})",
        "",
        "| part | variant | images/s | note |",
        "|------|---------|---------:|------|",
    ]
    for row in rows:
        speed = "skipped" if row.images_per_s is None else f"{row.images_per_s:.1f}"
        out.append(f"| {row.part} | {row.variant} | {speed} | {row.note} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    """``python -m homl_cv.bench [--full] [--write BENCHMARKS.md]``."""
    parser = argparse.ArgumentParser(prog="homl-cv bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="bigger sizes, Xception at 299 px (meant for a GPU)")
    parser.add_argument("--write", metavar="PATH",
                        help="append the results as a markdown section to PATH")
    args = parser.parse_args(argv)
    from pathlib import Path

    if args.write and not Path(args.write).parent.is_dir():
        print(f"homl-cv bench: --write {args.write}: the folder does not exist.", file=sys.stderr)
        return 2
    start = time.perf_counter()
    rows = run_benchmarks(quick=not args.full)
    device = device_description()
    print(format_table(rows, device))
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.write:
        command = "python -m homl_cv.bench" + (" --full" if args.full else "")
        with open(args.write, "a", encoding="utf-8") as f:
            f.write("\n" + to_markdown(rows, device, command))
        print(f"Appended the results to {args.write}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
