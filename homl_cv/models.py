"""Model builders and custom layers for the chapters.

Every custom layer is registered with ``keras.saving.register_keras_serializable``
under the package name "homl_cv", has a ``get_config``, and round-trips through
a ``.keras`` file.

Example:
    >>> from homl_cv import models  # doctest: +SKIP
"""

from __future__ import annotations

import keras
import numpy as np

from homl_cv import checks, conv

__all__ = [
    "ConvNeXtBlock",
    "DenseBlock",
    "InceptionModule",
    "InvertedResidual",
    "LocalResponseNormalization",
    "PatchEmbedding",
    "RESNET34_STAGES",
    "ResidualUnit",
    "SEBlock",
    "XceptionBlock",
    "build_alexnet",
    "build_gap_cnn",
    "build_lenet5",
    "build_resnet34",
    "build_vgg16",
    "build_xception",
    "format_layer_table",
    "image_patches",
    "layer_table",
]


# ============================================================ 02 architectures
def _check_classifier_args(name: str, input_shape, num_classes, width: float = 1.0) -> tuple:
    """Validate the arguments every 02 builder takes; return ``input_shape`` as a tuple."""
    shape = checks.input_shape(input_shape)
    checks.int_at_least(num_classes, "num_classes", 2,
                        "the number of classes the softmax output chooses among")
    checks.positive_number(width, "width", f"a factor of {name}'s filters and units: 1.0 = the published size")
    return shape


def _check_image_size(name: str, input_shape: tuple, downsampling) -> None:
    """Raise if the image shrinks below 1 pixel on the way through the net.

    ``downsampling`` lists the spatial steps as ``(kernel, stride, padding)``;
    each step's output size is :func:`homl_cv.conv.output_size`. A "valid"
    step needs at least ``kernel`` pixels; a strided "same" step needs at
    least ``stride`` pixels (halving a 1-pixel map does nothing).
    """

    def fits(side: int) -> bool:
        for kernel, stride, padding in downsampling:
            if side < (kernel if padding == "valid" else stride):
                return False
            side = conv.output_size(side, kernel, stride, padding)
        return True

    smallest = next(s for s in range(1, 4096) if fits(s))
    height, width = input_shape[:2]
    if height < smallest or width < smallest:
        raise ValueError(
            f"{name}: input_shape={input_shape} is too small: its {len(downsampling)} "
            f"pooling/strided steps need images of at least {smallest}x{smallest} pixels. "
            f"Resize (or pad) the images, or use a network that downsamples less."
        )


def _scaled(count: int, width: float) -> int:
    """``count`` units or filters scaled by ``width``, at least 1."""
    return max(1, int(round(count * width)))


def _build_chain(layers, input_shape):
    """Build ``layers`` applied one after the other; return the output shape."""
    shape = input_shape
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


@keras.saving.register_keras_serializable(package="homl_cv")
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's local response normalization (LRN), across channels.

    Each activation ``a_i`` is divided by
    ``(bias + alpha * sum(a_j ** 2 for j within depth_radius of i)) ** beta``,
    so a strongly activated feature map damps its neighbours (in channel
    order) at the same pixel. A thin wrapper around
    ``tf.nn.local_response_normalization``; AlexNet used ``depth_radius=2``
    (5 maps), ``bias=2``, ``alpha=1e-4``, ``beta=0.75``. Shape unchanged:
    ``(N, H, W, C) -> (N, H, W, C)``.

    Example:
        >>> lrn = LocalResponseNormalization()
        >>> tuple(lrn(keras.ops.ones((1, 4, 4, 8))).shape)
        (1, 4, 4, 8)
    """

    def __init__(self, depth_radius: int = 2, bias: float = 2.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        if depth_radius < 0:
            raise ValueError(f"depth_radius={depth_radius} must be 0 or more.")
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        import tensorflow as tf

        return tf.nn.local_response_normalization(
            inputs, depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="homl_cv")
class InceptionModule(keras.layers.Layer):
    """GoogLeNet's inception module: four parallel branches, concatenated.

    Branches (all "same" padding, ReLU, stride 1):
    1x1 conv; 1x1 "bottleneck" then 3x3; 1x1 bottleneck then 5x5; 3x3 max
    pool then 1x1. Output: ``(N, H, W, filters_1x1 + filters_3x3 +
    filters_5x5 + filters_pool)``. The 1x1 bottlenecks cut the depth before
    the costly 3x3 and 5x5 convolutions.

    Example (GoogLeNet's "inception (3a)"):
        >>> block = InceptionModule(64, 96, 128, 16, 32, 32)
        >>> tuple(block(keras.ops.zeros((1, 28, 28, 192))).shape)
        (1, 28, 28, 256)
    """

    def __init__(self, filters_1x1: int, filters_3x3_reduce: int, filters_3x3: int,
                 filters_5x5_reduce: int, filters_5x5: int, filters_pool: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = (filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce,
                        filters_5x5, filters_pool)
        if not all(isinstance(f, int) and f > 0 for f in self.filters):
            raise ValueError(f"InceptionModule: filter counts {self.filters} must be positive integers.")

        def conv(filters, size):
            return keras.layers.Conv2D(filters, size, padding="same", activation="relu")

        # One Sequential per branch: Keras 3.13 does not save the weights of layers
        # held in a list of lists, so a reloaded model predicted differently (issue 26).
        self.branches = [
            keras.Sequential([conv(filters_1x1, 1)], name="branch_1x1"),
            keras.Sequential([conv(filters_3x3_reduce, 1), conv(filters_3x3, 3)], name="branch_3x3"),
            keras.Sequential([conv(filters_5x5_reduce, 1), conv(filters_5x5, 5)], name="branch_5x5"),
            keras.Sequential([keras.layers.MaxPooling2D(3, strides=1, padding="same"),
                              conv(filters_pool, 1)], name="branch_pool"),
        ]

    def build(self, input_shape):
        for branch in self.branches:
            branch.build(input_shape)
        self.built = True

    def call(self, inputs):
        return keras.ops.concatenate([branch(inputs) for branch in self.branches], axis=-1)

    def compute_output_shape(self, input_shape):
        f1, _, f3, _, f5, fp = self.filters
        return (*input_shape[:-1], f1 + f3 + f5 + fp)

    def get_config(self):
        names = ("filters_1x1", "filters_3x3_reduce", "filters_3x3", "filters_5x5_reduce",
                 "filters_5x5", "filters_pool")
        return {**super().get_config(), **dict(zip(names, self.filters))}


@keras.saving.register_keras_serializable(package="homl_cv")
class SEBlock(keras.layers.Layer):
    """Squeeze-and-excitation block (SENet): recalibrate the feature maps.

    Global average pooling squeezes each of the C maps to one number; a Dense
    layer of ``C // ratio`` ReLU units and a Dense layer of C sigmoid units
    turn those into C weights in (0, 1) that multiply the maps. Shape
    unchanged: ``(N, H, W, C) -> (N, H, W, C)``; parameters
    ``C * (C // ratio) + C // ratio + (C // ratio) * C + C``.

    Example:
        >>> se = SEBlock(ratio=16)
        >>> tuple(se(keras.ops.ones((2, 8, 8, 256))).shape), se.count_params()
        ((2, 8, 8, 256), 8464)
    """

    def __init__(self, ratio: int = 16, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(ratio, int) or ratio < 1:
            raise ValueError(f"SEBlock: ratio={ratio!r} must be a positive integer (SENet used 16).")
        self.ratio = ratio

    def build(self, input_shape):
        channels = input_shape[-1]
        self.squeeze = keras.layers.GlobalAveragePooling2D(keepdims=True)
        self.reduce = keras.layers.Dense(max(1, channels // self.ratio), activation="relu")
        self.excite = keras.layers.Dense(channels, activation="sigmoid")
        self.reduce.build((None, 1, 1, channels))
        self.excite.build((None, 1, 1, max(1, channels // self.ratio)))
        self.built = True

    def call(self, inputs):
        return inputs * self.excite(self.reduce(self.squeeze(inputs)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


class _TwoPathBlock(keras.layers.Layer):
    """Base of the blocks that add a main path and a skip path.

    Output: ``merge(main(x) + skip(x))``. Subclasses fill ``self.main_layers``
    in ``__init__``, return the skip path's layers from ``_skip_layers`` (an
    empty list for the identity) and may override ``_merge`` (identity here).
    """

    def _skip_layers(self, input_shape) -> list:
        raise NotImplementedError

    def _merge(self, total):
        return total

    def build(self, input_shape):
        self.skip_layers = self._skip_layers(input_shape)
        for layers in (self.main_layers, self.skip_layers):
            _build_chain(layers, input_shape)
        self.built = True

    def call(self, inputs):
        z, skip = inputs, inputs
        for layer in self.main_layers:
            z = layer(z)
        for layer in self.skip_layers:
            skip = layer(skip)
        return self._merge(z + skip)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self.main_layers:
            shape = layer.compute_output_shape(shape)
        return shape


@keras.saving.register_keras_serializable(package="homl_cv")
class ResidualUnit(_TwoPathBlock):
    """ResNet's basic residual unit: ``activation(F(x) + skip(x))``.

    ``F`` is 3x3 conv (``strides``) - batch norm - activation - 3x3 conv -
    batch norm (convolutions without biases: batch norm has its own offset),
    followed by an :class:`SEBlock` when ``se_ratio`` is given (SE-ResNet).
    ``skip`` is the identity, or a 1x1 conv + batch norm when the unit changes
    the shape (``strides`` > 1 or a new number of channels). Batch norm uses
    momentum 0.9 (the original Torch setting; Keras' default 0.99 makes the
    moving statistics lag far behind in short training runs).
    Shape: ``(N, H, W, C) -> (N, ceil(H / strides), ceil(W / strides), filters)``.

    Example:
        >>> unit = ResidualUnit(128, strides=2)
        >>> tuple(unit(keras.ops.zeros((1, 56, 56, 64))).shape)
        (1, 28, 28, 128)
    """

    def __init__(self, filters: int, strides: int = 1, activation="relu", se_ratio=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"ResidualUnit: filters={filters!r} must be a positive integer.")
        if strides not in (1, 2):
            raise ValueError(f"ResidualUnit: strides={strides!r} must be 1 or 2.")
        self.filters, self.strides, self.se_ratio = filters, strides, se_ratio
        self.activation = keras.activations.get(activation)
        self.main_layers = [
            keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.Activation(self.activation),
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
        ]
        if se_ratio is not None:
            self.main_layers.append(SEBlock(se_ratio))

    def _skip_layers(self, input_shape) -> list:
        if self.strides == 1 and input_shape[-1] == self.filters:
            return []
        return [
            keras.layers.Conv2D(self.filters, 1, strides=self.strides, use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
        ]

    def _merge(self, total):
        return self.activation(total)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides,
                "activation": keras.activations.serialize(self.activation), "se_ratio": self.se_ratio}


@keras.saving.register_keras_serializable(package="homl_cv")
class XceptionBlock(_TwoPathBlock):
    """Xception-style block of depth-wise separable convolutions with a skip.

    Main path: ReLU - 3x3 separable conv - batch norm, ``repeats`` times,
    then (when ``downsample``) a 3x3 max pool of stride 2, as in Xception's
    entry and exit flows. Skip: the identity, or a strided 1x1 conv + batch
    norm when the shape changes. A separable conv filters each input channel
    alone (depth-wise 3x3) and then mixes channels (point-wise 1x1), with far
    fewer parameters than a full 3x3 conv.
    Shape: ``(N, H, W, C) -> (N, H', W', filters)``, ``H' = ceil(H / 2)`` when
    ``downsample`` else ``H``.

    Example:
        >>> block = XceptionBlock(128, downsample=True)
        >>> tuple(block(keras.ops.zeros((1, 32, 32, 64))).shape)
        (1, 16, 16, 128)
    """

    def __init__(self, filters: int, downsample: bool = True, repeats: int = 2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"XceptionBlock: filters={filters!r} must be a positive integer.")
        if not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"XceptionBlock: repeats={repeats!r} must be a positive integer.")
        self.filters, self.downsample, self.repeats = filters, bool(downsample), repeats
        self.main_layers = []
        for _ in range(repeats):
            self.main_layers += [
                keras.layers.Activation("relu"),
                keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False),
                keras.layers.BatchNormalization(momentum=0.9),
            ]
        if self.downsample:
            self.main_layers.append(keras.layers.MaxPooling2D(3, strides=2, padding="same"))

    def _skip_layers(self, input_shape) -> list:
        if not self.downsample and input_shape[-1] == self.filters:
            return []
        return [
            keras.layers.Conv2D(self.filters, 1, strides=2 if self.downsample else 1,
                                padding="same", use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
        ]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "downsample": self.downsample,
                "repeats": self.repeats}


def build_lenet5(input_shape=(28, 28, 1), num_classes: int = 10, width: float = 1.0,
                 activation: str = "tanh", pooling: str = "average") -> keras.Model:
    """LeNet-5 (LeCun et al., 1998), about 60k parameters at width 1.

    C1 6 5x5 convs ("same", so 28x28 MNIST needs no padding to 32x32) - S2 2x2
    pooling - C3 16 5x5 convs - S4 2x2 pooling - C5 120 5x5 convs - F6 Dense
    84 - Dense ``num_classes`` softmax. The original used tanh-like
    activations and average pooling; ``activation="relu", pooling="max"``
    gives the modern variant. Needs images of at least 28x28.

    Example:
        >>> build_lenet5().count_params()
        61706
    """
    input_shape = _check_classifier_args("build_lenet5", input_shape, num_classes, width)
    _check_image_size("build_lenet5", input_shape, [(2, 2, "valid"), (5, 1, "valid"), (2, 2, "valid"),
                                              (5, 1, "valid")])
    checks.one_of(pooling, "pooling", ("average", "max"))
    pool = keras.layers.AveragePooling2D if pooling == "average" else keras.layers.MaxPooling2D
    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(_scaled(6, width), 5, padding="same", activation=activation, name="C1"),
        pool(2, name="S2"),
        keras.layers.Conv2D(_scaled(16, width), 5, activation=activation, name="C3"),
        pool(2, name="S4"),
        keras.layers.Conv2D(_scaled(120, width), 5, activation=activation, name="C5"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(_scaled(84, width), activation=activation, name="F6"),
        keras.layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="lenet5")


def build_alexnet(input_shape=(227, 227, 3), num_classes: int = 1000, width: float = 1.0,
                  dropout: float = 0.5) -> keras.Model:
    """AlexNet (Krizhevsky et al., 2012), about 62M parameters at width 1.

    Five convolutional layers (11x11 stride 4, 5x5, then three 3x3) with ReLU,
    :class:`LocalResponseNormalization` after the first two, 3x3 stride-2
    max pooling (overlapping pools), then two Dense 4,096 layers with
    ``dropout`` and the softmax. Single-GPU layout (the paper split the
    layers over two GPUs). Needs images of at least 67x67.

    Example:
        >>> build_alexnet().count_params()
        62378344
    """
    input_shape = _check_classifier_args("build_alexnet", input_shape, num_classes, width)
    _check_image_size("build_alexnet", input_shape, [(11, 4, "valid"), (3, 2, "valid"),
                                               (3, 2, "valid"), (3, 2, "valid")])
    conv = keras.layers.Conv2D
    return keras.Sequential([
        keras.Input(input_shape),
        conv(_scaled(96, width), 11, strides=4, activation="relu", name="conv1"),
        LocalResponseNormalization(name="lrn1"),
        keras.layers.MaxPooling2D(3, strides=2, name="pool1"),
        conv(_scaled(256, width), 5, padding="same", activation="relu", name="conv2"),
        LocalResponseNormalization(name="lrn2"),
        keras.layers.MaxPooling2D(3, strides=2, name="pool2"),
        conv(_scaled(384, width), 3, padding="same", activation="relu", name="conv3"),
        conv(_scaled(384, width), 3, padding="same", activation="relu", name="conv4"),
        conv(_scaled(256, width), 3, padding="same", activation="relu", name="conv5"),
        keras.layers.MaxPooling2D(3, strides=2, name="pool5"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(_scaled(4096, width), activation="relu", name="fc6"),
        keras.layers.Dropout(dropout, name="dropout6"),
        keras.layers.Dense(_scaled(4096, width), activation="relu", name="fc7"),
        keras.layers.Dropout(dropout, name="dropout7"),
        keras.layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="alexnet")


def build_vgg16(input_shape=(224, 224, 3), num_classes: int = 1000, width: float = 1.0) -> keras.Model:
    """VGG-16 (Simonyan and Zisserman, 2014): 13 3x3 convs in 5 blocks + 3 Dense.

    Blocks of 2, 2, 3, 3, 3 "same" 3x3 ReLU convs with 64, 128, 256, 512, 512
    filters, each block ending in 2x2 max pooling; then Dense 4,096, 4,096
    and the softmax. At width 1 with a 1000-way head it has exactly the
    parameters of ``keras.applications.VGG16`` (138,357,544). Needs images
    of at least 32x32.
    """
    input_shape = _check_classifier_args("build_vgg16", input_shape, num_classes, width)
    _check_image_size("build_vgg16", input_shape, [(2, 2, "valid")] * 5)
    model = keras.Sequential([keras.Input(input_shape)], name="vgg16")
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), (2, 2, 3, 3, 3)), 1):
        for k in range(1, convs + 1):
            model.add(keras.layers.Conv2D(_scaled(filters, width), 3, padding="same",
                                          activation="relu", name=f"block{block}_conv{k}"))
        model.add(keras.layers.MaxPooling2D(2, name=f"block{block}_pool"))
    model.add(keras.layers.Flatten(name="flatten"))
    model.add(keras.layers.Dense(_scaled(4096, width), activation="relu", name="fc1"))
    model.add(keras.layers.Dense(_scaled(4096, width), activation="relu", name="fc2"))
    model.add(keras.layers.Dense(num_classes, activation="softmax", name="output"))
    return model


RESNET34_STAGES = (3, 4, 6, 3)


def build_resnet34(input_shape=(224, 224, 3), num_classes: int = 1000, width: float = 1.0,
                   se_ratio=None, stages=RESNET34_STAGES) -> keras.Model:
    """ResNet-34 (He et al., 2015) made of :class:`ResidualUnit` layers.

    7x7/2 conv (64) - batch norm - ReLU - 3x3/2 max pool, then residual units
    in ``stages`` (3, 4, 6, 3) with 64, 128, 256, 512 filters (times
    ``width``); the first unit of each later stage halves the image. Global
    average pooling and the softmax finish it. ``se_ratio=16`` adds an
    :class:`SEBlock` to every unit (SE-ResNet-34). At width 1 with a 1000-way
    head it has 21,797,672 trainable parameters, as in torchvision's
    resnet34 (the paper reports 3.6 GFLOPs, not a parameter count). Needs images of at least 17x17 (it halves the image 5 times).

    Example:
        >>> small = build_resnet34((28, 28, 1), num_classes=10, width=0.125)
        >>> small.output_shape
        (None, 10)
    """
    input_shape = _check_classifier_args("build_resnet34", input_shape, num_classes, width)
    checks.same_length(("stages", stages), ("ResNet's stages", range(4)), why="unit counts, e.g. (3, 4, 6, 3)")
    for units in stages:
        checks.positive_int(units, "stages")
    _check_image_size("build_resnet34", input_shape, [(7, 2, "same"), (3, 2, "same")] + [(3, 2, "same")] * 3)
    name = "resnet34" if se_ratio is None else "se_resnet34"
    if tuple(stages) != RESNET34_STAGES:
        name += "_" + "-".join(map(str, stages))
    model = keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(_scaled(64, width), 7, strides=2, padding="same", use_bias=False, name="conv1"),
        keras.layers.BatchNormalization(momentum=0.9, name="bn1"),
        keras.layers.Activation("relu", name="relu1"),
        keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1"),
    ], name=name)
    for stage, (filters, units) in enumerate(zip((64, 128, 256, 512), stages), 2):
        for k in range(1, units + 1):
            strides = 2 if stage > 2 and k == 1 else 1
            model.add(ResidualUnit(_scaled(filters, width), strides=strides, se_ratio=se_ratio,
                                   name=f"stage{stage}_unit{k}"))
    model.add(keras.layers.GlobalAveragePooling2D(name="avg_pool"))
    model.add(keras.layers.Dense(num_classes, activation="softmax", name="output"))
    return model


def build_xception(input_shape=(299, 299, 3), num_classes: int = 1000, width: float = 1.0,
                   middle_blocks: int = 2) -> keras.Model:
    """A small Xception-like classifier built from :class:`XceptionBlock` layers.

    Xception's entry flow (3x3/2 conv 32, 3x3 conv 64, then downsampling
    blocks of 128, 256 and 728 separable filters), ``middle_blocks`` blocks
    of three separable convs at 728 filters with identity skips (Xception
    has 8), then global average pooling and the softmax; all filter counts
    times ``width``. Needs images of at least 9x9.
    """
    input_shape = _check_classifier_args("build_xception", input_shape, num_classes, width)
    checks.int_at_least(middle_blocks, "middle_blocks", 0)
    _check_image_size("build_xception", input_shape, [(3, 2, "same")] * 4)
    model = keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(_scaled(32, width), 3, strides=2, padding="same", use_bias=False, name="conv1"),
        keras.layers.BatchNormalization(momentum=0.9, name="bn1"),
        keras.layers.Activation("relu", name="relu1"),
        keras.layers.Conv2D(_scaled(64, width), 3, padding="same", use_bias=False, name="conv2"),
        keras.layers.BatchNormalization(momentum=0.9, name="bn2"),
    ], name="xception_style")
    for k, filters in enumerate((128, 256, 728), 1):
        model.add(XceptionBlock(_scaled(filters, width), downsample=True, name=f"entry{k}"))
    for k in range(1, middle_blocks + 1):
        model.add(XceptionBlock(_scaled(728, width), downsample=False, repeats=3, name=f"middle{k}"))
    model.add(keras.layers.Activation("relu", name="relu_out"))
    model.add(keras.layers.GlobalAveragePooling2D(name="avg_pool"))
    model.add(keras.layers.Dense(num_classes, activation="softmax", name="output"))
    return model


def layer_table(model) -> list:
    """One row per layer of ``model``: ``(name, type, output shape, params)``.

    The output shape leaves out the batch axis. A compact, deterministic
    stand-in for ``model.summary()`` (see :func:`format_layer_table`).
    """
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        rows.append((layer.name, type(layer).__name__, shape, layer.count_params()))
    return rows


def format_layer_table(model, max_rows: int | None = None) -> str:
    """``model``'s layers as an aligned text table with a total line.

    ``max_rows`` keeps the first and last rows of a long model, with "..."
    between them.

    Example output::

        layer   type     output shape   params
        C1      Conv2D   28x28x6           156
        ...
        total                           61,706
    """
    rows = [(n, t, "x".join(str(d) for d in s), f"{p:,}") for n, t, s, p in layer_table(model)]
    if max_rows is not None and len(rows) > max_rows:
        head = max_rows // 2
        rows = rows[:head] + [("...", "", "", "")] + rows[head - max_rows:]
    header = ("layer", "type", "output shape", "params")
    total = ("total", "", "", f"{model.count_params():,}")
    widths = [max(len(r[i]) for r in [header, total, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows, total]:
        lines.append("  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                                row[2].ljust(widths[2]), row[3].rjust(widths[3])]).rstrip())
    return "\n".join(lines)


# ============================================================ 02 later architectures
@keras.saving.register_keras_serializable(package="homl_cv")
class DenseBlock(keras.layers.Layer):
    """DenseNet's dense block: every layer sees the maps of all layers before it.

    Each of the ``num_layers`` layers is batch norm - ReLU - 1x1 conv
    (``4 * growth_rate`` filters, the "bottleneck" of DenseNet-B) - batch norm
    - ReLU - 3x3 conv (``growth_rate`` filters), convolutions without biases,
    and its ``growth_rate`` new maps are concatenated to its input. Layer
    ``i`` (from 0) therefore reads ``C + i * k`` channels, and the block
    outputs ``(N, H, W, C + num_layers * growth_rate)``. Parameters (batch norm
    counts 4 values per channel)::

        sum over i of  4 (C + i k) + (C + i k) 4k + 4 (4k) + 9 (4k) k

    Example:
        >>> block = DenseBlock(num_layers=4, growth_rate=12)
        >>> tuple(block(keras.ops.zeros((2, 8, 8, 16))).shape)
        (2, 8, 8, 64)
    """

    def __init__(self, num_layers: int = 4, growth_rate: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = checks.positive_int(num_layers, "num_layers")
        self.growth_rate = checks.positive_int(growth_rate, "growth_rate")
        k = self.growth_rate
        self.dense_layers = [
            keras.Sequential([
                keras.layers.BatchNormalization(momentum=0.9), keras.layers.Activation("relu"),
                keras.layers.Conv2D(4 * k, 1, use_bias=False),
                keras.layers.BatchNormalization(momentum=0.9), keras.layers.Activation("relu"),
                keras.layers.Conv2D(k, 3, padding="same", use_bias=False),
            ], name=f"dense_layer_{i}")
            for i in range(self.num_layers)
        ]

    def build(self, input_shape):
        channels = input_shape[-1]
        for layer in self.dense_layers:
            layer.build((*input_shape[:-1], channels))
            channels += self.growth_rate
        self.built = True

    def call(self, inputs):
        z = inputs
        for layer in self.dense_layers:
            z = keras.ops.concatenate([z, layer(z)], axis=-1)
        return z

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.num_layers * self.growth_rate)

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers, "growth_rate": self.growth_rate}


@keras.saving.register_keras_serializable(package="homl_cv")
class InvertedResidual(keras.layers.Layer):
    """MobileNetV2's inverted residual block with a linear bottleneck.

    Expand: 1x1 conv to ``t * C`` channels (``t = expansion``; skipped when
    ``t = 1``), batch norm, ReLU6. Filter: 3x3 depth-wise conv (``strides``),
    batch norm, ReLU6. Project: 1x1 conv to ``filters`` channels and batch
    norm, with NO activation (the "linear bottleneck": a ReLU on a thin
    tensor would destroy information). Convolutions have no biases. The input
    is added back when the shapes match (``strides == 1`` and ``filters == C``).
    Shape: ``(N, H, W, C) -> (N, ceil(H / strides), ceil(W / strides), filters)``.
    Parameters, with ``E = t C`` (expansion terms only when ``t > 1``)::

        C E + 4 E   +   9 E + 4 E   +   E filters + 4 filters

    Example:
        >>> block = InvertedResidual(24, expansion=6, strides=2)
        >>> tuple(block(keras.ops.zeros((1, 16, 16, 16))).shape)
        (1, 8, 8, 24)
    """

    def __init__(self, filters: int, expansion: int = 6, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters = checks.positive_int(filters, "filters")
        self.expansion = checks.positive_int(expansion, "expansion")
        self.strides = checks.one_of(strides, "strides", (1, 2))

    def build(self, input_shape):
        channels = input_shape[-1]
        expanded = channels * self.expansion
        layers = []
        if self.expansion > 1:
            layers += [keras.layers.Conv2D(expanded, 1, use_bias=False),
                       keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU(6.0)]
        layers += [keras.layers.DepthwiseConv2D(3, strides=self.strides, padding="same", use_bias=False),
                   keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU(6.0),
                   keras.layers.Conv2D(self.filters, 1, use_bias=False),
                   keras.layers.BatchNormalization(momentum=0.9)]
        self.block = keras.Sequential(layers, name="expand_filter_project")
        self.block.build(input_shape)
        self.residual = self.strides == 1 and channels == self.filters
        self.built = True

    def call(self, inputs):
        z = self.block(inputs)
        return inputs + z if self.residual else z

    def compute_output_shape(self, input_shape):
        side = [None if s is None else -(-s // self.strides) for s in input_shape[1:3]]
        return (input_shape[0], *side, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "expansion": self.expansion,
                "strides": self.strides}


@keras.saving.register_keras_serializable(package="homl_cv")
class ConvNeXtBlock(keras.layers.Layer):
    """ConvNeXt's block: a ResNet block modernized after the Vision Transformer.

    7x7 depth-wise conv (with bias) - layer normalization over the channels -
    Dense ``4 C`` with GELU - Dense ``C`` - optional layer scale (one learned
    factor per channel, initialised at ``layer_scale``, e.g. 1e-6) - added to
    the input. One normalization and one activation per block, as in a
    Transformer's MLP. Shape unchanged: ``(N, H, W, C) -> (N, H, W, C)``.
    Parameters: ``49 C + C`` (depth-wise) ``+ 2 C`` (layer norm) ``+ 4 C^2 + 4 C
    + 4 C^2 + C`` (the MLP) ``+ C`` (layer scale), that is ``8 C^2 + 58 C``
    (``8 C^2 + 57 C`` without layer scale).

    Example:
        >>> block = ConvNeXtBlock()
        >>> out = block(keras.ops.zeros((1, 7, 7, 96)))
        >>> tuple(out.shape), block.count_params() == 8 * 96**2 + 58 * 96
        ((1, 7, 7, 96), True)
    """

    def __init__(self, layer_scale=1e-6, **kwargs):
        super().__init__(**kwargs)
        if layer_scale is not None and not (isinstance(layer_scale, (int, float))
                                            and not isinstance(layer_scale, bool) and layer_scale > 0):
            raise ValueError(f"layer_scale={layer_scale!r} must be a positive number "
                             f"(ConvNeXt used 1e-6) or None for no layer scale.")
        self.layer_scale = None if layer_scale is None else float(layer_scale)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.depthwise = keras.layers.DepthwiseConv2D(7, padding="same")
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.expand = keras.layers.Dense(4 * channels, activation="gelu")
        self.project = keras.layers.Dense(channels)
        self.depthwise.build(input_shape)
        self.norm.build(input_shape)
        self.expand.build(input_shape)
        self.project.build((*input_shape[:-1], 4 * channels))
        self.gamma = None
        if self.layer_scale is not None:
            self.gamma = self.add_weight(shape=(channels,), name="layer_scale",
                                         initializer=keras.initializers.Constant(self.layer_scale))
        self.built = True

    def call(self, inputs):
        z = self.project(self.expand(self.norm(self.depthwise(inputs))))
        if self.gamma is not None:
            z = z * self.gamma
        return inputs + z

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "layer_scale": self.layer_scale}


@keras.saving.register_keras_serializable(package="homl_cv")
class PatchEmbedding(keras.layers.Layer):
    """The Vision Transformer's patch embedding: image -> sequence of tokens.

    Cuts the image into non-overlapping ``patch_size x patch_size`` patches
    and maps each flattened patch (``p * p * C`` numbers) to a
    ``dim``-dimensional token with one shared linear map ``x W + b``. Written
    as a Conv2D with kernel size and stride ``p``: each output pixel is the
    linear map of one patch, and :func:`image_patches` followed by a Dense
    layer with the same (reshaped) weights gives the same tokens.
    Shape: ``(N, H, W, C) -> (N, (H / p) (W / p), dim)``; parameters
    ``p^2 C dim + dim``.

    Example:
        >>> embed = PatchEmbedding(patch_size=4, dim=32)
        >>> tuple(embed(keras.ops.zeros((2, 28, 28, 1))).shape), embed.count_params()
        ((2, 49, 32), 544)
    """

    def __init__(self, patch_size: int = 16, dim: int = 768, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = checks.positive_int(patch_size, "patch_size")
        self.dim = checks.positive_int(dim, "dim")
        self.projection = keras.layers.Conv2D(self.dim, self.patch_size, strides=self.patch_size)

    def build(self, input_shape):
        p = self.patch_size
        for axis, side in zip(("height", "width"), input_shape[1:3]):
            if side is not None and side % p:
                raise ValueError(
                    f"input {axis}={side} must be a multiple of patch_size={p}; resize or pad "
                    f"the images (e.g. to {-(-side // p) * p})."
                )
        self.projection.build(input_shape)
        self.built = True

    def call(self, inputs):
        z = self.projection(inputs)
        shape = keras.ops.shape(z)
        return keras.ops.reshape(z, (shape[0], shape[1] * shape[2], self.dim))

    def compute_output_shape(self, input_shape):
        p = self.patch_size
        count = None if None in input_shape[1:3] else (input_shape[1] // p) * (input_shape[2] // p)
        return (input_shape[0], count, self.dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "dim": self.dim}


def image_patches(images, patch_size: int) -> np.ndarray:
    """Cut images into flattened non-overlapping patches, row by row (NumPy).

    Args:
        images: array of shape (N, H, W, C); H and W multiples of ``patch_size``.
        patch_size: side ``p`` of the square patches.

    Returns:
        Array of shape (N, (H / p) (W / p), p * p * C): patch ``(i, j)`` of the
        grid is token ``i * (W / p) + j``, flattened in (row, column, channel)
        order, the order in which a Conv2D kernel of shape (p, p, C, dim) is
        flattened by ``kernel.reshape(p * p * C, dim)``.

    Example:
        >>> image = np.arange(16).reshape(1, 4, 4, 1)
        >>> image_patches(image, 2)[0]
        array([[ 0,  1,  4,  5],
               [ 2,  3,  6,  7],
               [ 8,  9, 12, 13],
               [10, 11, 14, 15]])
    """
    images = checks.image_batch(images)
    p = checks.positive_int(patch_size, "patch_size")
    n, height, width, channels = images.shape
    for axis, side in (("height", height), ("width", width)):
        checks.multiple_of(side, f"image {axis}", p, f"to cut patches of patch_size={p}: crop or pad the images")
    grid = images.reshape(n, height // p, p, width // p, p, channels).transpose(0, 1, 3, 2, 4, 5)
    return grid.reshape(n, (height // p) * (width // p), p * p * channels)


# ============================================================ 07 inside a CNN
def build_gap_cnn(input_shape=(48, 48, 3), num_classes: int = 4, filters=(16, 32, 64),
                  name: str = "gap_cnn") -> keras.Model:
    """A small CNN whose head is GlobalAveragePooling2D + Dense: the CAM shape.

    Block ``k`` is a 3x3 "same" convolution with ``filters[k]`` channels, batch
    normalization and ReLU, followed by 2x2 max pooling for every block but the
    last; the last block has a second conv, named ``"last_conv"``, which keeps
    a spatial map (H/4, W/4 for three blocks). ``GlobalAveragePooling2D``
    averages it per channel before a single ``Dense`` softmax layer, so each
    class score is a weighted sum of the last feature maps and class activation
    maps (``interpret.class_activation_map``) are exact.

    Args:
        input_shape: (H, W, C) of the images (floats in [0, 1]).
        num_classes: number of classes of the softmax output.
        filters: channels of each block (at least one block).

    Returns:
        An uncompiled functional ``keras.Model``: (N, H, W, C) -> (N, num_classes).

    Example:
        >>> model = build_gap_cnn((48, 48, 3), num_classes=4)  # doctest: +SKIP
        >>> model.get_layer("last_conv").output.shape  # doctest: +SKIP
        (None, 12, 12, 64)
    """
    checks.non_empty(filters, "filters", "the channels of each block, e.g. (16, 32, 64)")
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
