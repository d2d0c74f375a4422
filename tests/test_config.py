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
