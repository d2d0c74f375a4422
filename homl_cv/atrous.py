"""Atrous (dilated) convolution and DeepLab's atrous spatial pyramid pooling (ASPP).

A 3x3 kernel with dilation rate ``d`` keeps its 9 weights but spaces its taps
``d`` pixels apart: it is the ordinary convolution with the kernel of side
``d (k - 1) + 1`` made by inserting ``d - 1`` zeros between the taps
(:func:`dilate_kernel`). The field of view grows, the parameters and the
resolution do not: DeepLab uses it to keep stride-8 or stride-16 feature maps
and still see far. :class:`ASPP` looks at the same maps through several rates
at once, plus a global image-level summary.

Example:
    >>> dilate_kernel(np.ones((3, 3, 1, 1)), 2)[:, :, 0, 0].astype(int).tolist()[:2]
    [[1, 0, 1, 0, 1], [0, 0, 0, 0, 0]]
    >>> aspp_receptive_field((6, 12, 18), image_pooling=False)
    37
"""

from __future__ import annotations

import keras
import numpy as np

from homl_cv import checks, conv

__all__ = ["ASPP", "aspp_receptive_field", "dilate_kernel", "dilated_span", "impulse_response_extent"]


def dilated_span(kernel_size: int, rate: int) -> int:
    """Side ``d (k - 1) + 1`` covered by a ``k``-tap kernel with dilation rate ``d``.

    Example:
        >>> dilated_span(3, 1), dilated_span(3, 6)
        (3, 13)
    """
    kernel_size = checks.positive_int(kernel_size, "kernel_size")
    return checks.positive_int(rate, "rate") * (kernel_size - 1) + 1


def dilate_kernel(kernel, rate: int) -> np.ndarray:
    """The zero-inserted kernel equivalent to ``kernel`` applied with ``dilation_rate=rate``.

    Args:
        kernel: Conv2D kernel of shape (kh, kw, C_in, C_out).
        rate: dilation rate ``d`` >= 1.

    Returns:
        Array of shape (d (kh - 1) + 1, d (kw - 1) + 1, C_in, C_out): the
        original taps at rows and columns ``0, d, 2d, ...``, zeros elsewhere.
    """
    kernel = checks.shaped(kernel, "kernel", ("kh", "kw", "C_in", "C_out"))
    rate = checks.positive_int(rate, "rate")
    kh, kw = kernel.shape[:2]
    out = np.zeros((dilated_span(kh, rate), dilated_span(kw, rate), *kernel.shape[2:]), kernel.dtype)
    out[::rate, ::rate] = kernel
    return out


def aspp_receptive_field(rates=(6, 12, 18), kernel_size: int = 3, image_pooling: bool = True,
                         image_size=None):
    """Side of the input region one output pixel of :class:`ASPP` depends on.

    The widest dilated branch sets it: a ``kernel_size`` conv with the largest
    rate, followed by the 1x1 projection (:func:`homl_cv.conv.receptive_field`
    of the stack). With the image-pooling branch every output pixel also
    depends on every input pixel, so the field is the whole image.

    Args:
        rates: dilation rates of the 3x3 branches.
        kernel_size: their kernel size.
        image_pooling: whether the global-average-pooling branch is present.
        image_size: (height, width) of the input; needed with ``image_pooling``.

    Returns:
        An int (a square field), or the pair ``image_size`` with image pooling.
    """
    rates = tuple(checks.positive_int(r, "rates") for r in rates)
    checks.non_empty(rates, "rates", "the dilation rates, e.g. (6, 12, 18)")
    field = conv.receptive_field([dilated_span(kernel_size, max(rates)), 1])
    if image_pooling:
        if image_size is None:
            raise ValueError("image_size=None: with image_pooling=True the field is the whole image; "
                             "pass image_size=(height, width).")
        return checks.pair(image_size, "image_size")
    return field


def impulse_response_extent(layer, size: int, channels: int = 1) -> tuple:
    """Measure the receptive field of ``layer`` at the centre pixel, empirically.

    Feeds a zero image and, one by one, images with a single 1 at each pixel
    (an impulse), and records which input pixels change the output at the
    centre pixel. Run it on a layer without ReLUs (e.g. ``activation=None``):
    a ReLU that is off hides part of the field.

    Args:
        layer: a Keras layer or model mapping (N, size, size, channels) to (N, size, size, F).
        size: side of the square test image.
        channels: input channels.

    Returns:
        ``(height, width)`` of the bounding box of the input pixels that move
        the centre output.
    """
    size = checks.positive_int(size, "size")
    channels = checks.positive_int(channels, "channels")
    impulses = np.zeros((size * size + 1, size, size, channels), "float32")
    index = np.arange(size * size)
    impulses[index + 1, index // size, index % size, :] = 1.0
    out = np.asarray(layer(impulses, training=False))
    centre = out[:, size // 2, size // 2, :]
    moved = np.abs(centre[1:] - centre[0]).max(axis=-1) > 1e-6 * (1 + np.abs(centre[0]).max())
    rows, cols = np.nonzero(moved.reshape(size, size))
    if not len(rows):
        return (0, 0)
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


@keras.saving.register_keras_serializable(package="homl_cv")
class ASPP(keras.layers.Layer):
    """DeepLab v3's atrous spatial pyramid pooling: one map seen at several scales.

    Parallel branches on the same input, each ``filters`` maps of the input's
    size, concatenated and projected by a 1x1 conv to ``filters`` maps:

    * a 1x1 conv;
    * one 3x3 conv per rate in ``rates``, with ``dilation_rate=rate``;
    * with ``image_pooling``: global average pooling, a 1x1 conv, and the result
      broadcast back to every pixel (image-level context).

    Each conv is followed by batch norm and ``activation`` (no conv bias).
    Shape: ``(N, H, W, C) -> (N, H, W, filters)``. Parameters, with
    ``B = 1 + len(rates) + image_pooling`` branches::

        C F + 9 C F len(rates) + C F image_pooling + B F F + 4 F (B + 1)

    Example:
        >>> aspp = ASPP(16, rates=(2, 4))
        >>> tuple(aspp(keras.ops.zeros((2, 20, 20, 8))).shape)
        (2, 20, 20, 16)
    """

    def __init__(self, filters: int = 256, rates=(6, 12, 18), image_pooling: bool = True,
                 activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.filters = checks.positive_int(filters, "filters")
        if not isinstance(rates, (tuple, list)) or not rates:
            raise ValueError(f"rates={rates!r} must be a non-empty list of dilation rates, e.g. (6, 12, 18).")
        self.rates = tuple(checks.positive_int(r, "rates") for r in rates)
        self.image_pooling = bool(checks.one_of(image_pooling, "image_pooling", (True, False)))
        self.activation = keras.activations.get(activation)

        def unit(kernel_size, rate, name):
            return keras.Sequential([
                keras.layers.Conv2D(self.filters, kernel_size, padding="same", dilation_rate=rate,
                                    use_bias=False),
                keras.layers.BatchNormalization(momentum=0.9),
                keras.layers.Activation(self.activation)], name=name)

        self.branches = [unit(1, 1, "branch_1x1")]
        self.branches += [unit(3, r, f"branch_rate_{r}") for r in self.rates]
        self.pool_branch = unit(1, 1, "branch_image_pool") if self.image_pooling else None
        self.projection = unit(1, 1, "projection")

    def build(self, input_shape):
        for branch in self.branches:
            branch.build(input_shape)
        if self.pool_branch is not None:
            self.pool_branch.build((input_shape[0], 1, 1, input_shape[-1]))
        count = len(self.branches) + (self.pool_branch is not None)
        self.projection.build((*input_shape[:-1], count * self.filters))
        self.built = True

    def call(self, inputs, training=None):
        outputs = [branch(inputs, training=training) for branch in self.branches]
        if self.pool_branch is not None:
            pooled = self.pool_branch(keras.ops.mean(inputs, axis=(1, 2), keepdims=True), training=training)
            outputs.append(pooled + keras.ops.zeros_like(outputs[0]))  # broadcast to every pixel
        return self.projection(keras.ops.concatenate(outputs, axis=-1), training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "rates": list(self.rates),
                "image_pooling": self.image_pooling,
                "activation": keras.activations.serialize(self.activation)}
