"""tf.distribute: the strategy choice, 1 vs 2 replicas, two real workers, the helpers' contracts.

Logical CPU devices can only be set before TensorFlow initializes its devices,
so everything that needs two replicas runs in a fresh Python process; the
pytest worker's own TensorFlow is left as it was.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from homl_cv import config, distribute

ROOT = Path(__file__).resolve().parents[1]

# Same result on 1 or 2 replicas: LeNet-5 (the chapter 02 model) on 256 real digits, 3 epochs,
# global batch 32, no shuffling (the same batches in the same order), same seed. Under
# MirroredStrategy each replica gets 16 of the 32 images and the gradients are averaged, so
# the loss curve is the single-device one up to float rounding (measured: ~1e-7).
# TOLERANCE is what may differ. The negative control shows the test can fail: with the
# "per-replica batch" misunderstanding (fit(batch_size=16) on 2 replicas, i.e. a global batch of
# 16, twice as many steps), the curve moves by ~1e-2, 100x the tolerance.
TOLERANCE = 1e-4

REPLICAS_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tensorflow as tf
    from homl_cv import config, data, distribute, models, training

    out = sys.argv[1]
    devices = distribute.split_cpu(2)            # before anything else touches TensorFlow
    strategy = config.pick_strategy()            # HOML_CV_STRATEGY=mirrored in the environment
    line = config.banner("10 test", strategy)
    digits = data.load_digits_28x28()
    x, y = training.scale_images(digits.x_train[:256]), digits.y_train[:256]

    def curve(strategy, batch_size, epochs=3, policy="float32", jit_compile=False):
        jit_compile = distribute.jit_compile_for(strategy, jit_compile)
        import keras
        keras.mixed_precision.set_global_policy(policy)
        config.set_seeds(0)
        with strategy.scope():
            model = models.build_lenet5()
            model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=jit_compile,
                          loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
        keras.mixed_precision.set_global_policy("float32")
        return model, history.history["loss"]

    _, one = curve(tf.distribute.get_strategy(), 32)
    model, two = curve(strategy, distribute.global_batch_size(16, strategy))
    _, wrong = curve(strategy, 16)               # per-replica batch passed as the global batch
    model.save(out + "/model.keras")             # saved under the strategy
    np.save(out + "/probe.npy", x[:8])
    np.save(out + "/probe_pred.npy", model.predict(x[:8], verbose=0))
    _, fast = curve(strategy, 32, epochs=1, policy="mixed_float16", jit_compile=True)

    # The package's training helpers under the 2-replica strategy (tiny sizes: they run, on 2 replicas).
    from homl_cv import detection, localization
    helpers = {}
    info = config.setup_device(fast=True, verbose=False)      # a no-op on a CPU, the GPU switch elsewhere
    loc = localization.train_localizer(num_images=60, epochs=1, batch_size=8, verbose=0, strategy=strategy)
    helpers["train_localizer"] = loc.model.distribute_strategy.num_replicas_in_sync, loc.history["loss"][-1]
    crops, labels = x[:64, :24, :24].repeat(3, axis=-1), y[:64] % 5
    win = detection.train_window_classifier(crops, labels, 5, epochs=1, verbose=0, strategy=strategy)
    helpers["train_window_classifier"] = win.model.distribute_strategy.num_replicas_in_sync, win.history["loss"][-1]
    with strategy.scope():
        lenet = models.build_lenet5()
    small = digits.__class__(digits.x_train[:64], digits.y_train[:64], digits.x_valid[:32],
                             digits.y_valid[:32], digits.x_test, digits.y_test, digits.class_names, "")
    hist = training.fit_classifier(lenet, small, epochs=1, verbose=0)  # a model passed in: its strategy
    helpers["fit_classifier"] = lenet.distribute_strategy.num_replicas_in_sync, hist.history["loss"][-1]
    # (segmentation.train_segmentation takes its model like fit_classifier; left out to save CI time)
    json.dump({"devices": devices, "replicas": strategy.num_replicas_in_sync, "banner": line,
               "one": one, "two": two, "wrong": wrong, "fast": fast, "helpers": helpers},
              open(out + "/result.json", "w"))
''')

WORKER_SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()   # reads TF_CONFIG; first TF call
    import keras
    from homl_cv import config, distribute

    config.set_seeds(0)
    rng = np.random.default_rng(0)                # the same data on both workers
    x = rng.normal(size=(256, 8)).astype("float32")
    y = ((x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)).astype("int64")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    with strategy.scope():
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(3)])
        optimizer = keras.optimizers.SGD(0.1)
    start = [w.copy() for w in model.get_weights()]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    result = distribute.train_custom_loop(model, dataset.with_options(options), loss, optimizer,
                                          epochs=3, strategy=strategy)
    np.savez(sys.argv[1], *model.get_weights())
    moved = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), start))
    print("RESULT", result.replicas, result.losses, moved)
''')


def _python(code_path, *args, env=None, timeout=600):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    return subprocess.run([sys.executable, str(code_path), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def replicas_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replicas")
    script = folder / "replicas.py"
    script.write_text(REPLICAS_SCRIPT)
    proc = _python(script, str(folder), env={config.STRATEGY_ENV: "mirrored"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads((folder / "result.json").read_text()), "stdout": proc.stdout}, folder


def test_two_logical_cpus_give_two_replicas_and_the_banner_says_so(replicas_run):
    result, _ = replicas_run
    assert result["devices"] == ["/device:CPU:0", "/device:CPU:1"]
    assert result["replicas"] == 2
    assert result["banner"].endswith("| MirroredStrategy, 2 replicas")


def test_same_loss_curve_on_one_and_two_replicas_at_the_same_global_batch(replicas_run):
    result, _ = replicas_run
    one, two, wrong = (np.array(result[k]) for k in ("one", "two", "wrong"))
    assert one[-1] < one[0], "the model did not learn: the comparison would be vacuous"
    np.testing.assert_allclose(two, one, rtol=0, atol=TOLERANCE)
    # The test can fail: another batch semantics moves the curve far beyond the tolerance.
    assert np.abs(wrong - one).max() > 10 * TOLERANCE


def test_mixed_precision_and_xla_run_under_a_strategy(replicas_run):
    result, _ = replicas_run
    assert len(result["fast"]) == 1 and np.isfinite(result["fast"][0])
    assert "XLA off: 2 replicas" in result["stdout"]


def test_training_helpers_run_under_a_two_replica_strategy(replicas_run):
    result, _ = replicas_run
    assert set(result["helpers"]) == {"train_localizer", "train_window_classifier", "fit_classifier"}
    for name, (replicas, loss) in result["helpers"].items():
        assert replicas == 2, name
        assert np.isfinite(loss), name


def test_model_saved_under_a_strategy_reloads_without_it(replicas_run):
    import keras

    _, folder = replicas_run
    model = keras.models.load_model(folder / "model.keras")  # no strategy in this process
    np.testing.assert_allclose(model.predict(np.load(folder / "probe.npy"), verbose=0),
                               np.load(folder / "probe_pred.npy"), rtol=1e-5, atol=1e-6)


def test_two_real_workers_end_with_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    run = distribute.run_local_workers(
        script, [str(tmp_path / "weights{index}.npz")], num_workers=2, timeout=400,
        env={"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )
    assert not run.timed_out, "the two workers did not finish in 400 s (killed)"
    assert run.ok, "\n\n".join(out[-2000:] for out in run.outputs)
    reports = [next(l for l in out.splitlines() if l.startswith("RESULT")) for out in run.outputs]
    assert reports[0] == reports[1]  # same replica count, same losses, same movement
    replicas_seen = int(reports[0].split()[1])
    assert replicas_seen == 2
    first, second = np.load(tmp_path / "weights0.npz"), np.load(tmp_path / "weights1.npz")
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])  # one all-reduce, one result
    moved = float(reports[0].split()[-1])
    assert moved > 1e-3, "the weights did not change: nothing was trained"


def test_workers_that_hang_are_killed_at_the_time_limit(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(60)\n")
    run = distribute.run_local_workers(script, num_workers=2, timeout=1)
    assert run.timed_out and not run.ok and run.seconds < 30
    assert all(code is not None and code < 0 for code in run.returncodes)


# ---------------------------------------------------------------- the choice (in this process)
def test_strategy_picked_on_this_machine(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv(config.STRATEGY_ENV, raising=False)
    strategy = config.pick_strategy()
    if config.tpu_address() is None and len(tf.config.list_physical_devices("GPU")) < 2:
        assert strategy is tf.distribute.get_strategy()  # the default strategy
        assert strategy.num_replicas_in_sync == 1
        assert config.describe_strategy(strategy) == "default strategy, 1 replica"


def test_forcing_a_strategy(monkeypatch):
    import tensorflow as tf

    monkeypatch.setenv(config.STRATEGY_ENV, "default")
    assert config.pick_strategy() is tf.distribute.get_strategy()
    mirrored = config.pick_strategy("Mirrored")  # the argument wins over the variable
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert config.pick_strategy("mirrored") is mirrored  # one object per choice
    monkeypatch.setenv(config.STRATEGY_ENV, "mirrored")
    assert config.pick_strategy() is mirrored


def test_bad_strategy_names_are_clear_errors(monkeypatch):
    monkeypatch.setenv(config.STRATEGY_ENV, "gpus")
    with pytest.raises(ValueError, match=r"HOML_CV_STRATEGY='gpus' is not a strategy: use one of "
                                         r"auto, default, mirrored, tpu, multiworker"):
        config.pick_strategy()
    with pytest.raises(ValueError, match=r"strategy='mirror' must be 'auto', 'default', 'mirrored', 'tpu' or 'multiworker'\."):
        config.pick_strategy("mirror")


def test_forcing_a_tpu_without_one_is_a_clear_error(monkeypatch):
    for name in ("TPU_NAME", "COLAB_TPU_ADDR"):
        monkeypatch.delenv(name, raising=False)
    if config.tpu_address() is not None:
        pytest.skip("this machine has a TPU")
    with pytest.raises(ValueError, match=r"strategy='tpu' was asked for but no TPU is found"):
        config.pick_strategy("tpu")
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    assert config.tpu_address() == "my-tpu"


def test_banner_and_start_chapter_name_the_strategy(capsys):
    line = config.banner("10 Test")
    assert line.endswith("| default strategy, 1 replica") or "replicas" in line
    info = config.start_chapter("10 Test")
    assert info.strategy is not None and info.replicas == info.strategy.num_replicas_in_sync
    assert "default strategy" in capsys.readouterr().out or info.replicas > 1


def test_split_cpu_after_devices_are_set_up_explains_the_fix():
    import tensorflow as tf

    tf.constant(1.0)  # TensorFlow has set up its devices in this process now
    current = len(tf.config.list_logical_devices("CPU"))
    assert len(distribute.split_cpu(current)) == current  # same number: harmless
    with pytest.raises(RuntimeError, match=r"split_cpu\(num_devices=\d+\): TensorFlow has already "
                                           r"set up its devices.*restart the kernel"):
        distribute.split_cpu(current + 1)
    with pytest.raises(ValueError, match=r"num_devices=0 must be a positive integer"):
        distribute.split_cpu(0)


# ---------------------------------------------------------------- batch and learning rate
def test_global_batch_and_linear_scaling():
    assert distribute.global_batch_size(64, 8) == 512
    assert distribute.global_batch_size(32) == 32  # the default strategy: 1 replica
    assert distribute.scale_learning_rate(0.1, global_batch=1024, base_batch=256) == pytest.approx(0.4)
    with pytest.raises(ValueError, match=r"per_replica_batch=0 must be a positive integer"):
        distribute.global_batch_size(0, 2)
    with pytest.raises(ValueError, match=r"base_batch=0 must be a positive integer"):
        distribute.scale_learning_rate(0.1, global_batch=64, base_batch=0)
    with pytest.raises(ValueError, match=r"base_learning_rate=-1 must be a positive number\."):
        distribute.scale_learning_rate(-1, global_batch=64, base_batch=32)


def test_warmup_then_cosine():
    schedule = distribute.warmup_cosine_schedule(0.4, warmup_steps=10, total_steps=110)
    values = [float(schedule(step)) for step in (0, 5, 10, 60, 110)]
    np.testing.assert_allclose(values, [0.0, 0.2, 0.4, 0.2, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match=r"warmup_steps=20 must be an integer from 0 to 9 \(fewer than total_steps=10\)"):
        distribute.warmup_cosine_schedule(0.4, warmup_steps=20, total_steps=10)


def test_jit_compile_for_one_and_several_replicas(capsys):
    class Two:
        num_replicas_in_sync = 2

    import tensorflow as tf

    assert distribute.jit_compile_for(tf.distribute.get_strategy(), True) is True
    assert distribute.jit_compile_for(Two(), "auto") == "auto"
    assert distribute.jit_compile_for(Two(), True) is False
    assert "XLA off: 2 replicas" in capsys.readouterr().out


def test_custom_loop_matches_fit_on_one_device():
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")

    def build():
        config.set_seeds(0)
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    model = build()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fit_losses = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history["loss"]
    model = build()
    loop = distribute.train_custom_loop(
        model, tf.data.Dataset.from_tensor_slices((x, y)).batch(32),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none"),
        keras.optimizers.SGD(0.1), epochs=2)
    assert loop.steps == 6 and loop.replicas == 1
    np.testing.assert_allclose(loop.losses, fit_losses, rtol=1e-5)


def test_tf_config_is_the_cluster_plus_this_task():
    value = json.loads(distribute.tf_config(["127.0.0.1:1000", "127.0.0.1:1001"], 1))
    assert value == {"cluster": {"worker": ["127.0.0.1:1000", "127.0.0.1:1001"]},
                     "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match=r"index=2 must be an integer from 0 to 1 \(this worker's position in workers\)"):
        distribute.tf_config(["a:1", "b:2"], 2)
    with pytest.raises(ValueError, match=r"workers=\['localhost'\] must be a non-empty list"):
        distribute.tf_config(["localhost"], 0)
    ports = distribute.free_ports(3)
    assert len(set(ports)) == 3
