"""Regions of interest: cut a fixed-size feature patch out of a shared feature map.

Two-stage detectors (Fast/Faster R-CNN) and Mask R-CNN run the backbone once
per image, then look at each region of interest (RoI, a box) through a patch of
the *shared* feature map, resized to a fixed size so that one small head can
process every box. RoIAlign (He et al., 2017) is that crop: it samples the
feature map bilinearly at evenly spaced points inside the box, with no rounding
of the box to the feature grid (RoI *pooling*, :func:`homl_cv.rcnn.roi_pool`,
rounds, which shifts small masks by up to a feature pixel).

This module is RoIAlign's one home, in three forms that share one convention:

* :func:`roi_align_numpy`: written out in NumPy, to read (chapter 05);
* :func:`roi_align`: the same in TensorFlow (``tf.image.crop_and_resize`` at
  the sample points of :func:`crop_boxes`, then average pooling), batched and
  differentiable (chapters 05 and 06), tested equal to the NumPy version;
* :class:`RoiAlign`: a Keras layer around :func:`roi_align` for models that
  take ``(feature_maps, boxes)``.

The convention is ``torchvision.ops.roi_align(..., aligned=True)``'s, channels
last, with boxes and their image index in two arguments:

* ``feature_map`` (N, H, W, C); ``boxes`` (K, 4) "xyxy" in *image* pixels, x2
  and y2 exclusive edges; ``box_indices`` (K,) the image of each box (default
  all 0); result (K, P_h, P_w, C).
* For a box ``[x_1, x_2)``, ``spatial_scale = 1 / stride`` and ``P`` bins, bin
  ``j`` covers ``[x_1 + j w, x_1 + (j + 1) w) * spatial_scale`` with
  ``w = (x_2 - x_1) / P``; with ``sampling_ratio = r`` it averages ``r`` x ``r``
  bilinear samples, taken at the centres of ``r`` equal sub-bins per axis.
* Sample position ``u`` (feature pixels, edges) is read at array index
  ``u - 0.5``, since pixel ``i`` covers ``[i, i + 1)``. Boxes are not clipped:
  a sample within one pixel outside the map (index in ``[-1, 0)`` or
  ``(H - 1, H]``) reads the edge pixel, a sample further out reads 0 (as in
  torchvision and Detectron2).

Example:
    >>> import numpy as np
    >>> ramp = np.tile(np.arange(8, dtype="float32"), (8, 1))[None, :, :, None]  # value = x index
    >>> patch = roi_align(ramp, [[2, 0, 6, 8]], output_size=4, sampling_ratio=1)
    >>> np.asarray(patch)[0, 0, :, 0].tolist()     # bin centres 2.5, 3.5, ... read at index - 0.5
    [2.0, 3.0, 4.0, 5.0]
    >>> roi_align_numpy(ramp, [[2, 0, 6, 8]], output_size=4, sampling_ratio=1)[0, 0, :, 0].tolist()
    [2.0, 3.0, 4.0, 5.0]
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from homl_cv import checks

__all__ = ["RoiAlign", "crop_boxes", "roi_align", "roi_align_numpy"]


def _spatial_scale(value) -> float:
    # one message for the three entry points
    return checks.positive_number(value, "spatial_scale", "1 / the map's stride, e.g. 0.125")


def _arguments(feature_shape, boxes, output_size, box_indices, spatial_scale, sampling_ratio) -> tuple:
    """Validated ``(boxes (K, 4) float32, indices (K,) int32, (P_h, P_w), spatial_scale, r)``."""
    if len(feature_shape) != 4:
        raise ValueError(f"feature_map must have shape (batch, H, W, C); got shape {tuple(feature_shape)}. "
                         "Add a batch axis for one image: pass feature_map[None].")
    boxes = checks.shaped(boxes, "boxes", ("K", 4), "'xyxy' pixels", dtype=np.float32)
    size = checks.pair(output_size, "output_size")
    scale = _spatial_scale(spatial_scale)
    r = checks.positive_int(sampling_ratio, "sampling_ratio")
    indices = np.zeros(len(boxes), np.int32) if box_indices is None else np.asarray(box_indices, np.int32)
    checks.shaped(indices, "box_indices", (len(boxes),), "one image index per box")
    checks.indices(indices, "box_indices", feature_shape[0], "images of the feature map's batch")
    return boxes, indices, size, scale, r


# ============================================================================ NumPy, to read
def _bilinear(fmap: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """(H, W, C) read at every (ys[i], xs[j]) array position -> (len(ys), len(xs), C).

    Positions in ``[-1, H]`` are clamped to the map (the edge pixel is read),
    positions further out read 0.
    """
    height, width = fmap.shape[:2]
    inside = ((ys >= -1) & (ys <= height))[:, None] & ((xs >= -1) & (xs <= width))[None, :]
    ys, xs = np.clip(ys, 0, height - 1), np.clip(xs, 0, width - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    dy, dx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = (1 - dx) * fmap[y0][:, x0] + dx * fmap[y0][:, x1]
    bottom = (1 - dx) * fmap[y1][:, x0] + dx * fmap[y1][:, x1]
    return np.where(inside[..., None], (1 - dy) * top + dy * bottom, 0.0)


def roi_align_numpy(feature_map, boxes, output_size, box_indices=None, spatial_scale: float = 1.0,
                    sampling_ratio: int = 2) -> np.ndarray:
    """RoIAlign written out in NumPy: :func:`roi_align`'s arguments and result, slowly.

    Per box: the ``P_h r`` sample rows and ``P_w r`` sample columns (sub-bin
    centres, as array indices), one bilinear read per (row, column), then the
    mean of each bin's ``r x r`` samples.

    Args:
        feature_map: float (N, H, W, C).
        boxes: (K, 4) "xyxy" boxes in image pixels (x2, y2 exclusive edges).
        output_size: P (an int) or (P_h, P_w).
        box_indices: (K,) int, the image of each box; default all 0.
        spatial_scale: feature pixels per image pixel (1 / stride).
        sampling_ratio: r, samples per bin along each axis.

    Returns:
        float32 (K, P_h, P_w, C).

    Example:
        >>> fmap = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)   # value = 4 * row + column
        >>> roi_align_numpy(fmap, [[2, 1, 4, 3]], 2, sampling_ratio=1)[0, ..., 0].tolist()
        [[6.0, 7.0], [10.0, 11.0]]
    """
    fmap = np.asarray(feature_map, np.float64)
    boxes, indices, (ph, pw), scale, r = _arguments(fmap.shape, boxes, output_size, box_indices,
                                                    spatial_scale, sampling_ratio)
    out = np.zeros((len(boxes), ph, pw, fmap.shape[-1]), np.float32)
    for k, ((x1, y1, x2, y2), n) in enumerate(zip(boxes.astype(np.float64) * scale, indices)):
        ys = y1 + (np.arange(ph * r) + 0.5) * (y2 - y1) / (ph * r) - 0.5   # sub-bin centres, array index
        xs = x1 + (np.arange(pw * r) + 0.5) * (x2 - x1) / (pw * r) - 0.5
        samples = _bilinear(fmap[n], ys, xs)                                # (P_h r, P_w r, C)
        out[k] = samples.reshape(ph, r, pw, r, -1).mean(axis=(1, 3))        # average each bin's r x r
    return out


# ============================================================================ TensorFlow
def crop_boxes(boxes, feature_shape, output_size, spatial_scale: float = 1.0, sampling_ratio: int = 2):
    """The ``tf.image.crop_and_resize`` boxes that make it sample like RoIAlign.

    ``crop_and_resize`` reads ``crop_size`` points from the first to the last
    row/column of a normalized box ``[y_1, x_1, y_2, x_2]``, where 0 and 1
    are the centres of the first and last pixel. RoIAlign wants the
    ``P r`` sub-bin centres of the box instead, so the first sample sits at
    ``x_1 s' + w / (2 r) - 0.5`` and the last one ``(P r - 1) w / r`` further,
    where ``s'`` is ``spatial_scale`` and ``w = (x_2 - x_1) s' / P``; divided by
    ``W - 1`` to normalize.

    Args:
        boxes: (K, 4) "xyxy" boxes in image pixels (x2, y2 are exclusive edges), array or tensor.
        feature_shape: (H, W) of the feature map (ints or a tensor).
        output_size: P, an int or (P_h, P_w).
        spatial_scale: feature pixels per image pixel (1 / stride).
        sampling_ratio: samples per bin along each axis (r).

    Returns:
        float32 tensor (K, 4) normalized ``[y_1, x_1, y_2, x_2]`` for ``crop_size = (P_h r, P_w r)``.

    Example:
        >>> crop_boxes([[0, 0, 4, 4]], (5, 5), 2, sampling_ratio=1).numpy().tolist()  # centres 1, 3 -> 0.5, 2.5
        [[0.125, 0.125, 0.625, 0.625]]
    """
    (ph, pw), r = checks.pair(output_size, "output_size"), checks.positive_int(sampling_ratio, "sampling_ratio")
    boxes = tf.reshape(tf.cast(boxes, tf.float32), (-1, 4))
    height, width = tf.unstack(tf.cast(feature_shape, tf.float32))
    x1, y1, x2, y2 = tf.unstack(boxes, axis=1)
    out = []
    for lo, hi, bins, side in ((y1, y2, ph, height), (x1, x2, pw, width)):
        step = (hi - lo) * spatial_scale / (bins * r)       # one sub-bin, in feature pixels
        first = lo * spatial_scale + step / 2 - 0.5         # array index of the first sample
        last = first + (bins * r - 1) * step
        scale = tf.maximum(side - 1.0, 1.0)                 # 0..1 spans the pixel centres
        out.append((first / scale, last / scale))
    (top, bottom), (left, right) = out
    return tf.stack([top, left, bottom, right], axis=1)


def _crop(features, boxes, indices, size, spatial_scale: float, r: int):
    """RoIAlign on validated arguments, graph-friendly: (K, P_h, P_w, C) float32."""
    features = tf.cast(features, tf.float32)
    # One edge pixel copied all around, so that a sample up to one pixel outside the map reads
    # the edge, not crop_and_resize's zero; boxes shift by one feature pixel.
    padded = tf.pad(features, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    norm = crop_boxes(tf.cast(boxes, tf.float32) + 1.0 / spatial_scale, tf.shape(padded)[1:3], size,
                      spatial_scale, r)
    crops = tf.image.crop_and_resize(padded, norm, tf.cast(indices, tf.int32), (size[0] * r, size[1] * r),
                                     method="bilinear")
    if r == 1:
        return crops
    return tf.nn.avg_pool2d(crops, r, r, "VALID")  # average the r x r samples of each bin


def roi_align(feature_map, boxes, output_size, box_indices=None, spatial_scale: float = 1.0,
              sampling_ratio: int = 2):
    """RoIAlign: a ``(P_h, P_w)`` bilinear patch of the feature map per box (TensorFlow).

    The module docstring states the convention; :func:`roi_align_numpy` is
    the same computation written out.

    Args:
        feature_map: float (N, H, W, C), e.g. a backbone's output.
        boxes: (K, 4) "xyxy" boxes in *image* pixels, x2 and y2 exclusive
            (the package's box convention, as in ``homl_cv.data.make_shapes``).
        output_size: P (an int) or (P_h, P_w): the patch size, e.g. 7 for box
            classification heads, 14 for mask heads.
        box_indices: (K,) int, the image of the batch each box belongs to;
            default: all 0 (one image).
        spatial_scale: feature pixels per image pixel, 1 / stride (1/8 for a
            stride-8 feature map).
        sampling_ratio: bilinear samples per bin along each axis, averaged
            (1: one sample at each bin's centre).

    Returns:
        float32 tensor (K, P_h, P_w, C).

    Raises:
        ValueError: a feature map that is not 4-D, boxes not (K, 4), box
            indices of the wrong length or outside the batch, a bad
            output size, spatial scale or sampling ratio.

    Example:
        >>> maps = np.random.default_rng(0).random((2, 16, 16, 8)).astype("float32")
        >>> roi_align(maps, [[0, 0, 64, 64], [8, 8, 40, 24]], 7, box_indices=[0, 1],
        ...           spatial_scale=1 / 4).shape
        TensorShape([2, 7, 7, 8])
    """
    features = tf.convert_to_tensor(feature_map)
    boxes, indices, size, scale, r = _arguments(features.shape, boxes, output_size, box_indices,
                                                spatial_scale, sampling_ratio)
    if len(boxes) == 0:
        return tf.zeros((0, *size, features.shape[-1]), tf.float32)
    return _crop(features, boxes, indices, size, scale, r)


@keras.saving.register_keras_serializable(package="homl_cv")
class RoiAlign(keras.layers.Layer):
    """:func:`roi_align` as a Keras layer, R boxes per image.

    Call it on ``(feature_maps (N, H, W, C), boxes (N, R, 4))``, "xyxy" image
    pixels, to get (N, R, P_h, P_w, C) float32; box ``r`` of image ``n`` is
    cut from feature map ``n``.

    Args:
        output_size: P (an int) or (P_h, P_w).
        spatial_scale: feature pixels per image pixel (1 / stride).
        sampling_ratio: samples per bin along each axis.

    Raises:
        ValueError: at construction, a bad output size, spatial scale or
            sampling ratio; when built, inputs that are not (N, H, W, C) and
            (N, R, 4).

    Example:
        >>> layer = RoiAlign(2, spatial_scale=1 / 4)
        >>> tuple(layer(np.zeros((3, 8, 8, 5), "float32"), np.zeros((3, 6, 4), "float32")).shape)
        (3, 6, 2, 2, 5)
    """

    def __init__(self, output_size, spatial_scale: float = 1.0, sampling_ratio: int = 2, **kwargs):  # pragma: no mutate block
        super().__init__(**kwargs)
        self.output_size = checks.pair(output_size, "output_size")
        self.spatial_scale = _spatial_scale(spatial_scale)
        self.sampling_ratio = checks.positive_int(sampling_ratio, "sampling_ratio")

    def build(self, feature_maps_shape, boxes_shape):
        if len(feature_maps_shape) != 4:
            raise ValueError(f"RoiAlign's feature_maps must have shape (N, H, W, C); got {tuple(feature_maps_shape)}.")
        if len(boxes_shape) != 3 or boxes_shape[-1] != 4:
            raise ValueError(f"RoiAlign's boxes must have shape (N, R, 4) in 'xyxy' pixels; got {tuple(boxes_shape)}.")
        self.built = True

    def call(self, feature_maps, boxes):
        batch, per_image = tf.shape(boxes)[0], tf.shape(boxes)[1]
        indices = tf.repeat(tf.range(batch), per_image)
        pooled = _crop(feature_maps, tf.reshape(boxes, (-1, 4)), indices, self.output_size, self.spatial_scale,
                       self.sampling_ratio)
        return tf.reshape(pooled, (batch, per_image, *self.output_size, feature_maps.shape[-1]))

    def compute_output_shape(self, feature_maps_shape, boxes_shape):
        return (feature_maps_shape[0], boxes_shape[1], *self.output_size, feature_maps_shape[-1])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "spatial_scale": self.spatial_scale,
                "sampling_ratio": self.sampling_ratio}
