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
    "OFFLINE_ENV",
    "QUICK_ENV",
    "banner",
    "data_dir",
    "is_offline",
    "is_quick",
    "pick",
    "set_seeds",
    "setup_device",
    "start_chapter",
]

QUICK_ENV = "HOML_CV_QUICK"
OFFLINE_ENV = "HOML_CV_OFFLINE"
DATA_DIR_ENV = "HOML_CV_DATA_DIR"
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


def is_quick() -> bool:
    """True when ``HOML_CV_QUICK=1``: small data, few epochs."""
    return _env_flag(QUICK_ENV)


def is_offline() -> bool:
    """True when ``HOML_CV_OFFLINE=1``: no downloads are attempted."""
    return _env_flag(OFFLINE_ENV)


def data_dir() -> Path:
    """Folder where datasets are looked for (and downloaded to when online)."""
    default = Path.home() / "tensorflow_datasets"
    return Path(os.environ.get(DATA_DIR_ENV, default)).expanduser()


def pick(quick, full):
    """Return ``quick`` in quick mode and ``full`` otherwise."""
    return quick if is_quick() else full


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
    return line


def start_chapter(title: str, seed: int = 42, fast: bool = False) -> DeviceInfo:
    """What the first code cell of every chapter does, in one call.

    Prints the :func:`banner`, seeds every random generator with ``seed`` and
    sets up the device (see :func:`setup_device`; ``fast`` switches on mixed
    precision and XLA on a GPU), and sets matplotlib's figure and savefig
    resolution to :data:`FIGURE_DPI`. Returns the :class:`DeviceInfo`.
    """
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = FIGURE_DPI
    matplotlib.rcParams["savefig.dpi"] = FIGURE_DPI
    banner(title)
    set_seeds(seed)
    return setup_device(fast=fast)
