"""homl_cv.sources: offline and data-dir resolution, download errors, Keras' cache, weights policy."""

from pathlib import Path

import pytest

from homl_cv import config, data, pretrained, sources, style


def test_offline_follows_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv(config.OFFLINE_ENV, "1")
    assert sources.resolve_offline(None) is True
    assert sources.resolve_offline(False) is False
    monkeypatch.setenv(config.OFFLINE_ENV, "0")
    assert sources.resolve_offline(None) is False


def test_data_dir_default_and_missing_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    assert sources.resolve_data_dir(None) == tmp_path
    assert sources.resolve_data_dir(tmp_path) == tmp_path
    with pytest.raises(FileNotFoundError, match=r"data_dir='.*nope' is not an existing folder"):
        sources.resolve_data_dir(tmp_path / "nope")


def test_tfds_prepared_needs_dataset_info(tmp_path):
    (tmp_path / "tf_flowers" / "3.0.1").mkdir(parents=True)
    assert not sources.tfds_prepared("tf_flowers", tmp_path)  # an interrupted download
    (tmp_path / "tf_flowers" / "3.0.1" / "dataset_info.json").write_text("{}")
    assert sources.tfds_prepared("tf_flowers", tmp_path)


def test_shown_path_hides_the_home_folder():
    assert sources.shown_path(Path.home() / "data" / "x") == str(Path("~") / "data" / "x")
    assert sources.shown_path("/elsewhere/x") == "/elsewhere/x"


def test_announce_stand_in_is_one_plain_line(capsys):
    sources.announce_stand_in("the digits instead of MNIST", "Offline", "Numbers are smaller.")
    assert capsys.readouterr().out == "Offline: using the digits instead of MNIST. Numbers are smaller.\n"


def test_download_errors_name_what_why_and_the_two_fixes(tmp_path):
    error = sources.download_error("mnist", OSError("network unreachable"), tmp_path)
    assert isinstance(error, ConnectionError)
    assert "'mnist'" in str(error) and "network unreachable" in str(error)
    assert config.DATA_DIR_ENV in str(error) and f"{config.OFFLINE_ENV}=1" in str(error)
    error = sources.weights_download_error("VGG-19", "vgg19.h5", OSError("timed out"))
    assert "VGG-19" in str(error) and "vgg19.h5" in str(error) and f"{config.OFFLINE_ENV}=1" in str(error)


def test_keras_home_is_honoured(monkeypatch, tmp_path):
    monkeypatch.setenv(sources.KERAS_HOME_ENV, str(tmp_path))
    assert sources.keras_models_dir() == tmp_path / "models"
    assert sources.keras_datasets_dir() == tmp_path / "datasets"
    monkeypatch.delenv(sources.KERAS_HOME_ENV)
    assert sources.keras_home() == Path.home() / ".keras"


def test_one_weights_policy_for_pretrained_and_style(monkeypatch, tmp_path, capsys):
    """Offline: cached weights are used, missing ones give random weights (auto) or an error."""
    monkeypatch.setenv(sources.KERAS_HOME_ENV, str(tmp_path))
    monkeypatch.setenv(config.OFFLINE_ENV, "1")
    assert sources.resolve_weights("VGG-19", style.VGG19_WEIGHTS_FILE) is None
    assert "RANDOM weights" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match=f"{style.VGG19_WEIGHTS_FILE} there"):
        sources.resolve_weights("VGG-19", style.VGG19_WEIGHTS_FILE, "imagenet")
    (tmp_path / "models").mkdir()
    for name in (style.VGG19_WEIGHTS_FILE, pretrained.weights_file_name("Xception")):
        (tmp_path / "models" / name).write_bytes(b"")
    assert sources.resolve_weights("VGG-19", style.VGG19_WEIGHTS_FILE) == "imagenet"
    assert pretrained.resolve_weights("Xception") == "imagenet"
    assert sources.resolve_weights("x", "x.h5", None) is None
    assert sources.resolve_weights("x", "x.h5", "my_weights.h5") == "my_weights.h5"
    with pytest.raises(ValueError, match="weights=3"):
        sources.resolve_weights("x", "x.h5", 3)


def test_doctor_checks_where_load_mnist_really_keeps_mnist(tmp_path):
    assert data.mnist_file(tmp_path) == tmp_path / "mnist" / "mnist.npz"


# ------------------------------------------------------------------ no network, rehearsal
@pytest.fixture()
def no_network(monkeypatch):
    """``sources.block_network()`` for one test; the sockets are restored afterwards."""
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", socket.getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", socket.socket.connect)
    monkeypatch.setattr(socket.socket, "connect_ex", socket.socket.connect_ex)
    assert sources.block_network() and sources.block_network()


def test_blocked_network_refuses_other_hosts_but_not_loopback(no_network):
    import socket

    with pytest.raises(sources.NetworkBlockedError, match="HOML_CV_NO_NETWORK=1"):
        socket.getaddrinfo("example.org", 443)
    with pytest.raises(sources.NetworkBlockedError):
        socket.create_connection(("93.184.215.14", 443), timeout=1)
    assert socket.getaddrinfo("localhost", 80)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=1).close()


def test_every_download_path_fails_in_seconds_without_a_network(no_network, monkeypatch, tmp_path):
    import time

    from homl_cv import segmentation

    monkeypatch.setenv(sources.KERAS_HOME_ENV, str(tmp_path))
    monkeypatch.setenv(config.OFFLINE_ENV, "0")
    calls = [lambda: data.load_mnist(offline=False, data_dir=tmp_path),
             lambda: data.load_mnist("fashion_mnist", offline=False, data_dir=tmp_path),
             lambda: data.load_flowers(offline=False, data_dir=tmp_path),
             lambda: segmentation.load_segmentation_data(offline=False, data_dir=tmp_path),
             lambda: pretrained.build_base("ResNet50", include_top=True, weights="imagenet"),
             lambda: style.build_extractor(weights="imagenet")]
    names = ["'mnist'", "'fashion_mnist'", "'tf_flowers'", "'oxford_iiit_pet'", "ResNet50", "VGG-19"]
    for call, name in zip(calls, names):
        start = time.perf_counter()
        with pytest.raises(sources.DownloadError) as err:
            call()
        assert time.perf_counter() - start < 5, name
        assert name in str(err.value) and f"{config.OFFLINE_ENV}=1" in str(err.value)
        assert "beforehand" in str(err.value)


def test_require_network_passes_when_the_host_answers(tmp_path):
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert sources.unreachable_reason(f"http://127.0.0.1:{port}/x") is None
        sources.require_network("x", f"http://127.0.0.1:{port}/x", tmp_path)
    with pytest.raises(sources.DownloadError, match="'x'.*Connection refused|'x'.*Errno"):
        sources.require_network("x", f"http://127.0.0.1:{port}/x", tmp_path)


def test_a_rehearsal_uses_random_weights_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(config.REHEARSE_ENV, "1")
    monkeypatch.setenv(sources.KERAS_HOME_ENV, str(tmp_path))
    assert sources.resolve_weights("VGG-19", style.VGG19_WEIGHTS_FILE) is None
    assert pretrained.resolve_weights("Xception", weights="imagenet", verbose=False) is None
    assert capsys.readouterr().out == ("Rehearsal: using RANDOM weights for VGG-19 (weights=None). "
                                       "The full-size model runs; its predictions mean nothing.\n")
    assert sources.resolve_weights("x", "x.h5", "my.h5") == "my.h5"
