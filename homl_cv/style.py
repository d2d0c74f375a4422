"""Neural style transfer (Gatys et al., 2015): content loss, style loss with
Gram matrices, total variation, and the optimization of the image itself.

The network is frozen; only the pixels of a ``tf.Variable`` image change.
Online, the feature extractor is VGG-19 with ImageNet weights (downloaded
once by ``keras.applications``). Offline, no weights can be downloaded.
VGG-19's layers with random weights (:func:`build_extractor` with
``weights=None``) match the style image's Gram matrices by shifting colours,
without visible texture; a single layer of many random filters at several
sizes (:func:`build_texture_extractor`, after Ustyuzhaninov et al. 2017) does
show the texture, so :func:`default_extractor` uses it offline.

Example:
    >>> extractor = build_texture_extractor()  # doctest: +SKIP
    >>> result = transfer_style(content, style, extractor, steps=50)  # doctest: +SKIP
    >>> result.image.shape, result.history["total"][-1] < result.history["total"][0]  # doctest: +SKIP
    ((128, 128, 3), True)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from homl_cv import checks, config, sources

__all__ = [
    "CONTENT_LAYERS",
    "STYLE_LAYERS",
    "StyleTransferResult",
    "TEXTURES",
    "TEXTURE_CONTENT_KERNELS",
    "TEXTURE_KERNELS",
    "VGG19_WEIGHTS_FILE",
    "build_extractor",
    "build_texture_extractor",
    "content_loss",
    "default_extractor",
    "gram_matrix",
    "load_texture",
    "random_vgg19",
    "style_loss",
    "total_variation_loss",
    "transfer_style",
]

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYERS = ("block5_conv2",)
VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"  # Keras' cache name


def _check_features(features, name: str):
    import tensorflow as tf

    features = tf.convert_to_tensor(features, dtype=tf.float32)
    if features.shape.rank != 4:
        raise ValueError(
            f"{name} must be feature maps of shape (N, H, W, C); got shape "
            f"{tuple(features.shape)} (for one image's maps (H, W, C), add a batch axis)."
        )
    return features


def gram_matrix(features):
    """Channel-by-channel correlations of feature maps, averaged over positions.

    ``G[n, c, d] = sum_{i,j} F[n, i, j, c] * F[n, i, j, d] / (H * W)``: how much
    channels ``c`` and ``d`` fire together, wherever that happens. Dropping the
    positions is what makes it a description of style (texture, colours)
    rather than of content (what is where).

    Args:
        features: float (N, H, W, C).

    Returns:
        float32 tensor (N, C, C), symmetric.
    """
    import tensorflow as tf

    features = _check_features(features, "features")
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return tf.einsum("nhwc,nhwd->ncd", features, features) / positions


def _relative_error(value, target):
    """||value - target||^2 / ||target||^2 per batch item, averaged."""
    import tensorflow as tf

    axes = list(range(1, target.shape.rank))
    error = tf.reduce_sum(tf.square(value - target), axis=axes)
    return tf.reduce_mean(error / (tf.reduce_sum(tf.square(target), axis=axes) + 1e-8))


def content_loss(features, target_features):
    """Mean over layers of ``||F - F_target||^2 / ||F_target||^2``.

    Args:
        features, target_features: lists of (N, H, W, C) maps, one per content
            layer (or a single map).

    Dividing by the target's squared norm makes the loss independent of the
    scale of each layer, so the same weights work for trained and random
    networks (the paper uses raw sums with hand-tuned constants instead).
    """
    import tensorflow as tf

    features, targets = _as_list(features), _as_list(target_features)
    _same_length(features, targets, "features", "target_features")
    return tf.add_n([_relative_error(_check_features(f, "features"), _check_features(t, "target_features"))
                     for f, t in zip(features, targets)]) / len(features)


def style_loss(features, target_grams):
    """Mean over layers of ``||G - G_target||^2 / ||G_target||^2`` (G: Gram matrices).

    Args:
        features: list of (N, H, W, C) maps, one per style layer.
        target_grams: list of (N or 1, C, C) Gram matrices of the style image.
    """
    import tensorflow as tf

    features, targets = _as_list(features), _as_list(target_grams)
    _same_length(features, targets, "features", "target_grams")
    return tf.add_n([_relative_error(gram_matrix(f), tf.convert_to_tensor(t, tf.float32))
                     for f, t in zip(features, targets)]) / len(features)


def total_variation_loss(images):
    """Neighbour differences summed and divided by H * W * C: a smoothness penalty.

    Written out: the sum of ``|x[i+1, j, c] - x[i, j, c]|`` (vertical
    neighbours) and ``|x[i, j+1, c] - x[i, j, c]|`` (horizontal neighbours)
    over the image, divided by its number of values ``H * W * C`` (not by the
    number of neighbour pairs), averaged over the batch. Equal to
    ``tf.image.total_variation(images) / (H * W * C)``.

    Args:
        images: float (N, H, W, C).

    Returns:
        A float32 scalar tensor.

    Example:
        >>> float(total_variation_loss(np.array([[0, 1], [1, 1]], np.float32).reshape(1, 2, 2, 1)))
        0.5
    """
    import tensorflow as tf

    images = _check_features(images, "images")
    down = tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :])
    right = tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :])
    per_image = tf.reduce_sum(down, axis=[1, 2, 3]) + tf.reduce_sum(right, axis=[1, 2, 3])
    values = tf.cast(tf.reduce_prod(tf.shape(images)[1:]), tf.float32)
    return tf.reduce_mean(per_image / values)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _same_length(a, b, name_a, name_b):
    checks.same_length((name_a, a), (name_b, b), why="one per layer")


# --------------------------------------------------------------------------- the network
def random_vgg19(seed: int = 42):
    """VGG-19's convolutional part with random He-normal weights (no download).

    Same layers and names as ``keras.applications.VGG19(include_top=False)``;
    kernels are drawn from ``HeNormal(seed)`` (which keeps activations at a
    steady scale through the 16 ReLU layers) and biases are zero.
    """
    import keras

    vgg = keras.applications.VGG19(include_top=False, weights=None)
    init = keras.initializers.HeNormal(seed=seed)
    for layer in vgg.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(init(layer.kernel.shape))
            layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
    return vgg


def build_extractor(weights="imagenet", style_layers=STYLE_LAYERS,
                    content_layers=CONTENT_LAYERS, seed: int = 42):
    """A frozen model: images in [0, 1] (N, H, W, 3) -> {"style": [...], "content": [...]}.

    The images are scaled to 0-255 and preprocessed as VGG-19 expects (BGR,
    ImageNet mean subtracted) inside the model. Only the layers up to the
    deepest one requested are run.

    Args:
        weights: "imagenet" (downloads about 80 MB the first time) or ``None``
            for :func:`random_vgg19` (offline).
        style_layers, content_layers: VGG-19 layer names.
        seed: seed of the random weights when ``weights`` is None.

    Returns:
        A ``keras.Model`` with ``trainable = False``.
    """
    import keras

    checks.one_of(weights, "weights", ("imagenet", None))  # online, or random (offline)
    if weights is None:
        vgg = random_vgg19(seed)
    else:
        sources.require_weights_network("VGG-19", VGG19_WEIGHTS_FILE)  # seconds, not time-outs
        try:
            vgg = keras.applications.VGG19(include_top=False, weights="imagenet")
        except Exception as exc:  # noqa: BLE001 - any failure becomes one clear error
            raise sources.weights_download_error("VGG-19", VGG19_WEIGHTS_FILE, exc) from exc
    vgg.trainable = False
    names = [layer.name for layer in vgg.layers]
    for argument, layers in (("style_layers", style_layers), ("content_layers", content_layers)):
        checks.subset(layers, argument, names, "a VGG-19 layer: conv layers are named like 'block1_conv1' ... "
                                                "'block5_conv4'")
    images = keras.Input(shape=(None, None, 3), name="image")
    x = keras.applications.vgg19.preprocess_input(images * 255.0)
    truncated = keras.Model(vgg.input, {
        "style": [vgg.get_layer(n).output for n in style_layers],
        "content": [vgg.get_layer(n).output for n in content_layers],
    })
    extractor = keras.Model(images, truncated(x), name="vgg19_features")
    extractor.trainable = False
    return extractor


TEXTURE_KERNELS = (1, 3, 5, 7, 11, 15)
"""Filter sizes of :func:`build_texture_extractor`: one random layer per size."""
TEXTURE_CONTENT_KERNELS = (11,)
"""Scales of :func:`build_texture_extractor` whose maps are the content features."""


def build_texture_extractor(kernels=TEXTURE_KERNELS, channels: int = 64,
                            content_kernels=TEXTURE_CONTENT_KERNELS, seed: int = 42):
    """A shallow network of random filters at several scales, for offline style transfer.

    Ustyuzhaninov, Brendel, Gatys and Bethge (2017, "What does it take to
    generate natural textures?") showed that *one* convolutional layer with
    random weights, many filters and several filter sizes describes textures
    (through its Gram matrices) about as well as trained VGG-19. This is that
    network, small enough for a CPU: for each size ``k`` in ``kernels``, a
    ``k x k`` "valid" convolution with ``channels`` He-normal random filters
    and a ReLU, all reading the image (centred on 0). Each filter larger than
    1x1 is made zero-mean, so it answers to patterns (edges, stripes, blobs of
    its size) and not to the mean brightness; the 1x1 filters keep the colours.
    Without that, the Gram matrices mostly measure brightness and colour, the
    style loss falls without any texture appearing (BENCHMARKS.md, 08).

    Args:
        kernels: filter sizes, one layer each (odd, at least 1).
        channels: random filters per size.
        content_kernels: the sizes whose maps are the content features (a
            subset of ``kernels``; a mid-sized scale keeps the layout).
        seed: seed of the random filters.

    Returns:
        A frozen ``keras.Model``: images in [0, 1] (N, H, W, 3) ->
        ``{"style": [one (N, H-k+1, W-k+1, channels) map per size],
        "content": [...]}``, the interface of :func:`build_extractor`.

    Example:
        >>> extractor = build_texture_extractor(kernels=(1, 3), channels=8, content_kernels=(3,))
        >>> [tuple(m.shape) for m in extractor(np.zeros((1, 16, 16, 3), np.float32))["style"]]
        [(1, 16, 16, 8), (1, 14, 14, 8)]
    """
    import keras

    kernels = checks.non_empty(tuple(kernels), "kernels", f"e.g. {TEXTURE_KERNELS}")
    kernels = tuple(checks.odd(k, "kernels", "filter sizes with a middle pixel") for k in kernels)
    checks.int_at_least(channels, "channels", 1, "the paper uses 128 or more")
    checks.subset(checks.non_empty(content_kernels, "content_kernels"), "content_kernels", kernels,
                  f"among kernels={kernels}")
    images = keras.Input(shape=(None, None, 3), name="image")
    centred = keras.layers.Rescaling(1.0, offset=-0.5, name="centre")(images)
    maps = {}
    for k in kernels:
        conv = keras.layers.Conv2D(channels, k, activation="relu", name=f"random_{k}x{k}",
                                   kernel_initializer=keras.initializers.HeNormal(seed=seed + k))
        maps[k] = conv(centred)
        kernel = np.asarray(conv.kernel)
        if k > 1:  # zero-mean filters: patterns, not brightness
            kernel = kernel - kernel.mean(axis=(0, 1, 2), keepdims=True)
        conv.kernel.assign(kernel)
    extractor = keras.Model(images, {"style": [maps[k] for k in kernels],
                                     "content": [maps[k] for k in content_kernels]},
                            name="random_texture_net")
    extractor.trainable = False
    return extractor


def default_extractor(offline: bool | None = None):
    """(extractor, description) following the package's weights policy.

    ImageNet VGG-19 when online or when its weights are already in Keras'
    cache (:func:`homl_cv.sources.resolve_weights`). Otherwise no trained
    weights exist, and VGG-19 with random weights transfers colours but no
    visible texture (BENCHMARKS.md, 08), so a shallow random multi-scale
    network stands in (:func:`build_texture_extractor`). In a rehearsal
    (``HOML_CV_REHEARSE=1``) the full-size VGG-19 runs, with random weights.
    """
    weights = sources.resolve_weights("VGG-19", VGG19_WEIGHTS_FILE, "auto", offline=offline,
                                      verbose=False)
    if weights is None:
        if config.is_rehearsal():  # the full-size network, random weights (weights=None)
            return build_extractor(weights=None), "VGG-19 layers with random weights (rehearsal)"
        return (build_texture_extractor(),
                "one layer of random filters at 6 scales (offline stand-in for VGG-19)")
    return build_extractor(weights="imagenet"), "VGG-19 with ImageNet weights"


TEXTURES = ("brick", "grass", "gravel")
"""Grayscale textures bundled with scikit-image, usable as style images offline."""


def load_texture(name: str = "brick", size=(128, 128), crop: int | None = 256) -> np.ndarray:
    """A bundled scikit-image texture as an RGB float32 image (H, W, 3) in [0, 1].

    Args:
        name: one of :data:`TEXTURES` (512x512 grayscale photos).
        size: ``(height, width)`` of the result.
        crop: side of the top-left square cut out before resizing (a smaller
            crop gives a bigger pattern), or ``None`` for the whole texture.
    """
    import tensorflow as tf
    from skimage import data as skdata  # heavy optional import, only needed here

    checks.one_of(name, "name", TEXTURES)
    gray = getattr(skdata, name)().astype(np.float32) / 255.0
    if crop is not None:
        checks.int_in(crop, "crop", 8, min(gray.shape), "pixels, or None for the whole texture")
        gray = gray[:crop, :crop]
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    return np.clip(tf.image.resize(rgb, size, antialias=True).numpy(), 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------- optimization
@dataclasses.dataclass
class StyleTransferResult:
    """The stylized image (H, W, 3) in [0, 1] and the loss of every step.

    ``history`` maps "total", "content", "style" and "tv" to lists of floats,
    one per step (measured before that step's update).
    """

    image: np.ndarray
    history: dict


def _as_image(image, name: str) -> np.ndarray:
    image = checks.shaped(image, name, ("H", "W", 3), "one RGB image")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    image = image.astype(np.float32)
    checks.values_in(image, name, 0, 1, "or be uint8 0-255", tolerance=0.01)  # resizing overshoots a little
    return np.clip(image, 0.0, 1.0)


def transfer_style(content_image, style_image, extractor, steps: int = 100,
                   content_weight: float = 1.0, style_weight: float = 1.0,
                   tv_weight: float = 0.5, learning_rate: float = 0.02,
                   progress: bool = True) -> StyleTransferResult:
    """Repaint ``content_image`` in the style of ``style_image``.

    The image starts as the content photo and is a ``tf.Variable``; Adam
    updates its pixels to lower ``content_weight * content_loss +
    style_weight * style_loss + tv_weight * total_variation_loss`` while the
    network stays frozen. Pixels are kept in [0, 1] after each step.

    Args:
        content_image: (H, W, 3), float in [0, 1] or uint8.
        style_image: (H', W', 3) in the same range; its size may differ.
        extractor: a model from :func:`build_extractor`.
        steps: optimization steps (a tqdm bar shows them when ``progress``).
        content_weight, style_weight, tv_weight: weights of the three losses.
        learning_rate: Adam's step size, in pixel units.

    Returns:
        A :class:`StyleTransferResult`.
    """
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    content_image = _as_image(content_image, "content_image")
    style_image = _as_image(style_image, "style_image")
    checks.positive_int(steps, "steps")
    content_targets = extractor(content_image[None])["content"]
    style_targets = [gram_matrix(f) for f in extractor(style_image[None])["style"]]
    image = tf.Variable(content_image[None])
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            features = extractor(image)
            losses = {
                "content": content_loss(features["content"], content_targets),
                "style": style_loss(features["style"], style_targets),
                "tv": total_variation_loss(image),
            }
            total = (content_weight * losses["content"] + style_weight * losses["style"]
                     + tv_weight * losses["tv"])
        optimizer.apply_gradients([(tape.gradient(total, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return dict(losses, total=total)

    history = {"total": [], "content": [], "style": [], "tv": []}
    steps = config.rehearsal_steps(steps)  # a few steps when rehearsing (HOML_CV_REHEARSE=1)
    bar = tqdm(range(steps), desc="style transfer", unit="step", disable=not progress)
    for _ in bar:
        for key, value in train_step().items():
            history[key].append(float(value))
        bar.set_postfix(loss=f"{history['total'][-1]:.4f}")
    return StyleTransferResult(image.numpy()[0], history)
