"""Datasets for the chapters: real loaders, offline stand-ins, and generated data.

Real loaders (what a Colab user runs) and their offline stand-ins:

===================  ===========================  ==================================
loader               online (full)                 offline (``HOML_CV_OFFLINE=1``)
===================  ===========================  ==================================
:func:`load_mnist`   MNIST / Fashion-MNIST         scikit-learn's 1,797 real digits,
                                                   upscaled from 8x8 to 28x28
:func:`load_flowers` tfds ``tf_flowers`` (3,670)   a prepared copy in the data dir if
                                                   there is one, else tfds mock data
                                                   (right structure, random pixels)
===================  ===========================  ==================================

A download that fails raises :class:`homl_cv.sources.DownloadError`, which names the dataset,
the reason and the two fixes; nothing falls back silently.

:func:`make_shapes` generates images of coloured shape outlines on real-photo, noise
and gradient backgrounds, with exact boxes and per-pixel masks, for
localization, detection and segmentation; :func:`make_ood_images` gives
images from elsewhere (digits, textures, noise) to test a shapes model on.

:func:`make_moving_shapes` makes a clip of the same shapes moving at constant velocity, with
their identities, for tracking (05).

:func:`expect_dataset` checks what data *mean* (class names and counts, label
ranges, mask values, box formats, image sizes) where a chapter or a loader
relies on it, and raises :class:`DataMismatch` when the metadata disagree.
The loaders call it in a rehearsal (``HOML_CV_REHEARSE=1``, on the stand-ins
of :mod:`homl_cv.rehearsal`), where nothing else would notice, e.g. Pets'
class names used to name generated shapes.

Example:
    >>> data = make_shapes(8, image_size=64, max_objects=3, seed=0)
    >>> data.images.shape, data.boxes.shape, data.masks.shape
    ((8, 64, 64, 3), (8, 3, 4), (8, 64, 64))
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from homl_cv import boxes as boxes_lib
from homl_cv import checks, config, datasets, pretrained, sources

__all__ = [
    "BOX_FORMATS",
    "DataMismatch",
    "FLOWERS_SPLITS",
    "FlowerPipelines",
    "FlowerSplits",
    "ImageSplits",
    "OODImages",
    "OOD_KINDS",
    "SAMPLE_PHOTOS",
    "SHAPE_CLASSES",
    "ShapesData",
    "augmentation_layers",
    "expect_dataset",
    "flowers_pipeline",
    "image_pipeline",
    "jitter_images",
    "load_digits_28x28",
    "load_flowers",
    "load_mnist",
    "load_sample_image",
    "load_sample_images",
    "MovingShapes",
    "make_moving_shapes",
    "simulated_detections",
    "make_ood_images",
    "make_shapes",
    "mnist_file",
    "photo_dataset",
    "write_image_folder",
]

FLOWERS_SPLITS = ("train[25%:]", "train[10%:25%]", "train[:10%]")  # train, valid, test


# --------------------------------------------------------------------------- photos
_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
SAMPLE_PHOTOS = ("china", "flower") + _SKIMAGE_PHOTOS


@functools.lru_cache(maxsize=None)
def _load_photo(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    from skimage import data as skdata

    return getattr(skdata, name)()


def load_sample_image(name: str) -> np.ndarray:
    """One bundled real photo as a uint8 array of shape (H, W, 3).

    Args:
        name: one of :data:`SAMPLE_PHOTOS`: "china" and "flower" (427x640, from
            scikit-learn), "astronaut", "coffee", "chelsea" (a cat) and
            "rocket" (from scikit-image).
    """
    checks.one_of(name, "name", SAMPLE_PHOTOS)
    photo = _load_photo(name)
    photo.setflags(write=False)  # cached: callers must copy before editing
    return photo


def load_sample_images(names=("china", "flower"), size=None) -> np.ndarray:
    """A float32 batch of bundled photos scaled to [0, 1], shape (N, H, W, 3).

    Args:
        names: photo names (see :func:`load_sample_image`).
        size: ``(height, width)`` to resize to; required when the photos have
            different sizes. ``None`` keeps the original size.
    """
    import tensorflow as tf

    photos = [load_sample_image(n).astype(np.float32) / 255.0 for n in names]
    if size is not None:
        photos = [tf.image.resize(p, size, antialias=True).numpy() for p in photos]
    shapes = {p.shape for p in photos}
    if len(shapes) > 1:
        raise ValueError(
            f"The photos {tuple(names)} have different sizes {sorted(shapes)}: "
            f"pass size=(height, width) to resize them to one size."
        )
    return np.stack(photos)


# --------------------------------------------------------------------------- what data mean
BOX_FORMATS = ("xyxy",)  # pixels: x1 <= x2, y1 <= y2, inside the image (boxes_lib's convention)


class DataMismatch(ValueError):
    """A dataset's metadata disagree with what the code using it assumes."""


def _mismatch(where: str, what: str, fix: str) -> DataMismatch:
    return DataMismatch(f"{where}: {what}. {fix}")


def expect_dataset(where: str, *, class_names=None, expected_class_names=None, num_classes=None,
                   labels=None, masks=None, mask_values=None, images=None, image_shape=None,
                   boxes=None, box_format=None, image_size=None) -> None:
    """Check that data mean what the code using them assumes; raise :class:`DataMismatch` if not.

    Every argument is optional; each check runs when its arguments are given:

    - ``class_names`` against ``expected_class_names`` (equal tuples) and
      ``num_classes`` (as many names as classes);
    - ``labels`` (int array, any shape): every label names a class, i.e.
      ``0 <= label < len(class_names)`` (or ``num_classes``);
    - ``masks`` (int array): its values are a subset of ``mask_values``;
    - ``images`` (N, H, W, C): ``image_shape`` ``(H, W, C)``, None for any size;
    - ``boxes`` (K, 4) in ``box_format`` (``"xyxy"`` pixels): ordered corners,
      inside ``image_size`` (an int side, or (height, width)) when given.

    Args:
        where: what is checked, for the message ("tf_flowers (load_flowers)").

    Raises:
        DataMismatch: the first check that fails, naming ``where``, what was
            found, what was expected and what to fix.
        ValueError: ``box_format`` is not one of :data:`BOX_FORMATS`.

    Example:
        >>> expect_dataset("shapes", class_names=SHAPE_CLASSES, labels=np.array([0, 3]))
        >>> expect_dataset("shapes", class_names=("pet", "border"), labels=np.array([0, 3]))
        Traceback (most recent call last):
        ...
        homl_cv.data.DataMismatch: shapes: label 3 has no name among the 2 class names ('pet', 'border'). Take the names from the data the labels come from.
    """
    names = None if class_names is None else tuple(str(n) for n in class_names)
    if names is not None and expected_class_names is not None:
        expected = tuple(str(n) for n in expected_class_names)
        if names != expected:
            raise _mismatch(where, f"class names {names} differ from the dataset's {expected}",
                            "Take the names from the dataset's own metadata.")
    if names is not None and num_classes is not None and len(names) != int(num_classes):
        raise _mismatch(where, f"{len(names)} class names {names} for {int(num_classes)} classes",
                        "Take the names and the count from the same dataset.")
    count = len(names) if names is not None else (None if num_classes is None else int(num_classes))
    if labels is not None and count is not None:
        labels = np.asarray(labels)
        if labels.size:
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= count:
                bad = low if low < 0 else high
                shown = f"the {count} class names {names}" if names is not None else f"{count} classes"
                raise _mismatch(where, f"label {bad} has no name among {shown}",
                                "Take the names from the data the labels come from.")
    if masks is not None and mask_values is not None:
        found = {int(v) for v in np.unique(np.asarray(masks))}
        allowed = {int(v) for v in mask_values}
        if not found <= allowed:
            raise _mismatch(where, f"mask values {sorted(found - allowed)} outside {sorted(allowed)}",
                            "Check the relabelling of the masks (e.g. a trimap's 1/2/3).")
    if images is not None and image_shape is not None:
        shape = tuple(np.shape(images))[1:]
        if len(shape) != len(image_shape) or any(e is not None and f != e for f, e in zip(shape, image_shape)):
            raise _mismatch(where, f"images of shape {shape}, expected {tuple(image_shape)} (None: any)",
                            "Resize the images or build the model for their size.")
    if boxes is not None and box_format is not None:
        checks.one_of(box_format, "box_format", BOX_FORMATS)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if len(boxes) and ((boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any()):
            raise _mismatch(where, "boxes with x2 < x1 or y2 < y1: not in 'xyxy' order",
                            "Convert the boxes with homl_cv.boxes before using them as 'xyxy'.")
        if len(boxes) and image_size is not None:
            height, width = checks.pair(image_size, "image_size")
            if boxes.min() < 0 or (boxes[:, [0, 2]] > width).any() or (boxes[:, [1, 3]] > height).any():
                raise _mismatch(where, f"boxes outside the {height}x{width} image (are they normalized "
                                       "or in another image's pixels?)",
                                "Scale the boxes to this image's pixels.")


# --------------------------------------------------------------------------- digits
@dataclasses.dataclass(frozen=True)
class ImageSplits:
    """Train/valid/test arrays of one image classification dataset.

    Images are uint8 of shape (N, H, W) (grayscale); labels are int64 (N,).
    ``source`` says what the data really is (e.g. the offline stand-in).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    source: str

    def summary(self) -> str:
        return (
            f"{self.source}: train {self.x_train.shape}, valid {self.x_valid.shape}, "
            f"test {self.x_test.shape}, {len(self.class_names)} classes"
        )


def load_digits_28x28(seed: int = 42) -> ImageSplits:
    """scikit-learn's 1,797 real 8x8 handwritten digits, upscaled to 28x28.

    The MNIST stand-in for offline work: same image size, dtype and value
    range (uint8, 0-255) as MNIST, split 1,297 / 250 / 250 with a fixed seed.
    """
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.images[..., None].astype(np.float32) / 16.0  # (1797, 8, 8, 1) in [0, 1]
    x = tf.image.resize(x, (28, 28), method="bilinear").numpy()[..., 0]
    x = np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return ImageSplits(
        x[:1297], y[:1297], x[1297:1547], y[1297:1547], x[1547:], y[1547:],
        class_names=tuple(str(d) for d in range(10)),
        source="scikit-learn digits (8x8 upscaled to 28x28, offline stand-in for MNIST)",
    )


def mnist_file(data_dir=None) -> Path:
    """Where :func:`load_mnist` keeps (and first looks for) ``mnist.npz``.

    ``<data_dir>/mnist/mnist.npz`` (the registry's file, see
    :mod:`homl_cv.datasets`), ``data_dir`` defaulting to
    ``HOML_CV_DATA_DIR`` or ``~/tensorflow_datasets``.
    """
    folder = config.data_dir() if data_dir is None else Path(data_dir).expanduser()
    return datasets.location("mnist", folder)


def load_mnist(kind: str = "mnist", offline: bool | None = None, data_dir=None) -> ImageSplits:
    """MNIST or Fashion-MNIST, split 55,000 / 5,000 / 10,000.

    Args:
        kind: "mnist" or "fashion_mnist".
        offline: ``None`` follows ``HOML_CV_OFFLINE``. When offline, returns
            :func:`load_digits_28x28` (and says so) for either kind.
        data_dir: where the downloaded files go and are looked for first.

    Raises:
        DownloadError: online, when the download fails.
    """
    checks.one_of(kind, "kind", ("mnist", "fashion_mnist"))
    if sources.resolve_offline(offline):
        sources.announce_stand_in(f"scikit-learn's digits upscaled to 28x28 instead of {kind}", "Offline")
        return load_digits_28x28()
    data_dir = sources.resolve_data_dir(data_dir)
    entry = datasets.get(kind)
    datasets.require_download(kind, data_dir)
    if kind == "mnist":
        import keras

        file = Path(entry.file)
        try:
            path = keras.utils.get_file(
                file.name, origin=entry.url, cache_dir=str(data_dir), cache_subdir=str(file.parent)
            )
        except Exception as exc:  # noqa: BLE001 - any failure becomes one clear error
            raise sources.download_error("mnist", exc, data_dir) from exc
        with np.load(path) as f:
            x_full, y_full, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    else:
        import tensorflow_datasets as tfds

        try:
            (x_full, y_full), (x_test, y_test) = tfds.as_numpy(
                tfds.load("fashion_mnist", split=["train", "test"], batch_size=-1,
                          as_supervised=True, data_dir=str(data_dir))
            )
        except Exception as exc:  # noqa: BLE001
            raise sources.download_error("fashion_mnist", exc, data_dir) from exc
        x_full, x_test = x_full[..., 0], x_test[..., 0]
    names = entry.class_names
    splits = ImageSplits(
        x_full[:-5000], y_full[:-5000].astype(np.int64), x_full[-5000:],
        y_full[-5000:].astype(np.int64), x_test, y_test.astype(np.int64),
        class_names=names, source=kind,
    )
    if config.is_rehearsal():  # on the stand-in, check what the chapters rely on
        for x, y in ((splits.x_train, splits.y_train), (splits.x_test, splits.y_test)):
            expect_dataset(f"{kind} (load_mnist)", class_names=names, num_classes=entry.num_classes, labels=y,
                           images=x, image_shape=(28, 28))
    return splits


def jitter_images(images, seed: int = 0, shift: float = 0.15, zoom_out: float = 0.4,
                  rotation: float = 0.05) -> np.ndarray:
    """Move, shrink and turn each image at random, deterministically for ``seed``.

    Turns scikit-learn's centred, same-size digits into digits "in the wild":
    off-centre (up to ``shift`` of the side each way), smaller (zoomed out by
    up to ``zoom_out``) and tilted (up to ``rotation`` of a full turn, i.e.
    18 degrees for 0.05), with black filling the border.

    Args:
        images: uint8 (N, H, W) or (N, H, W, C).
        seed: the same seed gives the same images.

    Returns:
        uint8 array of the same shape.

    Example:
        >>> digits = load_digits_28x28()  # doctest: +SKIP
        >>> jitter_images(digits.x_test[:4], seed=0).shape
        (4, 28, 28)
    """
    import keras

    images = checks.shaped(images, "images", [("N", "H", "W"), ("N", "H", "W", "C")])
    checks.one_of(images.dtype.name, "images.dtype", ("uint8",))
    checks.number_in(shift, "shift", 0, 0.5, high_open=True)  # a fraction of the side
    checks.number_in(zoom_out, "zoom_out", 0, 1, high_open=True)
    checks.number_in(rotation, "rotation", 0, 0.5)  # a fraction of a full turn
    x = images[..., None] if images.ndim == 3 else images
    layers = keras.Sequential([
        keras.layers.RandomZoom((0.0, zoom_out), fill_mode="constant", seed=seed),
        keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed + 2),
    ])
    out = keras.ops.convert_to_numpy(layers(x.astype(np.float32), training=True))
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out[..., 0] if images.ndim == 3 else out


# --------------------------------------------------------------------------- flowers
@dataclasses.dataclass(frozen=True)
class FlowerSplits:
    """tf_flowers as (image, label) ``tf.data`` datasets, split 75/15/10 %.

    ``source`` is "tfds" for the real photos and "tfds mock data" for the
    offline stand-in (right structure, random pixels: it cannot show learning).
    """

    train: object
    valid: object
    test: object
    class_names: tuple
    num_examples: dict
    source: str


def load_flowers(offline: bool | None = None, data_dir=None, mock_examples: int = 40) -> FlowerSplits:
    """tf_flowers (3,670 photos, 5 classes) with the book's split.

    The test set is the first 10 % of tfds' only split, validation the next
    15 % and training the remaining 75 %.

    Args:
        offline: ``None`` follows ``HOML_CV_OFFLINE``. Offline, a copy already
            prepared in ``data_dir`` is used; if there is none, tfds mock data
            (``mock_examples`` random images per split) stands in, and a line
            says so.
        data_dir: the tfds data folder (default ``HOML_CV_DATA_DIR`` or
            ``~/tensorflow_datasets``).

    Raises:
        DownloadError: online, when the download fails.
    """
    import tensorflow_datasets as tfds

    data_dir = sources.resolve_data_dir(data_dir)
    offline = sources.resolve_offline(offline)
    flower_classes = datasets.get("tf_flowers").class_names
    if offline and not datasets.prepared("tf_flowers", data_dir):
        sources.announce_stand_in(
            f"tfds mock data ({mock_examples} random images per split)",
            f"Offline and no prepared tf_flowers in {sources.shown_path(data_dir)}",
            "The pipeline is real; the pixels are noise, so accuracy means nothing here.")
        with tfds.testing.mock_data(num_examples=mock_examples), sources.quiet_tf_logs():
            splits = tfds.load("tf_flowers", split=list(FLOWERS_SPLITS), as_supervised=True)
            # materialize while the mock is active
            splits = [_materialize(ds) for ds in splits]
        counts = {"train": mock_examples, "valid": mock_examples, "test": mock_examples}
        return FlowerSplits(*splits, class_names=flower_classes, num_examples=counts,
                            source="tfds mock data")
    if not offline:
        datasets.require_download("tf_flowers", data_dir)  # seconds, not tfds' retries
    try:
        splits, info = tfds.load(
            "tf_flowers", split=list(FLOWERS_SPLITS), as_supervised=True, with_info=True,
            data_dir=str(data_dir), download=not offline,
        )
    except Exception as exc:  # noqa: BLE001
        raise sources.download_error("tf_flowers", exc, data_dir) from exc
    total = info.splits["train"].num_examples
    counts = {name: info.splits[s].num_examples for name, s in zip(("train", "valid", "test"), FLOWERS_SPLITS)}
    assert sum(counts.values()) == total
    flowers = FlowerSplits(*splits, class_names=tuple(info.features["label"].names),
                           num_examples=counts, source="tfds")
    if config.is_rehearsal():  # on the stand-in, check what the chapter relies on
        sample = list(flowers.train.take(8))
        expect_dataset("tf_flowers (load_flowers)", class_names=flowers.class_names,
                       expected_class_names=flower_classes, labels=[int(label) for _, label in sample])
        for image, _ in sample:
            expect_dataset("tf_flowers (load_flowers)", images=np.asarray(image)[None],
                           image_shape=(None, None, 3))
    return flowers


def photo_dataset(names=SAMPLE_PHOTOS):
    """The bundled real photos as a ``tf.data.Dataset`` of ``(JPEG bytes, label)``.

    The same structure as images read from files (e.g. with
    ``tf.io.read_file``): each element is a scalar ``tf.string`` holding an
    encoded JPEG and an int64 label, the photo's index in ``names``. Feed it to
    :func:`image_pipeline`, which decodes it. Offline, this is the input of
    chapter 03's pipeline demo (real photos of different sizes, no download).

    Args:
        names: photos from :data:`SAMPLE_PHOTOS`.

    Returns:
        ``(dataset, class_names)`` with ``class_names == tuple(names)``.

    Example:
        >>> ds, names = photo_dataset(("china", "chelsea"))  # doctest: +SKIP
        >>> [int(label) for _, label in ds]
        [0, 1]
    """
    import tensorflow as tf

    names = checks.non_empty(tuple(names), "names", "e.g. data.SAMPLE_PHOTOS")
    encoded = [tf.io.encode_jpeg(load_sample_image(name), quality=95).numpy() for name in names]
    ds = tf.data.Dataset.from_tensor_slices((encoded, np.arange(len(names), dtype=np.int64)))
    return ds, names


def write_image_folder(images, labels, class_names, folder) -> Path:
    """Write images as PNG files into one sub-folder per class.

    The layout ``keras.utils.image_dataset_from_directory`` reads::

        folder/<class_name>/0000.png, 0001.png, ...

    Args:
        images: uint8 (N, H, W) grayscale or (N, H, W, 3) colour.
        labels: int (N,), indices into ``class_names``.
        class_names: the sub-folder names, e.g. ``("five", "six")``.
        folder: where to write (created if needed; must not hold images yet).

    Returns:
        The folder as a ``Path``.
    """
    from PIL import Image

    images = checks.shaped(images, "images", [("N", "H", "W"), ("N", "H", "W", 3)])
    checks.one_of(images.dtype.name, "images.dtype", ("uint8",))
    labels = np.asarray(labels)
    checks.same_length(("images", images), ("labels", labels), why="one label per image")
    checks.indices(labels, "labels", len(class_names), "positions in class_names")
    folder = Path(folder)
    if folder.is_dir() and any(folder.rglob("*.png")):
        raise FileExistsError(
            f"folder={sources.shown_path(folder)!r} already holds images: pass an empty or new folder."
        )
    for name in class_names:
        (folder / str(name)).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(folder / str(class_names[label]) / f"{index:04d}.png")
    return folder


def _materialize(ds):
    import tensorflow as tf

    images, labels = zip(*[(img, lbl) for img, lbl in ds])
    return tf.data.Dataset.from_tensor_slices((tf.ragged.stack(images), tf.stack(labels))).map(
        lambda img, lbl: (img.to_tensor() if isinstance(img, tf.RaggedTensor) else img, lbl)
    )


# --------------------------------------------------------------------------- flowers pipeline (03)
def augmentation_layers(seed: int | None = None):
    """Keras preprocessing layers for training-time augmentation of photos.

    Random horizontal flip, rotation (up to +-18 degrees), zoom (+-20 %) and
    contrast (+-20 %), on pixel values 0-255, shape kept. Active only when
    called with ``training=True``.
    """
    import keras

    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.05, fill_mode="reflect", seed=seed),
        keras.layers.RandomZoom(0.2, fill_mode="reflect", seed=seed),
        keras.layers.RandomContrast(0.2, value_range=(0, 255), seed=seed),
    ], name="augmentation")


def image_pipeline(ds, image_size: int, preprocess_input=None, batch_size: int = 32,
                   training: bool = False, augment=None, shuffle_buffer: int = 1000,
                   cache=True, parallel: bool = True, prefetch: bool = True, seed: int = 42):
    """Turn a dataset of ``(image, label)`` into batches a pretrained base can eat.

    Steps, in this order: decode (if the images are encoded JPEG/PNG bytes),
    resize to ``image_size`` (centre crop to square, so photos are not
    squashed), ``cache`` (resized uint8 images: 0.27 MB each at 299 px, about
    0.7 GB for tf_flowers' training split), ``shuffle`` (training only),
    ``batch``, augmentation (training only), ``preprocess_input``,
    ``prefetch``. The ``map`` steps run in parallel unless ``parallel=False``.

    Args:
        ds: a ``tf.data.Dataset`` of ``(image, label)``: uint8 (H, W, 3) of
            any size, or encoded image bytes.
        image_size: side of the output images.
        preprocess_input: the base's ``preprocess_input`` (None: keep 0-255).
        batch_size: images per batch.
        training: shuffle and augment.
        augment: a Keras layer (default :func:`augmentation_layers` when
            ``training``); ``False`` for none.
        shuffle_buffer: size of the shuffle buffer.
        cache: True (in memory), a file name (on disk) or False.
        parallel: ``num_parallel_calls=AUTOTUNE`` for the maps.
        prefetch: ``prefetch(AUTOTUNE)`` at the end.
        seed: seed of the shuffle and the augmentation.

    Returns:
        A dataset of ``(float32 (B, size, size, 3), labels (B,))``.
    """
    import keras
    import tensorflow as tf

    checks.int_at_least(image_size, "image_size", 8, "pixels per side")
    checks.positive_int(batch_size, "batch_size")
    calls = tf.data.AUTOTUNE if parallel else None
    resize = keras.layers.Resizing(image_size, image_size, crop_to_aspect_ratio=True)
    encoded = ds.element_spec[0].dtype == tf.string

    def load(image, label):
        if encoded:
            image = tf.io.decode_image(image, channels=3, expand_animations=False)
        image = resize(tf.cast(image, tf.float32))
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = ds.map(load, num_parallel_calls=calls)
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment is None:
        augment = augmentation_layers(seed) if training else False

    def finish(images, labels):
        images = tf.cast(images, tf.float32)
        if augment:
            images = augment(images, training=True)
        if preprocess_input is not None:
            images = preprocess_input(images)
        return images, labels

    ds = ds.map(finish, num_parallel_calls=calls)
    return ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds


@dataclasses.dataclass(frozen=True)
class FlowerPipelines:
    """Batched tf_flowers datasets for one pretrained base (see :func:`flowers_pipeline`)."""

    train: object
    valid: object
    test: object
    image_size: int
    base: str
    class_names: tuple
    source: str


def flowers_pipeline(splits: FlowerSplits | None = None, base: str = "Xception",
                     image_size: int | None = None, batch_size: int = 32, augment: bool = True,
                     cache=True, seed: int = 42) -> FlowerPipelines:
    """tf_flowers, resized and preprocessed for ``base``, as three tf.data pipelines.

    The training split is cached, shuffled and augmented; validation and test
    are only resized and preprocessed. Everything is lazy: nothing is read
    until a model iterates over the datasets.

    Args:
        splits: from :func:`load_flowers` (loaded here if None).
        base: a ``homl_cv.pretrained.BASES`` name: picks ``preprocess_input``
            and the default image size.
        image_size: side of the images (default: the base's own size).
        batch_size: images per batch.
        augment: augment the training split (see :func:`augmentation_layers`).
        cache: see :func:`image_pipeline`.
        seed: shuffle and augmentation seed.

    Example:
        >>> pipes = flowers_pipeline(load_flowers(), "MobileNetV2", 96)  # doctest: +SKIP
        >>> pipes.train.element_spec[0].shape
        TensorShape([None, 96, 96, 3])
    """
    spec = pretrained.base_spec(base)
    splits = load_flowers() if splits is None else splits
    size = image_size or spec.input_size
    common = dict(image_size=size, preprocess_input=spec.preprocess_input,
                  batch_size=batch_size, seed=seed)
    train = image_pipeline(splits.train, training=True, augment=None if augment else False,
                           cache=cache, **common)
    valid = image_pipeline(splits.valid, cache=cache, **common)
    test = image_pipeline(splits.test, cache=False, **common)
    return FlowerPipelines(train, valid, test, size, base, splits.class_names, splits.source)



# --------------------------------------------------------------------------- shapes
SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
COLOR_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan")
PALETTE = np.array(
    [[0.90, 0.15, 0.15], [0.15, 0.75, 0.20], [0.15, 0.35, 0.95],
     [0.95, 0.85, 0.10], [0.85, 0.20, 0.85], [0.10, 0.85, 0.85]],
    dtype=np.float32,
)
"""RGB in [0, 1] of each colour in :data:`COLOR_NAMES` (before a small jitter)."""
FILL_NAMES = ("plain", "striped")


@dataclasses.dataclass
class ShapesData:
    """Generated images with exact ground truth.

    Attributes:
        images: float32 (N, H, W, 3) in [0, 1].
        boxes: float32 (N, max_objects, 4), "xyxy" in pixels (x1, y1 inclusive
            pixel edges, x2, y2 exclusive), rows of -1 for padding.
        classes: int32 (N, max_objects), class ids, -1 for padding.
        masks: uint8 (N, H, W): 0 background, ``k + 1`` for class ``k``
            (visible pixels only: a later shape hides an earlier one).
        class_names: names of the classes, index = class id.
        colors: int32 (N, max_objects), index into :data:`COLOR_NAMES`, -1
            for padding. Drawn independently of the class.
        fills: int32 (N, max_objects), index into :data:`FILL_NAMES`, -1 for
            padding. Drawn independently of the class.
        instances: uint8 (N, H, W): 0 background, ``j + 1`` for the visible
            pixels of object ``j`` (its row in ``boxes``).
    """

    images: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    masks: np.ndarray
    class_names: tuple
    colors: np.ndarray
    fills: np.ndarray
    instances: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def num_objects(self) -> np.ndarray:
        """Objects per image, int (N,)."""
        return (self.classes >= 0).sum(axis=1)

    def split(self, fractions=(0.8, 0.1, 0.1)):
        """Split into consecutive parts (the data is already random)."""
        if not np.isclose(sum(fractions), 1.0):
            raise ValueError(f"fractions={fractions} must add up to 1.")
        ends = np.round(np.cumsum(fractions) * len(self)).astype(int)
        starts = np.concatenate([[0], ends[:-1]])
        return tuple(self[slice(a, b)] for a, b in zip(starts, ends))

    def __getitem__(self, index) -> "ShapesData":
        return ShapesData(self.images[index], self.boxes[index], self.classes[index],
                          self.masks[index], self.class_names, self.colors[index],
                          self.fills[index], self.instances[index])

    def to_dataset(self, batch_size: int | None = None, shuffle: bool = False, seed: int = 0):
        """A ``tf.data.Dataset`` in the Keras box-dict convention.

        Each element is ``{"images": (H, W, 3), "bounding_boxes": {"boxes":
        (max_objects, 4), "classes": (max_objects,)}, "segmentation_masks":
        (H, W, 1)}`` (batched when ``batch_size`` is given), boxes in "xyxy"
        pixels, padded with -1 as keras-cv expects.
        """
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices({
            "images": self.images,
            "bounding_boxes": {"boxes": self.boxes, "classes": self.classes.astype(np.float32)},
            "segmentation_masks": self.masks[..., None].astype(np.int32),
        })
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed)
        if batch_size is not None:
            ds = ds.batch(batch_size)
        return ds.prefetch(tf.data.AUTOTUNE)


_CROSS_ARM = 0.34  # half-width of the cross's arms, in half-sides
FILL_RANGE = (0.2, 0.45)
"""Range of the share of its tight box an object's outline fills (the top: what a solid triangle can reach)."""
MIN_STROKE = 1.5  # pixels: the outline an object's fill target asks for when the object is large enough


def _shape_depth(kind: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """How far inside shape ``kind`` the points u, v (in [-1, 1]) lie, in half-sides; < 0 outside."""
    if kind == 0:  # circle (drawn in a square box: a true circle)
        return 1.0 - np.sqrt(u * u + v * v)
    if kind == 1:  # square (drawn in a square box)
        return np.minimum(1.0 - np.abs(u), 1.0 - np.abs(v))
    if kind == 2:  # triangle pointing up: inside the base and both slanted edges
        return np.minimum(1.0 - v, (v + 1.0 - 2.0 * np.abs(u)) / np.sqrt(5.0))
    # cross (plus sign): inside either arm
    upright = np.minimum(_CROSS_ARM - np.abs(u), 1.0 - np.abs(v))
    lying = np.minimum(_CROSS_ARM - np.abs(v), 1.0 - np.abs(u))
    return np.maximum(upright, lying)


def _fill_target(rng, side: float) -> float:
    """The share of its tight box an object of ``side`` pixels will fill, drawn for any class alike.

    Uniform in [low, FILL_RANGE[1]], ``low`` the share a :data:`MIN_STROKE`
    outline of the widest-reaching shapes (square, cross: perimeter 4 sides)
    fills at this size: small objects get thick-enough strokes, and the draw
    depends on the size only, never on the class.
    """
    high = FILL_RANGE[1]
    low = min(high, max(FILL_RANGE[0], 4.0 * MIN_STROKE / side * (1.0 - MIN_STROKE / side)))
    return float(rng.uniform(low, high))


def _shape_pixels(kind: int, x0: float, y0: float, side: float, fill: float = 1.0) -> tuple:
    """(rows, cols) of shape ``kind`` drawn in the square box at (x0, y0) of ``side`` pixels.

    ``fill`` 1 paints the solid shape; below 1, its outline: the pixels of the
    shape nearest its edge, as many as make ``fill`` of the shape's tight box
    (never fewer than a one-pixel outline, never more than the solid shape).
    """
    ys, xs = np.mgrid[int(y0):int(np.ceil(y0 + side)), int(x0):int(np.ceil(x0 + side))]
    u = (xs + 0.5 - (x0 + side / 2)) / (side / 2)
    v = (ys + 0.5 - (y0 + side / 2)) / (side / 2)
    depth = _shape_depth(kind, u, v) * (side / 2)  # pixels
    inside = depth >= 0.0
    rows, cols, depth = ys[inside], xs[inside], depth[inside]
    if fill >= 1.0 or not len(rows):
        return rows, cols
    box_area = (rows.max() + 1 - rows.min()) * (cols.max() + 1 - cols.min())
    edge = int((depth < 1.0).sum())  # the one-pixel outline: it keeps the tight box
    keep = int(np.clip(round(fill * box_area), edge, len(rows)))
    nearest = np.argsort(depth, kind="stable")[:keep]
    nearest.sort()
    return rows[nearest], cols[nearest]


def _tight_box(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The "xyxy" box of the pixels (x2, y2 exclusive)."""
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)


def _paint(image: np.ndarray, rows, cols, color: np.ndarray, fill: int) -> None:
    """Paint the pixels in ``color``, plain (fill 0) or striped (fill 1), in place."""
    if fill == 1:  # diagonal stripes, darker every other 3-px band
        shade = np.where(((rows + cols) // 3) % 2 == 0, 1.0, 0.45)
    else:
        shade = np.ones(len(rows))
    image[rows, cols] = color[None, :] * shade[:, None]


@functools.lru_cache(maxsize=4)
def _photo_bank(image_size: int) -> np.ndarray:
    """Low-contrast crops of the bundled photos, used as backgrounds."""
    from skimage.transform import resize

    rng = np.random.default_rng(1234)
    bank = []
    for name in SAMPLE_PHOTOS:
        photo = load_sample_image(name).astype(np.float32) / 255.0
        h, w = photo.shape[:2]
        side = min(h, w)
        for _ in range(6):
            crop = rng.integers(side // 3, side + 1)
            y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            patch = resize(photo[y:y + crop, x:x + crop], (image_size, image_size),
                           anti_aliasing=True).astype(np.float32)
            bank.append(0.5 * patch + 0.25)  # halve the contrast so shapes stand out
    bank = np.stack(bank)
    bank.setflags(write=False)  # cached: shapes are drawn on copies
    return bank


def _background(rng, image_size: int, bank: np.ndarray) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:  # real photo crop, maybe flipped
        bg = bank[rng.integers(len(bank))]
        return (bg[:, ::-1] if rng.random() < 0.5 else bg).copy()  # never a view of the cache
    if kind == 1:  # smooth noise: coarse random grid, upsampled
        coarse = rng.random((5, 5, 3)).astype(np.float32) * 0.6 + 0.2
        reps = -(-image_size // 4)
        bg = np.kron(coarse, np.ones((reps, reps, 1), np.float32))[:image_size, :image_size]
        return bg + rng.normal(0, 0.03, bg.shape).astype(np.float32)
    # linear gradient between two random colours
    c0, c1 = rng.random(3) * 0.6 + 0.2, rng.random(3) * 0.6 + 0.2
    t = np.linspace(0, 1, image_size, dtype=np.float32)
    angle = rng.random() * np.pi
    ramp = np.cos(angle) * t[None, :] + np.sin(angle) * t[:, None]
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min() + 1e-6)
    return (c0 + (c1 - c0) * ramp[..., None]).astype(np.float32)


def make_shapes(
    num_images: int,
    image_size: int = 64,
    min_objects: int = 1,
    max_objects: int = 1,
    num_classes: int = len(SHAPE_CLASSES),
    size_range=(0.15, 0.45),
    max_overlap: float = 0.25,
    seed: int = 0,
    region_masks: bool = False,
) -> ShapesData:
    """Generate images of shapes with exact boxes and masks; the class is the shape alone.

    Each image has between ``min_objects`` and ``max_objects`` shapes: circle,
    square, triangle or cross. Everything except the outline is drawn
    independently of the class, so a model can only tell the classes apart by
    their shape:

    - the colour comes from :data:`COLOR_NAMES` (uniformly, with a small
      jitter), the fill is plain or striped (:data:`FILL_NAMES`);
    - every shape sits in a square box (a true circle, a true square) whose
      side is ``size_range`` times the image size, uniformly, at a uniform
      position.
    - every shape is drawn as its outline: the pixels of the solid shape
      nearest its edge, as many as fill a share of its tight box drawn from
      one distribution for every class (uniform between :data:`FILL_RANGE`'s
      top, 0.45, and what a 1.5-pixel outline of a square fills at that size,
      at least 0.2). Solid shapes would give the class
      away by that share alone (square 1.0, circle 0.79, cross 0.57, triangle
      0.5: a probe on that share scored 0.91); outlines leave it at chance, and
      the stroke's thickness varies with the target, not with the class.
      Tiny objects (under about 10 pixels) keep a one-pixel outline, which may
      fill a little more.

    Backgrounds are low-contrast crops of the bundled photos, smooth noise or
    a gradient. Shapes may overlap (box IoU at most ``max_overlap``). By
    default the masks keep only the visible (painted) pixels: an outline's
    inside shows what lies beneath, and it is not part of the mask. With
    ``region_masks=True`` they hold the whole region each outline encloses
    (the solid shape; a later object's region covers an earlier one's), what
    a segmentation model is asked to paint: the target then fills a fixed
    share of its box per class, but the image, the model's only input, does
    not. The images, boxes and classes are the same either way. The same
    arguments always give the same data.

    Args:
        num_images: how many images (a few thousand at 128x128 take seconds).
        image_size: side of the square images, at least 16.
        min_objects, max_objects: objects per image, 1 <= min <= max.
        num_classes: how many shape classes, 1 to 4.
        size_range: (min, max) side of an object's box as a fraction of
            ``image_size``.
        max_overlap: largest IoU allowed between two boxes of one image.
        seed: random seed.
        region_masks: False for masks of the painted outline pixels, True for
            masks of the regions the outlines enclose.

    Returns:
        A :class:`ShapesData` (images float32 (N, S, S, 3) in [0, 1]; boxes,
        classes, colors, fills per object; class and instance masks).

    Example:
        >>> shapes = make_shapes(8, image_size=32, seed=1)
        >>> shapes.images.shape, shapes.boxes.shape, shapes.masks.shape
        ((8, 32, 32, 3), (8, 1, 4), (8, 32, 32))
    """
    checks.positive_int(num_images, "num_images")
    checks.int_at_least(image_size, "image_size", 16, "pixels per side")
    checks.ordered_range((min_objects, max_objects), "(min_objects, max_objects)", 1)
    checks.int_in(num_classes, "num_classes", 1, len(SHAPE_CLASSES), "one per shape class")
    checks.ordered_range(size_range, "size_range", 0, 1, low_open=True, unit="fractions of the image side")
    checks.one_of(region_masks, "region_masks", (False, True))
    lo, hi = size_range

    rng = np.random.default_rng(seed)
    fill_rng = np.random.default_rng([seed, 1])  # its own stream: the other draws stay as they were
    bank = _photo_bank(image_size)
    images = np.empty((num_images, image_size, image_size, 3), np.float32)
    boxes = np.full((num_images, max_objects, 4), -1.0, np.float32)
    classes = np.full((num_images, max_objects), -1, np.int32)
    colors = np.full((num_images, max_objects), -1, np.int32)
    fills = np.full((num_images, max_objects), -1, np.int32)
    masks = np.zeros((num_images, image_size, image_size), np.uint8)
    instances = np.zeros((num_images, image_size, image_size), np.uint8)
    for i in range(num_images):
        image = _background(rng, image_size, bank)
        placed = []
        for j in range(rng.integers(min_objects, max_objects + 1)):
            cls = int(rng.integers(num_classes))
            color_id, fill = int(rng.integers(len(COLOR_NAMES))), int(rng.integers(len(FILL_NAMES)))
            for _ in range(30):  # rejection sampling for the overlap limit
                side = max(rng.uniform(lo, hi) * image_size, 6.0)
                x0 = rng.uniform(0, image_size - side)
                y0 = rng.uniform(0, image_size - side)
                if not placed or np.all(boxes_lib.iou([[x0, y0, x0 + side, y0 + side]], placed) <= max_overlap):
                    break
            else:
                break  # no room left for another object in this image
            rows, cols = _shape_pixels(cls, x0, y0, side, _fill_target(fill_rng, side))
            if not len(rows):
                break
            tight = _tight_box(rows, cols)
            color = np.clip(PALETTE[color_id] + rng.normal(0, 0.05, 3), 0, 1)
            _paint(image, rows, cols, color, fill)
            if region_masks:  # fill 1: the solid shape the outline encloses
                rows, cols = _shape_pixels(cls, x0, y0, side)
            masks[i, rows, cols] = cls + 1
            instances[i, rows, cols] = j + 1
            boxes[i, j], classes[i, j] = tight, cls
            colors[i, j], fills[i, j] = color_id, fill
            placed.append(tight)
        images[i] = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
    # an object hidden under later ones may have lost pixels: the class mask and the
    # instance mask agree on what is visible, the box stays the object's full extent
    return ShapesData(images, boxes, classes, masks, SHAPE_CLASSES[:num_classes], colors, fills, instances)


@dataclasses.dataclass
class MovingShapes:
    """A generated clip of moving shapes with exact boxes and identities.

    Every object is in every frame (objects bounce off the borders), so nothing
    is padded; a shape drawn later hides an earlier one where they overlap, and
    its box stays its full extent.

    Attributes:
        frames: float32 (T, H, W, 3) in [0, 1].
        boxes: float32 (T, K, 4), "xyxy" pixels, object ``k`` of frame ``t``.
        ids: int32 (T, K), the identity of each box: ``k`` (the same in every frame).
        classes: int32 (K,), class ids (the shape), constant over the clip.
        velocities: float32 (T, K, 2), (vx, vy) in pixels per frame with which
            object ``k`` moved into frame ``t`` (frame 0: its first step's).
        colors, fills: int32 (K,), as in :class:`ShapesData`, independent of the class.
        class_names: names of the classes, index = class id.
    """

    frames: np.ndarray
    boxes: np.ndarray
    ids: np.ndarray
    classes: np.ndarray
    velocities: np.ndarray
    colors: np.ndarray
    fills: np.ndarray
    class_names: tuple

    def __len__(self) -> int:
        return len(self.frames)


def make_moving_shapes(num_frames: int = 36, num_objects: int = 4, image_size: int = 64,
                       size_range=(0.22, 0.32), speed_range=(1.5, 3.0), jitter: float = 0.3,
                       num_classes: int = len(SHAPE_CLASSES), seed: int = 0) -> MovingShapes:
    """Generate a clip of shapes moving at constant velocity, bouncing off the borders.

    The shapes, colours, fills and backgrounds are those of :func:`make_shapes`
    (the class is the outline alone; each object keeps one fill-share target),
    so a detector trained on ``make_shapes`` images of the same size finds
    them frame by frame. Each object keeps its
    class, colour, fill and size; its box moves by its velocity every frame (a
    speed drawn from ``speed_range`` in a uniform direction) and the velocity
    flips sign on the axis where the box would leave the image. The drawn
    position adds a small Gaussian ``jitter`` (not accumulated). Objects start
    apart (box IoU 0) and then cross freely: crossings, where one shape hides
    another, are what makes tracking hard. The background stays fixed; pixel
    noise is new every frame.

    Args:
        num_frames: T, at least 2.
        num_objects: K, at least 1.
        image_size: side of the square frames, at least 16.
        size_range: (min, max) side of an object's box as a fraction of ``image_size``.
        speed_range: (min, max) speed in pixels per frame, 0 <= min <= max.
        jitter: standard deviation (pixels) of the noise on each drawn position, >= 0.
        num_classes: how many shape classes, 1 to 4.
        seed: random seed (the same arguments always give the same clip).

    Returns:
        A :class:`MovingShapes`.

    Example:
        >>> clip = make_moving_shapes(num_frames=5, num_objects=2, image_size=32, seed=0)
        >>> clip.frames.shape, clip.boxes.shape, clip.ids[0].tolist(), clip.classes.shape
        ((5, 32, 32, 3), (5, 2, 4), [0, 1], (2,))
    """
    num_frames = checks.int_at_least(num_frames, "num_frames", 2, "a clip needs two frames to move")
    num_objects = checks.positive_int(num_objects, "num_objects")
    image_size = checks.int_at_least(image_size, "image_size", 16, "pixels per side")
    num_classes = checks.int_in(num_classes, "num_classes", 1, len(SHAPE_CLASSES), "one per shape class")
    checks.ordered_range(size_range, "size_range", 0, 1, low_open=True, unit="fractions of the image side")
    lo, hi = size_range
    checks.ordered_range(speed_range, "speed_range", 0, unit="pixels per frame")
    slow, fast = speed_range
    jitter = checks.number_in(jitter, "jitter", 0.0, float(image_size))

    rng = np.random.default_rng(seed)
    classes = rng.integers(num_classes, size=num_objects).astype(np.int32)
    colors = rng.integers(len(COLOR_NAMES), size=num_objects).astype(np.int32)
    fills = rng.integers(len(FILL_NAMES), size=num_objects).astype(np.int32)
    tints = np.clip(PALETTE[colors] + rng.normal(0, 0.05, (num_objects, 3)), 0, 1)
    sides = np.maximum(rng.uniform(lo, hi, num_objects) * image_size, 6.0)
    fill_rng = np.random.default_rng([seed, 1])  # its own stream, as in make_shapes
    targets = [_fill_target(fill_rng, side) for side in sides]
    room = image_size - sides  # the top-left corner stays in [0, room]
    corners = np.empty((num_objects, 2))
    for k in range(num_objects):  # start apart (rejection sampling), else anywhere
        for _ in range(100):
            corners[k] = rng.uniform(0, room[k], 2)
            square = np.r_[corners[k], corners[k] + sides[k]]
            placed = np.c_[corners[:k], corners[:k] + sides[:k, None]]
            if k == 0 or np.all(boxes_lib.iou([square], placed) == 0):
                break
    angles = rng.uniform(0, 2 * np.pi, num_objects)
    velocity = rng.uniform(slow, fast, num_objects)[:, None] * np.c_[np.cos(angles), np.sin(angles)]

    background = _background(rng, image_size, _photo_bank(image_size))
    frames = np.empty((num_frames, image_size, image_size, 3), np.float32)
    boxes = np.empty((num_frames, num_objects, 4), np.float32)
    velocities = np.empty((num_frames, num_objects, 2), np.float32)
    for t in range(num_frames):
        if t > 0:  # move, then reflect at the borders
            corners = corners + velocity
            for axis in range(2):
                low, high = corners[:, axis] < 0, corners[:, axis] > room
                corners[low, axis] = -corners[low, axis]
                corners[high, axis] = 2 * room[high] - corners[high, axis]
                velocity[low | high, axis] *= -1
        velocities[t] = velocity
        image = background.copy()
        drawn = np.clip(corners + rng.normal(0, jitter, corners.shape), 0, room[:, None]) if jitter else corners
        for k in range(num_objects):
            rows, cols = _shape_pixels(int(classes[k]), drawn[k, 0], drawn[k, 1], sides[k], targets[k])
            _paint(image, rows, cols, tints[k], int(fills[k]))
            boxes[t, k] = _tight_box(rows, cols)
        frames[t] = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
    ids = np.tile(np.arange(num_objects, dtype=np.int32), (num_frames, 1))
    return MovingShapes(frames, boxes, ids, classes, velocities, colors, fills, SHAPE_CLASSES[:num_classes])


def simulated_detections(clip: MovingShapes, seed: int = 0, sigma: float = 1.0, drop: float = 0.1,
                         hide: float = 0.3) -> list:
    """What a detector with known errors would find in each frame of ``clip``: a tracker's test input.

    The true boxes with Gaussian noise of ``sigma`` pixels on every coordinate;
    each box is dropped at random with probability ``drop``, and every object
    hidden behind one drawn after it (box IoU above ``hide``) is dropped too.
    No TensorFlow, so the result is the same on every CPU.

    Returns:
        One float32 (K_t, 4) "xyxy" array per frame, K_t <= the clip's objects.

    Example:
        >>> clip = make_moving_shapes(3, num_objects=2, seed=1)
        >>> [frame.shape for frame in simulated_detections(clip, drop=0.0, hide=1.0)]
        [(2, 4), (2, 4), (2, 4)]
    """
    rng = np.random.default_rng(seed)
    out = []
    for frame_boxes in clip.boxes:
        overlap = np.triu(boxes_lib.iou(frame_boxes, frame_boxes), 1)  # [k, j]: k is drawn before j
        keep = (rng.random(len(frame_boxes)) >= drop) & ~(overlap > hide).any(axis=1)
        out.append((frame_boxes + rng.normal(0, sigma, frame_boxes.shape)).astype(np.float32)[keep])
    return out


# --------------------------------------------------------------------------- out-of-distribution images
OOD_KINDS = ("digits", "texture", "noise")
_TEXTURES = ("brick", "grass", "gravel")  # scikit-image's bundled 512x512 grey textures


@dataclasses.dataclass(frozen=True)
class OODImages:
    """Images from outside the shapes' distribution, for out-of-distribution tests.

    Attributes:
        images: float32 (N, S, S, 3) in [0, 1] (grey: the three channels are equal).
        kinds: int32 (N,), index into ``kind_names``.
        kind_names: :data:`OOD_KINDS`.
    """

    images: np.ndarray
    kinds: np.ndarray
    kind_names: tuple = OOD_KINDS

    def __len__(self) -> int:
        return len(self.images)


def make_ood_images(per_kind: int = 100, image_size: int = 48, seed: int = 0) -> OODImages:
    """Images no shapes model has seen: handwritten digits, textures, noise (offline).

    - ``digits``: scikit-learn's real 8x8 handwritten digits, upscaled
      (nearest neighbour) to ``image_size``: white strokes on black;
    - ``texture``: random square crops (1/8 to 1/2 of the side) of
      scikit-image's brick, grass and gravel photos, resized;
    - ``noise``: every pixel and channel uniform in [0, 1].

    Args:
        per_kind: images of each kind.
        image_size: side of the square images, at least 8.
        seed: random seed (which digits, which crops, the noise).

    Returns:
        An :class:`OODImages` of ``3 * per_kind`` images, kind by kind.

    Example:
        >>> ood = make_ood_images(per_kind=2, image_size=16)
        >>> ood.images.shape, ood.kinds.tolist()
        ((6, 16, 16, 3), [0, 0, 1, 1, 2, 2])
    """
    from skimage import data as skdata
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    per_kind = checks.positive_int(per_kind, "per_kind")
    image_size = checks.int_at_least(image_size, "image_size", 8, "pixels per side")
    rng = np.random.default_rng(seed)
    digits = load_digits().images
    chosen = digits[rng.choice(len(digits), per_kind, replace=per_kind > len(digits))] / 16.0
    grey = [np.stack([resize(d, (image_size, image_size), order=0) for d in chosen])]
    photos = [getattr(skdata, name)().astype(np.float32) / 255.0 for name in _TEXTURES]
    crops = []
    for k in range(per_kind):
        photo = photos[k % len(photos)]
        side = int(rng.integers(photo.shape[0] // 8, photo.shape[0] // 2 + 1))
        y, x = rng.integers(0, photo.shape[0] - side + 1), rng.integers(0, photo.shape[1] - side + 1)
        crops.append(resize(photo[y:y + side, x:x + side], (image_size, image_size), anti_aliasing=True))
    grey.append(np.stack(crops))
    grey = np.clip(np.concatenate(grey), 0, 1)[..., None].repeat(3, axis=-1)
    noise = rng.random((per_kind, image_size, image_size, 3))
    images = np.concatenate([grey, noise]).astype(np.float32)
    kinds = np.repeat(np.arange(len(OOD_KINDS), dtype=np.int32), per_kind)
    return OODImages(images, kinds)
