"""Pretrained ImageNet models from ``keras.applications``, ready offline.

Four bases, each with the image size it was trained at and its own
``preprocess_input`` (they differ: Xception wants [-1, 1], ResNet-50 wants
BGR with the ImageNet means subtracted, EfficientNet rescales inside the
model):

==================  ==========  ===========  =====================
name                input size  parameters   preprocess_input
==================  ==========  ===========  =====================
``ResNet50``        224         25.6 M       caffe (BGR, centred)
``Xception``        299         22.9 M       tf ([-1, 1])
``MobileNetV2``     224         3.5 M        tf ([-1, 1])
``EfficientNetB0``  224         5.3 M        none (inside the model)
==================  ==========  ===========  =====================

Weights: ``weights="auto"`` (the default) means ImageNet weights when they can
be had (online, or already in Keras' cache ``$KERAS_HOME/models``, by default
``~/.keras/models``) and random
weights with a plain warning otherwise, so the structural parts of a chapter
still run offline. :attr:`PretrainedBase.pretrained` says which one you got.

Top-k names: :func:`decode_imagenet_predictions` works like
``keras.applications.imagenet_utils.decode_predictions`` but reads the class
index shipped in this package (``resources/imagenet_class_index.json``, the
same file Keras downloads), so it needs no network.

Example:
    >>> from homl_cv import pretrained
    >>> base = pretrained.build_base("MobileNetV2", weights=None, input_size=96)
    >>> base.model.output_shape
    (None, 3, 3, 1280)
    >>> pretrained.imagenet_class_name(207)
    'golden_retriever'
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources

import numpy as np

from homl_cv import checks, sources

__all__ = [
    "BASES",
    "BaseSpec",
    "CLASS_INDEX_FILE",
    "CLASS_INDEX_MD5",
    "PretrainedBase",
    "base_spec",
    "build_base",
    "decode_imagenet_predictions",
    "imagenet_class_index",
    "imagenet_class_name",
    "prepare_images",
    "resolve_weights",
    "top_k_predictions",
    "weights_file_name",
]

CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"  # the hash Keras checks its download against


@dataclasses.dataclass(frozen=True)
class BaseSpec:
    """What to know about one ``keras.applications`` architecture.

    Attributes:
        name: the key in :data:`BASES` (also the ``keras.applications`` name).
        input_size: side of the square images it was trained on.
        min_size: the smallest side its layers accept without the top.
        module: the ``keras.applications`` submodule name (for ``preprocess_input``).
        weight_files: Keras' cache file names of the ImageNet weights,
            ``(with top, without top)``; ``{size}`` stands for the input size.
    """

    name: str
    input_size: int
    min_size: int
    module: str
    weight_files: tuple

    @property
    def constructor(self):
        import keras

        return getattr(keras.applications, self.name)

    @property
    def preprocess_input(self):
        """The base's ``preprocess_input``: pixel values 0-255 in, what the net expects out."""
        import keras

        return getattr(keras.applications, self.module).preprocess_input


BASES = {
    spec.name: spec
    for spec in (
        BaseSpec("ResNet50", 224, 32, "resnet50",
                 ("resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                  "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")),
        BaseSpec("Xception", 299, 71, "xception",
                 ("xception_weights_tf_dim_ordering_tf_kernels.h5",
                  "xception_weights_tf_dim_ordering_tf_kernels_notop.h5")),
        BaseSpec("MobileNetV2", 224, 32, "mobilenet_v2",
                 ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}.h5",
                  "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5")),
        BaseSpec("EfficientNetB0", 224, 32, "efficientnet",
                 ("efficientnetb0.h5", "efficientnetb0_notop.h5")),
    )
}


def base_spec(name: str) -> BaseSpec:
    """The :class:`BaseSpec` of ``name`` (one of :data:`BASES`)."""
    return BASES[checks.one_of(name, "name", tuple(BASES))]


# ------------------------------------------------------------------------- weights
def weights_file_name(name: str, include_top: bool = False, input_size: int | None = None) -> str:
    """The file name Keras caches the ImageNet weights of base ``name`` under."""
    spec = base_spec(name)
    size = input_size or spec.input_size
    if name == "MobileNetV2" and size not in (96, 128, 160, 192, 224):
        size = 224  # Keras loads the 224 weights for other sizes
    return spec.weight_files[0 if include_top else 1].format(size=size)


def resolve_weights(name: str, include_top: bool = False, weights="auto",
                    input_size: int | None = None, verbose: bool = True):
    """Which weights to load for base ``name``: ``"imagenet"``, ``None`` (random) or a path.

    The package's one weights policy, :func:`homl_cv.sources.resolve_weights`,
    applied to this base's weights file (:func:`weights_file_name`).

    Args:
        name: a key of :data:`BASES`.
        include_top: whether the 1000-class ImageNet head is wanted.
        weights: ``"auto"`` (ImageNet weights when online or cached, else
            random with a warning), ``"imagenet"`` (must have them), ``None``
            (random on purpose), or a path to a weights file.
        input_size: the input size (MobileNetV2's weight file depends on it).
        verbose: print the warning when falling back to random weights.

    Raises:
        FileNotFoundError: ``weights="imagenet"`` offline with nothing cached.
    """
    spec = base_spec(name)
    return sources.resolve_weights(spec.name, weights_file_name(name, include_top, input_size),
                                   weights, verbose=verbose)


# ---------------------------------------------------------------------------- bases
@dataclasses.dataclass
class PretrainedBase:
    """A built ``keras.applications`` model and what goes with it.

    Attributes:
        model: the Keras model (without the top unless ``include_top``).
        spec: its :class:`BaseSpec`.
        input_size: the side of the square images it was built for.
        pretrained: True when ImageNet weights were loaded.
    """

    model: object
    spec: BaseSpec
    input_size: int
    pretrained: bool

    @property
    def preprocess_input(self):
        return self.spec.preprocess_input

    def prepare(self, images):
        """Resize (centre crop to square) and preprocess a batch; see :func:`prepare_images`."""
        return prepare_images(images, self.input_size, self.spec.preprocess_input)


def build_base(name: str = "Xception", include_top: bool = False, weights="auto",
               input_size: int | None = None, verbose: bool = True) -> PretrainedBase:
    """Build a ``keras.applications`` base with the right weights.

    Args:
        name: one of :data:`BASES`.
        include_top: keep the 1000-class ImageNet classifier (then the input
            size must be the base's own size).
        weights: see :func:`resolve_weights`.
        input_size: side of the input images (default: the base's own);
            smaller sizes run faster and are fine without the top.
        verbose: print a line when falling back to random weights.

    Returns:
        A :class:`PretrainedBase`; without the top, ``model`` maps
        ``(N, size, size, 3)`` preprocessed images to a feature map
        ``(N, h, w, channels)``.
    """
    spec = base_spec(name)
    size = input_size or spec.input_size
    checks.int_at_least(size, "input_size", spec.min_size, f"the smallest image side {name} takes")
    if include_top and size != spec.input_size:
        raise ValueError(
            f"input_size={size} with include_top=True: the ImageNet head of {name} needs "
            f"{spec.input_size}; leave input_size out or use include_top=False."
        )
    resolved = resolve_weights(name, include_top, weights, size, verbose=verbose)
    if resolved == "imagenet":  # no network: fail in seconds, not after time-outs
        sources.require_weights_network(name, weights_file_name(name, include_top, size))
    try:
        model = spec.constructor(include_top=include_top, weights=resolved,
                                 input_shape=(size, size, 3))
    except Exception as exc:  # noqa: BLE001 - a failed download becomes one clear error
        if resolved != "imagenet":
            raise
        raise sources.weights_download_error(
            name, weights_file_name(name, include_top, size), exc) from exc
    return PretrainedBase(model, spec, size, pretrained=resolved is not None)


def prepare_images(images, input_size: int, preprocess_input):
    """Resize a batch to ``input_size`` (centre-cropped to square) and preprocess it.

    Args:
        images: (N, H, W, 3) pixel values 0-255 (uint8 or float).
        input_size: side of the output images.
        preprocess_input: the base's ``preprocess_input``.

    Returns:
        float32 (N, input_size, input_size, 3), ready for the base.
    """
    import keras

    images = checks.image_batch(images, channels=3)
    if images.dtype.kind == "f" and images.size and images.max() <= 1.0:
        raise ValueError(
            "images look scaled to [0, 1]; preprocess_input expects pixel values 0-255: "
            "pass images * 255."
        )
    resize = keras.layers.Resizing(input_size, input_size, crop_to_aspect_ratio=True)
    resized = resize(images.astype("float32"))
    return keras.ops.convert_to_numpy(preprocess_input(resized)).astype("float32")


# ---------------------------------------------------------------------- class index
@functools.lru_cache(maxsize=None)
def imagenet_class_index() -> dict:
    """The shipped ImageNet class index: ``{index: (wnid, name)}`` for 0..999.

    Same content as the ``imagenet_class_index.json`` that Keras downloads
    (byte for byte; its MD5 is :data:`CLASS_INDEX_MD5`).
    """
    text = resources.files("homl_cv").joinpath("resources", CLASS_INDEX_FILE).read_text("utf-8")
    return {int(k): tuple(v) for k, v in json.loads(text).items()}


def imagenet_class_name(index: int) -> str:
    """The Keras name of ImageNet class ``index``, e.g. 207 -> "golden_retriever"."""
    index_map = imagenet_class_index()
    checks.int_in(index, "index", 0, len(index_map) - 1, "an ImageNet class")
    return index_map[index][1]


def decode_imagenet_predictions(preds, top: int = 5) -> list:
    """Top-``top`` ImageNet classes of each prediction, offline.

    Same output as ``keras.applications.imagenet_utils.decode_predictions``:
    one list per image of ``(wnid, name, score)`` tuples, best first.

    Args:
        preds: (N, 1000) class probabilities.
        top: how many classes per image.
    """
    preds = checks.shaped(preds, "preds", ("N", 1000), "ImageNet probabilities: the output of a model "
                          "built with include_top=True")
    checks.int_in(top, "top", 1, 1000)
    index_map = imagenet_class_index()
    results = []
    for pred in preds:
        best = pred.argsort()[-top:][::-1]  # highest score first
        results.append([index_map[int(i)] + (pred[i],) for i in best])
    return results


def top_k_predictions(base: PretrainedBase, images, top: int = 3) -> list:
    """Resize, preprocess, predict and decode in one call.

    Args:
        base: built with ``include_top=True``.
        images: (N, H, W, 3) pixel values 0-255.
        top: classes per image.

    Returns:
        One list per image of ``(name, probability)`` pairs, best first.
    """
    if base.model.output_shape[-1] != 1000:
        raise ValueError("base has no ImageNet head: build it with include_top=True.")
    probs = base.model.predict(base.prepare(images), verbose=0)
    return [[(name, float(p)) for _, name, p in row] for row in decode_imagenet_predictions(probs, top)]
