"""Inside a CNN (chapter 07): what a trained network computes, and where it looks.

The computations only; :mod:`homl_cv.viz` draws their results.

* :func:`feature_maps`: the activations of chosen layers for a batch.
* :func:`visualize_filter`: an input image that excites one filter, found by
  gradient ascent on the pixels (the network stays frozen).
* :func:`class_activation_map` (CAM, exact for a GlobalAveragePooling2D +
  Dense head such as :func:`homl_cv.models.build_gap_cnn`), :func:`grad_cam`
  (any convolutional layer) and :func:`occlusion_sensitivity` (any model):
  heatmaps of the evidence for a class.
* :func:`upsample_heatmaps`, :func:`heatmap_peaks` and :func:`peaks_in_boxes`:
  compare a heatmap with where the object really is.

Example:
    >>> maps = feature_maps(model, images[:2], ["block1_conv", "last_conv"])  # doctest: +SKIP
    >>> heatmaps = grad_cam(model, images, "last_conv")  # doctest: +SKIP
    >>> peaks_in_boxes(heatmaps, boxes, images.shape[1:3]).mean()  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from homl_cv import checks, config

__all__ = [
    "class_activation_map",
    "feature_maps",
    "grad_cam",
    "heatmap_peaks",
    "occlusion_sensitivity",
    "peaks_in_boxes",
    "upsample_heatmaps",
    "visualize_filter",
]


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

    images = checks.model_images(model, images)
    names = [layer_names] if isinstance(layer_names, str) else list(layer_names)
    layers = [_get_spatial_layer(model, name, "feature maps") for name in names]
    extractor = keras.Model(_model_input(model), [layer.output for layer in layers])
    outputs = extractor(images, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    arrays = {name: np.asarray(out, dtype=np.float32) for name, out in zip(names, outputs)}
    return arrays[names[0]] if isinstance(layer_names, str) else arrays


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
    checks.int_in(filter_index, "filter_index", 0, channels - 1, f"layer {layer_name!r} has {channels} filters")
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

    for _ in range(config.rehearsal_steps(steps)):  # a few when rehearsing
        ascent_step()
    result = image.numpy()[0]
    return (result - result.min()) / (result.max() - result.min() + 1e-8)


def _class_index(probs: np.ndarray, class_index) -> np.ndarray:
    if class_index is None:
        return probs.argmax(axis=-1)
    index = np.broadcast_to(np.asarray(class_index), probs.shape[:1]).astype(int)
    return checks.indices(index, "class_index", probs.shape[-1], f"the model has {probs.shape[-1]} classes")


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
            f"layer (like models.build_gap_cnn); {model.name!r} does not. Use "
            f"grad_cam(model, images, layer_name) instead: it works with any head."
        )
    gap = layers[gap_positions[-1]]
    producers = [layer for layer in layers if layer is not gap and _outputs_of(layer, gap.input)]
    if len(producers) != 1:
        raise ValueError(
            f"class_activation_map cannot tell which layer feeds the GlobalAveragePooling2D "
            f"of {model.name!r}; use grad_cam(model, images, layer_name) instead."
        )
    return producers[0], dense[0]


def _outputs_of(layer, tensor) -> bool:
    """Whether ``tensor`` is (one of) ``layer``'s output tensor(s)."""
    import keras

    if isinstance(layer, keras.layers.InputLayer):
        return False
    outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
    return any(out is tensor for out in outputs)


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

    images = checks.model_images(model, images)
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

    images = checks.model_images(model, images)
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
    image = checks.shaped(image, "image", ("H", "W", "C"), "one image", dtype=np.float32,
                          hint="For a batch, call occlusion_sensitivity once per image.")
    height, width = image.shape[:2]
    checks.int_in(patch_size, "patch_size", 1, min(height, width), "at most the image side")
    checks.positive_int(stride, "stride")
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

    heatmaps = checks.shaped(heatmaps, "heatmaps", ("N", "h", "w"), dtype=np.float32)
    return tf.image.resize(heatmaps[..., None], size, method="bilinear").numpy()[..., 0]


def heatmap_peaks(heatmaps, size) -> np.ndarray:
    """(x, y) pixel centres of each map's maximum after resizing to ``size = (H, W)``; (N, 2)."""
    return _peak_centres(upsample_heatmaps(heatmaps, size))


def _peak_centres(big: np.ndarray) -> np.ndarray:
    """(x, y) pixel centres of the maximum of each (N, H, W) map; (N, 2)."""
    flat = big.reshape(len(big), -1).argmax(axis=1)
    rows, cols = np.unravel_index(flat, big.shape[1:])
    return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float32)


def peaks_in_boxes(heatmaps, boxes, size) -> np.ndarray:
    """Whether each map's peak falls inside its "xyxy" box (N, 4); bool (N,)."""
    peaks = heatmap_peaks(heatmaps, size)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    checks.same_length(("heatmaps", peaks), ("boxes", boxes), why="one box per map")
    x, y = peaks[:, 0], peaks[:, 1]
    return (x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])
