"""Scaling out with ``tf.distribute``: replicas, global batch, learning-rate scaling, workers.

:func:`homl_cv.config.pick_strategy` picks the strategy (TPU, several GPUs,
or the default); this module holds the rest of the tool-kit:

- :func:`split_cpu` splits the CPU into logical devices, so that
  ``MirroredStrategy`` can be taught and tested on a laptop or in CI (it shows
  the mechanics, not a speed-up: the "devices" share the same cores).
- :func:`global_batch_size` and :func:`scale_learning_rate`: with ``R``
  replicas each seeing ``b`` examples, one step sees ``B = R * b``; the linear
  scaling rule multiplies the learning rate by the same factor.
- :func:`warmup_cosine_schedule`: the warm-up that makes large batches train.
- :func:`jit_compile_for`: XLA under a strategy (only on one replica).
- :func:`train_custom_loop`: a training loop written with ``strategy.run``,
  where the gradient average across replicas is visible; it also runs under
  ``MultiWorkerMirroredStrategy``, which Keras 3's ``fit`` does not support
  (keras-team/keras#20585).
- :func:`tf_config`, :func:`free_ports` and :func:`run_local_workers`:
  several worker processes on one machine, each with its ``TF_CONFIG``.

Example:
    >>> from homl_cv import config, distribute
    >>> strategy = config.pick_strategy()  # default strategy on a CPU
    >>> distribute.global_batch_size(32, strategy)
    32
    >>> distribute.scale_learning_rate(1e-3, global_batch=256, base_batch=32)
    0.008
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time


from homl_cv import checks, config

__all__ = [
    "get_strategy", "strategy_of", "split_cpu", "replicas", "global_batch_size", "scale_learning_rate",
    "warmup_cosine_schedule", "jit_compile_for", "LoopResult", "train_custom_loop", "tf_config", "free_ports",
    "WorkersResult", "run_local_workers",
]


def get_strategy(strategy=None):
    """The strategy a training helper should use.

    Args:
        strategy: None (the one :func:`homl_cv.config.pick_strategy` picks for
            this machine, or ``HOML_CV_STRATEGY``), a name such as
            ``"mirrored"``, or a ``tf.distribute.Strategy`` (returned as is).
    """
    if strategy is None or isinstance(strategy, str):
        return config.pick_strategy(strategy)
    return checks.has_attributes(strategy, "strategy", ("scope", "num_replicas_in_sync"),
                                 f"a tf.distribute strategy: pass None, one of {', '.join(config.STRATEGY_CHOICES)}, "
                                 f"or e.g. tf.distribute.MirroredStrategy()")


def strategy_of(model):
    """The strategy ``model`` was built under (the default strategy if none).

    A model's variables live where it was built: compile and train it under
    the same strategy's scope.
    """
    return model.distribute_strategy


def split_cpu(num_devices: int = 2) -> list:
    """Split the (first) CPU into ``num_devices`` logical devices; return their names.

    ``MirroredStrategy`` then sees several devices on a CPU-only machine, e.g.
    ``["/device:CPU:0", "/device:CPU:1"]``. They share the same cores: this is
    for learning and testing the mechanics (replicas, all-reduce, global
    batch), not for speed.

    TensorFlow fixes its devices the first time it uses them (the first op,
    ``list_logical_devices``, creating a strategy), and after that they cannot
    change. So call this first, right after ``import tensorflow``, in a fresh
    process or kernel. Calling it again with the same number is harmless.

    Args:
        num_devices: how many logical CPU devices, >= 1.

    Returns:
        The logical CPU device names.

    Raises:
        ValueError: ``num_devices`` is not a positive integer.
        RuntimeError: TensorFlow has already set up its devices with another
            number of CPU devices (restart the kernel and call this first).

    Example:
        >>> distribute.split_cpu(2)  # in a fresh process  # doctest: +SKIP
        ['/device:CPU:0', '/device:CPU:1']
    """
    import tensorflow as tf

    num_devices = checks.positive_int(num_devices, "num_devices")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
        )
    except RuntimeError as err:  # devices already initialized
        current = tf.config.list_logical_devices("CPU")
        if len(current) == num_devices:
            return [d.name for d in current]
        raise RuntimeError(
            f"split_cpu(num_devices={num_devices}): TensorFlow has already set up its devices "
            f"({len(current)} logical CPU device(s)), and they cannot change in a running "
            "process. Call split_cpu first, before any TensorFlow op, model or strategy: "
            "restart the kernel (or start a new process) and run it right after the imports."
        ) from err
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def replicas(strategy=None) -> int:
    """Replicas that train in sync under ``strategy`` (default: the current one)."""
    import tensorflow as tf

    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    return int(strategy.num_replicas_in_sync)


def global_batch_size(per_replica_batch: int, strategy=None) -> int:
    """The batch one training step sees: ``per_replica_batch * replicas``.

    Keras' ``fit(batch_size=...)`` and ``Dataset.batch(...)`` take the *global*
    batch: under a strategy with ``R`` replicas each replica gets ``1/R`` of
    it. To keep each device as busy as on one device, multiply.

    Args:
        per_replica_batch: examples per replica per step, >= 1.
        strategy: a ``tf.distribute`` strategy or a replica count (int); None
            means the current strategy.

    Example:
        >>> distribute.global_batch_size(64, 8)
        512
    """
    per_replica_batch = checks.positive_int(per_replica_batch, "per_replica_batch")
    count = checks.positive_int(strategy, "strategy") if checks.is_int(strategy) else replicas(strategy)
    return per_replica_batch * count


def scale_learning_rate(base_learning_rate: float, global_batch: int, base_batch: int) -> float:
    """The linear scaling rule (Goyal et al., 2017): the learning rate grows with the batch.

    A recipe tuned with learning rate :math:`\\eta` at batch :math:`b` is run
    at batch :math:`B` with

    .. math:: \\eta_B = \\eta \\cdot B / b.

    Why: the averaged gradient of a batch ``k`` times larger is about as large
    as one small-batch gradient, but there are ``k`` times fewer steps; a ``k``
    times larger step keeps the distance travelled per epoch. It holds up to
    batches of a few thousand images, and only with a warm-up (see
    :func:`warmup_cosine_schedule`): early on, the weights change fast and a
    large step diverges. For Adam, some use the square-root rule
    (:math:`\\eta \\sqrt{B/b}`) instead; both are starting points to tune.

    Example:
        >>> distribute.scale_learning_rate(0.1, global_batch=1024, base_batch=256)
        0.4
    """
    global_batch = checks.positive_int(global_batch, "global_batch")
    base_batch = checks.positive_int(base_batch, "base_batch")
    base_learning_rate = checks.positive_number(base_learning_rate, "base_learning_rate")
    return base_learning_rate * global_batch / base_batch


def warmup_cosine_schedule(learning_rate: float, warmup_steps: int, total_steps: int):
    """Linear warm-up from ~0 to ``learning_rate`` over ``warmup_steps``, then cosine decay to 0.

    The schedule large-batch training needs with the linear scaling rule
    (Keras' ``CosineDecay`` with its warm-up). Pass it as the optimizer's
    ``learning_rate``.

    Args:
        learning_rate: the peak rate (e.g. from :func:`scale_learning_rate`).
        warmup_steps: steps of linear warm-up, >= 0 and < ``total_steps``.
        total_steps: all training steps (epochs x steps per epoch).

    Example:
        >>> sched = distribute.warmup_cosine_schedule(0.4, 10, 100)
        >>> round(float(sched(5)), 3), round(float(sched(10)), 3)
        (0.2, 0.4)
    """
    import keras

    total_steps = checks.positive_int(total_steps, "total_steps")
    checks.int_in(warmup_steps, "warmup_steps", 0, total_steps - 1, f"fewer than total_steps={total_steps}")
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=int(total_steps - warmup_steps),
        warmup_target=float(learning_rate), warmup_steps=int(warmup_steps),
    )


def jit_compile_for(strategy, jit_compile, verbose: bool = True):
    """The ``jit_compile`` to give ``model.compile`` under ``strategy``.

    Keras 3 compiles the *whole* training step with XLA, and under a strategy
    with several replicas that step touches variables on several devices,
    which XLA cannot compile ("Trying to access resource ... located in device
    CPU:1 from device CPU:0", keras-team/keras#19005). Keras' own ``"auto"``
    therefore turns XLA off under ``tf.distribute``. This function applies the
    same rule to an explicit request (e.g. ``DeviceInfo.jit_compile`` from
    ``config.setup_device(fast=True)``) and says so, instead of crashing:
    with one replica the request is returned unchanged; with several, False.
    Mixed precision is not affected: it works under any strategy.

    Example:
        >>> distribute.jit_compile_for(tf.distribute.get_strategy(), True)  # doctest: +SKIP
        True
    """
    if replicas(strategy) == 1 or not jit_compile or jit_compile == "auto":
        return jit_compile
    if verbose:
        print(f"XLA off: {replicas(strategy)} replicas (Keras 3 cannot compile a multi-device "
              "training step with XLA); mixed precision is unaffected.")
    return False


@dataclasses.dataclass
class LoopResult:
    """What :func:`train_custom_loop` returns.

    Attributes:
        losses: mean training loss per epoch (over all examples of all replicas).
        steps: training steps run.
        replicas: replicas that trained in sync.
        seconds: wall time of the loop.
    """

    losses: list
    steps: int
    replicas: int
    seconds: float


def train_custom_loop(model, dataset, loss_fn, optimizer, epochs: int = 1,
                      strategy=None) -> LoopResult:
    """Train ``model`` with a hand-written loop under ``strategy``; the gradient average is explicit.

    Each replica gets its slice of a global batch, computes the per-example
    losses, and divides their *sum* by the number of examples in the whole
    global batch (an all-reduce of the slice sizes), so that when the optimizer
    sums the replicas' gradients (its all-reduce), the result is the gradient
    of the mean loss over the global batch:

    .. math:: g = \\sum_{r=1}^{R} \\nabla \\frac{1}{B} \\sum_{i \\in \\text{slice}_r} \\ell_i
              = \\frac{1}{B} \\sum_{i=1}^{B} \\nabla \\ell_i.

    This is what ``fit`` does for you; write it when you need a custom loop,
    or under ``MultiWorkerMirroredStrategy`` (Keras 3's ``fit`` fails there:
    keras-team/keras#20585).

    Args:
        model: a Keras model, created under ``strategy.scope()``.
        dataset: a ``tf.data.Dataset`` of ``(x, y)`` *global* batches.
        loss_fn: per-example loss ``loss_fn(y_true, y_pred) -> (batch,)``, e.g.
            ``keras.losses.SparseCategoricalCrossentropy(reduction="none")``.
        optimizer: a Keras optimizer, created under ``strategy.scope()``.
        epochs: passes over ``dataset``.
        strategy: the strategy (default: the current one, e.g. inside
            ``with strategy.scope():``).

    Returns:
        A :class:`LoopResult`.

    Example:
        >>> with strategy.scope():  # doctest: +SKIP
        ...     model, opt = build(), keras.optimizers.SGD(0.1)
        >>> distribute.train_custom_loop(model, ds, loss, opt, epochs=3, strategy=strategy)
    """
    import tensorflow as tf

    epochs = checks.positive_int(epochs, "epochs")
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    if not optimizer.built:  # its slots (momentum...) must exist before the first replica step
        with strategy.scope():
            optimizer.build(model.trainable_variables)
    dist_dataset = strategy.experimental_distribute_dataset(dataset)

    def replica_step(x, y):
        context = tf.distribute.get_replica_context()
        local = tf.cast(tf.shape(y)[0], tf.float32)
        global_count = context.all_reduce("SUM", local)  # B, summed over the replicas
        with tf.GradientTape() as tape:
            per_example = loss_fn(y, model(x, training=True))
            loss = tf.reduce_sum(per_example) / global_count
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # sums over replicas
        return loss * global_count, local

    @tf.function
    def step(x, y):
        loss_sum, count = strategy.run(replica_step, args=(x, y))
        return strategy.reduce("SUM", loss_sum, axis=None), strategy.reduce("SUM", count, axis=None)

    start, losses, steps = time.perf_counter(), [], 0
    for _ in range(epochs):
        total, seen = 0.0, 0.0
        for x, y in dist_dataset:
            loss_sum, count = step(x, y)
            total, seen, steps = total + float(loss_sum), seen + float(count), steps + 1
        losses.append(total / max(seen, 1.0))
    return LoopResult(losses, steps, int(strategy.num_replicas_in_sync),
                      time.perf_counter() - start)


def tf_config(workers, index: int, task_type: str = "worker") -> str:
    """The ``TF_CONFIG`` value (a JSON string) for one process of a cluster.

    Every process gets the same ``cluster`` and its own ``task``; worker 0 is
    the chief (it writes checkpoints and logs).

    Args:
        workers: the workers' ``"host:port"`` addresses, in order.
        index: this process' position in ``workers``.
        task_type: ``"worker"`` (``"chief"``, ``"ps"``, ``"evaluator"`` for
            other set-ups).

    Example:
        >>> distribute.tf_config(["10.0.0.1:12345", "10.0.0.2:12345"], 1)
        '{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, "task": {"type": "worker", "index": 1}}'
    """
    workers = list(workers)
    if not workers or not all(isinstance(w, str) and ":" in w for w in workers):
        raise ValueError(f"workers={workers!r} must be a non-empty list of 'host:port' strings.")
    checks.int_in(index, "index", 0, len(workers) - 1, "this worker's position in workers")
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": task_type, "index": index}})


def free_ports(count: int, host: str = "127.0.0.1") -> list:
    """``count`` distinct TCP ports that are free on ``host`` right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclasses.dataclass
class WorkersResult:
    """What :func:`run_local_workers` returns.

    Attributes:
        returncodes: each worker's exit status (negative: killed by that signal).
        outputs: each worker's stdout and stderr together.
        timed_out: whether the time limit was hit (then every worker was killed).
        seconds: wall time.
    """

    returncodes: list
    outputs: list
    timed_out: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(code == 0 for code in self.returncodes)


def run_local_workers(script, args=(), num_workers: int = 2, timeout: float = 120,
                      host: str = "127.0.0.1", env=None) -> WorkersResult:
    """Run ``python script args...`` as ``num_workers`` workers of one cluster on this machine.

    Each process gets ``TF_CONFIG`` (see :func:`tf_config`) with free
    loopback ports, plus ``HOML_CV_WORKER_INDEX`` (its index), and must create
    ``tf.distribute.MultiWorkerMirroredStrategy()`` before any other
    TensorFlow op. GPUs are hidden (``CUDA_VISIBLE_DEVICES=""``) so that the
    workers do not fight over them. When ``timeout`` seconds pass, every
    worker is killed (a worker waiting for a dead peer would wait for ever).

    Args:
        script: path of the Python script each worker runs.
        args: extra command-line arguments; ``"{index}"`` in one is replaced by
            the worker's index.
        num_workers: processes to start, >= 1.
        timeout: seconds before they are all killed.
        env: extra environment variables.

    Returns:
        A :class:`WorkersResult`.
    """
    num_workers = checks.positive_int(num_workers, "num_workers")
    workers = [f"{host}:{port}" for port in free_ports(num_workers, host)]
    procs = []
    start = time.monotonic()
    for index in range(num_workers):
        worker_env = {**os.environ, **(env or {}), "TF_CONFIG": tf_config(workers, index),
                      "HOML_CV_WORKER_INDEX": str(index), "CUDA_VISIBLE_DEVICES": ""}
        command = [sys.executable, str(script)] + [str(a).replace("{index}", str(index)) for a in args]
        procs.append(subprocess.Popen(command, env=worker_env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    timed_out, logs = False, [None] * num_workers
    for index, proc in enumerate(procs):
        try:
            logs[index] = proc.communicate(
                timeout=max(0.1, timeout - (time.monotonic() - start)))[0]
        except subprocess.TimeoutExpired:
            timed_out = True
            break
    if timed_out:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        logs = [log if log is not None else proc.communicate()[0]
                for log, proc in zip(logs, procs)]
    return WorkersResult([proc.returncode for proc in procs], logs, timed_out,
                         time.monotonic() - start)
