"""homl_cv.rehearsal: stand-ins the real loaders read; the rehearsal tier; the offline newcomer.

* Unit tests (fast, in CI): each stand-in loads through plain ``tfds.load`` /
  ``data.load_mnist`` with the real features and splits, network blocked.
* ``@pytest.mark.rehearsal`` (deselected by default, see pyproject's addopts):
  every chapter in full mode on the stand-ins, training capped. Run it with
  ``python -m pytest -n 0 -m rehearsal tests/test_rehearsal.py``.
* The offline newcomer: a chapter opened in its default mode (full, online)
  on a machine without a network stops in seconds with a message that
  names what failed and the two ways on. "Without a network" is made
  certain by ``HOML_CV_NO_NETWORK=1``, which the package honours on import
  (``sources.block_network``: Python sockets refuse every host but
  loopback), so the test means the same on a connected machine.
"""

import dataclasses
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from homl_cv import cli, config, data, datasets, rehearsal, sources
from homl_cv import segmentation as seg

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
MODE_VARIABLES = (config.QUICK_ENV, config.OFFLINE_ENV, config.REHEARSE_ENV, config.NO_NETWORK_ENV,
                  config.DATA_DIR_ENV, sources.KERAS_HOME_ENV)
FLOWER_CLASSES = datasets.get("tf_flowers").class_names


@pytest.fixture()
def no_network(monkeypatch):
    """``sources.block_network()`` for one test; the sockets are restored afterwards."""
    monkeypatch.setattr(socket, "getaddrinfo", socket.getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", socket.socket.connect)
    monkeypatch.setattr(socket.socket, "connect_ex", socket.socket.connect_ex)
    sources.block_network()


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """Small stand-ins (10 flowers, 10 + 2 pets, 5,100 + 20 digits) in one data dir."""
    root = tmp_path_factory.mktemp("standins")
    rehearsal.write_flowers(root, num_images=10)
    rehearsal.write_pets(root, num_train=10, num_test=2)  # 9 train + 1 valid
    rehearsal.write_mnist(root, num_train=5100, num_test=20)
    return root


# ------------------------------------------------------------------ the stand-ins
def test_flowers_stand_in_is_a_prepared_tfds_dataset_of_jpegs(stand_ins, no_network):
    import tensorflow_datasets as tfds

    assert sources.tfds_prepared("tf_flowers", stand_ins)
    ds, info = tfds.load("tf_flowers", split="train", data_dir=str(stand_ins), with_info=True,
                         decoders={"image": tfds.decode.SkipDecoding()})
    assert info.version == tfds.builder_cls("tf_flowers").VERSION
    assert tuple(info.features["label"].names) == FLOWER_CLASSES
    assert list(info.splits) == ["train"] and info.splits["train"].num_examples == 10
    assert info.supervised_keys == ("image", "label")
    encoded = [bytes(example["image"].numpy()) for example in ds]
    assert all(b.startswith(b"\xff\xd8\xff") for b in encoded)  # real JPEG files
    # the package's own loader, online path, network blocked: reads it, downloads nothing
    flowers = data.load_flowers(offline=False, data_dir=stand_ins)
    assert flowers.source == "tfds" and sum(flowers.num_examples.values()) == 10
    image, label = next(iter(flowers.train))
    assert image.dtype.name == "uint8" and image.shape[2] == 3 and min(image.shape[:2]) >= 240


def test_pets_stand_in_has_the_real_features_and_splits(stand_ins, no_network, monkeypatch):
    import tensorflow_datasets as tfds

    (train, test), info = tfds.load("oxford_iiit_pet", split=["train", "test"],
                                    data_dir=str(stand_ins), with_info=True)
    assert info.version == tfds.builder_cls("oxford_iiit_pet").VERSION
    assert set(info.features) == {"image", "label", "species", "file_name",
                                  "segmentation_mask", "head_bbox"}
    assert info.features["label"].num_classes == 37 and info.features["species"].names == ["Cat", "Dog"]
    assert {s: info.splits[s].num_examples for s in ("train", "test")} == {"train": 10, "test": 2}
    example = next(iter(train))
    assert example["segmentation_mask"].shape[:2] == example["image"].shape[:2]
    assert set(np.unique(example["segmentation_mask"])) == {1, 2, 3}  # pet, background, border
    # the chapter's loader, full mode, online path
    monkeypatch.setenv(config.QUICK_ENV, "0")
    splits = seg.load_segmentation_data(image_size=32, offline=False, data_dir=stand_ins)
    images, masks = seg.dataset_arrays(splits.test)
    assert splits.source == "tfds oxford_iiit_pet"
    assert images.shape == (2, 32, 32, 3) and set(np.unique(masks)) <= {0, 1, 2}


def test_mnist_stand_in_loads_through_load_mnist(stand_ins, no_network):
    digits = data.load_mnist(offline=False, data_dir=stand_ins)
    assert digits.source == "mnist"
    assert digits.x_train.shape == (100, 28, 28) and digits.x_valid.shape == (5000, 28, 28)
    assert digits.x_test.shape == (20, 28, 28) and digits.x_train.dtype == np.uint8
    assert set(np.unique(digits.y_valid)) == set(range(10))
    with np.load(data.mnist_file(stand_ins)) as f:
        assert sorted(f.files) == ["x_test", "x_train", "y_test", "y_train"]
        assert f["y_train"].dtype == np.uint8


def test_loaders_check_what_the_stand_ins_mean_when_rehearsing(stand_ins, no_network, monkeypatch):
    monkeypatch.setenv(config.REHEARSE_ENV, "1")
    assert data.load_flowers(offline=False, data_dir=stand_ins).class_names == FLOWER_CLASSES
    assert data.load_mnist(offline=False, data_dir=stand_ins).x_test.shape == (20, 28, 28)
    assert seg.load_segmentation_data(image_size=32, data_dir=stand_ins).num_classes == 3
    # metadata that disagree with the data stop the rehearsal at the loader
    pets = datasets.get("oxford_iiit_pet")
    monkeypatch.setitem(datasets.DATASETS, "oxford_iiit_pet",
                        dataclasses.replace(pets, class_names=pets.class_names[:2]))  # a class name lost
    with pytest.raises(data.DataMismatch, match="oxford_iiit_pet .*2 class names .* for 3 classes"):
        seg.load_segmentation_data(image_size=32, data_dir=stand_ins)
    monkeypatch.setitem(datasets.DATASETS, "tf_flowers",
                        dataclasses.replace(datasets.get("tf_flowers"), class_names=FLOWER_CLASSES[::-1]))
    with pytest.raises(data.DataMismatch, match="tf_flowers .*differ from the dataset's"):
        data.load_flowers(offline=False, data_dir=stand_ins)


def test_rehearsal_environment_selects_rehearsal_data_and_no_network(tmp_path, monkeypatch):
    written = []
    monkeypatch.setattr(rehearsal, "write_stand_ins", lambda folder, datasets: written.append(folder))
    env = rehearsal.rehearsal_environment(tmp_path)
    assert written == [tmp_path / "data"] and (tmp_path / "keras").is_dir()
    assert env == {"HOML_CV_REHEARSE": "1", "HOML_CV_QUICK": "0", "HOML_CV_OFFLINE": "0",
                   "HOML_CV_NO_NETWORK": "1", "HOML_CV_DATA_DIR": str(tmp_path / "data"),
                   "KERAS_HOME": str(tmp_path / "keras")}


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"num_train=100 must be an integer of at least 5001 \(load_mnist keeps the last 5,000"):
        rehearsal.write_mnist(tmp_path, num_train=100)
    with pytest.raises(ValueError, match=r"datasets='coco' must be 'tf_flowers', 'oxford_iiit_pet' or 'mnist'\."):
        rehearsal.write_stand_ins(tmp_path, ("coco",))
    with pytest.raises(ValueError, match="height=4"):
        rehearsal.shape_photo(4, 40, seed=0)
    image, mask = rehearsal.shape_photo(30, 40, seed=0, kind=3)
    assert image.shape == (30, 40, 3) and mask.shape == (30, 40) and 0 < mask.mean() < 1


def test_rehearse_cannot_write_in_place(capsys):
    assert cli.main(["run", "--rehearse", "--inplace", "01"]) == 2
    assert "--rehearse cannot be stored --inplace" in capsys.readouterr().err


# ------------------------------------------------------------------ the rehearsal tier
@pytest.fixture(scope="module")
def rehearsal_env(tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if k not in MODE_VARIABLES}
    return {**env, **rehearsal.rehearsal_environment(tmp_path_factory.mktemp("rehearsal"))}


@pytest.mark.rehearsal
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem[:2] for p in CHAPTERS])
def test_chapter_rehearses_in_full_mode(chapter, rehearsal_env, tmp_path):
    """The whole chapter, full sizes and models, on the stand-ins, training capped."""
    import nbformat

    out = tmp_path / chapter.name
    cli.execute_notebook(chapter, out, timeout=3600, env=rehearsal_env,
                         log_path=tmp_path / "kernel.log", partial_path=out)
    nb = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "mode: FULL, online" in printed and "REHEARSAL" in printed


# ------------------------------------------------------------------ the offline newcomer
def _newcomer_env(tmp_path):
    """No HOML_CV mode variables (full + online), empty data and Keras folders, no network."""
    env = {k: v for k, v in os.environ.items() if k not in MODE_VARIABLES}
    (tmp_path / "data").mkdir()
    (tmp_path / "keras").mkdir()
    return {**env, config.NO_NETWORK_ENV: "1", config.DATA_DIR_ENV: str(tmp_path / "data"),
            sources.KERAS_HOME_ENV: str(tmp_path / "keras")}


@pytest.mark.parametrize("chapter, names", [
    ("03", ("ImageNet weights of ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels.h5")),
    ("06", ("'oxford_iiit_pet'", config.DATA_DIR_ENV)),
])
def test_offline_newcomer_stops_in_seconds_with_the_two_ways_on(chapter, names, tmp_path):
    from nbclient.exceptions import CellExecutionError

    notebook = cli.find_chapters([chapter], ROOT / "chapters")[0]
    start = time.perf_counter()
    with pytest.raises(CellExecutionError) as err:
        cli.execute_notebook(notebook, tmp_path / "out.ipynb", timeout=120,
                             env=_newcomer_env(tmp_path), log_path=tmp_path / "kernel.log")
    seconds = time.perf_counter() - start
    message = cli.plain_text(str(err.value))
    assert "DownloadError" in message and "HOML_CV_NO_NETWORK=1" in message
    for name in names:
        assert name in message
    assert "beforehand" in message and f"{config.OFFLINE_ENV}=1" in message
    assert seconds < 60, f"chapter {chapter} took {seconds:.0f} s to fail"
