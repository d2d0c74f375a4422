"""Local stand-ins for the downloads, so that the full path can be rehearsed offline.

``homl-cv run --rehearse`` runs the chapters in full mode (full sizes, full
models, full pipelines) without downloading anything: the datasets are
written beforehand, with the exact structure of the real ones, where the
real loaders look (a temporary ``HOML_CV_DATA_DIR``):

=====================  ======================================================
dataset                stand-in
=====================  ======================================================
``tf_flowers``         a tfds-prepared dataset (version, features, the 5 real
                       label names, one ``train`` split) of JPEG photos of
                       generated shapes, written by tfds' own ``tf_flowers``
                       builder from files laid out like its archive
``oxford_iiit_pet``    a tfds-prepared dataset (``train`` and ``test``, the 37
                       breeds, JPEG images, PNG trimaps 1/2/3, head boxes),
                       written by tfds' own builder from files laid out like
                       the real ``images`` and ``annotations`` archives
MNIST                  ``mnist.npz`` with MNIST's arrays (60,000 + 10,000
                       uint8 28x28 digits), at :func:`homl_cv.data.mnist_file`
=====================  ======================================================

The real builders' ``_generate_examples`` read the generated files, so the
tfds part of the path is the one a user runs; only the download is skipped.
The pictures are generated, so nothing learned from them means anything:
the rehearsal proves that the code runs, at full size, end to end.

:func:`rehearsal_environment` writes everything into a folder and returns
the environment variables that point the chapters at it (with
``HOML_CV_REHEARSE=1``, see :mod:`homl_cv.config`).

Example:
    >>> import tempfile
    >>> from homl_cv import data, rehearsal
    >>> root = tempfile.mkdtemp()
    >>> path = rehearsal.write_mnist(root, num_train=6000, num_test=100)
    >>> data.load_mnist(offline=False, data_dir=root).x_train.shape
    (1000, 28, 28)
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from homl_cv import checks, config, data, datasets, sources

__all__ = [
    "FLOWERS_IMAGES",
    "PETS_TEST_IMAGES",
    "PETS_TRAIN_IMAGES",
    "STAND_INS",
    "WRITERS",
    "jpeg_bytes",
    "rehearsal_environment",
    "shape_photo",
    "write_flowers",
    "write_mnist",
    "write_pets",
    "write_stand_ins",
]

FLOWERS_IMAGES = 120  # 90 train / 18 valid / 12 test with the book's 75/15/10 % split
PETS_TRAIN_IMAGES = 48  # tfds "train" (the real trainval list): 43 train / 5 valid at 90/10 %
PETS_TEST_IMAGES = 24
STAND_INS = datasets.names(stand_in=True)  # the registry's datasets with a stand-in (WRITERS below)


# ----------------------------------------------------------------------------- pictures
def shape_photo(height: int, width: int, seed: int, kind: int = 0):
    """A photo-like RGB picture of one filled shape on a shaded background.

    Args:
        height, width: size in pixels.
        seed: the random seed (colours, position, size).
        kind: 0 ellipse, 1 rectangle, 2 triangle, 3 cross (e.g. one per class).

    Returns:
        ``(image, mask)``: uint8 (height, width, 3) and bool (height, width),
        True on the shape.
    """
    checks.int_at_least(height, "height", 8, "pixels")
    checks.int_at_least(width, "width", 8, "pixels")
    rng = np.random.default_rng(seed)
    top, bottom = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    background = (1 - ramp) * top + ramp * bottom + rng.normal(0, 8, (height, width, 3))
    picture = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    mask = Image.new("L", (width, height), 0)
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    rx, ry = rng.uniform(0.15, 0.3) * width, rng.uniform(0.15, 0.3) * height
    box = (cx - rx, cy - ry, cx + rx, cy + ry)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    for canvas, fill in ((ImageDraw.Draw(picture), colour), (ImageDraw.Draw(mask), 255)):
        if kind % 4 == 0:
            canvas.ellipse(box, fill=fill)
        elif kind % 4 == 1:
            canvas.rectangle(box, fill=fill)
        elif kind % 4 == 2:
            canvas.polygon([(cx, cy - ry), (cx - rx, cy + ry), (cx + rx, cy + ry)], fill=fill)
        else:
            canvas.rectangle((cx - rx, cy - ry / 3, cx + rx, cy + ry / 3), fill=fill)
            canvas.rectangle((cx - rx / 3, cy - ry, cx + rx / 3, cy + ry), fill=fill)
    return np.asarray(picture), np.asarray(mask) > 0


def jpeg_bytes(image, quality: int = 90) -> bytes:
    """``image`` (uint8 (H, W, 3)) encoded as a JPEG file, as the real photos are."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _photo_size(rng) -> tuple:
    """(height, width) of a stand-in photo: landscape or portrait, 240 to 500 pixels."""
    long_side, short_side = int(rng.integers(400, 501)), int(rng.integers(240, 400))
    return (short_side, long_side) if rng.random() < 0.7 else (long_side, short_side)


def _prepare(builder) -> Path:
    """Run ``builder.download_and_prepare`` (nothing is downloaded) and return its folder."""
    import tensorflow_datasets as tfds  # heavy optional package: imported when used

    tfds.display_progress_bar(False)  # one line per dataset instead of a dozen bars
    with sources.quiet_tf_logs():
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return Path(builder.data_dir)


# ----------------------------------------------------------------------------- tf_flowers
def write_flowers(data_dir, num_images: int = FLOWERS_IMAGES, seed: int = 0) -> Path:
    """Write a stand-in ``tf_flowers`` into the tfds folder ``data_dir``.

    ``num_images`` JPEG photos (one generated shape per class, sizes 240 to
    500 pixels like the real photos), laid out like tfds' archive
    (``flower_photos/<label>/<name>.jpg``) and turned into a prepared dataset
    by tfds' own ``tf_flowers`` builder: ``tfds.load("tf_flowers",
    data_dir=data_dir)`` then reads it as it reads the real one.

    Returns:
        The prepared dataset's folder (``<data_dir>/tf_flowers/<version>``).
    """
    import tensorflow_datasets as tfds  # heavy optional package: imported when used

    classes = datasets.get("tf_flowers").class_names
    checks.int_at_least(num_images, "num_images", len(classes), "one per class")
    rng = np.random.default_rng(seed)
    files = []
    for i in range(num_images):
        label = i % len(classes)
        image, _ = shape_photo(*_photo_size(rng), seed=seed * 100_003 + i, kind=label)
        name = f"flower_photos/{classes[label]}/standin_{i:04d}.jpg"
        files.append((name, jpeg_bytes(image)))

    real = tfds.builder_cls("tf_flowers")

    class StandInFlowers(real, skip_registration=True):
        """tfds' tf_flowers builder, fed generated files instead of the download."""

        name = "tf_flowers"

        def _split_generators(self, dl_manager):
            archive = ((name, io.BytesIO(content)) for name, content in files)
            return [tfds.core.SplitGenerator(name=tfds.Split.TRAIN,
                                             gen_kwargs={"images_dir_path": archive})]

    return _prepare(StandInFlowers(data_dir=str(data_dir)))


# ----------------------------------------------------------------------------- oxford_iiit_pet
def _write_pets_files(root: Path, breeds, num_train: int, num_test: int, seed: int) -> None:
    """The real archives' layout: images/*.jpg, annotations/{trimaps,xmls}, the split lists."""
    images, annotations = root / "images", root / "annotations"
    for folder in (images, annotations / "trimaps", annotations / "xmls"):
        folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lists = {"trainval.txt": [], "test.txt": []}
    for i in range(num_train + num_test):
        label = i % len(breeds)
        breed = breeds[label]
        species = 1 if breed[0].isupper() else 2  # the dataset's convention: cats are capitalized
        stem = f"{breed}_{1000 + i}"
        image, mask = shape_photo(*_photo_size(rng), seed=seed * 100_003 + i, kind=i)
        (images / f"{stem}.jpg").write_bytes(jpeg_bytes(image))
        # trimap: 1 pet, 2 background, 3 border (a 3-pixel band around the pet)
        shape = Image.fromarray(mask.astype(np.uint8) * 255)
        inner = np.asarray(shape.filter(ImageFilter.MinFilter(7))) > 0
        outer = np.asarray(shape.filter(ImageFilter.MaxFilter(7))) > 0
        trimap = np.full(mask.shape, 2, np.uint8)
        trimap[outer] = 3
        trimap[inner] = 1
        Image.fromarray(trimap, mode="L").save(annotations / "trimaps" / f"{stem}.png")
        split = "trainval.txt" if i < num_train else "test.txt"
        lists[split].append(f"{stem} {label + 1} {species} {label + 1}")
        if split == "trainval.txt":  # like the real data, only trainval images have head boxes
            ys, xs = np.nonzero(mask)
            height, width = mask.shape
            (annotations / "xmls" / f"{stem}.xml").write_text(
                f"<annotation><filename>{stem}.jpg</filename><size><width>{width}</width>"
                f"<height>{height}</height><depth>3</depth></size><object><name>"
                f"{'cat' if species == 1 else 'dog'}</name><bndbox><xmin>{xs.min()}</xmin>"
                f"<ymin>{ys.min()}</ymin><xmax>{xs.max()}</xmax><ymax>{ys.max()}</ymax>"
                f"</bndbox></object></annotation>")
    for name, lines in lists.items():
        (annotations / name).write_text("".join(line + "\n" for line in lines))


def write_pets(data_dir, num_train: int = PETS_TRAIN_IMAGES, num_test: int = PETS_TEST_IMAGES,
               seed: int = 1) -> Path:
    """Write a stand-in ``oxford_iiit_pet`` into the tfds folder ``data_dir``.

    Generated JPEG photos of one shape each (sizes 240 to 500 pixels), their
    trimaps (PNG, 1 pet, 2 background, 3 border) and head boxes, and the
    ``trainval.txt`` / ``test.txt`` lists, laid out like the real archives
    and turned into a prepared dataset by tfds' own builder: ``tfds.load(
    "oxford_iiit_pet", data_dir=data_dir)`` then reads it as the real one,
    with the 37 real breed names and the ``train`` / ``test`` splits.

    Returns:
        The prepared dataset's folder (``<data_dir>/oxford_iiit_pet/<version>``).
    """
    import tensorflow_datasets as tfds  # heavy optional package: imported when used

    checks.positive_int(num_train, "num_train")
    checks.positive_int(num_test, "num_test")
    real = tfds.builder_cls("oxford_iiit_pet")
    with tempfile.TemporaryDirectory(prefix="pets-standin-") as tmp:
        root = Path(tmp)

        class StandInPets(real, skip_registration=True):
            """tfds' oxford_iiit_pet builder, fed generated files instead of the download."""

            name = "oxford_iiit_pet"

            def _split_generators(self, dl_manager):
                breeds = self.info.features["label"].names
                _write_pets_files(root, breeds, num_train, num_test, seed)
                common = {"images_dir_path": str(root / "images"),
                          "annotations_dir_path": str(root / "annotations")}
                return [tfds.core.SplitGenerator(name=split, gen_kwargs={
                            **common, "images_list_file": str(root / "annotations" / listing)})
                        for split, listing in (("train", "trainval.txt"), ("test", "test.txt"))]

        return _prepare(StandInPets(data_dir=str(data_dir)))


# ----------------------------------------------------------------------------- MNIST
def write_mnist(data_dir, num_train: int = 60_000, num_test: int = 10_000, seed: int = 2) -> Path:
    """Write a stand-in ``mnist.npz`` where :func:`homl_cv.data.load_mnist` reads it.

    The arrays of Keras' file (``x_train`` uint8 (num_train, 28, 28),
    ``y_train`` uint8, ``x_test``, ``y_test``), holding scikit-learn's real
    8x8 digits, enlarged 3x, placed at random offsets in 28x28 frames.

    Args:
        data_dir: the data folder (the file goes to :func:`homl_cv.data.mnist_file`).
        num_train: training images; :func:`~homl_cv.data.load_mnist` keeps
            the last 5,000 for validation, so more than 5,000.

    Returns:
        The path of the file written.
    """
    from sklearn.datasets import load_digits  # heavy optional package: imported when used

    checks.int_at_least(num_train, "num_train", 5001, "load_mnist keeps the last 5,000 training images "
                        "for validation")
    checks.positive_int(num_test, "num_test")
    digits = load_digits()
    big = np.kron(digits.images, np.ones((3, 3))) * (255.0 / 16.0)  # (1797, 24, 24)
    rng = np.random.default_rng(seed)

    def sample(count):
        picks = rng.integers(0, len(big), count)
        frames = np.zeros((count, 28, 28), np.uint8)
        offsets = rng.integers(0, 5, (count, 2))
        for k, (pick, (dy, dx)) in enumerate(zip(picks, offsets)):
            frames[k, dy:dy + 24, dx:dx + 24] = np.clip(big[pick], 0, 255).astype(np.uint8)
        return frames, digits.target[picks].astype(np.uint8)

    (x_train, y_train), (x_test, y_test) = sample(num_train), sample(num_test)
    path = data.mnist_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


# ----------------------------------------------------------------------------- all
# One writer per registry entry with ``stand_in=True`` (tests/test_rehearsal.py checks the match).
WRITERS = {"tf_flowers": write_flowers, "oxford_iiit_pet": write_pets, "mnist": write_mnist}


def write_stand_ins(data_dir, datasets=STAND_INS) -> dict:
    """Write the stand-ins named in ``datasets`` (default: all) into ``data_dir``.

    Returns:
        ``{dataset name: path written}``.
    """
    for name in datasets:
        checks.one_of(name, "datasets", tuple(WRITERS))  # a dataset with a stand-in
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return {name: WRITERS[name](data_dir) for name in datasets}


def rehearsal_environment(root, datasets=STAND_INS) -> dict:
    """Prepare a rehearsal in the folder ``root`` and return the variables that select it.

    Writes the stand-ins into ``root/data`` and creates an empty Keras home
    ``root/keras`` (no cached weights: the bases are built with
    ``weights=None``), then returns the environment for the chapters'
    kernels: ``HOML_CV_REHEARSE=1``, ``HOML_CV_QUICK=0``,
    ``HOML_CV_OFFLINE=0``, ``HOML_CV_NO_NETWORK=1`` (so that a download
    the stand-ins miss fails at once instead of happening),
    ``HOML_CV_DATA_DIR`` and ``KERAS_HOME``.
    """
    root = Path(root)
    data_dir, keras_dir = root / "data", root / "keras"
    keras_dir.mkdir(parents=True, exist_ok=True)
    write_stand_ins(data_dir, datasets)
    return {
        config.REHEARSE_ENV: "1",
        config.QUICK_ENV: "0",
        config.OFFLINE_ENV: "0",
        config.NO_NETWORK_ENV: "1",
        config.DATA_DIR_ENV: os.fspath(data_dir),
        sources.KERAS_HOME_ENV: os.fspath(keras_dir),
    }
