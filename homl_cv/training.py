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
