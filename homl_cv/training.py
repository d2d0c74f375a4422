"""Training helpers: compiling and fitting the chapters' models, transfer learning.

Example:
    >>> from homl_cv import training  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np


# ============================================================ 02 architectures (classifiers)


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
