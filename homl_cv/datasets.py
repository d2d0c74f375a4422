"""The dataset registry: one entry per dataset a loader downloads.

Every place that needs to know which datasets exist reads :data:`DATASETS`:
the loaders (:func:`homl_cv.data.load_mnist`, :func:`homl_cv.data.load_flowers`,
:func:`homl_cv.segmentation.load_segmentation_data`) for the address the
network probe tries and the class names, ``homl-cv doctor`` for what it lists,
and :mod:`homl_cv.rehearsal` for the stand-ins it writes. Adding a dataset
means one entry here, its loader, and (if the rehearsal should cover it) a
stand-in writer in :mod:`homl_cv.rehearsal`.

Bundled and generated data (scikit-learn's digits, the sample photos, the
shapes) are not downloads, so they are not here.

Example:
    >>> from homl_cv import datasets
    >>> datasets.get("tf_flowers").num_classes, datasets.names(stand_in=True)
    (5, ('tf_flowers', 'oxford_iiit_pet', 'mnist'))
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from homl_cv import checks, sources

__all__ = [
    "DATASETS",
    "Dataset",
    "get",
    "location",
    "names",
    "prepared",
    "require_download",
]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One downloadable dataset.

    Attributes:
        name: the tfds name; also its folder in the data dir and its name in messages.
        what: what it is, in a few words.
        chapters: the chapters that load it, e.g. ``("03",)``; empty for an
            alternative no chapter loads by default.
        loader: the function that loads it, e.g. ``"data.load_flowers"``.
        url: the address a download fetches first: what the network probe tries.
        class_names: the classes the loader yields, in label order; empty where not fixed.
        stand_in: whether ``homl-cv run --rehearse`` writes a stand-in of it
            (:mod:`homl_cv.rehearsal` has a writer for each such entry).
        file: for a download kept as one file rather than a tfds folder, its
            path under the data dir; empty for a tfds dataset.
    """

    name: str
    what: str
    chapters: tuple
    loader: str
    url: str
    class_names: tuple = ()
    stand_in: bool = False
    file: str = ""

    @property
    def num_classes(self) -> int:
        """The number of classes (0 where not fixed)."""
        return len(self.class_names)


DATASETS = {entry.name: entry for entry in (
    Dataset("tf_flowers", "3,670 photos of 5 kinds of flowers", ("03",), "data.load_flowers",
            "http://download.tensorflow.org/example_images/flower_photos.tgz",  # tfds' source
            class_names=("dandelion", "daisy", "tulips", "sunflowers", "roses"), stand_in=True),
    Dataset("oxford_iiit_pet", "7,349 photos of 37 breeds of cats and dogs, with trimaps; the loader "
            "yields the trimaps' pixel classes", ("06",), "segmentation.load_segmentation_data",
            "https://thor.robots.ox.ac.uk/~vgg/data/pets/images.tar.gz",  # tfds' source
            class_names=("background", "pet", "border"), stand_in=True),
    Dataset("mnist", "70,000 handwritten digits, 28x28 grayscale (Keras' mnist.npz)", ("02",),
            "data.load_mnist", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
            class_names=tuple(str(d) for d in range(10)), stand_in=True, file="mnist/mnist.npz"),
    Dataset("fashion_mnist", "70,000 photos of 10 kinds of clothing, 28x28 grayscale "
            "(load_mnist(kind='fashion_mnist'), an alternative to MNIST)", (), "data.load_mnist",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # tfds' source
            class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
)}


def get(name: str) -> Dataset:
    """The registry entry of dataset ``name``.

    Example:
        >>> get("mnist").file
        'mnist/mnist.npz'
    """
    return DATASETS[checks.one_of(name, "name", tuple(DATASETS))]


def names(stand_in: bool | None = None) -> tuple:
    """The registry's dataset names, in its order; with ``stand_in``, only those that have (or lack) a stand-in."""
    return tuple(name for name, entry in DATASETS.items() if stand_in is None or entry.stand_in == stand_in)


def location(name: str, data_dir) -> Path:
    """Where dataset ``name`` is kept in ``data_dir``: its file, or its tfds folder."""
    entry = get(name)
    return Path(data_dir) / (entry.file or entry.name)


def prepared(name: str, data_dir) -> bool:
    """Whether dataset ``name`` is in ``data_dir``, complete, so that loading it needs no download."""
    entry = get(name)
    return location(name, data_dir).is_file() if entry.file else sources.tfds_prepared(name, data_dir)


def require_download(name: str, data_dir) -> None:
    """Before a download of ``name``: nothing if it is prepared, else probe its address.

    Raises:
        DownloadError: the address cannot be reached (in seconds, see
            :func:`homl_cv.sources.require_network`).
    """
    if not prepared(name, data_dir):
        sources.require_network(name, get(name).url, data_dir)
