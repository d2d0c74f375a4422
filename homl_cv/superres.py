"""Super-resolution: a sub-pixel convolution upsampler (ESPCN) against bicubic.

Shi et al. (2016) upsample *at the end* of the network: every layer works at
the low resolution, and the last convolution outputs ``3 f^2`` channels that
:class:`SubPixelUpsampling` (``tf.nn.depth_to_space``) rearranges into an
image ``f`` times larger. Pixel ``(f i + a, f j + b)`` of the output takes
channel ``(a f + b) 3 + c`` at ``(i, j)``: each low-resolution position predicts
its own ``f x f`` block of output pixels.

Here the network predicts only what bicubic interpolation misses
(``residual=True``, as in VDSR): output = bicubic(x) + depth_to_space(conv(x)).
The score is the peak signal-to-noise ratio, for images in [0, 1]::

    PSNR = 10 log10(1 / MSE)   (decibels; +1 dB is about 21 % less squared error)

Example:
    >>> import numpy as np
    >>> x = np.arange(8, dtype="float32").reshape(1, 1, 1, 8)   # 2 x 2 x 2 channels
    >>> np.asarray(SubPixelUpsampling(2)(x))[0, :, :, 0].tolist()
    [[0.0, 2.0], [4.0, 6.0]]
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from homl_cv import checks, training
from homl_cv import data as data_lib

__all__ = ["BicubicUpsampling", "SubPixelUpsampling", "SuperResPairs", "SuperResScores", "bicubic_upsample",
           "build_subpixel_upsampler", "evaluate_superres", "make_superres_pairs", "psnr", "train_superres"]


@keras.saving.register_keras_serializable(package="homl_cv")
class SubPixelUpsampling(keras.layers.Layer):
    """``tf.nn.depth_to_space``: (batch, H, W, C f^2) -> (batch, f H, f W, C)."""

    def __init__(self, factor: int = 2, **kwargs):  # pragma: no mutate block
        super().__init__(**kwargs)
        self.factor = checks.int_at_least(factor, "factor", 2, "2 doubles the height and width")

    def call(self, inputs):
        import tensorflow as tf

        return tf.nn.depth_to_space(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        f = self.factor
        if c is not None and c % (f * f):
            raise ValueError(f"SubPixelUpsampling({f}) needs channels divisible by {f * f}; got {c}.")
        return (b, None if h is None else h * f, None if w is None else w * f, None if c is None else c // (f * f))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="homl_cv")
class BicubicUpsampling(keras.layers.Layer):
    """Bicubic upsampling by ``factor`` for any height and width: (batch, H, W, C) -> (batch, f H, f W, C).

    The same numbers as ``keras.layers.UpSampling2D(factor, interpolation="bicubic")``
    (both call ``tf.image.resize``, tested), but the output size is computed
    from the tensor's *dynamic* shape (``tf.shape``), so one model predicts
    at several input sizes. ``ResizeBicubic`` has no XLA kernel ("No
    registered 'ResizeBicubic' OpKernel for XLA_CPU_JIT", TF 2.20), so the
    layer declares ``supports_jit = False`` and Keras' ``jit_compile="auto"``
    (XLA on a GPU) leaves such a model un-compiled instead of failing.
    """

    def __init__(self, factor: int = 2, **kwargs):  # pragma: no mutate block
        super().__init__(**kwargs)
        self.factor = checks.int_at_least(factor, "factor", 2, "2 doubles the height and width")
        self.supports_jit = False

    def call(self, inputs):
        import tensorflow as tf

        size = tf.shape(inputs)[1:3] * self.factor
        return tf.image.resize(inputs, size, method="bicubic")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        f = self.factor
        return (b, None if h is None else h * f, None if w is None else w * f, c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def psnr(images, reference, max_value: float = 1.0) -> float:
    """Mean over images of ``10 log10(max_value^2 / MSE)``, MSE per image over all pixels and channels.

    Args:
        images, reference: float (N, H, W, C), same shape, values in [0, max_value].

    Returns:
        The mean PSNR in decibels (``inf`` if some image is exact).
    """
    a, b = np.asarray(images, np.float64), np.asarray(reference, np.float64)
    checks.shaped(a, "images", ("N", "H", "W", "C"))
    checks.same_shape(("images", a), ("reference", b))
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return float(np.mean(10 * np.log10(max_value ** 2 / mse)))


def bicubic_upsample(images, factor: int = 2) -> np.ndarray:
    """Bicubic interpolation, float32 (N, H, W, C) -> (N, f H, f W, C), clipped to [0, 1]."""
    import tensorflow as tf

    images = np.asarray(images, np.float32)
    size = (images.shape[1] * factor, images.shape[2] * factor)
    return np.clip(tf.image.resize(images, size, method="bicubic").numpy(), 0, 1)


@dataclasses.dataclass(frozen=True)
class SuperResPairs:
    """Low- and high-resolution crops: ``low`` (N, s, s, 3), ``high`` (N, f s, f s, 3), floats in [0, 1]."""

    low: np.ndarray
    high: np.ndarray
    factor: int


def make_superres_pairs(part: str = "train", num_crops: int = 2000, crop_size: int = 32, factor: int = 2,
                        photos=data_lib.SAMPLE_PHOTOS, seed: int = 0) -> SuperResPairs:
    """Random crops of the bundled photos and their ``factor`` times smaller copies.

    Each photo is split once: crops for ``part="train"`` come from its top
    75 % of rows, crops for ``"test"`` from the bottom 25 %, so no test pixel is
    ever seen in training. The small copy is a bicubic, anti-aliased
    downscale (what a camera's smaller sensor would roughly see).

    Args:
        part: "train" or "test".
        num_crops: crops in all, spread evenly over ``photos``.
        crop_size: side of the high-resolution crop (a multiple of ``factor``).
        factor: the upscaling factor.
        photos: names from :data:`homl_cv.data.SAMPLE_PHOTOS`.

    Returns:
        :class:`SuperResPairs`.
    """
    import tensorflow as tf

    checks.one_of(part, "part", ("train", "test"))
    checks.multiple_of(crop_size, "crop_size", factor, f"factor={factor}")
    rng = np.random.default_rng(seed + (0 if part == "train" else 1))
    crops = []
    for k, name in enumerate(photos):
        photo = np.asarray(data_lib.load_sample_image(name), np.float32) / 255.0
        cut = int(photo.shape[0] * 0.75)
        region = photo[:cut] if part == "train" else photo[cut:]
        count = num_crops // len(photos) + (k < num_crops % len(photos))
        ys = rng.integers(0, region.shape[0] - crop_size + 1, count)
        xs = rng.integers(0, region.shape[1] - crop_size + 1, count)
        crops += [region[y:y + crop_size, x:x + crop_size] for y, x in zip(ys, xs)]
    high = np.stack(crops)
    low = tf.image.resize(high, (crop_size // factor,) * 2, method="bicubic", antialias=True).numpy()
    return SuperResPairs(np.clip(low, 0, 1).astype(np.float32), high, factor)


def build_subpixel_upsampler(factor: int = 2, filters: int = 32, residual: bool = True,
                             name: str = "espcn") -> keras.Model:
    """ESPCN: convolutions at low resolution, then :class:`SubPixelUpsampling`.

    ``5x5 conv (filters) -> 3x3 conv (filters / 2) -> 3x3 conv (3 f^2) ->
    depth_to_space(f)``, tanh-free; with ``residual=True`` the result is added
    to the bicubic upsampling of the input.

    Args:
        factor: upscaling factor f.
        filters: width of the first convolution.
        residual: learn the correction to bicubic rather than the whole image.

    Returns:
        A model mapping (batch, H, W, 3) to (batch, f H, f W, 3), any H and W.
    """
    inputs = keras.Input((None, None, 3), name="low_res")
    x = keras.layers.Conv2D(filters, 5, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(filters // 2, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(3 * factor ** 2, 3, padding="same", name="conv3",
                            kernel_initializer="zeros" if residual else "glorot_uniform")(x)
    x = SubPixelUpsampling(factor, name="depth_to_space")(x)
    if residual:
        base = BicubicUpsampling(factor, name="bicubic")(inputs)
        x = keras.layers.Add(name="bicubic_plus_detail")([base, x])
    return keras.Model(inputs, x, name=name)


def train_superres(model, pairs: SuperResPairs, epochs: int = 10, batch_size: int = 32,
                   learning_rate: float = 1e-3, seed: int = 42, verbose="auto"):
    """Fit on mean squared error with Adam (cosine-decayed learning rate).

    Args:
        model: e.g. from :func:`build_subpixel_upsampler`.
        pairs: the training :class:`SuperResPairs`.

    Returns:
        A :class:`homl_cv.training.TrainedModel` (``model``, ``history``).
    """
    import tensorflow as tf

    steps = epochs * -(-len(pairs.low) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    train = (tf.data.Dataset.from_tensor_slices((pairs.low, pairs.high))
             .shuffle(len(pairs.low), seed=seed).batch(batch_size))
    history = model.fit(train, epochs=epochs, shuffle=False, verbose=verbose)
    return training.TrainedModel(model, history.history)


@dataclasses.dataclass(frozen=True)
class SuperResScores:
    """PSNR (dB) of the model and of bicubic upsampling on the same crops."""

    model_psnr: float
    bicubic_psnr: float

    @property
    def gain(self) -> float:
        """How many dB the model beats bicubic by."""
        return self.model_psnr - self.bicubic_psnr

    def summary(self) -> str:
        return (f"PSNR: sub-pixel CNN {self.model_psnr:.2f} dB | bicubic {self.bicubic_psnr:.2f} dB | "
                f"gain {self.gain:+.2f} dB")


def evaluate_superres(model, pairs: SuperResPairs) -> SuperResScores:
    """PSNR against the true high-resolution crops, for the model and for bicubic."""
    predicted = np.clip(np.asarray(model.predict(pairs.low, batch_size=128, verbose=0)), 0, 1)
    return SuperResScores(psnr(predicted, pairs.high), psnr(bicubic_upsample(pairs.low, pairs.factor), pairs.high))
