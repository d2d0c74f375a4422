"""Semantic segmentation: transposed convolution, un-pooling, FCN, U-Net, metrics, training.

Five parts, in the order chapter 06 uses them:

* **Upsampling.** :func:`conv_transpose_output_size` (the output-size formula,
  ``output_padding`` included) and two teaching versions of a transposed
  convolution, both equal to ``keras.layers.Conv2DTranspose`` with the same
  kernel: :func:`conv_transpose_scatter` (each input pixel stamps a scaled
  copy of the kernel onto the output) and :func:`conv_transpose_zero_insertion`
  (spread the input apart with zeros, then run an ordinary convolution with
  the flipped kernel). :class:`MaxPoolingWithArgmax2D` and
  :class:`MaxUnpooling2D` un-pool by putting each value back where the
  maximum came from; :class:`BilinearInitializer` makes a transposed
  convolution start as bilinear interpolation.
* **Models.** :func:`build_fcn` (FCN-32s, FCN-16s, FCN-8s on a small VGG-like
  backbone) and :func:`build_unet`. Both output per-pixel logits of shape
  ``(batch, H, W, num_classes)``.
* **Metrics and losses.** :func:`iou_per_class`, :func:`mean_iou`,
  :func:`dice_per_class`, :func:`boundary_mask`, :func:`evaluate_segmentation`
  and the soft :class:`DiceLoss`. Training uses Keras' per-pixel
  ``SparseCategoricalCrossentropy(from_logits=True)`` and
  ``keras.metrics.MeanIoU(..., sparse_y_pred=False)``.
* **Training.** :func:`train_segmentation` compiles and fits a per-pixel
  classifier and returns a :class:`homl_cv.training.TrainedModel`.
* **Data.** :func:`load_segmentation_data`: Oxford-IIIT Pets from tfds
  online, the generated shapes of :func:`homl_cv.data.make_shapes` offline.

Example:
    >>> import numpy as np
    >>> conv_transpose_output_size(2, kernel_size=3, strides=2)
    5
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    >>> conv_transpose_scatter(x, np.ones((3, 3, 1, 1)), strides=2)[0, :, :, 0]
    array([[ 1.,  1.,  3.,  2.,  2.],
           [ 1.,  1.,  3.,  2.,  2.],
           [ 4.,  4., 10.,  6.,  6.],
           [ 3.,  3.,  7.,  4.,  4.],
           [ 3.,  3.,  7.,  4.,  4.]])
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from homl_cv import checks, config, datasets, distribute, sources, training
from homl_cv import data as data_lib

__all__ = [
    "BilinearInitializer",
    "DiceLoss",
    "FCN_VARIANTS",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "SegmentationScores",
    "SegmentationSplits",
    "bilinear_kernel",
    "boundary_mask",
    "build_fcn",
    "build_unet",
    "build_unet_encoder",
    "confusion_counts",
    "conv_transpose_output_size",
    "conv_transpose_scatter",
    "conv_transpose_zero_insertion",
    "dataset_arrays",
    "dice_per_class",
    "evaluate_segmentation",
    "insert_zeros",
    "iou_per_class",
    "load_segmentation_data",
    "mean_iou",
    "predict_masks",
    "shapes_segmentation_splits",
    "train_segmentation",
]


# ============================================================ transposed convolution
def conv_transpose_output_size(input_size: int, kernel_size: int, strides: int = 1,
                               padding: str = "valid", output_padding=None) -> int:
    """Length of a transposed convolution's output along one axis (Keras' rule).

    With ``n = input_size``, ``k = kernel_size``, ``s = strides``:

    * ``output_padding=None``: ``padding="valid"`` gives ``(n - 1) * s + max(k, s)``
      and ``padding="same"`` gives ``n * s`` (the inverse of a "same" convolution).
    * with an ``output_padding`` ``p`` (``0 <= p < s``): "valid" gives
      ``(n - 1) * s + k + p`` and "same" gives ``(n - 1) * s + k - 2 * (k // 2) + p``.

    ``output_padding`` exists because a strided convolution maps several
    input sizes to the same output size (with stride 2, both 7 and 8 give 4):
    it says which of them the transposed convolution should give back.

    Raises:
        ValueError: for a size, kernel or stride below 1, an unknown padding,
            or ``output_padding`` outside ``[0, strides)``.
    """
    for name, value in (("input_size", input_size), ("kernel_size", kernel_size), ("strides", strides)):
        checks.positive_int(value, name)
    padding = checks.padding(padding)
    if output_padding is not None:
        checks.int_in(output_padding, "output_padding", 0, strides - 1, f"less than strides={strides}")
    n, k, s = int(input_size), int(kernel_size), int(strides)
    if output_padding is None:
        return (n - 1) * s + max(k, s) if padding == "valid" else n * s
    if padding == "valid":
        return (n - 1) * s + k + output_padding
    return (n - 1) * s + k - 2 * (k // 2) + output_padding


def _crop_start(n: int, k: int, s: int, padding: str, out: int) -> int:
    """Rows cut from the top of the full ``(n - 1) * s + k`` output (TensorFlow's rule)."""
    if padding == "valid":
        return 0
    return max((n - 1) * s + k - out, 0) // 2


def _check_transpose_args(inputs, kernel, strides, padding, output_padding):
    inputs = checks.shaped(inputs, "inputs", ("batch", "H", "W", "C_in"), dtype=np.float64)
    kernel = checks.shaped(kernel, "kernel", ("kh", "kw", "C_out", inputs.shape[3]),
                           f"as in Conv2DTranspose.kernel: C_in={inputs.shape[3]} last", dtype=np.float64)
    strides = checks.pair(strides, "strides")
    padding = checks.padding(padding)
    pads = (None, None) if output_padding is None else checks.pair(output_padding, "output_padding", minimum=0)
    sizes = tuple(conv_transpose_output_size(inputs.shape[1 + a], kernel.shape[a], strides[a],
                                             padding, pads[a]) for a in range(2))
    starts = tuple(_crop_start(inputs.shape[1 + a], kernel.shape[a], strides[a], padding, sizes[a])
                   for a in range(2))
    return inputs, kernel, strides, sizes, starts


def conv_transpose_scatter(inputs, kernel, strides=1, padding="valid", output_padding=None) -> np.ndarray:
    """Transposed convolution as scatter-add: every input pixel stamps the kernel.

    Input pixel ``(i, j)`` adds ``kernel * inputs[:, i, j]`` to the output
    window whose top-left corner is ``(i * sh, j * sw)``; overlapping stamps add
    up. That builds the full ``((H - 1) * sh + kh, (W - 1) * sw + kw)`` map;
    "same" padding then crops it (TensorFlow's rule: the extra rows go to the
    bottom/right) to :func:`conv_transpose_output_size`.

    Args:
        inputs: (batch, H, W, C_in).
        kernel: (kh, kw, C_out, C_in), the layout of ``Conv2DTranspose.kernel``.
        strides, padding, output_padding: as in ``keras.layers.Conv2DTranspose``.

    Returns:
        float64 array (batch, H_out, W_out, C_out).
    """
    x, kernel, (sh, sw), (out_h, out_w), (top, left) = _check_transpose_args(
        inputs, kernel, strides, padding, output_padding)
    batch, height, width, _ = x.shape
    kh, kw, c_out, _ = kernel.shape
    full = np.zeros((batch, max((height - 1) * sh + kh, top + out_h),
                     max((width - 1) * sw + kw, left + out_w), c_out))
    for i in range(height):
        for j in range(width):
            stamp = np.einsum("bc,hwoc->bhwo", x[:, i, j, :], kernel)
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :] += stamp
    return full[:, top:top + out_h, left:left + out_w, :]


def insert_zeros(inputs, strides=2) -> np.ndarray:
    """Spread pixels apart: ``strides - 1`` zeros between neighbours.

    (batch, H, W, C) -> (batch, (H - 1) * sh + 1, (W - 1) * sw + 1, C).
    """
    x = np.asarray(inputs)
    sh, sw = checks.pair(strides, "strides")
    checks.shaped(x, "inputs", ("batch", "H", "W", "C"))
    out = np.zeros((x.shape[0], (x.shape[1] - 1) * sh + 1, (x.shape[2] - 1) * sw + 1, x.shape[3]),
                   dtype=x.dtype)
    out[:, ::sh, ::sw, :] = x
    return out


def conv_transpose_zero_insertion(inputs, kernel, strides=1, padding="valid",
                                  output_padding=None) -> np.ndarray:
    """Transposed convolution as zero insertion followed by an ordinary convolution.

    1. :func:`insert_zeros` with the stride;
    2. pad by ``kh - 1`` rows (fewer where "same" padding crops, more at the
       bottom/right for ``output_padding``), likewise for columns;
    3. ``tf.nn.conv2d`` with stride 1, "valid" padding and the kernel flipped
       in both spatial directions, its input/output channels swapped.

    Args and returns: as :func:`conv_transpose_scatter`.
    """
    import tensorflow as tf

    x, kernel, _, (out_h, out_w), (top, left) = _check_transpose_args(
        inputs, kernel, strides, padding, output_padding)
    kh, kw = kernel.shape[:2]
    spread = insert_zeros(x, strides)
    # Pad (or crop, where a pad comes out negative) so that a "valid" kh x kw
    # convolution leaves exactly out_h x out_w pixels.
    pad_top, pad_left = kh - 1 - top, kw - 1 - left
    pad_bottom = out_h + kh - 1 - spread.shape[1] - pad_top
    pad_right = out_w + kw - 1 - spread.shape[2] - pad_left
    spread = np.pad(spread, ((0, 0), (max(pad_top, 0), max(pad_bottom, 0)),
                             (max(pad_left, 0), max(pad_right, 0)), (0, 0)))
    spread = spread[:, max(-pad_top, 0):spread.shape[1] - max(-pad_bottom, 0),
                    max(-pad_left, 0):spread.shape[2] - max(-pad_right, 0)]
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)  # (kh, kw, C_in, C_out)
    return tf.nn.conv2d(spread, flipped, strides=1, padding="VALID").numpy()


def bilinear_kernel(kernel_size: int, channels: int = 1) -> np.ndarray:
    """A (k, k, channels, channels) kernel that upsamples bilinearly.

    Used with ``Conv2DTranspose(kernel_size=2 * s, strides=s, padding="same")``
    for an even ``s``, it reproduces bilinear resizing (``tf.image.resize``)
    away from the borders; each channel is upsampled on its own.
    """
    checks.positive_int(kernel_size, "kernel_size")
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    ramp = 1 - np.abs(np.arange(kernel_size) - center) / factor
    weights = np.outer(ramp, ramp).astype(np.float32)
    kernel = np.zeros((kernel_size, kernel_size, channels, channels), np.float32)
    kernel[:, :, np.arange(channels), np.arange(channels)] = weights[:, :, None]
    return kernel


@keras.saving.register_keras_serializable(package="homl_cv")
class BilinearInitializer(keras.initializers.Initializer):
    """Initializes a ``Conv2DTranspose`` kernel to bilinear upsampling.

    The kernel must be square with as many input as output channels. FCNs
    start their upsampling layers this way and let training refine them.

    Example:
        >>> up = keras.layers.Conv2DTranspose(
        ...     3, kernel_size=4, strides=2, padding="same",
        ...     kernel_initializer=BilinearInitializer(), use_bias=False)
    """

    def __call__(self, shape, dtype=None):
        kh, kw, c_out, c_in = shape
        if kh != kw or c_out != c_in:
            raise ValueError(
                f"BilinearInitializer needs a square kernel with as many input as output "
                f"channels; got kernel shape {tuple(shape)}."
            )
        return keras.ops.convert_to_tensor(bilinear_kernel(kh, c_out), dtype=dtype)

    def get_config(self):
        return {}


# ============================================================ un-pooling
@keras.saving.register_keras_serializable(package="homl_cv")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """Max pooling that also returns where each maximum was.

    Returns ``(pooled, argmax)``: ``pooled`` as ``keras.layers.MaxPooling2D``
    gives it and ``argmax`` (int64, same shape) the flat index
    ``((b * H + y) * W + x) * C + c`` of each maximum in the input, which
    :class:`MaxUnpooling2D` uses to put values back (``tf.nn.max_pool_with_argmax``).

    Example:
        >>> inputs = keras.Input((4, 4, 3))
        >>> pooled, argmax = MaxPoolingWithArgmax2D()(inputs)
        >>> restored = MaxUnpooling2D()([pooled, argmax])
        >>> tuple(restored.shape)
        (None, 4, 4, 3)
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):  # pragma: no mutate block
        super().__init__(**kwargs)
        self.pool_size = checks.pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else checks.pair(strides, "strides")
        self.padding = checks.padding(padding)

    def call(self, inputs):
        import tensorflow as tf

        pooled, argmax = tf.nn.max_pool_with_argmax(
            inputs, ksize=self.pool_size, strides=self.strides, padding=self.padding.upper(),
            include_batch_in_index=True)
        return pooled, tf.stop_gradient(argmax)

    def compute_output_spec(self, inputs):
        def size(n, k, s):
            if n is None:
                return None
            return -(-n // s) if self.padding == "same" else (n - k) // s + 1

        b, h, w, c = inputs.shape
        shape = (b, size(h, self.pool_size[0], self.strides[0]),
                 size(w, self.pool_size[1], self.strides[1]), c)
        return (keras.KerasTensor(shape, dtype=inputs.dtype), keras.KerasTensor(shape, dtype="int64"))

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


@keras.saving.register_keras_serializable(package="homl_cv")
class MaxUnpooling2D(keras.layers.Layer):
    """Un-pooling: each value goes back to where its max-pooling maximum came from.

    Called on ``[values, argmax]`` from :class:`MaxPoolingWithArgmax2D`; the
    output is ``size`` times larger (all other pixels are 0). Use the same
    ``size`` as the pooling's stride, on inputs whose sides it divides.

    Example:
        >>> inputs = keras.Input((8, 8, 16))
        >>> pooled, argmax = MaxPoolingWithArgmax2D(2)(inputs)
        >>> tuple(MaxUnpooling2D(2)([pooled, argmax]).shape)
        (None, 8, 8, 16)
    """

    def __init__(self, size=2, **kwargs):  # pragma: no mutate block
        super().__init__(**kwargs)
        self.size = checks.pair(size, "size")

    def call(self, inputs):
        import tensorflow as tf

        values, argmax = inputs
        shape = tf.shape(values, out_type=tf.int64)
        out_shape = tf.stack([shape[0], shape[1] * self.size[0], shape[2] * self.size[1], shape[3]])
        flat = tf.scatter_nd(tf.reshape(argmax, (-1, 1)), tf.reshape(values, (-1,)),
                             tf.reduce_prod(out_shape, keepdims=True))
        return tf.reshape(flat, out_shape)

    def compute_output_spec(self, inputs):
        values = inputs[0]
        b, h, w, c = values.shape
        shape = (b, None if h is None else h * self.size[0], None if w is None else w * self.size[1], c)
        return keras.KerasTensor(shape, dtype=values.dtype)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


# ============================================================ models
FCN_VARIANTS = {"32s": 32, "16s": 16, "8s": 8}


def _conv_block(x, filters: int, convs: int, name: str):
    """``convs`` x (3x3 convolution, batch norm, ReLU), keeping the size.

    The batch-norm momentum is 0.9 (not Keras' 0.99) so that the running
    statistics used at inference catch up within the few hundred steps of a
    quick run.
    """
    for i in range(convs):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{i + 1}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{i + 1}")(x)
    return x


def _upsample(x, channels: int, factor: int, name: str):
    """Transposed convolution by ``factor``, started as bilinear interpolation."""
    return keras.layers.Conv2DTranspose(
        channels, kernel_size=2 * factor, strides=factor, padding="same", use_bias=False,
        kernel_initializer=BilinearInitializer(), name=name)(x)


def build_fcn(num_classes: int, input_shape=(64, 64, 3), variant: str = "8s",
              filters=(8, 16, 32, 64, 64), convs_per_block=(1, 1, 1, 1, 1), head_filters: int = 64,
              name=None) -> keras.Model:
    """A fully convolutional network (Long et al., 2015) on a small VGG-like backbone.

    The backbone has five blocks (convolutions, then 2x2 max pooling), so its
    last map ("pool5") is 32 times smaller than the image. A 1x1 convolution
    scores every position of it for each class, then:

    * "32s": one transposed convolution upsamples the scores by 32;
    * "16s": upsample by 2, add the scores of pool4 (stride 16), upsample by 16;
    * "8s": as 16s, then upsample by 2 again, add the scores of pool3 (stride
      8), upsample by 8.

    The skips bring back the fine detail the pooling threw away. Every
    upsampling layer starts as bilinear interpolation.

    Args:
        num_classes: classes per pixel (background included).
        input_shape: (H, W, C) with H and W multiples of 32.
        variant: "32s", "16s" or "8s".
        filters, convs_per_block: the five backbone blocks.
        head_filters: width of the 3x3 convolution on pool5 (the "fc" layer).

    Returns:
        A model mapping (batch, H, W, C) images to (batch, H, W, num_classes) logits.

    Raises:
        ValueError: unknown variant, or H, W not multiples of 32.
    """
    checks.one_of(variant, "variant", FCN_VARIANTS)
    checks.same_length(("filters", filters), ("convs_per_block", convs_per_block), ("VGG's 5 blocks", range(5)),
                       why="one entry per block")
    shape = checks.input_shape(input_shape, multiple_of=32, model=f"FCN-{variant}")
    inputs = keras.Input(shape, name="image")
    x, pools = inputs, []
    for block, (width, convs) in enumerate(zip(filters, convs_per_block), start=1):
        x = _conv_block(x, width, convs, f"block{block}")
        x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
        pools.append(x)
    x = _conv_block(x, head_filters, 1, "fc")
    scores = keras.layers.Conv2D(num_classes, 1, name="score_pool5")(x)
    stride = 32
    for level in (4, 3):  # pool4 (stride 16), then pool3 (stride 8)
        if stride == FCN_VARIANTS[variant]:
            break
        up = _upsample(scores, num_classes, 2, f"up_to_pool{level}")
        skip = keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros",
                                   name=f"score_pool{level}")(pools[level - 1])
        scores = keras.layers.Add(name=f"fuse_pool{level}")([up, skip])
        stride //= 2
    logits = _upsample(scores, num_classes, stride, f"up_x{stride}")
    return keras.Model(inputs, logits, name=name or f"fcn_{variant}")


def _encoder_path(inputs, filters):
    """The U-Net's contracting path on ``inputs``: [level 1 map, ..., bottom map]."""
    x, maps = inputs, []
    for level, width in enumerate(filters[:-1], start=1):
        x = _conv_block(x, width, 2, f"down{level}")
        maps.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{level}")(x)
    maps.append(_conv_block(x, filters[-1], 2, "bottom"))
    return maps


def _unet_shape(input_shape, filters):
    """Check the levels and the image size; return the (H, W, C) shape."""
    checks.int_at_least(len(filters), "len(filters)", 2, "U-Net levels: one per resolution")
    return checks.input_shape(input_shape, multiple_of=2 ** (len(filters) - 1),
                              model=f"this U-Net ({len(filters)} levels)")


def build_unet_encoder(input_shape=(64, 64, 3), filters=(8, 16, 32, 64), name: str = "unet_encoder") -> keras.Model:
    """The contracting half of :func:`build_unet` as a model of its own.

    The same layers (and names) as the U-Net's encoder: ``len(filters)``
    levels of two 3x3 convolutions with batch norm, 2x2 max pooling between
    them. It returns every level's map, because the decoder needs them all
    (the skips). Train it first as the base of a classifier (global average
    pooling of the last map, a dense layer), then pass it to
    ``build_unet(encoder=...)``: the U-Net shares its layers, weights and all.

    Args:
        input_shape: (H, W, C), H and W multiples of ``2 ** (len(filters) - 1)``.
        filters: widths per level, top (full resolution) to bottom.

    Returns:
        A model mapping (batch, H, W, C) images to a list of ``len(filters)``
        maps, level ``l`` of shape (batch, H / 2**l, W / 2**l, filters[l]).

    Example:
        >>> encoder = build_unet_encoder((32, 32, 3), filters=(4, 8, 16))
        >>> [shape[1:] for shape in encoder.output_shape]
        [(32, 32, 4), (16, 16, 8), (8, 8, 16)]
    """
    inputs = keras.Input(_unet_shape(input_shape, filters), name="image")
    return keras.Model(inputs, _encoder_path(inputs, filters), name=name)


def build_unet(num_classes: int, input_shape=None, filters=None, encoder=None,
               name: str = "unet") -> keras.Model:
    """A U-Net (Ronneberger et al., 2015), with "same" padding so no cropping is needed.

    The encoder has ``len(filters)`` levels of two 3x3 convolutions, with 2x2
    max pooling between levels (total stride ``2 ** (len(filters) - 1)``). The
    decoder climbs back: a 2x2 stride-2 transposed convolution, concatenation
    with the encoder map of the same size (the skip connection), two 3x3
    convolutions. A 1x1 convolution gives the class logits.

    Args:
        num_classes: classes per pixel (background included).
        input_shape: (H, W, C), H and W multiples of the total stride
            (default (64, 64, 3), or the encoder's).
        filters: widths per level, top (full resolution) to bottom (default
            (8, 16, 32, 64), or the encoder's).
        encoder: ``None`` builds a new encoder. Or a model from
            :func:`build_unet_encoder`, e.g. one trained as a classifier's
            base: the U-Net then calls it (shares its weights; set
            ``encoder.trainable = False`` to freeze them) and builds only the
            decoder. To fine-tune it later, ``training.unfreeze(encoder)``
            keeps its batch norms frozen (in inference mode, with the
            statistics of the data it was trained on). Leave ``input_shape``
            and ``filters`` out then, or give the encoder's.

    Returns:
        A model mapping (batch, H, W, C) images to (batch, H, W, num_classes) logits.

    Raises:
        ValueError: fewer than 2 levels, H, W not multiples of the total stride,
            or an encoder that is not one from :func:`build_unet_encoder` or
            disagrees with ``input_shape`` or ``filters``.
    """
    if encoder is None:
        filters = (8, 16, 32, 64) if filters is None else filters
        inputs = keras.Input(_unet_shape((64, 64, 3) if input_shape is None else input_shape, filters), name="image")
        *skips, x = _encoder_path(inputs, filters)
    else:
        shape, widths = _encoder_layout(encoder)
        for arg, given, own in (("input_shape", input_shape, shape), ("filters", filters, widths)):
            if given is not None and tuple(given) != own:
                raise ValueError(f"{arg}={tuple(given)}, but the encoder {encoder.name!r} has {arg}={own}; "
                                 f"leave {arg} out when you pass an encoder.")
        filters = widths
        inputs = keras.Input(shape, name="image")
        *skips, x = encoder(inputs)
    for level in range(len(filters) - 1, 0, -1):
        width = filters[level - 1]
        x = keras.layers.Conv2DTranspose(width, 2, strides=2, name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([skips[level - 1], x])
        x = _conv_block(x, width, 2, f"dec{level}")
    logits = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def _encoder_layout(encoder):
    """``(input_shape, filters)`` of a :func:`build_unet_encoder` model, or a clear error."""
    outputs = getattr(encoder, "output_shape", None)
    if (not isinstance(encoder, keras.Model) or not isinstance(outputs, list) or len(outputs) < 2
            or not isinstance(outputs[0][1], int)  # a fixed image size, as build_unet_encoder gives
            or any(len(shape) != 4 or shape[1] != outputs[0][1] >> level for level, shape in enumerate(outputs))):
        what = encoder.name if isinstance(encoder, keras.Model) else type(encoder).__name__
        raise ValueError(f"encoder={what!r} must be a model from build_unet_encoder "
                         f"(one feature map per level, each half the size of the one before), "
                         f"e.g. encoder=seg.build_unet_encoder((64, 64, 3), filters).")
    return tuple(encoder.input_shape[1:]), tuple(shape[-1] for shape in outputs)


# ============================================================ metrics and losses
def _labels(y, name: str) -> np.ndarray:
    return checks.integers(y, name, "class ids: use argmax on logits first")


def confusion_counts(y_true, y_pred, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) pixel counts, rows = true class, columns = predicted."""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    checks.same_shape(("y_true", y_true), ("y_pred", y_pred))
    checks.int_at_least(num_classes, "num_classes", 1)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        checks.class_ids(y, name, num_classes)
    flat = y_true.ravel().astype(np.int64) * num_classes + y_pred.ravel()
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_per_class(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Intersection over union of each class's pixels: ``|T & P| / |T | P|``.

    Args:
        y_true, y_pred: integer masks of one shape, e.g. (N, H, W).

    Returns:
        float (num_classes,), NaN for a class in neither mask.
    """
    return _iou_from_counts(confusion_counts(y_true, y_pred, num_classes))


def _iou_from_counts(cm) -> np.ndarray:
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, np.nan)


def mean_iou(y_true, y_pred, num_classes: int) -> float:
    """Mean of :func:`iou_per_class` over the classes present (as ``keras.metrics.MeanIoU``).

    A class absent from both masks (union 0) has no IoU and is left out of
    the mean, as ``keras.metrics.MeanIoU`` does (tested); a class present in
    only one of them counts with IoU 0.
    """
    return float(np.nanmean(iou_per_class(y_true, y_pred, num_classes)))


def dice_per_class(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Dice coefficient (F1 score) of each class's pixels: ``2 |T & P| / (|T| + |P|)``.

    Returns:
        float (num_classes,), NaN for a class in neither mask. Dice relates to
        IoU by ``dice = 2 IoU / (1 + IoU)``.
    """
    return _dice_from_counts(confusion_counts(y_true, y_pred, num_classes))


def _dice_from_counts(cm) -> np.ndarray:
    inter = np.diag(cm).astype(np.float64)
    total = cm.sum(0) + cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * inter / total, np.nan)


@keras.saving.register_keras_serializable(package="homl_cv")
class DiceLoss(keras.losses.Loss):
    """Soft Dice loss: ``1 - mean over classes of (2 sum(p y) + eps) / (sum(p) + sum(y) + eps)``.

    ``p`` are the predicted class probabilities and ``y`` the one-hot labels,
    summed over the pixels of each image (``per_image=True``) or over every
    pixel of the batch (``per_image=False``, nnU-Net's "batch Dice"). Unlike
    cross-entropy, it weighs a small class as much as the background, which
    helps when objects are tiny.

    Per image, a class absent from an image scores ``eps / (sum(p) + eps)``:
    any probability the model spreads on it costs almost a whole class's
    share of the loss, so on images with few of the classes the loss mostly
    pushes the object classes down. Over the batch, every class is usually
    present, and the loss measures how well each class's pixels overlap over
    all the images. (Chapter 06's U-Net cleared its bar from 5 of 5 initial
    weights with batch Dice over batches of 8, 5 of 7 over batches of 16, and
    3 of 6 with per-image Dice: BENCHMARKS.md.)

    Trained alone from scratch, it can get stuck predicting background
    everywhere (its gradient is tiny for a class whose probability is near 0),
    so it is usually added to the per-pixel cross-entropy (as in nnU-Net):
    ``cross_entropy=1.0`` adds that, averaged over each image's pixels.

    Args:
        from_logits: whether ``y_pred`` are logits (softmax is applied) or probabilities.
        smooth: the ``eps`` above, so empty classes give 1, not 0/0.
        cross_entropy: weight of the per-pixel cross-entropy added to the loss (0: Dice alone).
        per_image: Dice per image (the default) or over the whole batch.

    Shapes:
        ``y_true`` (batch, H, W) class ids (or (batch, H, W, 1)), ``y_pred``
        (batch, H, W, classes). The loss per example is (batch,); with
        ``per_image=False`` its Dice part is the batch's, the same for every example.

    Example:
        >>> loss = DiceLoss(from_logits=True)
        >>> y_true = np.array([[[0, 1]]])                # (batch, H, W) class ids
        >>> y_pred = np.array([[[[9.0, -9.0], [-9.0, 9.0]]]])  # (batch, H, W, classes)
        >>> round(float(loss(y_true, y_pred)), 3)
        0.0
    """

    def __init__(self, from_logits: bool = False, smooth: float = 1.0, cross_entropy: float = 0.0,
                 per_image: bool = True, name: str = "dice_loss", **kwargs):  # pragma: no mutate block
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits
        self.smooth = smooth
        self.cross_entropy = float(cross_entropy)
        self.per_image = checks.one_of(per_image, "per_image", (True, False))

    def call(self, y_true, y_pred):
        ops = keras.ops
        probs = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(probs.shape):  # (..., 1) masks
            y_true = ops.squeeze(y_true, axis=-1)
        onehot = ops.one_hot(y_true, ops.shape(probs)[-1], dtype=probs.dtype)
        axes = tuple(range(1, len(probs.shape) - 1))            # the pixels of each image
        sum_axes = axes if self.per_image else (0,) + axes      # ... or of the whole batch
        inter = ops.sum(probs * onehot, axis=sum_axes)
        total = ops.sum(probs, axis=sum_axes) + ops.sum(onehot, axis=sum_axes)
        dice = (2 * inter + self.smooth) / (total + self.smooth)   # (batch, classes) or (classes,)
        loss = 1 - ops.mean(dice, axis=-1)
        if not self.per_image:                                  # the batch's Dice, for each example
            loss = ops.broadcast_to(loss, ops.shape(probs)[:1])
        if self.cross_entropy:
            per_pixel = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
            loss = loss + self.cross_entropy * ops.mean(per_pixel, axis=axes)
        return loss

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "smooth": self.smooth,
                "cross_entropy": self.cross_entropy, "per_image": self.per_image}


def boundary_mask(masks, width: int = 1) -> np.ndarray:
    """Pixels within ``width`` pixels of a change of class (bool, same shape as ``masks``).

    Args:
        masks: integer masks (H, W) or (N, H, W).
    """
    from scipy import ndimage

    masks = _labels(masks, "masks")
    checks.shaped(masks, "masks", [("H", "W"), ("N", "H", "W")])
    checks.positive_int(width, "width")
    size = (2 * width + 1,) * 2 if masks.ndim == 2 else (1,) + (2 * width + 1,) * 2
    return ndimage.maximum_filter(masks, size=size) != ndimage.minimum_filter(masks, size=size)


@dataclasses.dataclass(frozen=True)
class SegmentationScores:
    """Scores of predicted masks against true ones (see :func:`evaluate_segmentation`)."""

    mean_iou: float
    class_iou: tuple
    pixel_accuracy: float
    boundary_accuracy: float
    mean_dice: float

    def summary(self, class_names=None) -> str:
        names = class_names or [str(i) for i in range(len(self.class_iou))]
        per_class = ", ".join(f"{n} {v:.2f}" for n, v in zip(names, self.class_iou))
        return (f"mean IoU {self.mean_iou:.3f} | pixel accuracy {self.pixel_accuracy:.3f} | "
                f"boundary accuracy {self.boundary_accuracy:.3f} | mean Dice {self.mean_dice:.3f}\n"
                f"  IoU per class: {per_class}")


def predict_masks(model, images, batch_size: int = 64) -> np.ndarray:
    """Class-id masks (N, H, W) int from a model that outputs per-pixel logits."""
    images = checks.model_images(model, images)
    batches = [model(images[i:i + batch_size], training=False) for i in range(0, len(images), batch_size)]
    return np.concatenate([np.argmax(np.asarray(b), axis=-1) for b in batches]).astype(np.int32)


def evaluate_segmentation(y_true, y_pred, num_classes: int, boundary_width: int = 1) -> SegmentationScores:
    """Mean IoU, per-class IoU, pixel accuracy, accuracy on boundary pixels, mean Dice.

    Args:
        y_true, y_pred: integer masks (N, H, W).
        boundary_width: the band around true class changes scored by
            ``boundary_accuracy`` (see :func:`boundary_mask`).
    """
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    counts = confusion_counts(y_true, y_pred, num_classes)  # once for IoU and Dice
    iou = _iou_from_counts(counts)
    edges = boundary_mask(y_true, boundary_width)
    return SegmentationScores(
        mean_iou=float(np.nanmean(iou)),
        class_iou=tuple(float(v) for v in iou),
        pixel_accuracy=float(np.mean(y_true == y_pred)),
        boundary_accuracy=float(np.mean(y_true[edges] == y_pred[edges])) if edges.any() else float("nan"),
        mean_dice=float(np.nanmean(_dice_from_counts(counts))),
    )


# ============================================================ training
def train_segmentation(model, train, valid=None, num_classes=None, epochs: int = 5, batch_size: int = 16,
                       learning_rate: float = 1e-2, loss=None, seed: int = 42, verbose="auto"):
    """Compile and train a per-pixel classifier (FCN, U-Net) on (image, mask) pairs.

    The loss is per-pixel sparse cross-entropy on logits (the mean over all
    pixels) unless ``loss`` says otherwise; the metrics are pixel accuracy and
    ``keras.metrics.MeanIoU`` on the arg-max of the logits. Adam with a cosine
    decay of the learning rate over all steps.

    Args:
        model: outputs (batch, H, W, num_classes) logits.
        train, valid: unbatched ``tf.data`` datasets of (image, mask) pairs,
            e.g. from :func:`load_segmentation_data`.
        num_classes: default: the model's last output dimension.
        epochs, batch_size, learning_rate: the usual; ``batch_size`` is per
            replica of the strategy the model was built under (global batch =
            ``batch_size`` x replicas; the learning rate is not scaled).
        loss: a Keras loss (e.g. ``DiceLoss(from_logits=True)``) to use instead.

    Returns:
        A :class:`homl_cv.training.TrainedModel`: ``model`` (the same object,
        trained) and ``history`` (``History.history``).
    """
    import tensorflow as tf

    num_classes = num_classes or model.output_shape[-1]
    size = int(train.cardinality())
    if size <= 0:
        raise ValueError("train must be a finite, non-empty dataset of (image, mask) pairs.")
    strategy = distribute.strategy_of(model)  # compile where the model's variables live
    batch_size = distribute.global_batch_size(batch_size, strategy)
    with strategy.scope():
        model.compile(
            optimizer=keras.optimizers.Adam(training.cosine_schedule(learning_rate, epochs, size, batch_size)),
            loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy", keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou")],
        )
    train = train.shuffle(size, seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    if valid is not None:
        valid = valid.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    history = model.fit(train, validation_data=valid, epochs=epochs, shuffle=False, verbose=verbose)
    return training.TrainedModel(model, history.history)


# ============================================================ data
@dataclasses.dataclass(frozen=True)
class SegmentationSplits:
    """Images with per-pixel labels, as train / valid / test ``tf.data`` datasets.

    Each element is ``(image, mask)``: float32 (H, W, 3) in [0, 1] and int32
    (H, W) class ids, unbatched. ``class_names[0]`` is the background.
    """

    train: object
    valid: object
    test: object
    class_names: tuple
    image_size: int
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def shapes_segmentation_splits(num_images: int = 1250, image_size: int = 64, max_objects: int = 2,
                               size_range=(0.15, 0.4), seed: int = 0,
                               fractions=(0.8, 0.1, 0.1)) -> SegmentationSplits:
    """:func:`homl_cv.data.make_shapes` images and masks as :class:`SegmentationSplits`.

    One or two shapes per image by default, each 15 % to 40 % of the image
    side, split 80/10/10 into train / valid / test. The images show outlines;
    the masks are the regions they enclose (``region_masks=True``), so the
    model paints whole objects, as on photos. At 20 % to 50 %, FCN-32s's
    coarse blobs covered the larger regions almost as well as FCN-8s's
    (mean IoU 0.65 against 0.72); at 15 % to 40 %, 0.56 against 0.74
    (BENCHMARKS.md, chapter 06).
    """
    import tensorflow as tf

    shapes = data_lib.make_shapes(num_images, image_size=image_size, max_objects=max_objects,
                                  size_range=size_range, seed=seed, region_masks=True)
    parts = [tf.data.Dataset.from_tensor_slices((part.images, part.masks.astype(np.int32)))
             for part in shapes.split(fractions)]
    return SegmentationSplits(*parts, class_names=("background",) + shapes.class_names,
                              image_size=image_size, source="generated shapes (homl_cv.data.make_shapes)")


def load_segmentation_data(image_size=None, offline: bool | None = None, data_dir=None,
                           num_shapes=None) -> SegmentationSplits:
    """Oxford-IIIT Pets online; generated shapes with exact masks offline.

    Online, tfds ``oxford_iiit_pet`` (3,680 training and 3,669 test photos of
    37 breeds with trimap masks) is resized to ``image_size`` (bilinear for
    photos, nearest for masks) and relabelled 0 background, 1 pet, 2 border;
    the last 10 % of the training split is held out for validation. In quick
    mode only a quarter of each split is used.

    Args:
        image_size: side of the square images; default 64 in quick mode, 128 otherwise.
        offline: ``None`` follows ``HOML_CV_OFFLINE``. Offline, the shapes of
            :func:`shapes_segmentation_splits` stand in (and a line says so).
        data_dir: the tfds data folder (default ``HOML_CV_DATA_DIR``).
        num_shapes: generated images offline (default 1,250 quick, 6,000 full).

    Raises:
        DownloadError: online, when the download fails.
    """
    image_size = image_size or config.pick(quick=64, full=128)
    if sources.resolve_offline(offline):
        num_shapes = num_shapes or config.pick(quick=1250, full=6000)
        sources.announce_stand_in(f"{num_shapes} generated {image_size}x{image_size} shape images with "
                                  f"exact masks instead of Oxford-IIIT Pets", "Offline")
        return shapes_segmentation_splits(num_shapes, image_size)
    import tensorflow as tf
    import tensorflow_datasets as tfds

    data_dir = sources.resolve_data_dir(data_dir)
    splits = config.pick(quick=("train[:22%]", "train[22%:25%]", "test[:25%]"),
                         full=("train[:90%]", "train[90%:]", "test"))
    datasets.require_download("oxford_iiit_pet", data_dir)  # seconds, not tfds' retries
    try:
        loaded = tfds.load("oxford_iiit_pet", split=list(splits), data_dir=str(data_dir))
    except Exception as exc:  # noqa: BLE001 - any failure becomes one clear error
        raise sources.download_error("oxford_iiit_pet", exc, data_dir) from exc
    relabel = tf.constant([0, 1, 0, 2], tf.int32)  # tfds trimap: 1 pet, 2 background, 3 border

    def prepare(example):
        image = tf.image.resize(example["image"], (image_size, image_size)) / 255.0
        mask = tf.image.resize(example["segmentation_mask"], (image_size, image_size), method="nearest")
        return image, tf.gather(relabel, tf.cast(mask[..., 0], tf.int32))

    train, valid, test = (ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE) for ds in loaded)
    pets = SegmentationSplits(train, valid, test, class_names=datasets.get("oxford_iiit_pet").class_names,
                              image_size=image_size,
                              source="tfds oxford_iiit_pet")
    if config.is_rehearsal():  # on the stand-in, check what the chapter relies on
        images, masks = dataset_arrays(pets.test, limit=4)
        data_lib.expect_dataset("oxford_iiit_pet (load_segmentation_data)", class_names=pets.class_names,
                                num_classes=3, masks=masks, mask_values=range(pets.num_classes),
                                images=images, image_shape=(image_size, image_size, 3))
    return pets


def dataset_arrays(dataset, limit=None):
    """``(images, masks)`` NumPy arrays from an unbatched (image, mask) dataset."""
    if limit is not None:
        dataset = dataset.take(limit)
    images, masks = zip(*((img.numpy(), msk.numpy()) for img, msk in dataset))
    return np.stack(images), np.stack(masks)
