"""Training helpers: compiling and fitting the chapters' models, transfer learning.

Example:
    >>> from homl_cv import training  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

import numpy as np


# ============================================================ 02 architectures (classifiers)
def scale_images(images) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) in 0-255 -> float32 (N, H, W, C) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            f"images has shape {images.shape}: expected (N, H, W) grayscale or (N, H, W, C)."
        )
    return images.astype(np.float32) / 255.0


def fit_classifier(model, splits, epochs: int, batch_size: int = 32, learning_rate: float = 1e-3,
                   verbose="auto", callbacks=None):
    """Compile ``model`` for integer labels and train it on ``splits``.

    Scales the images with :func:`scale_images`, compiles with
    ``Adam(learning_rate=learning_rate)``, sparse categorical cross-entropy
    and accuracy, and fits on ``splits.x_train`` with ``splits.x_valid`` as
    validation data (Keras prints a progress bar per epoch).

    Args:
        model: a Keras classifier with a softmax output, e.g. ``models.lenet5()``.
        splits: a :class:`homl_cv.data.ImageSplits` (e.g. ``data.load_mnist()``).
        epochs: number of passes over the training set.
        learning_rate: a float, or a ``keras.optimizers.schedules`` schedule.

    Returns:
        The Keras ``History`` (``history.history["val_accuracy"]`` etc.).
    """
    import keras

    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} must be a positive integer.")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(
        scale_images(splits.x_train), splits.y_train,
        validation_data=(scale_images(splits.x_valid), splits.y_valid),
        epochs=epochs, batch_size=batch_size, verbose=verbose, callbacks=callbacks,
    )


def predict_classes(model, images, batch_size: int = 256) -> np.ndarray:
    """Predicted class ids (N,) for uint8 ``images`` (scaled like in training)."""
    probas = model.predict(scale_images(images), batch_size=batch_size, verbose=0)
    return probas.argmax(axis=-1)


def classifier_accuracy(model, images, labels) -> float:
    """Fraction of ``images`` (uint8) whose predicted class equals ``labels``."""
    return float(np.mean(predict_classes(model, images) == np.asarray(labels)))


# ============================================================ 03 transfer learning


# ============================================================ 04-06 localization, detection, segmentation
# ------------------------------------------------------------ 04
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
        by :func:`homl_cv.models.encode_boxes`.
    """
    from homl_cv import models

    counts = shapes.num_objects()
    if not np.all(counts == 1):
        raise ValueError(
            f"shapes must have exactly one object per image (got counts {sorted(set(counts.tolist()))}): "
            f"generate them with make_shapes(..., min_objects=1, max_objects=1)."
        )
    size = shapes.images.shape[1:3]
    targets = {"class": shapes.classes[:, 0].astype(np.int32),
               "box": models.encode_boxes(shapes.boxes[:, 0], image_size=size)}
    return shapes.images, targets


def train_localizer(num_images=None, image_size=64, epochs=None, batch_size=32, seed=42,
                    learning_rate=2e-3, loss_weights=None, verbose="auto") -> LocalizationResult:
    """Generate single-object shapes, train a two-headed localizer, evaluate it.

    The images come from :func:`homl_cv.data.make_shapes` (one object each,
    exact boxes), split 80/10/10 % into train/valid/test; the model is
    :func:`homl_cv.models.localization_model`. The learning rate decays with a
    cosine schedule to 0 over the epochs.

    Args:
        num_images: total images; default 4,000 in quick mode, 20,000 otherwise.
        image_size: side of the square images.
        epochs: default 16 in quick mode, 40 otherwise.
        batch_size, learning_rate: for Adam.
        seed: seeds the data and the weights.
        loss_weights: see :func:`homl_cv.models.compile_localization_model`.
        verbose: passed to ``fit`` (Keras progress bars).

    Returns:
        A :class:`LocalizationResult` measured on the test images.
    """
    import time

    import keras

    from homl_cv import boxes, config, data, models

    num_images = num_images or config.pick(quick=4000, full=20000)
    epochs = epochs or config.pick(quick=16, full=40)
    if num_images < 50:
        raise ValueError(f"num_images={num_images} is too few to split 80/10/10: use 50 or more.")
    config.set_seeds(seed)
    shapes = data.make_shapes(num_images, image_size=image_size, seed=seed)
    train, valid, test = shapes.split((0.8, 0.1, 0.1))
    x_train, y_train = localization_targets(train)
    x_valid, y_valid = localization_targets(valid)
    model = models.localization_model(x_train.shape[1:], num_classes=len(shapes.class_names))
    steps = epochs * -(-len(x_train) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    models.compile_localization_model(model, learning_rate=schedule, loss_weights=loss_weights)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=epochs,
                        batch_size=batch_size, verbose=verbose)
    seconds = time.perf_counter() - start
    pred = model.predict(test.images, batch_size=256, verbose=0)
    pred_boxes = models.decode_boxes(pred["box"], image_size=test.images.shape[1:3])
    true_boxes = test.boxes[:, 0]
    ious = boxes.paired_iou(pred_boxes, true_boxes)
    pred_classes = pred["class"].argmax(axis=1)
    return LocalizationResult(
        model=model, history=history.history, test=test, pred_classes=pred_classes,
        pred_boxes=pred_boxes, true_boxes=true_boxes, ious=ious,
        accuracy=float(np.mean(pred_classes == test.classes[:, 0])),
        mean_iou=float(ious.mean()), train_seconds=seconds,
    )


# ---------------------------------------------------------------- 05 detection
def yolo_recipe() -> dict:
    """Data and training sizes for chapter 05's tiny YOLO (quick vs full mode)."""
    from homl_cv import config

    return dict(image_size=64, max_objects=3, num_anchors=3,
                num_train=config.pick(1500, 8000), num_test=config.pick(200, 1000),
                epochs=config.pick(12, 40), batch_size=16, learning_rate=3e-3)


def train_yolo_detector(train_data, anchors, epochs: int = 12, batch_size: int = 32,
                        learning_rate: float = 3e-3, filters: int = 8, seed: int = 42, verbose="auto"):
    """Train :func:`homl_cv.detection.make_yolo_detector` on a ShapesData.

    Targets come from :func:`homl_cv.detection.yolo_targets` on an 8x8-pixel
    grid; Adam with a cosine-decayed learning rate and the
    :class:`homl_cv.detection.YoloLoss`. Random horizontal flips of image and
    targets would be the next step for more data; here the generator gives
    fresh images instead.

    Returns:
        ``(model, history)``.
    """
    import keras

    from homl_cv import config, detection

    config.set_seeds(seed)
    image_size = train_data.images.shape[1]
    model = detection.make_yolo_detector(image_size, len(anchors), len(train_data.class_names), filters)
    targets = detection.yolo_targets(train_data, image_size // 8, anchors)
    steps = epochs * -(-len(train_data) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss=detection.YoloLoss())
    history = model.fit(train_data.images, targets, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return model, history


def train_window_classifier(crops, labels, num_outputs: int, epochs: int = 4, batch_size: int = 64,
                            seed: int = 42, verbose="auto"):
    """Train :func:`homl_cv.detection.make_window_classifier` on labelled crops.

    Returns:
        ``(model, history)``; the model's outputs are softmax probabilities.
    """
    import keras

    from homl_cv import config, detection

    config.set_seeds(seed)
    model = detection.make_window_classifier(crops.shape[1], num_outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(crops, labels, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return model, history


# ---------------------------------------------------------------- 06 segmentation
def fit_segmentation(model, train, valid=None, num_classes=None, epochs: int = 5, batch_size: int = 16,
                     learning_rate: float = 1e-2, loss=None, seed: int = 42, verbose="auto"):
    """Compile and train a per-pixel classifier (FCN, U-Net) on (image, mask) pairs.

    The loss is per-pixel sparse cross-entropy on logits (the mean over all
    pixels) unless ``loss`` says otherwise; the metrics are pixel accuracy and
    ``keras.metrics.MeanIoU`` on the arg-max of the logits. Adam with a cosine
    decay of the learning rate over all steps.

    Args:
        model: outputs (batch, H, W, num_classes) logits.
        train, valid: unbatched ``tf.data`` datasets of (image, mask) pairs,
            e.g. from :func:`homl_cv.segmentation.load_segmentation_data`.
        num_classes: default: the model's last output dimension.
        epochs, batch_size, learning_rate: the usual.
        loss: a Keras loss (e.g. ``DiceLoss(from_logits=True)``) to use instead.

    Returns:
        The Keras ``History``.
    """
    import keras
    import tensorflow as tf

    num_classes = num_classes or model.output_shape[-1]
    size = int(train.cardinality())
    if size <= 0:
        raise ValueError("train must be a finite, non-empty dataset of (image, mask) pairs.")
    steps = epochs * -(-size // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou")],
    )
    train = train.shuffle(size, seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    if valid is not None:
        valid = valid.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return model.fit(train, validation_data=valid, epochs=epochs, shuffle=False, verbose=verbose)
