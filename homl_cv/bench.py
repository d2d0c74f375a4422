"""Speed benchmarks for chapter 03: the input pipeline and the transfer model.

One run measures, on the machine at hand:

* **input pipeline** throughput (images/s) of :func:`homl_cv.data.image_pipeline`
  on encoded JPEG photos (decode, resize, augment, preprocess), plain and
  then with a parallel ``map``, ``prefetch`` and ``cache`` switched on one by
  one (two passes over the data, so the cache has something to give);
* **training** throughput (images/s) of the transfer model (a
  ``keras.applications`` base with a new head) in float32, mixed precision
  and with XLA. Mixed precision needs a GPU: on a CPU its row says "skipped"
  instead of showing a number;
* **how close to the machine**: the device's float32 matrix-multiply speed
  with TensorFlow (:func:`matmul_peak_gflops`, GFLOP/s), and for each
  training row the GFLOP/s it achieved, ``3 x`` (forward FLOPs per image,
  :func:`model_flops`) ``x`` images/s (a training step costs about three
  forward passes: forward, and the two backward products), as a fraction of
  that peak.

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

from homl_cv import checks, data, pretrained, training

__all__ = [
    "FULL",
    "TRAINING_STEP_FORWARDS",
    "PIPELINE_VARIANTS",
    "QUICK",
    "Result",
    "Sizes",
    "TRAINING_MODES",
    "device_description",
    "format_table",
    "main",
    "matmul_peak_gflops",
    "model_flops",
    "pipeline_throughput",
    "run_benchmarks",
    "to_markdown",
    "training_throughput",
    "transfer_model_flops",
]

PIPELINE_VARIANTS = (
    ("sequential map", dict(parallel=False, prefetch=False, cache=False)),
    ("parallel map", dict(parallel=True, prefetch=False, cache=False)),
    ("parallel map + prefetch", dict(parallel=True, prefetch=True, cache=False)),
    ("parallel map + prefetch + cache", dict(parallel=True, prefetch=True, cache=True)),
)
TRAINING_MODES = ("float32", "mixed precision", "XLA")
TRAINING_STEP_FORWARDS = 3  # a training step ~ 3 forward passes (forward, input and weight gradients)


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
    gflop_per_s: float | None = None  # training rows: achieved; the peak row: the matmul peak


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
    checks.int_at_least(num_images, "num_images", batch_size, f"batch_size={batch_size}")
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

    checks.one_of(mode, "mode", TRAINING_MODES)
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


def matmul_peak_gflops(size: int = 1024, repeats: int = 20, dtype: str = "float32") -> float:
    """The device's matrix-multiply speed with TensorFlow, in GFLOP/s.

    ``repeats`` products of two ``size x size`` matrices, each ``2 size^3``
    floating-point operations (a multiply and an add per term), after one
    untimed warm-up; the result is read back so the time includes the work.
    This is what the device's dense kernels reach on the best-shaped problem,
    the ceiling a training step is compared with.

    Example:
        >>> matmul_peak_gflops(size=64, repeats=2) > 0  # doctest: +SKIP
        True
    """
    import tensorflow as tf

    size, repeats = checks.positive_int(size, "size"), checks.positive_int(repeats, "repeats")
    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((size, size)), dtype=dtype)
    b = tf.constant(rng.standard_normal((size, size)), dtype=dtype)

    @tf.function
    def products(a, b):
        total = tf.zeros((), dtype)
        for _ in range(repeats):  # unrolled: one graph, no Python between the products
            total += tf.reduce_sum(tf.linalg.matmul(a, b))
            a = a + 1e-6  # a new operand each time, so nothing is computed once and reused
        return total

    products(a, b).numpy()  # trace and warm up
    start = time.perf_counter()
    products(a, b).numpy()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def _shape(tensor_shape) -> tuple:
    return tuple(int(d) for d in tensor_shape[1:])


def model_flops(model) -> int:
    """Floating-point operations of one forward pass of one example (2 per multiply-add).

    Counts the layers that hold nearly all the work: ``Conv2D`` (grouped too),
    ``Conv2DTranspose``, ``DepthwiseConv2D``, ``SeparableConv2D`` and
    ``Dense`` (applied at every position of its input), inside nested models
    too. Normalization, activations and pooling (a few operations per value)
    are left out, so the figure is a slight undercount. For a convolution
    with a ``kh x kw`` kernel, ``C_in`` input and ``C_out`` output channels
    in ``g`` groups and an ``H x W`` output: ``2 H W C_out kh kw C_in / g``.

    Args:
        model: a built Keras model (functional or sequential).

    Returns:
        The FLOPs per example (an int).

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(4, 3),
        ...                       keras.layers.Flatten(), keras.layers.Dense(3)])
        >>> model_flops(m)  # conv: 2 * (6*6*4 outputs) * (3*3*2 taps); dense: 2 * 144 * 3
        6048
    """
    import keras

    layers = keras.layers
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += model_flops(layer)
            continue
        if not isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose, layers.DepthwiseConv2D,
                                  layers.SeparableConv2D, layers.Dense)):
            continue
        inputs, outputs = _shape(layer.input.shape), _shape(layer.output.shape)
        if isinstance(layer, layers.Dense):
            positions = int(np.prod(inputs[:-1])) if len(inputs) > 1 else 1
            total += 2 * positions * inputs[-1] * layer.units
            continue
        kh, kw = layer.kernel_size
        c_in, c_out = inputs[-1], outputs[-1]
        positions = int(np.prod(outputs[:-1]))  # output pixels
        if isinstance(layer, layers.DepthwiseConv2D):
            total += 2 * positions * c_out * kh * kw
        elif isinstance(layer, layers.SeparableConv2D):  # depthwise, then a 1x1 convolution
            middle = c_in * layer.depth_multiplier
            total += 2 * positions * middle * (kh * kw + c_out)
        elif isinstance(layer, layers.Conv2DTranspose):  # each input pixel scatters a kernel
            total += 2 * int(np.prod(inputs)) * kh * kw * c_out
        else:
            total += 2 * positions * c_out * kh * kw * c_in // layer.groups
    return int(total)


def transfer_model_flops(base: str = "MobileNetV2", image_size: int = 96) -> int:
    """:func:`model_flops` of the transfer model :func:`training_throughput` trains."""
    import keras

    built = pretrained.build_base(base, weights=None, input_size=image_size, verbose=False)
    flops = model_flops(training.build_transfer_model(built.model, 5))
    keras.backend.clear_session()
    return flops


def run_benchmarks(quick: bool = True, sizes: Sizes | None = None, progress: bool = True) -> list:
    """Run every benchmark once; returns a list of :class:`Result` rows.

    The last row is the float32 matmul peak; each training row carries its
    achieved GFLOP/s (``TRAINING_STEP_FORWARDS x`` forward FLOPs x images/s)
    and its note says which fraction of that peak it is.
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    sizes = sizes or (QUICK if quick else FULL)
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    jobs = [("input pipeline", name) for name, _ in PIPELINE_VARIANTS]
    jobs += [("training", mode) for mode in TRAINING_MODES]
    pipeline_batch = min(32, sizes.pipeline_images)
    peak_size = 2048 if has_gpu or not quick else 1024
    peak = matmul_peak_gflops(peak_size, repeats=20 if quick else 50)
    flops = transfer_model_flops(sizes.base, sizes.train_size)
    rows = []
    for part, variant in tqdm(jobs, desc="benchmarks", disable=not progress, leave=False):
        if part == "input pipeline":
            switches = dict(PIPELINE_VARIANTS)[variant]
            speed = pipeline_throughput(sizes.pipeline_images, sizes.pipeline_size,
                                        pipeline_batch, **switches)
            note = f"{sizes.pipeline_images} JPEGs x 2 passes -> {sizes.pipeline_size} px"
            rows.append(Result(part, variant, speed, note))
            continue
        if variant == "mixed precision" and not has_gpu:
            rows.append(Result(part, variant, None,
                               "skipped: float16 needs a GPU (slower than float32 on CPUs)"))
            continue
        speed = training_throughput(variant, sizes.base, sizes.train_size,
                                    sizes.batch_size, sizes.train_steps)
        achieved = TRAINING_STEP_FORWARDS * flops * speed / 1e9
        note = (f"{sizes.base} {sizes.train_size} px + head, batch {sizes.batch_size}, "
                f"{sizes.train_steps} steps; {achieved:.1f} GFLOP/s = {achieved / peak:.0%} of the float32 "
                f"matmul peak ({flops / 1e6:.0f} MFLOP per image forward)")
        rows.append(Result(part, variant, speed, note, gflop_per_s=achieved))
    rows.append(Result("peak", "float32 matmul", None,
                       f"{peak_size}x{peak_size} products: {peak:.1f} GFLOP/s", gflop_per_s=peak))
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
        speed = f"{row.images_per_s:.1f}" if row.images_per_s is not None else (
            "skipped" if row.note.startswith("skipped") else "-")
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
