"""Run-length encoding (RLE) of binary masks, in the Kaggle competitions' convention.

A mask of H x W pixels is read **column by column** (top to bottom, then left
to right: NumPy's Fortran order), its pixels numbered from **1**, and stored
as the pairs ``start length`` of its runs of ones, all on one line::

    mask            column-major pixels 1..6       RLE
    [[1, 1, 1],     [1, 0,  1, 0,  1, 0]           "1 1 3 1 5 1"
     [0, 0, 0]]

Read row by row, the same mask would be one run, ``"1 3"``, which decodes
column-major as ``[[1, 1, 0], [1, 0, 0]]``: the order is part of the format, and a
mask decoded in the wrong order comes out scrambled. An empty mask is the empty string.

Example:
    >>> import numpy as np
    >>> from homl_cv.rle import decode_rle, encode_rle
    >>> mask = np.array([[1, 1, 1], [0, 0, 0]])
    >>> encode_rle(mask)
    '1 1 3 1 5 1'
    >>> decode_rle("1 3", (2, 3)).astype(int).tolist()
    [[1, 1, 0], [1, 0, 0]]
"""

from __future__ import annotations

import numpy as np

from homl_cv import checks

__all__ = ["decode_rle", "encode_rle", "rle_runs"]


def _binary_mask(mask, name: str = "mask") -> np.ndarray:
    mask = checks.shaped(mask, name, ("H", "W"), "one mask",
                         hint="Encode a batch mask by mask: [encode_rle(m) for m in masks].")
    return checks.binary(mask, name, "threshold it first, e.g. mask > 0.5").astype(bool)


def rle_runs(mask) -> np.ndarray:
    """The runs of ones of ``mask`` as an array of (start, length) rows.

    Args:
        mask: binary array of shape (H, W) (0/1 or bool).

    Returns:
        int64 array of shape (R, 2): 1-indexed start in column-major order and
        length of each of the R runs, in increasing order of start.

    Example:
        >>> rle_runs(np.array([[1, 0], [1, 1]])).tolist()
        [[1, 2], [4, 1]]
    """
    flat = _binary_mask(mask).ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [0]])))  # 0-indexed run starts and ends
    starts, ends = edges[0::2], edges[1::2]
    return np.stack([starts + 1, ends - starts], axis=1).astype(np.int64)


def encode_rle(mask) -> str:
    """``mask`` as a Kaggle RLE string: ``"start length start length ..."``.

    Args:
        mask: binary array of shape (H, W).

    Returns:
        The space-separated pairs (1-indexed, column-major); ``""`` for an empty mask.

    Example:
        >>> encode_rle(np.eye(3, dtype=bool))
        '1 1 5 1 9 1'
    """
    return " ".join(str(int(v)) for v in rle_runs(mask).ravel())


def decode_rle(rle: str, shape) -> np.ndarray:
    """The boolean mask of shape ``shape`` that ``rle`` encodes (the inverse of :func:`encode_rle`).

    Args:
        rle: space-separated ``start length`` pairs, 1-indexed, column-major
            (``""`` or whitespace only: an empty mask).
        shape: ``(height, width)`` of the mask (RLE does not store it).

    Returns:
        Boolean array of shape (height, width).

    Raises:
        ValueError: ``rle`` is not pairs of positive integers, a run leaves the
            image, or runs overlap or come out of order.

    Example:
        >>> decode_rle("1 1 5 1 9 1", (3, 3)).astype(int).tolist()
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    height, width = checks.pair(tuple(shape) if isinstance(shape, (tuple, list)) else shape, "shape")
    if not isinstance(rle, str):
        raise ValueError(f"rle={rle!r} must be a string of 'start length' pairs, e.g. '2 4'.")
    try:
        numbers = np.array([int(v) for v in rle.split()], dtype=np.int64)
    except ValueError:
        raise ValueError(f"rle={rle[:40]!r} must hold integers only: 'start length' pairs.") from None
    if len(numbers) % 2:
        raise ValueError(f"rle={rle[:40]!r} has {len(numbers)} numbers; it must hold pairs (start length).")
    starts, lengths = numbers[0::2] - 1, numbers[1::2]
    size = height * width
    if len(numbers) and (starts.min() < 0 or lengths.min() < 1 or (starts + lengths).max() > size):
        raise ValueError(f"rle={rle[:40]!r}: starts must be >= 1, lengths >= 1 and every run must "
                         f"end within the {height}x{width} = {size} pixels; check the shape.")
    if len(starts) > 1 and (starts[1:] < starts[:-1] + lengths[:-1]).any():
        raise ValueError(f"rle={rle[:40]!r}: runs overlap or are out of order; starts must increase "
                         f"past the end of the previous run.")
    flat = np.zeros(size, dtype=bool)
    for start, length in zip(starts, lengths):
        flat[start:start + length] = True
    return flat.reshape((height, width), order="F")
