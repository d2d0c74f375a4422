"""Convolution and pooling: the arithmetic, teaching versions, and one layer.

Chapter 01 uses these to check by hand what Keras and TensorFlow compute:

* sizes: :func:`output_size`, :func:`output_shape_2d`, :func:`same_padding`,
  :func:`receptive_field`;
* costs of one ``Conv2D`` layer: :func:`conv2d_params`, :func:`conv2d_mults`,
  :func:`output_memory` (bytes; divide by :data:`MB` = 10**6 or
  :data:`MiB` = 2**20); :func:`depthwise_conv2d_params` and
  :func:`separable_conv2d_params` for the cheaper variants;
* teaching versions written with explicit loops: :func:`conv2d_numpy`
  (equal to ``tf.nn.conv2d``) and :func:`pool2d_numpy` (equal to Keras'
  ``MaxPooling2D`` / ``AveragePooling2D``);
* :func:`line_filters`, the hand-made vertical and horizontal line detectors;
* :class:`DepthwiseMaxPool2D`, max pooling across channels as a saveable
  Keras layer.

Layouts are TensorFlow's: images are NHWC ``(batch, height, width,
channels)`` and kernels HWIO ``(kernel_h, kernel_w, in_channels,
out_channels)``.

Example:
    >>> output_size(13, kernel=6, stride=5, padding="same"), output_size(13, 6, 5)
    (3, 2)
    >>> conv2d_params(5, 5, 3, 200)
    15200
    >>> output_memory(150, 100, 200) / MB  # one instance, float32
    12.0
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from homl_cv import checks

__all__ = [
    "DepthwiseMaxPool2D",
    "MB",
    "MiB",
    "PADDINGS",
    "conv2d_mults",
    "conv2d_numpy",
    "conv2d_params",
    "depthwise_conv2d_params",
    "line_filters",
    "output_memory",
    "output_shape_2d",
    "output_size",
    "pool2d_numpy",
    "receptive_field",
    "same_padding",
    "separable_conv2d_params",
]

MB = 10**6
"""A megabyte as the book counts it: 10**6 bytes."""
MiB = 2**20
"""A mebibyte, 1,048,576 bytes (what ``nvidia-smi`` calls "MiB")."""

PADDINGS = checks.PADDINGS


# ----------------------------------------------------------------------------- sizes
def output_size(n: int, kernel: int, stride: int = 1, padding: str = "valid", dilation: int = 1) -> int:
    """Length of a convolution's or pooling's output along one axis.

    ``"same"`` pads so that every input position is covered:
    ``ceil(n / stride)`` (the kernel size plays no role). ``"valid"`` does not
    pad: ``floor((n - k) / stride) + 1``, where ``k = dilation * (kernel - 1)
    + 1`` is the kernel's span once dilated.

    Args:
        n: input length (height or width), >= 1.
        kernel: kernel (or pool) size, >= 1.
        stride: step between two windows, >= 1.
        padding: "valid" or "same".
        dilation: spacing between kernel taps, >= 1 (1: a plain kernel).

    Returns:
        The output length, an int >= 1.

    Raises:
        ValueError: a non-positive argument, an unknown padding, or a valid
            convolution whose dilated kernel is larger than the input.

    Example:
        >>> output_size(13, 6, stride=5, padding="same"), output_size(13, 6, stride=5)
        (3, 2)
    """
    n = checks.positive_int(n, "n")
    kernel = checks.positive_int(kernel, "kernel")
    stride = checks.positive_int(stride, "stride")
    dilation = checks.positive_int(dilation, "dilation")
    padding = checks.padding(padding)
    if padding == "same":
        return -(-n // stride)
    span = dilation * (kernel - 1) + 1
    if span > n:
        raise ValueError(
            f"kernel={kernel} (span {span} with dilation={dilation}) is larger than the input "
            f"n={n}: with padding='valid' there is no room for one window; use a smaller "
            f"kernel or padding='same'."
        )
    return (n - span) // stride + 1


def output_shape_2d(hw, kernel, strides=1, padding: str = "valid", dilation=1) -> tuple:
    """``(out_h, out_w)`` for an input of ``hw = (height, width)``.

    ``kernel``, ``strides`` and ``dilation`` are ints or (height, width) pairs.

    Example:
        >>> output_shape_2d((150, 100), kernel=5, strides=(2, 1), padding="same")
        (75, 100)
    """
    hw = checks.pair(tuple(hw) if isinstance(hw, (tuple, list)) else hw, "hw")
    kernel, strides, dilation = checks.pair(kernel, "kernel"), checks.pair(strides, "strides"), checks.pair(dilation, "dilation")
    return tuple(output_size(n, k, s, padding, d) for n, k, s, d in zip(hw, kernel, strides, dilation))


def same_padding(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple:
    """Zeros added ``(before, after)`` one axis by TensorFlow's "same" padding.

    The total is whatever makes the output ``ceil(n / stride)`` long; when it
    is odd, the extra zero goes after (at the bottom or the right).

    Example:
        >>> same_padding(13, 6, stride=5)  # 3 windows of 6 at 0, 5, 10: 16 = 13 + 3
        (1, 2)
    """
    n = checks.positive_int(n, "n")
    kernel = checks.positive_int(kernel, "kernel")
    stride = checks.positive_int(stride, "stride")
    span = checks.positive_int(dilation, "dilation") * (kernel - 1) + 1
    out = -(-n // stride)
    total = max((out - 1) * stride + span - n, 0)
    return total // 2, total - total // 2


def receptive_field(kernels, strides=None) -> int:
    """Side of the input region one unit of the last layer of a stack sees.

    Each layer ``i`` with kernel ``k_i`` widens the field by ``(k_i - 1)``
    times the product of the strides of the layers below it.

    Args:
        kernels: kernel sizes, first layer first.
        strides: strides of the same layers (default: all 1).

    Example:
        >>> receptive_field([3, 3, 3])  # three 3x3 convs see as far as one 7x7
        7
        >>> receptive_field([3, 2, 3], strides=[1, 2, 1])  # conv, 2x2 pool, conv
        8
    """
    kernels = [checks.positive_int(k, "kernels") for k in kernels]
    strides = [1] * len(kernels) if strides is None else [checks.positive_int(s, "strides") for s in strides]
    checks.same_length(("strides", strides), ("kernels", kernels), why="one stride per layer")
    field, jump = 1, 1
    for k, s in zip(kernels, strides):
        field += (k - 1) * jump
        jump *= s
    return field


# ----------------------------------------------------------------------------- costs
def conv2d_params(kh: int, kw: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Trainable parameters of a ``Conv2D``: ``(kh * kw * c_in + bias) * c_out``.

    Each of the ``c_out`` filters has a ``kh x kw x c_in`` kernel and one bias.

    Example:
        >>> conv2d_params(5, 5, 3, 200), conv2d_params(5, 5, 3, 200, bias=False)
        (15200, 15000)
    """
    kh, kw = checks.positive_int(kh, "kh"), checks.positive_int(kw, "kw")
    c_in, c_out = checks.positive_int(c_in, "c_in"), checks.positive_int(c_out, "c_out")
    return (kh * kw * c_in + int(bool(bias))) * c_out


def depthwise_conv2d_params(kh: int, kw: int, c_in: int, depth_multiplier: int = 1,
                            bias: bool = True) -> int:
    """Parameters of a ``DepthwiseConv2D``: one ``kh x kw`` kernel per input
    channel (``depth_multiplier`` of them), plus a bias per output channel.

    Output channels: ``c_in * depth_multiplier``; channels are not mixed.

    Example:
        >>> depthwise_conv2d_params(3, 3, 64)
        640
    """
    kh, kw = checks.positive_int(kh, "kh"), checks.positive_int(kw, "kw")
    maps = checks.positive_int(c_in, "c_in") * checks.positive_int(depth_multiplier, "depth_multiplier")
    return (kh * kw + int(bool(bias))) * maps


def separable_conv2d_params(kh: int, kw: int, c_in: int, c_out: int, depth_multiplier: int = 1,
                            bias: bool = True) -> int:
    """Parameters of a ``SeparableConv2D``: a depthwise ``kh x kw`` step per
    channel, then a 1x1 convolution mixing the ``c_in * depth_multiplier``
    maps into ``c_out`` (the only biases are the pointwise step's).

    Example:
        >>> separable_conv2d_params(3, 3, 64, 128), conv2d_params(3, 3, 64, 128)
        (8896, 73856)
    """
    depthwise = depthwise_conv2d_params(kh, kw, c_in, depth_multiplier, bias=False)
    pointwise = conv2d_params(1, 1, c_in * depth_multiplier, c_out, bias=bias)
    return depthwise + pointwise


def conv2d_mults(out_h: int, out_w: int, kh: int, kw: int, c_in: int, c_out: int) -> int:
    """Multiplications a ``Conv2D`` makes for one image.

    Every one of the ``out_h * out_w * c_out`` outputs is a dot product of
    ``kh * kw * c_in`` terms (about as many additions come on top).

    Example:
        >>> conv2d_mults(150, 100, 5, 5, 3, 200)  # 225 million
        225000000
    """
    args = dict(out_h=out_h, out_w=out_w, kh=kh, kw=kw, c_in=c_in, c_out=c_out)
    product = 1
    for name, value in args.items():
        product *= checks.positive_int(value, name)
    return product


def output_memory(out_h: int, out_w: int, c_out: int, batch: int = 1, dtype="float32") -> int:
    """Bytes taken by a layer's output (its feature maps), ``(batch, out_h, out_w, c_out)``.

    Returns bytes; divide by :data:`MB` (10**6, the book's megabyte) or
    :data:`MiB` (2**20) to show it.

    Args:
        dtype: anything ``np.dtype`` understands ("float32": 4 bytes,
            "float16" / "bfloat16": 2 bytes).

    Example:
        >>> output_memory(150, 100, 200) / MB, output_memory(150, 100, 200, batch=100) / 10**9
        (12.0, 1.2)
    """
    size = 1
    for name, value in dict(out_h=out_h, out_w=out_w, c_out=c_out, batch=batch).items():
        size *= checks.positive_int(value, name)
    return size * _itemsize(dtype)


def _itemsize(dtype) -> int:
    if str(dtype) == "bfloat16":
        return 2
    try:
        return np.dtype(dtype).itemsize
    except TypeError as exc:
        raise ValueError(f"dtype={dtype!r} is not a NumPy dtype; use e.g. 'float32' or 'float16'.") from exc


# ----------------------------------------------------------------------------- teaching versions
def _pad(images: np.ndarray, window, strides, padding: str, value) -> np.ndarray:
    """Pad H and W the way TensorFlow does for ``padding`` (extra at bottom/right)."""
    if padding == "valid":
        return images
    (top, bottom), (left, right) = (same_padding(n, k, s) for n, k, s in zip(images.shape[1:3], window, strides))
    return np.pad(images, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def conv2d_numpy(images, kernels, strides=1, padding: str = "valid") -> np.ndarray:
    """A 2-D convolution written out with loops, for teaching.

    Computes what ``tf.nn.conv2d(images, kernels, strides, padding.upper())``
    does: a cross-correlation (the kernel is not flipped), no bias. "same"
    padding adds zeros like TensorFlow, the odd one at the bottom/right.

    Args:
        images: (N, H, W, C_in) array.
        kernels: (kh, kw, C_in, C_out) array (HWIO).
        strides: int or (stride_h, stride_w).
        padding: "valid" or "same".

    Returns:
        float array of shape (N, out_h, out_w, C_out), with out_h, out_w from
        :func:`output_size`.

    Example:
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> conv2d_numpy(x, np.ones((2, 2, 1, 1)), strides=2)[0, ..., 0]
        array([[10., 18.],
               [42., 50.]])
    """
    images = checks.image_batch(images)
    kernels = checks.shaped(kernels, "kernels", ("kernel_h", "kernel_w", images.shape[3], "out_channels"),
                            "in_channels = images.shape[-1]")
    padding = checks.padding(padding)
    strides = checks.pair(strides, "strides")
    kh, kw = kernels.shape[:2]
    out_h, out_w = output_shape_2d(images.shape[1:3], (kh, kw), strides, padding)
    padded = _pad(images.astype(np.float64), (kh, kw), strides, padding, 0.0)
    out = np.zeros((images.shape[0], out_h, out_w, kernels.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * strides[0], j * strides[1]
            patch = padded[:, top:top + kh, left:left + kw, :]  # (N, kh, kw, C_in)
            # each output channel: sum over the patch of patch * its kernel
            out[:, i, j, :] = np.tensordot(patch, kernels, axes=([1, 2, 3], [0, 1, 2]))
    return out


def pool2d_numpy(images, pool=2, stride=None, padding: str = "valid", mode: str = "max") -> np.ndarray:
    """Max or average pooling written out with loops, for teaching.

    Equals Keras' ``MaxPooling2D`` / ``AveragePooling2D``. With "same"
    padding the padded cells are ignored (they never win a max and are not
    counted in an average), as in TensorFlow.

    Args:
        images: (N, H, W, C) array.
        pool: int or (pool_h, pool_w).
        stride: int or pair; default ``pool`` (non-overlapping windows).
        padding: "valid" or "same".
        mode: "max" or "avg".

    Returns:
        float array of shape (N, out_h, out_w, C).

    Example:
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> pool2d_numpy(x, 2)[0, ..., 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    images = checks.image_batch(images)
    checks.one_of(mode, "mode", ("max", "avg"))
    padding = checks.padding(padding)
    pool = checks.pair(pool, "pool")
    stride = pool if stride is None else checks.pair(stride, "stride")
    out_h, out_w = output_shape_2d(images.shape[1:3], pool, stride, padding)
    padded = _pad(images.astype(np.float64), pool, stride, padding, np.nan)  # NaN = "not there"
    reduce = np.nanmax if mode == "max" else np.nanmean
    out = np.zeros((images.shape[0], out_h, out_w, images.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride[0], j * stride[1]
            window = padded[:, top:top + pool[0], left:left + pool[1], :]
            out[:, i, j, :] = reduce(window, axis=(1, 2))
    return out


def line_filters(size: int = 7, channels: int = 3) -> np.ndarray:
    """Two hand-made filters: a vertical and a horizontal white line.

    Args:
        size: kernel side (odd, so the line can sit in the middle).
        channels: input channels (3 for RGB); the line is the same in each.

    Returns:
        float32 (size, size, channels, 2) in HWIO layout: output channel 0
        is ones on the middle column (responds to vertical lines), channel 1
        ones on the middle row (horizontal lines), zeros elsewhere.

    Example:
        >>> line_filters(3, channels=1)[..., 0, 0]
        array([[0., 1., 0.],
               [0., 1., 0.],
               [0., 1., 0.]], dtype=float32)
    """
    size = checks.positive_int(size, "size")
    channels = checks.positive_int(channels, "channels")
    checks.odd(size, "size", "so the line has a middle column and row")
    filters = np.zeros((size, size, channels, 2), np.float32)
    filters[:, size // 2, :, 0] = 1.0
    filters[size // 2, :, :, 1] = 1.0
    return filters


# ----------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="homl_cv")
class DepthwiseMaxPool2D(keras.layers.Layer):
    """Max pooling across channels: keeps the largest of each group of
    ``pool_size`` consecutive channels.

    Input ``(batch, height, width, channels)`` with ``channels`` divisible by
    ``pool_size``; output ``(batch, height, width, channels // pool_size)``.
    Height and width are untouched. It is built from ``reshape`` + ``max`` in
    ``keras.ops``, so it runs on any backend and on GPUs (``tf.nn.max_pool``
    with a depth window is CPU-only).

    Args:
        pool_size: channels per group, >= 1.

    Example:
        >>> x = np.arange(6, dtype="float32").reshape(1, 1, 1, 6)
        >>> keras.ops.convert_to_numpy(DepthwiseMaxPool2D(pool_size=3)(x)).ravel()
        array([2., 5.], dtype=float32)
    """

    def __init__(self, pool_size: int = 2, **kwargs):  # pragma: no mutate block
        super().__init__(**kwargs)
        self.pool_size = checks.positive_int(pool_size, "pool_size")

    def _groups(self, channels) -> int:
        if channels is None:
            raise ValueError(
                "DepthwiseMaxPool2D needs a known number of channels (the last axis); "
                "give the Input a fixed channel count."
            )
        if channels % self.pool_size:
            raise ValueError(
                f"DepthwiseMaxPool2D: the input has {channels} channels, which is not "
                f"divisible by pool_size={self.pool_size}; use a pool_size that divides "
                f"the channel count."
            )
        return channels // self.pool_size

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"DepthwiseMaxPool2D expects inputs of shape (batch, height, width, channels); "
                f"got input_shape={tuple(input_shape)}."
            )
        self._groups(input_shape[-1])

    def call(self, inputs):
        groups = self._groups(inputs.shape[-1])
        batch, height, width = ops.shape(inputs)[:3]
        grouped = ops.reshape(inputs, (batch, height, width, groups, self.pool_size))
        return ops.max(grouped, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self._groups(input_shape[-1]))

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}
