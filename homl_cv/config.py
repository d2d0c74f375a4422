"""Run modes, seeds, and the device (CPU/GPU) set-up every chapter starts with.

Two explicit modes come from environment variables, read each time they are
asked for (so a test or a notebook can change them):

``HOML_CV_QUICK=1``
    Small data, few epochs, small images: what CI runs. Results are smaller
    than the book's, but the code paths are the same.
``HOML_CV_OFFLINE=1``
    Never touch the network. Loaders use data that ships with the installed
    packages (or that ``homl_cv.data`` generates) and say so.

``HOML_CV_DATA_DIR`` points the dataset loaders at a folder of pre-placed data
(default: ``~/tensorflow_datasets``, tfds' own default).

Two more for testing the full path without a download (``homl-cv run --rehearse``):

``HOML_CV_REHEARSE=1``
    Rehearsal: full mode and online mode (``HOML_CV_QUICK`` and
    ``HOML_CV_OFFLINE`` are ignored), on local stand-ins of the datasets that
    the runner pre-places (:mod:`homl_cv.rehearsal`), with random weights for
    the pretrained bases and training capped at a few steps per phase
    (:func:`rehearsal_steps`, :func:`install_rehearsal_caps`). It proves that
    the full code paths run; its numbers mean nothing, so claims are printed
    but not checked.
``HOML_CV_NO_NETWORK=1``
    Refuse every network connection from Python (``homl_cv`` applies
    :func:`homl_cv.sources.block_network` when imported): a download fails at
    once instead of waiting for time-outs.

Example:
    >>> from homl_cv import config
    >>> config.set_seeds(42)
    >>> config.pick(quick=2, full=30)  # epochs: 2 in quick mode, 30 otherwise
    2
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import numpy as np

__all__ = [
    "DATA_DIR_ENV",
    "DeviceInfo",
    "NO_NETWORK_ENV",
    "OFFLINE_ENV",
    "QUICK_ENV",
    "REHEARSAL_EPOCHS",
    "REHEARSAL_STEPS",
    "REHEARSE_ENV",
    "banner",
    "capped_fit_arguments",
    "data_dir",
    "install_rehearsal_caps",
    "is_network_blocked",
    "is_offline",
    "is_quick",
    "is_rehearsal",
    "pick",
    "rehearsal_steps",
    "set_seeds",
    "setup_device",
    "start_chapter",
]

QUICK_ENV = "HOML_CV_QUICK"
OFFLINE_ENV = "HOML_CV_OFFLINE"
DATA_DIR_ENV = "HOML_CV_DATA_DIR"
REHEARSE_ENV = "HOML_CV_REHEARSE"
NO_NETWORK_ENV = "HOML_CV_NO_NETWORK"
# Rehearsal caps: every Keras fit runs at most this many epochs of this many
# batches (and as many validation batches); custom loops this many steps.
REHEARSAL_EPOCHS = 2
REHEARSAL_STEPS = 2
# Figures are stored in the notebooks: 72 dpi keeps a chapter well under 1 MB.
FIGURE_DPI = 72

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"Environment variable {name}={value!r} is not understood: "
        f"use 1 (on) or 0 (off)."
    )


def is_rehearsal() -> bool:
    """True when ``HOML_CV_REHEARSE=1``: full mode on local stand-ins, training capped."""
    return _env_flag(REHEARSE_ENV)


def is_quick() -> bool:
    """True when ``HOML_CV_QUICK=1`` (and not rehearsing): small data, few epochs."""
    return _env_flag(QUICK_ENV) and not is_rehearsal()


def is_offline() -> bool:
    """True when ``HOML_CV_OFFLINE=1`` (and not rehearsing): no downloads are attempted."""
    return _env_flag(OFFLINE_ENV) and not is_rehearsal()


def is_network_blocked() -> bool:
    """True when ``HOML_CV_NO_NETWORK=1``: Python refuses network connections."""
    return _env_flag(NO_NETWORK_ENV)


def data_dir() -> Path:
    """Folder where datasets are looked for (and downloaded to when online)."""
    default = Path.home() / "tensorflow_datasets"
    return Path(os.environ.get(DATA_DIR_ENV, default)).expanduser()


def pick(quick, full):
    """Return ``quick`` in quick mode and ``full`` otherwise."""
    return quick if is_quick() else full


def rehearsal_steps(steps: int) -> int:
    """``steps`` itself, or at most :data:`REHEARSAL_STEPS` when rehearsing.

    For the custom training loops (style transfer, filter visualization):

    Example:
        >>> rehearsal_steps(500)  # 2 under HOML_CV_REHEARSE=1
        500
    """
    return min(steps, REHEARSAL_STEPS) if is_rehearsal() else steps


def _known_batches(x, batch_size):
    """Batches in one pass over ``x`` (a tf.data dataset or arrays), or None if unknown."""
    if hasattr(x, "cardinality"):  # tf.data.Dataset: already batched
        count = int(x.cardinality())
        return count if count > 0 else None
    first = x
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, dict) and first:
        first = next(iter(first.values()))
    if hasattr(first, "shape") and len(first.shape):
        return max(1, -(-int(first.shape[0]) // int(batch_size or 32)))
    return None


def capped_fit_arguments(arguments: dict) -> dict:
    """``keras.Model.fit`` arguments with the rehearsal caps applied.

    ``epochs`` becomes at most ``initial_epoch +`` :data:`REHEARSAL_EPOCHS`;
    ``steps_per_epoch`` and ``validation_steps`` at most
    :data:`REHEARSAL_STEPS`, and never more than the data holds (a pass
    that runs out of data would stop the training early). Used by
    :func:`install_rehearsal_caps`.

    Args:
        arguments: ``fit``'s arguments by name (``x``, ``epochs``, ...).

    Example:
        >>> import numpy as np
        >>> capped_fit_arguments({"x": np.zeros((100, 4)), "epochs": 30})["epochs"]
        2
    """
    args = dict(arguments)
    args["epochs"] = min(args.get("epochs", 1), args.get("initial_epoch", 0) + REHEARSAL_EPOCHS)
    batches = _known_batches(args.get("x"), args.get("batch_size"))
    steps = [s for s in (args.get("steps_per_epoch"), REHEARSAL_STEPS, batches) if s]
    args["steps_per_epoch"] = min(steps)
    if args.get("validation_data") is not None:
        valid_batch = args.get("validation_batch_size") or args.get("batch_size")
        batches = _known_batches(args["validation_data"], valid_batch)
        steps = [s for s in (args.get("validation_steps"), REHEARSAL_STEPS, batches) if s]
        args["validation_steps"] = min(steps)
    return args


def install_rehearsal_caps() -> bool:
    """Cap every ``keras.Model.fit`` of this process with :func:`capped_fit_arguments`.

    The one place where rehearsal shortens training: the chapters' and the
    package's ``fit`` calls stay as written. Does nothing (and returns False)
    unless ``HOML_CV_REHEARSE=1``; installing twice is harmless.
    :func:`start_chapter` calls it.
    """
    if not is_rehearsal():
        return False
    import inspect

    import keras

    fit = keras.Model.fit
    if getattr(fit, "rehearsal_capped", False):
        return True
    signature = inspect.signature(fit)

    def capped_fit(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        arguments = capped_fit_arguments({k: v for k, v in bound.arguments.items() if k != "self"})
        extra = arguments.pop("kwargs", {})
        return fit(self, **arguments, **extra)

    capped_fit.rehearsal_capped = True
    capped_fit.__doc__ = fit.__doc__
    keras.Model.fit = capped_fit
    return True


def set_seeds(seed: int = 42) -> None:
    """Seed Python, NumPy, TensorFlow and Keras in one call."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # also seeds tf.random and the backend


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """What :func:`setup_device` found and switched on.

    Attributes:
        gpus: names of the visible GPUs (empty on a CPU-only machine).
        mixed_precision: whether the global Keras policy is ``mixed_float16``.
        jit_compile: pass this to ``model.compile(jit_compile=...)`` (XLA).
    """

    gpus: tuple
    mixed_precision: bool
    jit_compile: bool

    @property
    def name(self) -> str:
        return f"GPU x{len(self.gpus)}" if self.gpus else "CPU"


def setup_device(fast: bool = False, verbose: bool = True) -> DeviceInfo:
    """Detect GPUs, enable memory growth, and optionally switch to fast mode.

    Args:
        fast: one switch for speed on a GPU: the ``mixed_float16`` Keras policy
            (float16 compute, float32 weights; keep the last layer in float32)
            and XLA compilation (``jit_compile``). On a CPU it is a no-op that
            says so, since float16 is slower there.
        verbose: print one line on what was done.

    Returns:
        A :class:`DeviceInfo`.
    """
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialized: growth cannot change now
            pass
    use_fast = bool(fast and gpus)
    keras.mixed_precision.set_global_policy("mixed_float16" if use_fast else "float32")
    info = DeviceInfo(
        gpus=tuple(g.name for g in gpus), mixed_precision=use_fast, jit_compile=use_fast
    )
    if verbose:
        if fast and not gpus:
            print("No GPU found: mixed precision and XLA stay off (they help on GPUs only).")
        elif gpus:
            print(
                f"{info.name}: memory growth on; mixed precision "
                f"{'on' if use_fast else 'off'}; XLA {'on' if use_fast else 'off'}."
            )
        else:
            print("Running on the CPU.")
    return info


def banner(chapter: str) -> str:
    """Print (and return) the one-line banner each chapter starts with.

    It states the mode (quick/full, offline/online), the TensorFlow and Keras
    versions and the device, so nobody mistakes a quick offline run for the
    real thing.
    """
    import keras
    import tensorflow as tf

    mode = "QUICK" if is_quick() else "FULL"
    net = "OFFLINE" if is_offline() else "online"
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else "CPU only"
    line = (
        f"[homl-cv] {chapter} | mode: {mode}, {net} | TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__} | device: {device}"
    )
    print(line)
    if is_quick():
        print(
            "  Quick mode: small data and few epochs, so numbers are smaller than "
            f"the book's. Unset {QUICK_ENV} for the full run."
        )
    if is_offline():
        print(
            "  Offline mode: no downloads; bundled or generated data stand in "
            f"where needed. Unset {OFFLINE_ENV} to use the real datasets."
        )
    if is_rehearsal():
        print(
            "  REHEARSAL: full sizes and pipelines, but local stand-in datasets (generated "
            "images), pretrained bases with weights=None (random), and training capped at "
            f"{REHEARSAL_EPOCHS} epochs x {REHEARSAL_STEPS} steps: the numbers mean nothing. "
            f"Unset {REHEARSE_ENV} for the real run."
        )
    return line


def start_chapter(title: str, seed: int = 42, fast: bool = False) -> DeviceInfo:
    """What the first code cell of every chapter does, in one call.

    Prints the :func:`banner`, seeds every random generator with ``seed`` and
    sets up the device (see :func:`setup_device`; ``fast`` switches on mixed
    precision and XLA on a GPU), caps training when rehearsing
    (:func:`install_rehearsal_caps`), and sets matplotlib's figure and savefig
    resolution to :data:`FIGURE_DPI`. Returns the :class:`DeviceInfo`.
    """
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = FIGURE_DPI
    matplotlib.rcParams["savefig.dpi"] = FIGURE_DPI
    banner(title)
    set_seeds(seed)
    install_rehearsal_caps()
    return setup_device(fast=fast)
