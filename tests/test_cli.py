"""The ``homl-cv`` command: ``doctor`` and ``bench``."""

import sys
import types

import pytest
import tensorflow as tf

from homl_cv import cli


def test_doctor_reports_versions_device_data_and_mode(capsys, monkeypatch, tmp_path):
    (tmp_path / "tf_flowers" / "3.0.1").mkdir(parents=True)
    (tmp_path / "tf_flowers" / "3.0.1" / "dataset_info.json").write_text("{}")
    (tmp_path / "fashion_mnist").mkdir()  # an interrupted download: no dataset_info.json
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "mnist.npz").write_bytes(b"")  # where load_mnist keeps it
    keras_home = tmp_path / "keras_home"
    (keras_home / "models").mkdir(parents=True)
    (keras_home / "models" / "xception_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"")
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("HOML_CV_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOML_CV_QUICK", "1")
    monkeypatch.setenv("HOML_CV_OFFLINE", "1")
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"TensorFlow {tf.__version__}" in out and "Keras 3." in out and "keras-cv" in out
    if tf.config.list_physical_devices("GPU"):
        assert "GPU 0:" in out and "compute capability" in out
    else:
        assert "GPU: none (CPU only)" in out and "Mixed precision: no" in out
    lines = out.splitlines()
    assert any(line.split() == ["tf_flowers", "available"] for line in lines)
    assert any(line.split() == ["mnist", "available"] for line in lines)
    assert any(line.split() == ["fashion_mnist", "not", "downloaded"] for line in lines)
    assert any(line.split() == ["oxford_iiit_pet", "not", "downloaded"] for line in lines)
    assert "xception_weights_tf_dim_ordering_tf_kernels_notop.h5" in out  # KERAS_HOME is honoured
    assert "chelsea" in out and "Mode: QUICK, OFFLINE" in out


def test_doctor_bad_env_value_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.setenv("HOML_CV_QUICK", "maybe")
    assert cli.main(["doctor"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "HOML_CV_QUICK='maybe'" in captured.err and "use 1 (on) or 0 (off)" in captured.err


def test_bench_forwards_its_arguments_and_exit_code(monkeypatch):
    calls = []
    fake = types.ModuleType("homl_cv.bench")
    fake.main = lambda argv=None: calls.append(argv) or 3
    monkeypatch.setitem(sys.modules, "homl_cv.bench", fake)
    assert cli.main(["bench", "--quick", "--only", "03", "-h"]) == 3
    assert calls == [["--quick", "--only", "03", "-h"]]
    fake.main = lambda argv=None: calls.append(argv) or 0
    assert cli.main(["bench"]) == 0 and calls[-1] == []


def test_bench_without_the_module_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "homl_cv.bench", None)  # makes the import fail
    assert cli.main(["bench"]) == 2
    assert "homl_cv.bench is missing" in capsys.readouterr().err


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "doctor" in out and "bench" in out and "run" in out


def test_help_is_plain_text(capsys):
    for argv in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        out = capsys.readouterr().out
        assert "``" not in out and ":func:" not in out and ":class:" not in out
    assert "homl-cv run --full --online 03" in cli.build_parser().format_help()


def test_doctor_console_is_quiet(tmp_path):
    """A fresh process: TensorFlow's C++ start-up lines do not reach the console."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "HOML_CV_DATA_DIR": str(tmp_path)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "homl_cv", "doctor"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if not tf.config.list_physical_devices("GPU"):
        assert done.stderr == ""
        assert "cuInit" not in done.stdout.replace(cli.CPU_ONLY_NOTE, "")
        assert cli.CPU_ONLY_NOTE in done.stdout


def test_native_stderr_is_captured_and_shown_on_error(capfd):
    import os

    with cli.native_stderr_captured() as log:
        os.write(2, b"from C++\n")
    assert log == ["from C++\n"] and capfd.readouterr().err == ""
    with pytest.raises(RuntimeError), cli.native_stderr_captured():
        os.write(2, b"why it failed\n")
        raise RuntimeError("boom")
    assert "why it failed" in capfd.readouterr().err
