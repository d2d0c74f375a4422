"""homl_cv.datasets: the one registry that the loaders, doctor and the rehearsal read."""

import re
from pathlib import Path

import pytest

from homl_cv import cli, config, data, datasets, rehearsal, segmentation, sources

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = {path.name[:2] for path in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")}


def test_every_entry_is_complete_and_named_by_its_key():
    for name, entry in datasets.DATASETS.items():
        assert entry.name == name and entry.what and entry.url.startswith("http")
        assert set(entry.chapters) <= CHAPTERS, f"{name}: chapters {entry.chapters} do not exist"
        module, function = entry.loader.split(".")
        loader_module = {"data": data, "segmentation": segmentation}[module]
        assert callable(getattr(loader_module, function)), f"{name}: no loader {entry.loader}"
        assert len(set(entry.class_names)) == entry.num_classes


def test_every_entry_with_a_stand_in_has_a_writer_and_only_those():
    assert set(rehearsal.WRITERS) == set(datasets.names(stand_in=True)) == set(rehearsal.STAND_INS)
    assert set(datasets.names(stand_in=False)) == set(datasets.names()) - set(rehearsal.STAND_INS)


def test_doctor_lists_exactly_the_registry(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "mnist.npz").write_bytes(b"")
    assert cli.main(["doctor"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()
              if re.search(r" (available|not downloaded)$", line)]
    assert listed == list(datasets.names())
    assert datasets.prepared("mnist", tmp_path) and not datasets.prepared("tf_flowers", tmp_path)


def test_locations_follow_the_loaders(tmp_path):
    assert datasets.location("mnist", tmp_path) == data.mnist_file(tmp_path)
    assert datasets.location("tf_flowers", tmp_path) == tmp_path / "tf_flowers"


def test_an_unknown_dataset_names_the_known_ones():
    with pytest.raises(ValueError, match=r"name='kmnist' must be 'tf_flowers', .* or 'fashion_mnist'\."):
        datasets.get("kmnist")


def test_require_download_probes_only_what_is_missing(tmp_path, monkeypatch):
    probed = []
    monkeypatch.setattr(sources, "require_network", lambda *args: probed.append(args))
    (tmp_path / "tf_flowers" / "3.0.1").mkdir(parents=True)
    (tmp_path / "tf_flowers" / "3.0.1" / "dataset_info.json").write_text("{}")
    datasets.require_download("tf_flowers", tmp_path)
    datasets.require_download("oxford_iiit_pet", tmp_path)
    assert probed == [("oxford_iiit_pet", datasets.get("oxford_iiit_pet").url, tmp_path)]


def test_the_docstring_examples_hold():
    import doctest

    assert doctest.testmod(datasets).failed == 0
