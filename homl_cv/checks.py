"""Argument checks: one rule set and one voice for the package's errors.

Every check returns the value it accepted (converted: a tuple, an int, an
array) or raises a ``ValueError`` whose message names the argument, shows
the value and says what to pass instead, e.g.::

    stride=0 must be a positive integer (1, 2, 3, ...).

Rules shared by all modules: a bool is never an integer (``True`` is not a
stride); NumPy integers are integers; a "pair" is an int or two ints
``(height, width)``.

Example:
    >>> from homl_cv import checks
    >>> checks.pair(3, "kernel"), checks.one_of("SAME".lower(), "padding", ("valid", "same"))
    ((3, 3), 'same')
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "PADDINGS",
    "image_batch",
    "input_shape",
    "int_at_least",
    "is_int",
    "one_of",
    "padding",
    "pair",
    "positive_int",
]

PADDINGS = ("valid", "same")


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bools (and everything else)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer (1, 2, 3, ...).")
    return int(value)


def int_at_least(value, name: str, minimum: int, why: str = "") -> int:
    """``value`` as an int >= ``minimum``; ``why`` says what the number means."""
    if not is_int(value) or value < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name}={value!r} must be an integer of at least {minimum}{reason}.")
    return int(value)


def pair(value, name: str, minimum: int = 1) -> tuple:
    """An int or a pair of ints -> a pair of ints >= ``minimum`` (default: positive)."""
    if is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(is_int(v) for v in value):
        raise ValueError(f"{name}={value!r} must be an int or a pair of ints (height, width).")
    if minimum == 1:
        return tuple(positive_int(v, name) for v in value)
    return tuple(int_at_least(v, name, minimum) for v in value)


def _choices_text(choices) -> str:
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def one_of(value, name: str, choices) -> object:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    try:
        found = value in choices and (not isinstance(value, bool) or any(value is c for c in choices))
    except (TypeError, ValueError):  # e.g. an array
        found = False
    if not found:
        raise ValueError(f"{name}={value!r} must be {_choices_text(choices)}.")
    return value


def padding(value, name: str = "padding") -> str:
    """A Keras padding, ``"valid"`` or ``"same"`` (any case), in lower case."""
    if not isinstance(value, str) or value.lower() not in PADDINGS:
        raise ValueError(f"{name}={value!r} must be {_choices_text(PADDINGS)}.")
    return value.lower()


def image_batch(images, name: str = "images", dtype=None) -> np.ndarray:
    """``images`` as an array of shape (N, H, W, C) (cast to ``dtype`` if given)."""
    images = np.asarray(images) if dtype is None else np.asarray(images, dtype=dtype)
    if images.ndim != 4:
        hint = " Add a batch axis for a single image: pass image[None]." if images.ndim == 3 else ""
        raise ValueError(f"{name} must be a batch of shape (N, H, W, C); got shape {images.shape}.{hint}")
    return images


def input_shape(value, name: str = "input_shape", multiple_of: int = 1, model: str = "the model") -> tuple:
    """A model's ``(height, width, channels)``: three positive ints.

    With ``multiple_of`` > 1 (a model that downsamples by that factor), the
    height and width must be multiples of it.
    """
    shape = tuple(value) if isinstance(value, (tuple, list)) else None
    if shape is None or len(shape) != 3 or not all(is_int(s) and s > 0 for s in shape):
        raise ValueError(
            f"{name}={value!r} must be (height, width, channels), three positive integers, "
            f"e.g. (28, 28, 1) for grayscale digits."
        )
    shape = tuple(int(s) for s in shape)
    for axis, side in zip(("height", "width"), shape[:2]):
        if side % multiple_of:
            fixed = -(-side // multiple_of) * multiple_of
            raise ValueError(
                f"{name}={value!r}: {model} downsamples by {multiple_of}, so the image {axis} "
                f"must be a positive multiple of {multiple_of}; resize or pad the images "
                f"(e.g. to {fixed})."
            )
    return shape
