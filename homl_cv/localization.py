"""Classification and localization (chapter 04): one object, its class and its box.

* **Box encoding.** :func:`encode_boxes` turns "xyxy" pixel boxes into the
  4 numbers the box head predicts, ``(x_center, y_center, sqrt(w), sqrt(h))``
  relative to the image size; :func:`decode_boxes` inverts it.
* **Metric.** :class:`MeanBoxIoU`, the mean IoU of encoded boxes, as a Keras metric.
* **Model.** :func:`build_localizer`, a small CNN with a class head and a box
  head; :func:`compile_localizer` weights the two losses with
  :data:`LOCALIZATION_LOSS_WEIGHTS`.
* **Training.** :func:`localization_targets` and :func:`train_localizer`,
  which returns a :class:`LocalizationResult` measured on held-out images.

Example:
    >>> model = build_localizer((64, 64, 3), num_classes=4)
    >>> {k: tuple(v.shape) for k, v in model.output.items()}
    {'class': (None, 4), 'box': (None, 4)}
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from homl_cv import boxes as boxes_lib
from homl_cv import checks, config, data, distribute, training

__all__ = [
    "LOCALIZATION_LOSS_WEIGHTS",
    "LocalizationResult",
    "MeanBoxIoU",
    "build_localizer",
    "compile_localizer",
    "decode_boxes",
    "encode_boxes",
    "localization_targets",
    "train_localizer",
]


LOCALIZATION_LOSS_WEIGHTS = {"class": 0.3, "box": 5.0}
"""Loss weights of :func:`build_localizer`.

The weights must make up for the scales of the two losses. The class loss
(cross-entropy) starts near ln 4 = 1.4; the box loss (mean squared error of
numbers in [0, 1]) starts near 0.05 and ends near 0.003. With equal weights,
or the book's 0.8/0.2 for the class, the gradient of the shared layers is at
first nearly all about the class and the box head learns slowly, so the box
gets about 17 times the class weight. Less class weight (0.1) still gives
good boxes but, now that the class is the outline alone, the class accuracy
drops (79 % on one seed; BENCHMARKS.md, 04, measures the variants). What to
weight more depends on what you care about most.
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

    encoded = checks.shaped(encoded, "encoded", ("N", 4), "encoded boxes", dtype=np.float32)
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

    def __init__(self, name="iou", dtype=None):  # pragma: no mutate block
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


def build_localizer(input_shape=(64, 64, 3), num_classes=4, filters=(32, 32, 64),
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
        :func:`compile_localizer`.

    Example:
        >>> model = build_localizer((64, 64, 3), num_classes=4)
        >>> {k: tuple(v.shape) for k, v in model.output.items()}
        {'class': (None, 4), 'box': (None, 4)}
    """
    input_shape = checks.input_shape(input_shape)
    checks.int_at_least(num_classes, "num_classes", 2, "a class head needs two classes or more")
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


def compile_localizer(model, learning_rate=2e-3, loss_weights=None, jit_compile="auto"):
    """Compile a two-headed model: cross-entropy + MSE, weighted, with accuracy and box IoU.

    Args:
        model: from :func:`build_localizer` (outputs named "class" and "box").
        learning_rate: Adam's learning rate.
        loss_weights: ``{"class": a, "box": b}``; default
            :data:`LOCALIZATION_LOSS_WEIGHTS`.
        jit_compile: XLA; off under a strategy with several replicas (see
            ``distribute.jit_compile_for``).

    The optimizer and metrics are created under the scope of the strategy the
    model was built under.
    """
    weights = dict(LOCALIZATION_LOSS_WEIGHTS if loss_weights is None else loss_weights)
    if set(weights) != {"class", "box"}:
        raise ValueError(f"loss_weights={loss_weights} must have exactly the keys 'class' and 'box'.")
    strategy = distribute.strategy_of(model)
    with strategy.scope():
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            loss={"class": "sparse_categorical_crossentropy", "box": "mse"},
            loss_weights=weights,
            metrics={"class": ["accuracy"], "box": [MeanBoxIoU()]},
            jit_compile=distribute.jit_compile_for(strategy, jit_compile),
        )
    return model


@dataclasses.dataclass
class LocalizationResult:
    """What :func:`train_localizer` returns.

    Attributes:
        model: the trained two-headed Keras model.
        history: ``History.history`` dict (loss, class_accuracy, box_box_iou, ...).
        test: the held-out :class:`homl_cv.data.ShapesData` (never trained on).
        pred_classes: int (N_test,) predicted class ids.
        pred_boxes: float32 (N_test, 4) predicted "xyxy" pixel boxes.
        true_boxes: float32 (N_test, 4) true "xyxy" pixel boxes.
        ious: float32 (N_test,) IoU of each predicted box with its true box.
        accuracy: class accuracy on the test set.
        mean_iou: mean of ``ious``.
        train_seconds: wall-clock time of ``fit``.
    """

    model: object
    history: dict
    test: object
    pred_classes: np.ndarray
    pred_boxes: np.ndarray
    true_boxes: np.ndarray
    ious: np.ndarray
    accuracy: float
    mean_iou: float
    train_seconds: float

    def summary(self) -> str:
        return (f"test images: {len(self.test)}, class accuracy: {self.accuracy:.1%}, "
                f"mean IoU: {self.mean_iou:.2f}, IoU >= 0.5: {np.mean(self.ious >= 0.5):.0%}")


def localization_targets(shapes) -> tuple:
    """Inputs and targets for a localization model from single-object shapes.

    Args:
        shapes: a :class:`homl_cv.data.ShapesData` with exactly one object per image.

    Returns:
        ``(images, {"class": int32 (N,), "box": float32 (N, 4)})``, boxes encoded
        by :func:`encode_boxes`.
    """
    counts = shapes.num_objects()
    if not np.all(counts == 1):
        raise ValueError(
            f"shapes must have exactly one object per image (got counts {sorted(set(counts.tolist()))}): "
            f"generate them with make_shapes(..., min_objects=1, max_objects=1)."
        )
    size = shapes.images.shape[1:3]
    targets = {"class": shapes.classes[:, 0].astype(np.int32),
               "box": encode_boxes(shapes.boxes[:, 0], image_size=size)}
    return shapes.images, targets


def train_localizer(num_images=None, image_size=64, epochs=None, batch_size=32, seed=42,
                    learning_rate=2e-3, loss_weights=None, verbose="auto",
                    strategy=None) -> LocalizationResult:
    """Generate single-object shapes, train a two-headed localizer, evaluate it.

    The images come from :func:`homl_cv.data.make_shapes` (one object each,
    exact boxes), split 80/10/10 % into train/valid/test; the model is
    :func:`build_localizer`. The learning rate decays with a
    cosine schedule to 0 over the epochs.

    Args:
        num_images: total images; default 4,000 in quick mode, 20,000 otherwise.
        image_size: side of the square images.
        epochs: default 12 in quick mode, 40 otherwise.
        batch_size, learning_rate: for Adam; ``batch_size`` is per replica
            (global batch = ``batch_size`` x replicas); the learning rate is
            not scaled (see ``distribute.scale_learning_rate``).
        seed: seeds the data and the weights.
        loss_weights: see :func:`compile_localizer`.
        verbose: passed to ``fit`` (Keras progress bars).
        strategy: the ``tf.distribute`` strategy to build, compile and train
            under; default: ``config.pick_strategy()`` (see
            ``distribute.get_strategy``).

    Returns:
        A :class:`LocalizationResult` measured on the test images.
    """
    num_images = num_images or config.pick(quick=4000, full=20000)
    epochs = epochs or config.pick(quick=12, full=40)
    checks.int_at_least(num_images, "num_images", 50, "enough to split 80/10/10")
    config.set_seeds(seed)
    shapes = data.make_shapes(num_images, image_size=image_size, seed=seed)
    train, valid, test = shapes.split((0.8, 0.1, 0.1))
    x_train, y_train = localization_targets(train)
    x_valid, y_valid = localization_targets(valid)
    strategy = distribute.get_strategy(strategy)
    global_batch = distribute.global_batch_size(batch_size, strategy)
    with strategy.scope():
        model = build_localizer(x_train.shape[1:], num_classes=len(shapes.class_names))
    schedule = training.cosine_schedule(learning_rate, epochs, len(x_train), global_batch)
    compile_localizer(model, learning_rate=schedule, loss_weights=loss_weights)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=epochs,
                        batch_size=global_batch, verbose=verbose)
    seconds = time.perf_counter() - start
    pred = model.predict(test.images, batch_size=256, verbose=0)
    pred_boxes = decode_boxes(pred["box"], image_size=test.images.shape[1:3])
    true_boxes = test.boxes[:, 0]
    ious = boxes_lib.paired_iou(pred_boxes, true_boxes)
    pred_classes = pred["class"].argmax(axis=1)
    return LocalizationResult(
        model=model, history=history.history, test=test, pred_classes=pred_classes,
        pred_boxes=pred_boxes, true_boxes=true_boxes, ious=ious,
        accuracy=float(np.mean(pred_classes == test.classes[:, 0])),
        mean_iou=float(ious.mean()), train_seconds=seconds,
    )
