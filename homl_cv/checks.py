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
    "binary",
    "class_ids",
    "finite",
    "has_attributes",
    "image_batch",
    "indices",
    "input_shape",
    "int_at_least",
    "int_in",
    "integers",
    "is_int",
    "model_images",
    "multiple_of",
    "number_in",
    "non_empty",
    "number_at_least",
    "odd",
    "one_of",
    "ordered_range",
    "padding",
    "pair",
    "positive_int",
    "positive_number",
    "positive_values",
    "same_length",
    "same_shape",
    "shaped",
    "subset",
    "unique",
    "values_in",
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


def image_batch(images, name: str = "images", dtype=None, channels: int | None = None) -> np.ndarray:
    """``images`` as an array of shape (N, H, W, C) (cast to ``dtype`` if given).

    With ``channels``, C must be that number; a grayscale batch given to an
    RGB model is told how to convert it.

    Example:
        >>> image_batch(np.zeros((2, 8, 8, 1)), channels=3)
        Traceback (most recent call last):
        ...
        ValueError: images has shape (2, 8, 8, 1): 1 channel(s), but 3 are expected. For grayscale images, repeat the channel: tf.image.grayscale_to_rgb(images) or np.repeat(images, 3, axis=-1).
    """
    try:
        images = np.asarray(images) if dtype is None else np.asarray(images, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of shape (N, H, W, C); got {type(images).__name__} "
                         f"({error}).") from None
    if images.ndim != 4:
        hint = " Add a batch axis for a single image: pass image[None]." if images.ndim == 3 else ""
        if images.ndim == 3 and channels is not None and images.shape[-1] != channels:
            hint = f" For a batch of grayscale images add the channel axis: pass {name}[..., None]."
        raise ValueError(f"{name} must be a batch of shape (N, H, W, C); got shape {images.shape}.{hint}")
    if channels is not None and images.shape[-1] != channels:
        have = images.shape[-1]
        if have == 1 and channels == 3:
            fix = (f"For grayscale images, repeat the channel: tf.image.grayscale_to_rgb({name}) or "
                   f"np.repeat({name}, 3, axis=-1).")
        elif have == 3 and channels == 1:
            fix = f"For colour images, convert them: tf.image.rgb_to_grayscale({name})."
        else:
            fix = f"Pass images with {channels} channel(s) on the last axis (channels last)."
        raise ValueError(f"{name} has shape {images.shape}: {have} channel(s), but {channels} are expected. {fix}")
    return images


def model_images(model, images, name: str = "images", dtype=np.float32) -> np.ndarray:
    """``images`` as (N, H, W, C) with the channel count of a built model's input, before Keras sees them.

    Only the rank and the channels are checked (a fully convolutional model
    takes any height and width).
    """
    try:
        shape = tuple(model.input_shape or ())
    except (AttributeError, ValueError, TypeError):  # not built yet, or several inputs
        shape = ()
    channels = shape[-1] if len(shape) == 4 and is_int(shape[-1]) else None
    return image_batch(images, name, dtype, channels=channels)


def finite(values, name: str, dtype=np.float32) -> np.ndarray:
    """``values`` as an array of finite numbers (no NaN, no infinity).

    Example:
        >>> finite([0.9, float("nan")], "scores")
        Traceback (most recent call last):
        ...
        ValueError: scores has a non-finite value nan at index 1 (1 in all); replace or drop it before this call (e.g. np.nan_to_num(scores), or keep scores[np.isfinite(scores)]).
    """
    try:
        arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers; got {type(values).__name__} ({error}).") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} has a non-finite value {float(arr[where])} at index {_index_text(where)} ({int(bad.sum())} in all); replace "
            f"or drop it before this call (e.g. np.nan_to_num({name}), or keep {name}[np.isfinite({name})])."
        )
    return arr


def number_in(value, name: str, low: float, high: float, low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float in the interval from ``low`` to ``high`` (closed unless ``*_open``)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = float(value)
        ok = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name}={value!r} must be a number in {interval}.")
    return value


def _index_text(where: tuple) -> str:
    return str(where[0]) if len(where) == 1 else str(where)


def class_ids(labels, name: str, num_classes: int) -> np.ndarray:
    """``labels`` as an integer array of class ids in ``[0, num_classes)``."""
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids (use argmax on logits first); got {labels.dtype}.")
    if labels.size:
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} has class id {int(labels[where])} at index {_index_text(where)} ({int(bad.sum())} in all), outside "
                f"[0, num_classes={num_classes}); pass num_classes={int(labels.max()) + 1} if the classes run "
                f"to {int(labels.max())}, or map ignore labels (e.g. 255) to a real class first."
            )
    return labels


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


def _shape_text(shape) -> str:
    items = [str(s) for s in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def shaped(values, name: str, shape, what: str = "", dtype=None, hint: str = "") -> np.ndarray:
    """``values`` as an array whose shape matches ``shape``.

    ``shape`` lists one entry per axis: an int is a fixed size, a string
    (``"N"``, ``"H"``) any size; a leading ``"..."`` allows any number of
    leading axes. A list of such tuples accepts any one of them. ``what``
    says what the array holds; ``hint`` how to fix a common mistake.

    Example:
        >>> shaped([[0, 0, 4, 4]], "boxes", ("N", 4)).shape
        (1, 4)
        >>> shaped([0, 0, 4, 4], "boxes", ("N", 4), "'xyxy' boxes of one image", hint="Pass boxes[None] for one box.")
        Traceback (most recent call last):
        ...
        ValueError: boxes must have shape (N, 4) ('xyxy' boxes of one image); got shape (4,). Pass boxes[None] for one box.
        >>> shaped(np.zeros((2, 3, 4, 5)), "masks", [("H", "W"), ("N", "H", "W")])
        Traceback (most recent call last):
        ...
        ValueError: masks must have shape (H, W) or (N, H, W); got shape (2, 3, 4, 5).
    """
    specs = [tuple(s) for s in shape] if isinstance(shape, list) else [tuple(shape)]
    wanted = " or ".join(_shape_text(spec) for spec in specs)
    try:
        arr = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of shape {wanted}; got "
                         f"{type(values).__name__} ({error}).") from None
    if not any(_shape_matches(arr.shape, spec) for spec in specs):
        about = f" ({what})" if what else ""
        tail = f" {hint}" if hint else ""
        raise ValueError(f"{name} must have shape {wanted}{about}; got shape {arr.shape}.{tail}")
    return arr


def _shape_matches(have: tuple, spec: tuple) -> bool:
    leading = bool(spec) and spec[0] == "..."
    fixed = spec[1:] if leading else spec
    if len(have) < len(fixed) or (not leading and len(have) != len(fixed)):
        return False
    return all(not is_int(want) or want == got for want, got in zip(fixed, have[len(have) - len(fixed):]))


def same_length(*named, why: str = "") -> int:
    """The common length of several ``(name, sequence)`` pairs.

    Example:
        >>> same_length(("boxes", [[0, 0, 1, 1]]), ("classes", [2, 3]), why="one class per box")
        Traceback (most recent call last):
        ...
        ValueError: boxes (1) and classes (2) must have the same length (one class per box).
    """
    lengths = [(name, len(values)) for name, values in named]
    if len({n for _, n in lengths}) > 1:
        listed = [f"{name} ({n})" for name, n in lengths]
        joined = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
        reason = f" ({why})" if why else ""
        raise ValueError(f"{joined} must have the same length{reason}.")
    return lengths[0][1] if lengths else 0


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def positive_number(value, name: str, why: str = "") -> float:
    """``value`` as a float > 0 (finite); ``why`` says what the number means.

    Example:
        >>> positive_number(0.0, "spatial_scale", "1 / the map's stride, e.g. 0.125")
        Traceback (most recent call last):
        ...
        ValueError: spatial_scale=0.0 must be a positive number (1 / the map's stride, e.g. 0.125).
    """
    if not _is_number(value) or not np.isfinite(value) or value <= 0:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name}={value!r} must be a positive number{reason}.")
    return float(value)


def number_at_least(value, name: str, minimum: float, why: str = "") -> float:
    """``value`` as a finite float >= ``minimum``."""
    if not _is_number(value) or not np.isfinite(value) or value < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name}={value!r} must be a number of at least {minimum:g}{reason}.")
    return float(value)


def ordered_range(value, name: str, low: float, high: float = float("inf"), low_open: bool = False,
                  unit: str = "") -> tuple:
    """A ``(min, max)`` pair with ``low <= min <= max <= high`` (``low < min`` if ``low_open``).

    Example:
        >>> ordered_range((0.2, 0.5), "size_range", 0, 1, low_open=True)
        (0.2, 0.5)
        >>> ordered_range((0.5, 0.2), "size_range", 0, 1, low_open=True)
        Traceback (most recent call last):
        ...
        ValueError: size_range=(0.5, 0.2) must be (min, max) with 0 < min <= max <= 1.
    """
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value)
    if ok:
        lo, hi = (float(v) for v in value)
        ok = (low < lo if low_open else low <= lo) and lo <= hi <= high
    if not ok:
        bound = "" if high == float("inf") else f" <= {high:g}"
        per = f" ({unit})" if unit else ""
        raise ValueError(f"{name}={value!r} must be (min, max) with {low:g} {'<' if low_open else '<='} "
                         f"min <= max{bound}{per}.")
    return lo, hi


def non_empty(values, name: str, example: str = ""):
    """``values`` if it holds at least one item.

    Example:
        >>> non_empty((), "rates", "e.g. (6, 12, 18)")
        Traceback (most recent call last):
        ...
        ValueError: rates=() is empty: pass at least one item, e.g. (6, 12, 18).
    """
    if len(values) == 0:
        tail = f", {example}" if example else ""
        raise ValueError(f"{name}={values!r} is empty: pass at least one item{tail}.")
    return values


def int_in(value, name: str, low: int, high: int, why: str = "") -> int:
    """``value`` as an int with ``low <= value <= high``; ``why`` says what bounds it.

    Example:
        >>> int_in(5, "num_classes", 1, 4, "the shape classes")
        Traceback (most recent call last):
        ...
        ValueError: num_classes=5 must be an integer from 1 to 4 (the shape classes).
    """
    if not is_int(value) or not low <= value <= high:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name}={value!r} must be an integer from {low} to {high}{reason}.")
    return int(value)


def multiple_of(value, name: str, factor: int, why: str = "") -> int:
    """``value`` as a positive int that ``factor`` divides; ``why`` says where the factor comes from.

    Example:
        >>> multiple_of(64, "image_size", 8)
        64
        >>> multiple_of(60, "image_size", 8, "the output stride")
        Traceback (most recent call last):
        ...
        ValueError: image_size=60 must be a positive multiple of 8 (the output stride), e.g. 64.
    """
    if not is_int(value) or value < 1 or value % factor:
        reason = f" ({why})" if why else ""
        example = max(factor, -(-int(value) // factor) * factor) if is_int(value) else factor
        raise ValueError(f"{name}={value!r} must be a positive multiple of {factor}{reason}, e.g. {example}.")
    return int(value)


def same_shape(*named, why: str = "") -> tuple:
    """The common shape of several ``(name, array)`` pairs.

    Example:
        >>> same_shape(("pred_masks", np.zeros((2, 4, 4))), ("true_masks", np.zeros((2, 4, 5))))
        Traceback (most recent call last):
        ...
        ValueError: pred_masks (2, 4, 4) and true_masks (2, 4, 5) must have the same shape.
    """
    shapes = [(name, tuple(np.shape(values))) for name, values in named]
    if len({shape for _, shape in shapes}) > 1:
        listed = [f"{name} {_shape_text(shape)}" for name, shape in shapes]
        joined = ", ".join(listed[:-1]) + " and " + listed[-1]
        reason = f" ({why})" if why else ""
        raise ValueError(f"{joined} must have the same shape{reason}.")
    return shapes[0][1] if shapes else ()


def integers(values, name: str, hint: str = "") -> np.ndarray:
    """``values`` as an array of an integer dtype; ``hint`` says how to get integers.

    Example:
        >>> integers(np.zeros(3), "labels", "use argmax on logits first")
        Traceback (most recent call last):
        ...
        ValueError: labels must hold integers (use argmax on logits first); got dtype float64.
    """
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.integer):
        reason = f" ({hint})" if hint else ""
        raise ValueError(f"{name} must hold integers{reason}; got dtype {arr.dtype}.")
    return arr


def binary(values, name: str, hint: str = "") -> np.ndarray:
    """``values`` as an array holding only 0 and 1 (or booleans); ``hint`` says how to get there.

    Example:
        >>> binary([0, 1, 1], "y_true").tolist()
        [0, 1, 1]
        >>> binary([0.2, 0.7], "mask", "threshold it first, e.g. mask > 0.5")
        Traceback (most recent call last):
        ...
        ValueError: mask must hold only 0 and 1 (or booleans); threshold it first, e.g. mask > 0.5.
    """
    arr = np.asarray(values)
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        tail = f"; {hint}" if hint else ""
        raise ValueError(f"{name} must hold only 0 and 1 (or booleans){tail}.")
    return arr


def positive_values(values, name: str, what: str = "", hint: str = "", dtype=np.float32) -> np.ndarray:
    """``values`` as an array of finite numbers > 0 (sizes, ratios, scales).

    Example:
        >>> positive_values([[4, 2], [0, 3]], "sizes", "widths and heights", "drop padding rows first")
        Traceback (most recent call last):
        ...
        ValueError: sizes must hold finite, positive numbers (widths and heights); got 0.0 at index (1, 0); drop padding rows first.
    """
    arr = finite(values, name, dtype)
    bad = arr <= 0
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        about = f" ({what})" if what else ""
        tail = f"; {hint}" if hint else ""
        raise ValueError(f"{name} must hold finite, positive numbers{about}; got {float(arr[where])} at index "
                         f"{_index_text(where)}{tail}.")
    return arr


def has_attributes(value, name: str, attributes, what: str):
    """``value`` if it has every one of ``attributes`` (duck typing); ``what`` names what to pass.

    Example:
        >>> has_attributes([1, 2], "truth", ("boxes", "ids"), "a tracking.Tracks")
        Traceback (most recent call last):
        ...
        ValueError: truth must have boxes and ids (a tracking.Tracks); got list.
    """
    if not all(hasattr(value, attribute) for attribute in attributes):
        listed = list(attributes)
        joined = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
        raise ValueError(f"{name} must have {joined} ({what}); got {type(value).__name__}.")
    return value


def unique(values, name: str, why: str = ""):
    """``values`` if no item occurs twice.

    Example:
        >>> unique([3, 5, 3], "ids", "one id per object")
        Traceback (most recent call last):
        ...
        ValueError: ids=[3, 5, 3] repeats 3; its items must be unique (one id per object).
    """
    seen = set()
    for item in values:
        if item in seen:
            reason = f" ({why})" if why else ""
            raise ValueError(f"{name}={values!r} repeats {item!r}; its items must be unique{reason}.")
        seen.add(item)
    return values


def odd(value, name: str, why: str = "") -> int:
    """``value`` as an odd positive int (a kernel size with a middle pixel).

    Example:
        >>> odd(6, "size", "so the line has a middle column and row")
        Traceback (most recent call last):
        ...
        ValueError: size=6 must be an odd positive integer (so the line has a middle column and row), e.g. 7.
    """
    if not is_int(value) or value < 1 or value % 2 == 0:
        reason = f" ({why})" if why else ""
        example = int(value) + 1 if is_int(value) and value > 0 else 3
        raise ValueError(f"{name}={value!r} must be an odd positive integer{reason}, e.g. {example}.")
    return int(value)


def indices(values, name: str, size: int | None, what: str = "") -> np.ndarray:
    """``values`` as an int array of indices in ``[0, size)`` (``size=None``: only ``>= 0``).

    Example:
        >>> indices([0, 2, 1], "class_index", 2, "the model has 2 classes")
        Traceback (most recent call last):
        ...
        ValueError: class_index has 2 at index 1 (1 in all), outside [0, 2) (the model has 2 classes).
    """
    arr = integers(values, name)
    bad = (arr < 0) if size is None else (arr < 0) | (arr >= size)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        about = f" ({what})" if what else ""
        bound = "[0, ...)" if size is None else f"[0, {size})"
        raise ValueError(f"{name} has {int(arr[where])} at index {_index_text(where)} ({int(bad.sum())} in all), "
                         f"outside {bound}{about}.")
    return arr


def values_in(values, name: str, low: float, high: float, what: str = "", hint: str = "",
              tolerance: float = 0.0) -> np.ndarray:
    """``values`` as an array whose numbers lie in ``[low, high]`` (give or take ``tolerance``).

    Example:
        >>> values_in([0.2, 1.5], "image", 0, 1, "or uint8 0-255", "Divide by 255.")
        Traceback (most recent call last):
        ...
        ValueError: image must hold values in [0, 1] (or uint8 0-255); got [0.2, 1.5]. Divide by 255.
    """
    arr = np.asarray(values)
    if arr.size and (arr.min() < low - tolerance or arr.max() > high + tolerance):
        about = f" ({what})" if what else ""
        tail = f" {hint}" if hint else ""
        raise ValueError(f"{name} must hold values in [{low:g}, {high:g}]{about}; got "
                         f"[{float(arr.min()):.3g}, {float(arr.max()):.3g}].{tail}")
    return arr


def subset(values, name: str, allowed, what: str = ""):
    """``values`` if every item is one of ``allowed``; ``what`` describes ``allowed`` (else it is listed).

    Example:
        >>> subset(("block1_conv1", "conv9"), "style_layers", ("block1_conv1", "block1_conv2"))
        Traceback (most recent call last):
        ...
        ValueError: style_layers=('block1_conv1', 'conv9') has 'conv9', which is not 'block1_conv1' or 'block1_conv2'.
    """
    allowed = tuple(allowed)
    for item in values:
        if item not in allowed:
            among = what or _choices_text(allowed)
            raise ValueError(f"{name}={values!r} has {item!r}, which is not {among}.")
    return values
