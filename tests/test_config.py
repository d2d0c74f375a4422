"""Modes, seeds, banner and the device switch."""

import numpy as np
import pytest

from homl_cv import config


def test_modes_follow_environment(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "1")
    monkeypatch.setenv(config.OFFLINE_ENV, "0")
    assert config.is_quick() and not config.is_offline()
    assert config.pick(quick=2, full=30) == 2
    monkeypatch.setenv(config.QUICK_ENV, "off")
    assert not config.is_quick()
    assert config.pick(quick=2, full=30) == 30


def test_unknown_flag_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "maybe")
    with pytest.raises(ValueError, match=r"HOML_CV_QUICK='maybe'.*use 1 \(on\) or 0 \(off\)"):
        config.is_quick()


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    assert config.data_dir() == tmp_path


def test_set_seeds_makes_numpy_and_tensorflow_repeatable():
    import tensorflow as tf

    config.set_seeds(7)
    first = np.random.rand(3), tf.random.uniform((3,)).numpy()
    config.set_seeds(7)
    second = np.random.rand(3), tf.random.uniform((3,)).numpy()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_banner_states_mode_versions_and_device(monkeypatch, capsys):
    import tensorflow as tf

    monkeypatch.setenv(config.QUICK_ENV, "1")
    monkeypatch.setenv(config.OFFLINE_ENV, "1")
    line = config.banner("01 Test")
    out = capsys.readouterr().out
    assert line.startswith("[homl-cv] 01 Test | mode: QUICK, OFFLINE")
    assert f"TensorFlow {tf.__version__}" in line and "device: CPU only" in line
    assert "Quick mode" in out and "Offline mode" in out


def test_fast_switch_is_a_no_op_with_a_message_on_cpu(capsys):
    import keras

    info = config.setup_device(fast=True)
    assert info.gpus == () and info.name == "CPU"
    assert not info.mixed_precision and not info.jit_compile
    assert keras.mixed_precision.global_policy().name == "float32"
    assert "No GPU found" in capsys.readouterr().out


def test_start_chapter_makes_figures_light(capsys):
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = 100
    config.start_chapter("00 Test")
    assert matplotlib.rcParams["figure.dpi"] == config.FIGURE_DPI == 72
    assert matplotlib.rcParams["savefig.dpi"] == config.FIGURE_DPI
    assert "[homl-cv] 00 Test" in capsys.readouterr().out


# ------------------------------------------------------------------ rehearsal
def test_rehearsal_is_full_and_online_whatever_the_other_flags(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "1")
    monkeypatch.setenv(config.OFFLINE_ENV, "1")
    monkeypatch.setenv(config.REHEARSE_ENV, "1")
    assert config.is_rehearsal() and not config.is_quick() and not config.is_offline()
    assert config.pick(quick=2, full=30) == 30
    assert config.rehearsal_steps(500) == config.REHEARSAL_STEPS == 2
    assert config.rehearsal_steps(1) == 1
    monkeypatch.setenv(config.REHEARSE_ENV, "0")
    assert config.rehearsal_steps(500) == 500 and config.is_quick()


def test_capped_fit_arguments_never_ask_for_more_batches_than_the_data_has():
    import tensorflow as tf

    capped = config.capped_fit_arguments(
        {"x": np.zeros((100, 4)), "y": np.zeros(100), "batch_size": 10, "epochs": 30,
         "validation_data": (np.zeros((15, 4)), np.zeros(15))})
    assert capped["epochs"] == 2 and capped["steps_per_epoch"] == 2
    assert capped["validation_steps"] == 2  # 15 samples in batches of 10
    one_batch = tf.data.Dataset.from_tensor_slices((np.zeros((8, 4)), np.zeros(8))).batch(32)
    capped = config.capped_fit_arguments({"x": one_batch, "epochs": 5, "initial_epoch": 3,
                                          "steps_per_epoch": None})
    assert capped["epochs"] == 5 and capped["steps_per_epoch"] == 1
    assert "validation_steps" not in capped
    endless = one_batch.repeat()
    assert config.capped_fit_arguments({"x": endless, "steps_per_epoch": 50})["steps_per_epoch"] == 2


def test_rehearsal_caps_every_keras_fit(monkeypatch):
    import keras

    monkeypatch.setattr(keras.Model, "fit", keras.Model.fit)  # restored after the test
    monkeypatch.setenv(config.REHEARSE_ENV, "0")
    assert config.install_rehearsal_caps() is False
    monkeypatch.setenv(config.REHEARSE_ENV, "1")
    assert config.install_rehearsal_caps() and config.install_rehearsal_caps()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    batches = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    x, y = np.zeros((100, 4), np.float32), np.zeros(100, np.float32)
    history = model.fit(x, y, batch_size=10, epochs=30, validation_data=(x, y), verbose=0,
                        callbacks=[counter])
    assert len(history.history["loss"]) == 2 and len(history.history["val_loss"]) == 2
    assert batches == [0, 1, 0, 1]


def test_banner_says_what_a_rehearsal_changes(monkeypatch, capsys):
    monkeypatch.setenv(config.REHEARSE_ENV, "1")
    line = config.banner("03 Test")
    out = capsys.readouterr().out
    assert "mode: FULL, online" in line
    assert "REHEARSAL" in out and "weights=None" in out and "capped" in out


@pytest.mark.parametrize("processes, cores, intra", [(2, 2, "1"), (2, 16, "8"), (3, 2, "1"), (4, 16, "4")])
def test_processes_side_by_side_share_the_cores(processes, cores, intra):
    assert config.shared_core_threads(processes, cores) == {
        "TF_NUM_INTRAOP_THREADS": intra, "TF_NUM_INTEROP_THREADS": "1"}


def test_one_process_keeps_tensorflows_default_and_bad_counts_say_so():
    assert config.shared_core_threads(1, 16) == {}
    with pytest.raises(ValueError, match=r"processes=0 must be a positive integer"):
        config.shared_core_threads(0)
    with pytest.raises(ValueError, match=r"cores=-2 must be a positive integer"):
        config.shared_core_threads(2, -2)
