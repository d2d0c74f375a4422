"""Regions of interest: cut a fixed-size feature patch out of a shared feature map.

Two-stage detectors (Fast/Faster R-CNN) and Mask R-CNN run the backbone once
per image, then look at each region of interest (RoI, a box) through a patch of
the *shared* feature map, resized to a fixed size so that one small head can
process every box. :func:`roi_align` is that crop (He et al., 2017): it samples
the feature map bilinearly at evenly spaced points inside the box, with no
rounding of the box to the feature grid (RoI *pooling* rounds, which shifts
small masks by up to a feature pixel).

For a box ``[x_1, x_2)`` (pixel edges, in image pixels), a feature map of
stride ``s`` (``spatial_scale = 1 / s``) and ``P`` output bins, bin ``j``
covers ``[x_1 + j w, x_1 + (j + 1) w) / s`` with ``w = (x_2 - x_1) / P``;
with ``sampling_ratio = r``, it averages ``r`` bilinear samples along each
axis, taken at the centres of ``r`` equal sub-bins. Sample position ``u`` (in
feature-pixel units, edges) is read at array index ``u - 0.5``, since pixel
``i`` covers ``[i, i + 1)`` and has its centre at ``i + 0.5``. A sample less
than one pixel outside the map reads the edge pixel (as in Detectron2).

Example:
    >>> import numpy as np
    >>> ramp = np.tile(np.arange(8, dtype="float32"), (8, 1))[None, :, :, None]  # value = x index
    >>> patch = roi_align(ramp, [[2, 0, 6, 8]], output_size=4, sampling_ratio=1)
    >>> np.asarray(patch)[0, 0, :, 0].tolist()     # bin centres 2.5, 3.5, ... read at index - 0.5
    [2.0, 3.0, 4.0, 5.0]
"""

from __future__ import annotations

import numpy as np

from homl_cv import checks

__all__ = ["crop_boxes", "roi_align"]


def crop_boxes(boxes, feature_shape, output_size, spatial_scale: float = 1.0,
               sampling_ratio: int = 2) -> np.ndarray:
    """The ``tf.image.crop_and_resize`` boxes that make it sample like RoIAlign.

    ``crop_and_resize`` reads ``crop_size`` points from the first to the last
    row/column of a normalized box ``[y_1, x_1, y_2, x_2]``, where 0 and 1
    are the centres of the first and last pixel. RoIAlign wants the
    ``P r`` sub-bin centres of the box instead, so the first sample sits at
    ``x_1 s' + w / (2 r) - 0.5`` and the last one ``(P r - 1) w / r`` further,
    where ``s'`` is ``spatial_scale`` and ``w = (x_2 - x_1) s' / P``; divided by
    ``W - 1`` to normalize.

    Args:
        boxes: (K, 4) "xyxy" boxes in image pixels (x2, y2 are exclusive edges).
        feature_shape: (H, W) of the feature map.
        output_size: P, an int or (P_h, P_w).
        spatial_scale: feature pixels per image pixel (1 / stride).
        sampling_ratio: samples per bin along each axis (r).

    Returns:
        float32 (K, 4) normalized ``[y_1, x_1, y_2, x_2]`` for ``crop_size = (P_h r, P_w r)``.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    (ph, pw), r = checks.pair(output_size, "output_size"), checks.positive_int(sampling_ratio, "sampling_ratio")
    height, width = (int(v) for v in feature_shape)
    out = []
    for lo, hi, bins, side in ((boxes[:, 1], boxes[:, 3], ph, height), (boxes[:, 0], boxes[:, 2], pw, width)):
        step = (hi - lo) * spatial_scale / (bins * r)       # one sub-bin, in feature pixels
        first = lo * spatial_scale + step / 2 - 0.5         # array index of the first sample
        last = first + (bins * r - 1) * step
        scale = max(side - 1, 1)                            # 0..1 spans the pixel centres
        out.append((first / scale, last / scale))
    (y1, y2), (x1, x2) = out
    return np.stack([y1, x1, y2, x2], axis=1).astype(np.float32)


def roi_align(feature_map, boxes, output_size, box_indices=None, spatial_scale: float = 1.0,
              sampling_ratio: int = 2):
    """RoIAlign: a ``(P_h, P_w)`` bilinear patch of the feature map per box.

    Args:
        feature_map: float (batch, H, W, C), e.g. a backbone's output.
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
            output size or sampling ratio.

    Example:
        >>> import numpy as np
        >>> maps = np.random.default_rng(0).random((2, 16, 16, 8)).astype("float32")
        >>> roi_align(maps, [[0, 0, 64, 64], [8, 8, 40, 24]], 7, box_indices=[0, 1],
        ...           spatial_scale=1 / 4).shape
        TensorShape([2, 7, 7, 8])
    """
    import tensorflow as tf

    features = tf.convert_to_tensor(feature_map, tf.float32)
    if features.shape.rank != 4:
        raise ValueError(f"feature_map must have shape (batch, H, W, C); got shape {tuple(features.shape)}.")
    boxes = np.asarray(boxes, np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (K, 4) in 'xyxy' pixels; got shape {boxes.shape}.")
    ph, pw = checks.pair(output_size, "output_size")
    if not spatial_scale > 0:
        raise ValueError(f"spatial_scale={spatial_scale!r} must be positive: 1 / the map's stride, e.g. 0.125.")
    checks.positive_int(sampling_ratio, "sampling_ratio")
    indices = np.zeros(len(boxes), np.int32) if box_indices is None else np.asarray(box_indices, np.int32)
    batch = features.shape[0]
    if indices.shape != (len(boxes),) or (len(indices) and (indices.min() < 0 or (batch is not None and indices.max() >= batch))):
        raise ValueError(
            f"box_indices must hold one image index in [0, batch={batch}) per box ({len(boxes)} boxes); "
            f"got {indices.tolist()}."
        )
    if len(boxes) == 0:
        return tf.zeros((0, ph, pw, features.shape[-1]), tf.float32)
    # One edge pixel copied all around, so that a sample up to one pixel outside the map reads
    # the edge (as in Detectron2), not crop_and_resize's zero; boxes shift by one feature pixel.
    padded = tf.pad(features, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    norm = crop_boxes(boxes + 1.0 / spatial_scale, padded.shape[1:3], (ph, pw), spatial_scale, sampling_ratio)
    r = int(sampling_ratio)
    crops = tf.image.crop_and_resize(padded, norm, indices, (ph * r, pw * r), method="bilinear")
    if r == 1:
        return crops
    return tf.nn.avg_pool2d(crops, r, r, "VALID")  # average the r x r samples of each bin
