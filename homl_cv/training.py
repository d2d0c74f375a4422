"""Training helpers: compiling and fitting the chapters' models, transfer learning.

Example:
    >>> from homl_cv import training  # doctest: +SKIP
"""

from __future__ import annotations

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
