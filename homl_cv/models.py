"""Model builders and custom layers for the chapters.

Every custom layer is registered with ``keras.saving.register_keras_serializable``
under the package name "homl_cv", has a ``get_config``, and round-trips through
a ``.keras`` file.

Example:
    >>> from homl_cv import models  # doctest: +SKIP
"""

from __future__ import annotations

import keras


# ============================================================ 02 architectures


# ============================================================ 04 classification + localization
LOCALIZATION_LOSS_WEIGHTS = {"class": 0.2, "box": 0.8}
"""Loss weights of :func:`localization_model`.

The class loss (cross-entropy, about ln 4 = 1.4 at the start) is about 30
times larger than the box loss (mean squared error of numbers in [0, 1],
about 0.05 at the start), and the shapes are easy to tell apart: with equal
weights the gradient is all about the class. Giving the box loss the larger
weight (0.8 vs 0.2, the book's 0.8/0.2 the other way round) keeps both heads
learning. What to weight more depends on what you care about most.
"""


def _decode_boxes(encoded, xp):
    """:func:`decode_boxes` written once for NumPy (``xp=np``) and ``keras.ops``."""
    x_center, y_center = encoded[..., 0], encoded[..., 1]
    half_width, half_height = xp.square(encoded[..., 2]) / 2, xp.square(encoded[..., 3]) / 2
    return xp.stack([x_center - half_width, y_center - half_height,
                     x_center + half_width, y_center + half_height], axis=-1)


def encode_boxes(boxes, image_size) -> "np.ndarray":
    """Absolute "xyxy" boxes -> the 4 numbers the box head predicts.

    ``(x_center, y_center, sqrt(width), sqrt(height))``, all divided by the
    image size first, so each number lies in [0, 1]. The square root makes a
    one-pixel error cost more on a small box than on a big one, where it
    matters less.

    Args:
        boxes: float (N, 4) "xyxy" pixel boxes (validated, see
            :func:`homl_cv.boxes.validate_boxes`).
        image_size: ``(height, width)`` of the images.

    Returns:
        float32 (N, 4) encoded boxes.

    Example:
        >>> [round(float(v), 4) for v in encode_boxes([[16, 16, 48, 32]], image_size=(64, 64))[0]]
        [0.5, 0.375, 0.7071, 0.5]
    """
    import numpy as np

    from homl_cv import boxes as boxes_lib

    height, width = image_size
    xyxy = boxes_lib.validate_boxes(boxes, "xyxy", image_size=image_size).reshape(-1, 4)
    rel = xyxy / np.array([width, height, width, height], np.float32)
    centers = (rel[:, :2] + rel[:, 2:]) / 2
    sizes = rel[:, 2:] - rel[:, :2]
    return np.concatenate([centers, np.sqrt(sizes)], axis=1).astype(np.float32)


def decode_boxes(encoded, image_size) -> "np.ndarray":
    """The inverse of :func:`encode_boxes`: (N, 4) head outputs -> (N, 4) "xyxy" pixels.

    Predictions are not clipped: a box may reach a little outside the image.

    Example:
        >>> decode_boxes([[0.5, 0.375, 0.5 ** 0.5, 0.5]], image_size=(64, 64)).round(3).tolist()
        [[16.0, 16.0, 48.0, 32.0]]
    """
    import numpy as np

    encoded = np.asarray(encoded, dtype=np.float32)
    if encoded.ndim != 2 or encoded.shape[1] != 4:
        raise ValueError(f"encoded must have shape (N, 4); got {encoded.shape}.")
    height, width = image_size
    scale = np.array([width, height, width, height], np.float32)
    return (_decode_boxes(encoded, np) * scale).astype(np.float32)


@keras.saving.register_keras_serializable(package="homl_cv")
class MeanBoxIoU(keras.metrics.Mean):
    """Mean IoU between true and predicted boxes, both encoded by :func:`encode_boxes`.

    The encoded boxes ``(x_center, y_center, sqrt(w), sqrt(h))`` (B, 4) are
    decoded to relative corners, and each prediction's IoU with its own true
    box is averaged over all samples seen (IoU does not depend on the image
    size, so relative boxes do).

    Example:
        >>> metric = MeanBoxIoU()
        >>> metric.update_state([[0.5, 0.5, 0.5, 0.5]], [[0.5, 0.5, 0.5, 0.5]])
        >>> float(metric.result())
        1.0
    """

    def __init__(self, name="iou", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        true = _decode_boxes(ops.cast(y_true, "float32"), ops)
        pred = _decode_boxes(ops.cast(y_pred, "float32"), ops)
        top_left = ops.maximum(true[..., :2], pred[..., :2])
        bottom_right = ops.minimum(true[..., 2:], pred[..., 2:])
        intersection = ops.prod(ops.relu(bottom_right - top_left), axis=-1)

        def area(b):
            return ops.relu(b[..., 2] - b[..., 0]) * ops.relu(b[..., 3] - b[..., 1])

        union = area(true) + area(pred) - intersection
        iou = ops.where(union > 0, intersection / ops.maximum(union, 1e-12), 0.0)
        return super().update_state(iou, sample_weight=sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def localization_model(input_shape=(64, 64, 3), num_classes=4, filters=(16, 32, 64),
                       dense_units=128, dropout=0.2, name="localizer") -> keras.Model:
    """A small CNN with two heads: class probabilities and one box.

    A 3x3 convolution with stride 2 halves the image, then each further
    block is a 3x3 convolution (ReLU) and a 2x2 max pool; the flattened maps
    (they keep *where* things are, which a global pooling would throw away)
    go through one dense layer shared by the two heads:

    - ``"class"``: ``num_classes`` softmax probabilities, (B, num_classes);
    - ``"box"``: 4 sigmoid outputs in [0, 1], (B, 4): the box encoded by
      :func:`encode_boxes`.

    Args:
        input_shape: ``(height, width, channels)``; pixels in [0, 1].
        num_classes: number of classes.
        filters: filters of the strided convolution, then of each conv + pool block.
        dense_units: width of the shared dense layer.
        dropout: dropout rate before the heads.

    Returns:
        An uncompiled ``keras.Model`` whose outputs are the dict
        ``{"class": ..., "box": ...}``; compile it with
        :func:`compile_localization_model`.

    Example:
        >>> model = localization_model((64, 64, 3), num_classes=4)
        >>> {k: tuple(v.shape) for k, v in model.output.items()}
        {'class': (None, 4), 'box': (None, 4)}
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape} must be (height, width, channels).")
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes} must be at least 2.")
    inputs = keras.Input(shape=input_shape, name="images")
    x = keras.layers.Conv2D(filters[0], 3, strides=2, padding="same", activation="relu")(inputs)
    for f in filters[1:]:
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = {
        "class": keras.layers.Dense(num_classes, activation="softmax", name="class")(x),
        "box": keras.layers.Dense(4, activation="sigmoid", name="box")(x),
    }
    return keras.Model(inputs, outputs, name=name)


def compile_localization_model(model, learning_rate=2e-3, loss_weights=None, jit_compile="auto"):
    """Compile a two-headed model: cross-entropy + MSE, weighted, with accuracy and box IoU.

    Args:
        model: from :func:`localization_model` (outputs named "class" and "box").
        learning_rate: Adam's learning rate.
        loss_weights: ``{"class": a, "box": b}``; default
            :data:`LOCALIZATION_LOSS_WEIGHTS`.
    """
    weights = dict(LOCALIZATION_LOSS_WEIGHTS if loss_weights is None else loss_weights)
    if set(weights) != {"class", "box"}:
        raise ValueError(f"loss_weights={loss_weights} must have exactly the keys 'class' and 'box'.")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss={"class": "sparse_categorical_crossentropy", "box": "mse"},
        loss_weights=weights,
        metrics={"class": ["accuracy"], "box": [MeanBoxIoU()]},
        jit_compile=jit_compile,
    )
    return model


# ============================================================ 07 inside a CNN
