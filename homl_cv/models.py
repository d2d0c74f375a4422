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


# ============================================================ 07 inside a CNN
def gap_cnn(input_shape=(48, 48, 3), num_classes: int = 4, filters=(16, 32, 64),
            name: str = "gap_cnn") -> keras.Model:
    """A small CNN whose head is GlobalAveragePooling2D + Dense: the CAM shape.

    Block ``k`` is a 3x3 "same" convolution with ``filters[k]`` channels, batch
    normalization and ReLU, followed by 2x2 max pooling for every block but the
    last; the last block has a second conv, named ``"last_conv"``, which keeps
    a spatial map (H/4, W/4 for three blocks). ``GlobalAveragePooling2D``
    averages it per channel before a single ``Dense`` softmax layer, so each
    class score is a weighted sum of the last feature maps and class activation
    maps (``viz.class_activation_map``) are exact.

    Args:
        input_shape: (H, W, C) of the images (floats in [0, 1]).
        num_classes: number of classes of the softmax output.
        filters: channels of each block (at least one block).

    Returns:
        An uncompiled functional ``keras.Model``: (N, H, W, C) -> (N, num_classes).

    Example:
        >>> model = gap_cnn((48, 48, 3), num_classes=4)  # doctest: +SKIP
        >>> model.get_layer("last_conv").output.shape  # doctest: +SKIP
        (None, 12, 12, 64)
    """
    if len(filters) < 1:
        raise ValueError(f"filters={filters} must list the channels of at least one block.")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for block, channels in enumerate(filters, start=1):
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False,
                                name=f"block{block}_conv")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn")(x)
        x = keras.layers.ReLU(name=f"block{block}_relu")(x)
        if block < len(filters):
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = keras.layers.Conv2D(filters[-1], 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)
