"""Plots for the chapters. Every function draws with matplotlib and returns
the figure (or axes) so a notebook can show it and a test can inspect it;
functions that compute something (feature maps, CAM, ...) return arrays and
have a plotting companion.

Example:
    >>> import numpy as np
    >>> fig = plot_images(np.random.rand(4, 8, 8), titles=list("abcd"))  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


# ============================================================ shared by all chapters
def plot_images(images, titles=None, ncols: int = 8, cmap=None, size: float = 1.6, suptitle=None):
    """A grid of images (N, H, W) or (N, H, W, C); floats in [0, 1] or uint8."""
    plt = _plt()
    images = np.asarray(images)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap or ("gray" if img.ndim == 2 else None))
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_learning_curves(history, metrics=("loss", "accuracy"), title=None):
    """Training and validation curves from a Keras ``History`` (or its dict)."""
    plt = _plt()
    hist = getattr(history, "history", history)
    metrics = [m for m in metrics if m in hist]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        epochs = np.arange(1, len(hist[metric]) + 1)
        ax.plot(epochs, hist[metric], "o-", label="train")
        if f"val_{metric}" in hist:
            ax.plot(epochs, hist[f"val_{metric}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(y_true, y_pred, class_names, title="Confusion matrix"):
    """Counts of (true, predicted) pairs, with the counts written in the cells."""
    from sklearn.metrics import confusion_matrix

    plt = _plt()
    cm = confusion_matrix(y_true, y_pred, labels=range(len(class_names)))
    fig, ax = plt.subplots(figsize=(0.45 * len(class_names) + 2.5, 0.45 * len(class_names) + 2))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(cm):
        ax.text(j, i, count, ha="center", va="center", fontsize=8,
                color="white" if count > cm.max() / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def draw_boxes(ax, boxes, labels=None, color="lime", linestyle="-", box_format="xyxy"):
    """Draw absolute boxes on a matplotlib axes (after ``ax.imshow``)."""
    from matplotlib.patches import Rectangle

    from homl_cv.boxes import to_xyxy

    boxes = to_xyxy(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), box_format)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                               linewidth=1.8, linestyle=linestyle))
        if labels is not None:
            ax.text(x1, y1 - 1, str(labels[k]), color="black", fontsize=7,
                    bbox=dict(facecolor=color, alpha=0.8, pad=1, edgecolor="none"))
    return ax


# ============================================================ 01 convolutions and pooling


# ============================================================ 02 architectures


# ============================================================ 03 transfer learning


# ============================================================ 04 localization


# ============================================================ 05 detection


# ============================================================ 06 segmentation


# ============================================================ 07 inside a CNN
def _as_batch(images, name: str = "images") -> np.ndarray:
    """float32 (N, H, W, C), or a ValueError that says how to get there."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        hint = " (one image: pass image[None])" if images.ndim == 3 else ""
        raise ValueError(
            f"{name} must be a batch of shape (N, H, W, C); got shape {images.shape}{hint}."
        )
    return images


def _model_input(model):
    """The model's input tensor(s), in the structure the model was built with."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _get_spatial_layer(model, layer_name: str, purpose: str):
    """The layer called ``layer_name`` whose output is a (N, h, w, c) map."""
    import keras

    names = [layer.name for layer in model.layers]
    spatial = [layer.name for layer in model.layers
               if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4]
    if layer_name not in names:
        raise ValueError(
            f"layer_name={layer_name!r} is not a layer of model {model.name!r}; "
            f"layers with feature maps: {', '.join(spatial)}."
        )
    layer = model.get_layer(layer_name)
    if len(layer.output.shape) != 4:
        raise ValueError(
            f"layer_name={layer_name!r} outputs shape {tuple(layer.output.shape)}, not a "
            f"(N, h, w, channels) map, so it has no {purpose}; pick a convolutional layer "
            f"(choices: {', '.join(spatial) or 'none in this model'})."
        )
    return layer


def feature_maps(model, images, layer_names):
    """The activations of one or more layers for a batch of images.

    Args:
        model: a built functional or Sequential Keras model.
        images: float32 (N, H, W, C), preprocessed as the model expects.
        layer_names: a layer name, or a list of names. Each layer must output
            a (N, h, w, c) map (convolution, pooling, activation, ...).

    Returns:
        For one name, a float32 array (N, h, w, c); for a list, a dict
        name -> array, in the order given.

    Example:
        >>> maps = feature_maps(model, images[:2], ["block1_conv", "last_conv"])  # doctest: +SKIP
        >>> maps["block1_conv"].shape  # doctest: +SKIP
        (2, 48, 48, 16)
    """
    import keras

    images = _as_batch(images)
    names = [layer_names] if isinstance(layer_names, str) else list(layer_names)
    layers = [_get_spatial_layer(model, name, "feature maps") for name in names]
    extractor = keras.Model(_model_input(model), [layer.output for layer in layers])
    outputs = extractor(images, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    arrays = {name: np.asarray(out, dtype=np.float32) for name, out in zip(names, outputs)}
    return arrays[names[0]] if isinstance(layer_names, str) else arrays


def plot_feature_maps(maps, max_channels: int = 16, ncols: int = 8, title=None, size: float = 1.2):
    """The first ``max_channels`` channels of one image's maps (h, w, c), one panel each."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(
            f"maps must be one image's feature maps (h, w, channels); got shape {maps.shape} "
            f"(for a batch from feature_maps, pass maps[0])."
        )
    channels = min(max_channels, maps.shape[-1])
    panels = np.moveaxis(maps[..., :channels], -1, 0)
    return plot_images(panels, titles=[f"#{k}" for k in range(channels)], ncols=ncols,
                       cmap="viridis", size=size, suptitle=title)


def visualize_filter(model, layer_name: str, filter_index: int, steps: int = 40,
                     step_size: float = 0.05, blur: float = 0.5, seed: int = 0) -> np.ndarray:
    """An input image that excites one filter, found by gradient ascent.

    Starts from gray plus noise and repeatedly moves the pixels along the
    (normalized) gradient of the filter's mean activation, keeping them in
    [0, 1]. The network stays frozen: only the image changes. After each step
    the image is mixed with a 3x3-blurred copy of itself (weight ``blur``), a
    simple regularizer that removes the pixel-level noise gradient ascent
    otherwise produces and leaves the patterns the filter responds to.

    Args:
        model: a Keras model taking images in [0, 1] of its input shape.
        layer_name: a layer with a (N, h, w, c) output.
        filter_index: the channel to maximize, 0 <= filter_index < c.
        steps, step_size: number and size (in pixel units) of ascent steps.
        blur: 0 (no smoothing) to 1 (full 3x3 blur after each step).
        seed: seed of the starting noise.

    Returns:
        float32 (H, W, C) in [0, 1], the model's input size.
    """
    import keras
    import tensorflow as tf

    layer = _get_spatial_layer(model, layer_name, "filters to visualize")
    channels = layer.output.shape[-1]
    if not 0 <= filter_index < channels:
        raise ValueError(
            f"filter_index={filter_index} is out of range: layer {layer_name!r} has "
            f"{channels} filters, so use 0 to {channels - 1}."
        )
    extractor = keras.Model(_model_input(model), layer.output)
    shape = (1, *model.inputs[0].shape[1:])
    rng = np.random.default_rng(seed)
    image = tf.Variable(np.clip(0.5 + 0.15 * rng.standard_normal(shape), 0, 1).astype(np.float32))
    kernel = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16
    kernel = np.tile(kernel[:, :, None, None], (1, 1, shape[-1], 1))  # depthwise (3, 3, C, 1)

    @tf.function
    def ascent_step():
        with tf.GradientTape() as tape:
            activation = tf.reduce_mean(extractor(image, training=False)[..., filter_index])
        grads = tape.gradient(activation, image)
        grads /= tf.math.reduce_std(grads) + 1e-8
        stepped = image + step_size * grads
        blurred = tf.nn.depthwise_conv2d(tf.pad(stepped, [[0, 0], [1, 1], [1, 1], [0, 0]], "SYMMETRIC"),
                                         kernel, strides=[1, 1, 1, 1], padding="VALID")
        image.assign(tf.clip_by_value((1 - blur) * stepped + blur * blurred, 0.0, 1.0))

    for _ in range(steps):
        ascent_step()
    result = image.numpy()[0]
    return (result - result.min()) / (result.max() - result.min() + 1e-8)


def _class_index(probs: np.ndarray, class_index) -> np.ndarray:
    if class_index is None:
        return probs.argmax(axis=-1)
    index = np.broadcast_to(np.asarray(class_index), probs.shape[:1]).astype(int)
    if index.min() < 0 or index.max() >= probs.shape[-1]:
        raise ValueError(
            f"class_index={class_index} is out of range: the model has {probs.shape[-1]} classes."
        )
    return index


def _gap_dense_head(model):
    """(feature layer, Dense layer) of a model ending in GlobalAveragePooling2D + Dense."""
    import keras

    layers = model.layers
    gap_positions = [i for i, layer in enumerate(layers)
                     if isinstance(layer, keras.layers.GlobalAveragePooling2D)]
    after = layers[gap_positions[-1] + 1:] if gap_positions else []
    dense = [layer for layer in after if isinstance(layer, keras.layers.Dense)]
    others = [layer for layer in after if not isinstance(layer, (keras.layers.Dense, keras.layers.Dropout))]
    if not gap_positions or len(dense) != 1 or others or after[-1] is not dense[0]:
        raise ValueError(
            f"class_activation_map needs a model ending in GlobalAveragePooling2D + one Dense "
            f"layer (like models.gap_cnn); {model.name!r} does not. Use "
            f"grad_cam(model, images, layer_name) instead: it works with any head."
        )
    gap = layers[gap_positions[-1]]
    feature_layer = gap.input._keras_history.operation
    return feature_layer, dense[0]


def class_activation_map(model, images, class_index=None) -> np.ndarray:
    """Class activation maps (CAM, Zhou et al. 2016) of a GAP + Dense model.

    With a ``GlobalAveragePooling2D`` + ``Dense`` head, the class logit is
    ``sum_k w[k, c] * mean(A_k) + b_c``, so the map ``sum_k w[k, c] * A_k``
    (A: the last feature maps) shows where the evidence for class ``c`` lies;
    its spatial mean plus ``b_c`` is the logit itself.

    Args:
        model: a model ending in GlobalAveragePooling2D + Dense (Dropout allowed).
        images: float32 (N, H, W, C).
        class_index: the class to explain: ``None`` (each image's predicted
            class), an int, or one int per image.

    Returns:
        float32 (N, h, w), at the resolution of the last feature maps (not
        clipped nor normalized; see :func:`upsample_heatmaps` for image size).
    """
    import keras

    images = _as_batch(images)
    feature_layer, dense = _gap_dense_head(model)
    maps, probs = keras.Model(_model_input(model), [feature_layer.output, model.output])(images, training=False)
    maps, probs = np.asarray(maps), np.asarray(probs)
    classes = _class_index(probs, class_index)
    weights = np.asarray(dense.kernel)[:, classes].T  # (N, channels)
    return np.einsum("nhwk,nk->nhw", maps, weights).astype(np.float32)


def grad_cam(model, images, layer_name: str, class_index=None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) heatmaps for any convolutional layer.

    Each channel ``A_k`` of the layer is weighted by the spatial mean of the
    gradient of the class score with respect to it; the map is
    ``ReLU(sum_k alpha_k * A_k)``. The class score is the logit: when the model
    ends in a Dense softmax layer, the score is taken before the softmax (a
    saturated probability has no gradient).

    Args:
        model: a Keras model.
        images: float32 (N, H, W, C).
        layer_name: a layer with a (N, h, w, c) output, usually the last conv.
        class_index: ``None`` (predicted class), an int, or one int per image.

    Returns:
        float32 (N, h, w), non-negative, at the layer's resolution.
    """
    import keras
    import tensorflow as tf

    images = _as_batch(images)
    layer = _get_spatial_layer(model, layer_name, "Grad-CAM")
    last = model.layers[-1]
    softmax_head = (isinstance(last, keras.layers.Dense)
                    and getattr(last.activation, "__name__", "") == "softmax")
    head_input = last.input if softmax_head else model.output
    grad_model = keras.Model(_model_input(model), [layer.output, head_input])
    with tf.GradientTape() as tape:
        maps, head = grad_model(images, training=False)
        scores = tf.matmul(head, last.kernel) + last.bias if softmax_head else head
        classes = _class_index(scores.numpy(), class_index)
        chosen = tf.gather(scores, classes, axis=1, batch_dims=1)
    grads = tape.gradient(chosen, maps)
    alphas = tf.reduce_mean(grads, axis=(1, 2))  # (N, channels)
    heatmaps = tf.nn.relu(tf.einsum("nhwk,nk->nhw", maps, alphas))
    return heatmaps.numpy().astype(np.float32)


def occlusion_sensitivity(model, image, class_index=None, patch_size: int = 8,
                          stride: int = 4, fill=None, batch_size: int = 128) -> np.ndarray:
    """How much the class probability drops when each part of the image is hidden.

    A ``patch_size`` square filled with ``fill`` (default: the image's mean
    colour) slides over the image with ``stride``; each pixel gets the mean
    drop ``p(original) - p(occluded)`` over the patches that covered it.

    Args:
        model: a Keras model with a probability output (N, classes).
        image: one float32 image (H, W, C).
        class_index: the class to follow; ``None``: the predicted class.
        patch_size, stride: patch side and step in pixels.
        fill: the patch value (a scalar or a C-vector).

    Returns:
        float32 (H, W): large where hiding the pixels hurts the prediction.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(
            f"image must be one image of shape (H, W, C); got shape {image.shape} "
            f"(for a batch, call occlusion_sensitivity once per image)."
        )
    height, width = image.shape[:2]
    if not 1 <= patch_size <= min(height, width) or stride < 1:
        raise ValueError(
            f"patch_size={patch_size}, stride={stride}: need 1 <= patch_size <= "
            f"{min(height, width)} (the image side) and stride >= 1."
        )
    base = np.asarray(model(image[None], training=False))[0]
    cls = int(_class_index(base[None], class_index)[0])
    fill = image.mean(axis=(0, 1)) if fill is None else np.asarray(fill, np.float32)
    tops = list(range(0, height - patch_size + 1, stride))
    lefts = list(range(0, width - patch_size + 1, stride))
    positions = [(y, x) for y in tops for x in lefts]
    occluded = np.repeat(image[None], len(positions), axis=0)
    for k, (y, x) in enumerate(positions):
        occluded[k, y:y + patch_size, x:x + patch_size] = fill
    probs = np.asarray(model.predict(occluded, batch_size=batch_size, verbose=0))[:, cls]
    total = np.zeros((height, width), np.float32)
    count = np.zeros((height, width), np.float32)
    for (y, x), prob in zip(positions, probs):
        total[y:y + patch_size, x:x + patch_size] += base[cls] - prob
        count[y:y + patch_size, x:x + patch_size] += 1
    return total / np.maximum(count, 1)


def upsample_heatmaps(heatmaps, size) -> np.ndarray:
    """Bilinear resize of (N, h, w) maps to (N, H, W), ``size = (H, W)``."""
    import tensorflow as tf

    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if heatmaps.ndim != 3:
        raise ValueError(f"heatmaps must have shape (N, h, w); got {heatmaps.shape}.")
    return tf.image.resize(heatmaps[..., None], size, method="bilinear").numpy()[..., 0]


def heatmap_peaks(heatmaps, size) -> np.ndarray:
    """(x, y) pixel centres of each map's maximum after resizing to ``size = (H, W)``; (N, 2)."""
    big = upsample_heatmaps(heatmaps, size)
    flat = big.reshape(len(big), -1).argmax(axis=1)
    rows, cols = np.unravel_index(flat, big.shape[1:])
    return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float32)


def peaks_in_boxes(heatmaps, boxes, size) -> np.ndarray:
    """Whether each map's peak falls inside its "xyxy" box (N, 4); bool (N,)."""
    peaks = heatmap_peaks(heatmaps, size)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) != len(peaks):
        raise ValueError(f"got {len(peaks)} heatmaps but {len(boxes)} boxes: pass one box per map.")
    x, y = peaks[:, 0], peaks[:, 1]
    return (x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])


def _normalize(heatmap: np.ndarray) -> np.ndarray:
    low, high = heatmap.min(), heatmap.max()
    return (heatmap - low) / (high - low) if high > low else np.zeros_like(heatmap)


def plot_heatmaps(images, heatmaps, boxes=None, titles=None, ncols: int = 6,
                  alpha: float = 0.5, size: float = 2.0, suptitle=None):
    """Images with their heatmaps (CAM, Grad-CAM, occlusion) laid over them.

    Each map is resized to its image and scaled to [0, 1] for display; its
    peak is marked with a white cross, and ``boxes`` (one "xyxy" box per image,
    optional) are drawn in lime.
    """
    plt = _plt()
    images = _as_batch(images)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if heatmaps.ndim == 2:
        heatmaps = heatmaps[None]
    big = upsample_heatmaps(heatmaps, images.shape[1:3])
    peaks = heatmap_peaks(heatmaps, images.shape[1:3])
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
        ax.imshow(_normalize(big[i]), cmap="jet", alpha=alpha, vmin=0, vmax=1)
        ax.plot(*peaks[i], "w+", markersize=10, markeredgewidth=2)
        if boxes is not None:
            draw_boxes(ax, np.asarray(boxes)[i])
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig



# ============================================================ 08 style transfer
def plot_style_transfer(content_image, style_image, result_image, titles=("content", "style", "result")):
    """The content photo, the style image and the stylized result side by side."""
    return plot_images([np.asarray(content_image), np.asarray(style_image), np.asarray(result_image)],
                       titles=list(titles), ncols=3, size=3.2)


def plot_style_losses(history, weights=None, title="Style transfer losses"):
    """Each loss of a ``StyleTransferResult.history`` per step, on a log scale.

    ``weights`` (e.g. ``{"content": 1.0, "style": 1.0, "tv": 0.5}``) multiplies
    the terms, so the curves show what each contributes to the total.
    """
    plt = _plt()
    weights = weights or {}
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for key, values in history.items():
        values = np.asarray(values) * weights.get(key, 1.0)
        steps = np.arange(len(values))
        positive = values > 0
        ax.plot(steps[positive], values[positive], lw=2.5 if key == "total" else 1.5,
                label=key if key not in weights else f"{weights[key]:g} x {key}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
