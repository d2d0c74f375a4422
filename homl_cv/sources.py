"""Where data and weights come from: the plumbing every loader shares.

One policy for the whole package, so that the loaders (``data``,
``segmentation``), the pretrained models (``pretrained``, ``style``) and
``homl-cv doctor`` agree on it:

* **Mode.** :func:`resolve_offline` turns a loader's ``offline=None`` into
  ``HOML_CV_OFFLINE``; :func:`resolve_data_dir` turns ``data_dir=None`` into
  ``HOML_CV_DATA_DIR`` (default ``~/tensorflow_datasets``).
* **Failures.** A failed download raises :class:`DownloadError`, built by
  :func:`download_error` (datasets) or :func:`weights_download_error`
  (weights): it names what failed, why, and the two fixes. Nothing falls
  back silently: a stand-in is announced with :func:`announce_stand_in`.
* **Keras' cache.** :func:`keras_home` (``$KERAS_HOME`` or ``~/.keras``),
  :func:`keras_models_dir` (weights) and :func:`keras_datasets_dir`.
* **Weights.** :func:`resolve_weights`: ImageNet weights when online or
  already cached, else random weights with a plain warning
  (``weights="auto"``), or an error (``weights="imagenet"``).
* **No network.** :func:`require_network` probes a download's host once,
  in seconds, before a loader starts a download that would retry for
  minutes (tfds); :func:`block_network` refuses every connection from
  Python (``HOML_CV_NO_NETWORK=1``; the tests and ``homl-cv run --rehearse``).
* **Printing.** :func:`shown_path` writes the home folder as ``~`` (no
  absolute paths in stored notebooks); :func:`quiet_tf_logs` silences
  TensorFlow's Python-side notices for a moment.

Example:
    >>> from homl_cv import sources
    >>> sources.resolve_offline(True)
    True
    >>> sources.keras_models_dir().name
    'models'
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from homl_cv import config

__all__ = [
    "DownloadError",
    "KERAS_HOME_ENV",
    "NETWORK_PROBE_SECONDS",
    "NetworkBlockedError",
    "WEIGHTS_URL",
    "announce_stand_in",
    "block_network",
    "cached_weights_path",
    "download_error",
    "keras_datasets_dir",
    "keras_home",
    "keras_models_dir",
    "quiet_tf_logs",
    "resolve_data_dir",
    "require_network",
    "require_weights_network",
    "resolve_offline",
    "resolve_weights",
    "shown_path",
    "tfds_prepared",
    "unreachable_reason",
    "weights_download_error",
]

KERAS_HOME_ENV = "KERAS_HOME"
# Where keras.applications downloads ImageNet weights from (probed before a download).
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
NETWORK_PROBE_SECONDS = 5.0  # how long require_network waits for the name lookup and the connection


class DownloadError(ConnectionError):
    """A dataset or weights file could not be downloaded; the message says how to go on."""


# ------------------------------------------------------------------------------ mode
def resolve_offline(offline: bool | None) -> bool:
    """``offline`` itself, or ``HOML_CV_OFFLINE`` when it is ``None``."""
    return config.is_offline() if offline is None else bool(offline)


def resolve_data_dir(data_dir) -> Path:
    """``data_dir`` as an existing folder, or the default one when it is ``None``.

    Raises:
        FileNotFoundError: ``data_dir`` is given but is not an existing folder.
    """
    if data_dir is None:
        return config.data_dir()
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"data_dir={str(data_dir)!r} is not an existing folder. Create it (or fix the "
            f"path), or leave data_dir unset to use {config.DATA_DIR_ENV} / ~/tensorflow_datasets."
        )
    return path


def tfds_prepared(name: str, data_dir) -> bool:
    """Whether tfds dataset ``name`` is fully prepared in ``data_dir``.

    tfds writes ``dataset_info.json`` once a dataset is complete; an
    interrupted download leaves the folder without it.
    """
    return any((Path(data_dir) / name).glob("*/dataset_info.json"))


# ------------------------------------------------------------------------------ messages
def shown_path(path) -> str:
    """A path for printed messages, the home folder as ``~`` (no absolute paths in notebooks)."""
    home, text = str(Path.home()), str(path)
    return "~" + text[len(home):] if text.startswith(home) else text


def announce_stand_in(what: str, why: str, note: str = "") -> None:
    """Print one plain line saying that ``what`` is used, and ``why``.

    The line reads ``"{why}: using {what}."``, followed by ``note`` (what the
    stand-in can and cannot show) when given.

    Example:
        >>> announce_stand_in("scikit-learn's digits instead of MNIST", "Offline")
        Offline: using scikit-learn's digits instead of MNIST.
    """
    print(f"{why}: using {what}." + (f" {note}" if note else ""))


def download_error(dataset: str, reason: BaseException, data_dir: Path) -> DownloadError:
    """The :class:`DownloadError` for a dataset: what failed, why, and the two fixes."""
    return DownloadError(
        f"Could not download {dataset!r}: {type(reason).__name__}: {reason}\n"
        f"Two ways to go on:\n"
        f"  1. Put the data in {shown_path(data_dir)} beforehand (or point "
        f"{config.DATA_DIR_ENV} at a folder that has it), then run again.\n"
        f"  2. Run in offline mode ({config.OFFLINE_ENV}=1, with {config.QUICK_ENV}=1 for "
        f"the small quick run) to use the bundled or generated stand-in data instead."
    )


def weights_download_error(what: str, file_name: str, reason: BaseException) -> DownloadError:
    """The :class:`DownloadError` for pretrained weights: what failed, why, and the two fixes."""
    return DownloadError(
        f"Could not download the ImageNet weights of {what}: {type(reason).__name__}: {reason}\n"
        f"Two ways to go on: put the weights file {file_name} in "
        f"{shown_path(keras_models_dir())} beforehand, or run offline "
        f"({config.OFFLINE_ENV}=1, with {config.QUICK_ENV}=1 for the quick run) with random weights."
    )


# ------------------------------------------------------------------------------ network
class NetworkBlockedError(ConnectionRefusedError):
    """A connection refused by :func:`block_network`."""


_LOOPBACK = {None, "", "localhost", "127.0.0.1", "::1", "0.0.0.0"}


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    return not isinstance(host, str) or host in _LOOPBACK or host.startswith("127.")


def block_network() -> bool:
    """Refuse every network connection made from Python, loopback excepted.

    Patches ``socket.getaddrinfo``, ``socket.socket.connect`` and
    ``connect_ex`` so that any name lookup or connection to another host
    raises :class:`NetworkBlockedError` at once (Jupyter's kernel talks over
    loopback and C-level sockets, so it keeps working). ``homl_cv`` calls it
    on import when ``HOML_CV_NO_NETWORK=1``: how the tests and
    ``homl-cv run --rehearse`` make sure nothing is downloaded, even on a
    connected machine. Native code that opens its own sockets (TensorFlow's
    C++ file systems) is not covered. Returns True (also when already on).
    """
    if getattr(socket.socket.connect, "network_blocked", False):
        return True
    lookup, connect, connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def refuse(address):
        raise NetworkBlockedError(
            errno.ECONNREFUSED, f"network access to {address!r} refused ({config.NO_NETWORK_ENV}=1)")

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            refuse(host)
        return lookup(host, *args, **kwargs)

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            refuse(address)
        return connect(self, address)

    def guarded_connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            refuse(address)
        return connect_ex(self, address)

    guarded_connect.network_blocked = True
    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    return True


def unreachable_reason(url: str):
    """Why ``url``'s host cannot be reached (an exception), or None when it can.

    One name lookup and one TCP connection, :data:`NETWORK_PROBE_SECONDS`
    at most each (the lookup runs in a thread: ``getaddrinfo`` has no
    time-out of its own).
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = {}

    def lookup():
        try:
            found["addresses"] = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    # getaddrinfo has no time-out of its own: a dead resolver can block for 20 s and more.
    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(NETWORK_PROBE_SECONDS)
    if thread.is_alive():
        return TimeoutError(f"looking up {parts.hostname} took more than {NETWORK_PROBE_SECONDS:g} s")
    if "error" in found:
        return found["error"]
    family, kind, proto, _, address = found["addresses"][0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.settimeout(NETWORK_PROBE_SECONDS)
            probe.connect(address)
    except OSError as exc:
        return exc
    return None


def require_network(what: str, url: str, data_dir) -> None:
    """Fail at once, with the two fixes, when ``url``'s host cannot be reached.

    One name lookup and one TCP connection, :data:`NETWORK_PROBE_SECONDS`
    at most each, before a loader starts a download. Without it, tfds'
    downloader retries a dead connection ten times with back-off and a
    newcomer without a network waits minutes for the same error.

    Args:
        what: the dataset's name, for the message (e.g. "oxford_iiit_pet").
        url: the address the download would use.
        data_dir: where the data would have to be placed (named in the message).

    Raises:
        DownloadError: the host cannot be looked up or connected to
            (see :func:`download_error`).
    """
    reason = unreachable_reason(url)
    if reason is not None:
        raise download_error(what, reason, Path(data_dir))


def require_weights_network(what: str, file_name: str) -> None:
    """Fail at once, with the two fixes, when ImageNet weights must be downloaded and cannot be.

    Nothing to check when ``file_name`` is in Keras' cache; otherwise probes
    :data:`WEIGHTS_URL` (see :func:`unreachable_reason`) so that a machine
    without a network gets the error in seconds, not after a connection's
    time-outs.

    Raises:
        DownloadError: see :func:`weights_download_error`.
    """
    if cached_weights_path(file_name) is not None:
        return
    reason = unreachable_reason(WEIGHTS_URL)
    if reason is not None:
        raise weights_download_error(what, file_name, reason)


@contextlib.contextmanager
def quiet_tf_logs():
    """Silence TensorFlow's Python-side notices (deprecations, retracing) for a moment.

    tfds' mock data and several small models in a row trigger some that mean
    nothing to a learner. Errors still show.
    """
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


# ------------------------------------------------------------------------------ Keras' cache
def keras_home() -> Path:
    """Keras' own folder: ``$KERAS_HOME``, or ``~/.keras`` when unset."""
    home = os.environ.get(KERAS_HOME_ENV) or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home)


def keras_models_dir() -> Path:
    """Where ``keras.applications`` caches downloaded weights: ``keras_home() / "models"``."""
    return keras_home() / "models"


def keras_datasets_dir() -> Path:
    """Where ``keras.utils.get_file`` caches files by default: ``keras_home() / "datasets"``."""
    return keras_home() / "datasets"


# ------------------------------------------------------------------------------ weights
def cached_weights_path(file_name: str) -> Path | None:
    """Path of the weights file ``file_name`` in :func:`keras_models_dir`, or ``None`` if absent."""
    path = keras_models_dir() / file_name
    return path if path.is_file() else None


def resolve_weights(what: str, file_name: str, weights="auto", offline: bool | None = None,
                    verbose: bool = True):
    """Decide which weights to load: ``"imagenet"``, ``None`` (random) or a file path.

    The one weights policy of the package:

    * ``weights=None`` or a file path: returned as is;
    * when rehearsing (``HOML_CV_REHEARSE=1``): ``None``, and a line says so;
    * ``"imagenet"`` or ``"auto"`` when online, or when ``file_name`` is
      already cached: ``"imagenet"`` (Keras loads the cached file);
    * offline with nothing cached: ``"auto"`` gives ``None`` and prints a
      warning (when ``verbose``); ``"imagenet"`` raises.

    Args:
        what: the model's name, for messages (e.g. "Xception").
        file_name: the file Keras caches the ImageNet weights under.
        weights: ``"auto"``, ``"imagenet"``, ``None`` or a path to a weights file.
        offline: ``None`` follows ``HOML_CV_OFFLINE``.
        verbose: print the warning when falling back to random weights.

    Raises:
        ValueError: an unknown ``weights`` value.
        FileNotFoundError: ``weights="imagenet"`` offline with nothing cached.
    """
    if weights is None or (isinstance(weights, str) and weights not in ("auto", "imagenet")):
        return weights
    if weights not in ("auto", "imagenet"):
        raise ValueError(f"weights={weights!r}: use 'auto', 'imagenet', None or a file path.")
    if config.is_rehearsal():
        if verbose:
            announce_stand_in(f"RANDOM weights for {what} (weights=None)", "Rehearsal",
                              "The full-size model runs; its predictions mean nothing.")
        return None
    if cached_weights_path(file_name) is not None or not resolve_offline(offline):
        return "imagenet"
    message = f"Offline and no cached ImageNet weights for {what} in {shown_path(keras_models_dir())}"
    if weights == "imagenet":
        raise FileNotFoundError(
            f"{message}. Run once online (or copy the file {file_name} there), "
            f"or pass weights=None for random weights."
        )
    if verbose:
        announce_stand_in("RANDOM weights", message, "The model's structure, shapes and "
                          "speed are real, but its predictions mean nothing.")
    return None
