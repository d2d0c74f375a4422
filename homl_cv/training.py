"""Training helpers: compiling and fitting the chapters' models, transfer learning.

Example:
    >>> from homl_cv import training  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np


# ============================================================ 02 architectures (classifiers)


# ============================================================ 03 transfer learning


# ============================================================ 04-06 localization, detection, segmentation


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
