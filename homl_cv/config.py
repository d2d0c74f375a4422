"""Run modes, seeds, the device (CPU/GPU/TPU) set-up and the distribution strategy.

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

``HOML_CV_STRATEGY`` forces the ``tf.distribute`` strategy that
:func:`pick_strategy` returns (``auto``, ``default``, ``mirrored``, ``tpu`` or
``multiworker``; unset means ``auto``: TPU -> ``TPUStrategy``, 2 or more GPUs
-> ``MirroredStrategy``, otherwise the default strategy). The rest of the
distribution tool-kit (global batch, learning-rate scaling, logical CPU
devices, multi-worker runs) is in :mod:`homl_cv.distribute`.

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

from homl_cv import checks

__all__ = [
    "DATA_DIR_ENV",
    "DeviceInfo",
    "NO_NETWORK_ENV",
    "OFFLINE_ENV",
    "QUICK_ENV",
    "REHEARSAL_EPOCHS",
    "REHEARSAL_STEPS",
    "REHEARSE_ENV",
    "THREAD_ENVS",
    "STRATEGY_CHOICES",
    "STRATEGY_ENV",
    "banner",
    "capped_fit_arguments",
    "data_dir",
    "install_rehearsal_caps",
    "is_network_blocked",
    "describe_strategy",
    "is_offline",
    "is_quick",
    "is_rehearsal",
    "pick",
    "rehearsal_steps",
    "pick_strategy",
    "set_seeds",
    "setup_device",
    "shared_core_threads",
    "start_chapter",
    "tpu_address",
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
STRATEGY_ENV = "HOML_CV_STRATEGY"
STRATEGY_CHOICES = ("auto", "default", "mirrored", "tpu", "multiworker")
# Figures are stored in the notebooks: 72 dpi keeps a chapter well under 1 MB.
FIGURE_DPI = 72
THREAD_ENVS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
"""The environment variables TensorFlow reads for its two thread pools (see :func:`shared_core_threads`)."""

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


def shared_core_threads(processes: int, cores: int | None = None) -> dict:
    """TensorFlow's thread counts for one of ``processes`` processes that share the CPU's cores.

    By default each TensorFlow process sizes its thread pools to every core, so two
    processes side by side (two notebooks under ``homl-cv run -j 2`` or pytest's two
    workers) run twice as many busy threads as there are cores and spend time
    switching between them. Giving each ``cores // processes`` intra-op threads and
    one inter-op thread avoids that: two of chapter 06's trainings side by side on the
    2-core machine took 0.73-0.86x the wall time of TensorFlow's default (BENCHMARKS.md).
    The numbers change in their last digits (another summation order), not in what they show.

    Args:
        processes: how many TensorFlow processes run at once (>= 1).
        cores: the cores they share; default ``os.cpu_count()``.

    Returns:
        ``{}`` for one process (TensorFlow's own default), otherwise the
        :data:`THREAD_ENVS` values to put in each process's environment before it
        imports TensorFlow.

    >>> shared_core_threads(2, cores=2)
    {'TF_NUM_INTRAOP_THREADS': '1', 'TF_NUM_INTEROP_THREADS': '1'}
    >>> shared_core_threads(2, cores=16)["TF_NUM_INTRAOP_THREADS"]
    '8'
    >>> shared_core_threads(1)
    {}
    """
    processes = checks.positive_int(processes, "processes")
    cores = checks.positive_int(os.cpu_count() or 1 if cores is None else cores, "cores")
    if processes == 1:
        return {}
    return dict(zip(THREAD_ENVS, (str(max(1, cores // processes)), "1")))


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
    strategy: object = None

    @property
    def replicas(self) -> int:
        """Replicas of :attr:`strategy` (1 when no strategy was picked)."""
        return 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)

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
        A :class:`DeviceInfo` (its ``strategy`` is None: :func:`start_chapter`
        fills it in).
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
        print(_device_report(info, fast))
    return info


def _device_report(info: DeviceInfo, fast: bool) -> str:
    if fast and not info.gpus:
        return "No GPU found: mixed precision and XLA stay off (they help on GPUs only)."
    if info.gpus:
        return (f"{info.name}: memory growth on; mixed precision "
                f"{'on' if info.mixed_precision else 'off'}; XLA {'on' if info.jit_compile else 'off'}.")
    return "Running on the CPU."


_STRATEGIES: dict = {}  # one strategy object per choice: a TPU is initialized only once


def tpu_address():
    """Where a TPU is, or None: the only TPU probe that touches nothing.

    A TPU counts as present when ``TPU_NAME`` (Cloud TPU) or ``COLAB_TPU_ADDR``
    (old Colab TPU nodes) is set, or when TPU device files exist
    (``/dev/accel0``, ``/dev/vfio/0``: a TPU VM such as today's Colab and
    Kaggle TPUs). Returns the address to give ``TPUClusterResolver`` (``"local"``
    on a TPU VM). No network call is made, so it is safe offline.
    """
    if os.environ.get("TPU_NAME"):
        return os.environ["TPU_NAME"]
    if os.environ.get("COLAB_TPU_ADDR"):
        return "grpc://" + os.environ["COLAB_TPU_ADDR"]
    if Path("/dev/accel0").exists() or Path("/dev/vfio/0").exists():
        return "local"
    return None


def _tpu_strategy(address: str):
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _strategy_choice(name) -> str:
    if name is None:
        value = os.environ.get(STRATEGY_ENV, "").strip().lower() or "auto"
        if value not in STRATEGY_CHOICES:
            raise ValueError(
                f"Environment variable {STRATEGY_ENV}={os.environ[STRATEGY_ENV]!r} is not a "
                f"strategy: use one of {', '.join(STRATEGY_CHOICES)} (or unset it for auto)."
            )
        return value
    return checks.one_of(str(name).strip().lower(), "strategy", STRATEGY_CHOICES)  # any case


def pick_strategy(name: str | None = None):
    """The ``tf.distribute`` strategy for what this machine has (or what is forced).

    ``auto`` (the default): a TPU (see :func:`tpu_address`) -> ``TPUStrategy``;
    2 or more GPUs -> ``MirroredStrategy`` over all of them; otherwise the
    default strategy (one device, no copies: exactly what Keras does without
    a strategy). Forcing:

    - ``default``: the default strategy, whatever the hardware.
    - ``mirrored``: ``MirroredStrategy`` over the GPUs, or over the CPU's logical
      devices when there is no GPU (see :func:`homl_cv.distribute.split_cpu`).
    - ``tpu``: ``TPUStrategy``; an error when no TPU is found.
    - ``multiworker``: ``MultiWorkerMirroredStrategy``, configured by the
      ``TF_CONFIG`` environment variable (one worker when it is unset).

    Args:
        name: one of :data:`STRATEGY_CHOICES`; None reads ``HOML_CV_STRATEGY``
            (unset: ``auto``).

    Returns:
        A ``tf.distribute.Strategy``; the same object for the same choice (a TPU
        is initialized only once per process). Use it as
        ``with strategy.scope(): model = ...; model.compile(...)``.

    Raises:
        ValueError: an unknown name (argument or environment variable), or
            ``tpu`` without a TPU.

    Example:
        >>> config.pick_strategy().num_replicas_in_sync  # CPU-only machine
        1
    """
    import tensorflow as tf

    choice = _strategy_choice(name)
    if choice == "auto":
        if tpu_address() is not None:
            choice = "tpu"
        elif len(tf.config.list_physical_devices("GPU")) >= 2:
            choice = "mirrored"
        else:
            choice = "default"
    if choice == "default":
        return tf.distribute.get_strategy()
    if choice in _STRATEGIES:
        return _STRATEGIES[choice]
    if choice == "tpu":
        address = tpu_address()
        if address is None:
            raise ValueError(
                "strategy='tpu' was asked for but no TPU is found (no TPU_NAME, no "
                "COLAB_TPU_ADDR, no /dev/accel0): pick a TPU runtime (Colab: Runtime > "
                "Change runtime type > TPU) or use strategy='auto'."
            )
        strategy = _tpu_strategy(address)
    elif choice == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices)
    else:  # multiworker
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _STRATEGIES[choice] = strategy
    return strategy


def describe_strategy(strategy) -> str:
    """A short name for ``strategy``, e.g. ``"MirroredStrategy, 2 replicas"``."""
    kind = type(strategy).__name__
    if kind == "_DefaultDistributionStrategy":
        kind = "default strategy"
    replicas = int(strategy.num_replicas_in_sync)
    return f"{kind}, {replicas} replica{'s' if replicas != 1 else ''}"


def banner(chapter: str, strategy=None) -> str:
    """Print (and return) the one-line banner each chapter starts with.

    It states the mode (quick/full, offline/online), the TensorFlow and Keras
    versions, the device and the distribution strategy with its replica count,
    so nobody mistakes a quick offline run for the real thing.

    Args:
        chapter: the chapter's title.
        strategy: the ``tf.distribute`` strategy to name; None picks one with
            :func:`pick_strategy`.
    """
    import keras
    import tensorflow as tf

    if strategy is None:
        strategy = pick_strategy()
    mode = "QUICK" if is_quick() else "FULL"
    net = "OFFLINE" if is_offline() else "online"
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else "CPU only"
    line = (
        f"[homl-cv] {chapter} | mode: {mode}, {net} | TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__} | device: {device} | {describe_strategy(strategy)}"
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


def start_chapter(title: str, seed: int = 42, fast: bool = False,
                  strategy: str | None = None) -> DeviceInfo:
    """What the first code cell of every chapter does, in one call.

    Sets up the device (see :func:`setup_device`; ``fast`` switches on mixed
    precision and XLA on a GPU), picks the distribution strategy (see
    :func:`pick_strategy`; ``strategy`` forces one), prints the :func:`banner`,
    seeds every random generator with ``seed``, caps training when rehearsing
    (:func:`install_rehearsal_caps`) and sets matplotlib's figure and
    savefig resolution to :data:`FIGURE_DPI`. Returns the :class:`DeviceInfo`,
    whose ``strategy`` is the one picked.
    """
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = FIGURE_DPI
    matplotlib.rcParams["savefig.dpi"] = FIGURE_DPI
    info = setup_device(fast=fast, verbose=False)  # before any device is initialized
    picked = pick_strategy(strategy)
    banner(title, picked)
    set_seeds(seed)
    install_rehearsal_caps()
    print(_device_report(info, fast))
    return dataclasses.replace(info, strategy=picked)
