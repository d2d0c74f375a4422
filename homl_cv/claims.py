"""Visible checks of what a chapter claims it measured.

A chapter that trains or evaluates something prints its result *and* checks it
in a cell the student sees (and nbval compares)::

    >>> from homl_cv.claims import claim
    >>> claim("mean IoU", 0.6912, at_least=0.6)
    mean IoU 0.691 >= 0.6 ✓
    0.6912
    >>> claim("mAP@0.5", 0.891, near=0.889, tol=0.01, reference="pycocotools")
    mAP@0.5 0.891 = pycocotools 0.889 ± 0.01 ✓
    0.891

A missed threshold raises :class:`ClaimError`, so the notebook (and CI) fails
where the claim is made, with the measured value and the bound in the message.
Thresholds are the lesson's bar (the issue's or the paper's), not the measured
value: state the measured value beside the bound in the text or BENCHMARKS.md.

In a rehearsal (``HOML_CV_REHEARSE=1``: training capped at a few steps, see
:mod:`homl_cv.config`) a claim prints its line with "not checked (rehearsal)"
instead of raising: the code path runs, the number cannot mean anything.
"""

from __future__ import annotations

import math

from homl_cv import config

__all__ = ["ClaimError", "claim"]


class ClaimError(AssertionError):
    """A chapter's measured result missed the bound it claims."""


def _number(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"claim {name!r}: value={value!r} is not a number; pass the measured float.") from None
    if math.isnan(number):
        raise ClaimError(f"claim {name!r}: the measured value is NaN (training diverged?).")
    return number


def claim(name: str, value, at_least=None, at_most=None, near=None, tol=None,
          reference: str | None = None, digits: int = 3) -> float:
    """Print ``name value <checks> ✓`` and raise :class:`ClaimError` if a check fails.

    Args:
        name: what was measured, as the chapter calls it ("mean IoU").
        value: the measured number.
        at_least: lower bound (inclusive), or None.
        at_most: upper bound (inclusive), or None.
        near: a value the measurement must agree with (a reference
            implementation's, or a seeded regression figure), within ``tol``.
        tol: absolute tolerance for ``near`` (required with it).
        reference: what ``near`` is, shown in the line ("pycocotools").
        digits: decimals printed.

    Returns:
        ``value`` as a float, so a claim can wrap an expression.

    Raises:
        ClaimError: a bound is missed (the message gives value and bound).
        ValueError: no check was asked for, or ``near`` without ``tol``.
    """
    value = _number(value, name)
    if at_least is None and at_most is None and near is None:
        raise ValueError(f"claim {name!r}: give at least one of at_least=, at_most=, near=.")
    if near is not None and tol is None:
        raise ValueError(f"claim {name!r}: near={near!r} needs tol= (the allowed absolute difference).")
    fmt = f"{{:.{digits}f}}"
    parts, failed = [], []
    if near is not None:
        near_f, tol_f = _number(near, name), float(tol)
        label = f"{reference} " if reference else ""
        text = f"= {label}{fmt.format(near_f)} ± {tol_f:g}"
        parts.append(text)
        if abs(value - near_f) > tol_f:
            failed.append(f"{fmt.format(value)} is not within {tol_f:g} of {label}{fmt.format(near_f)}")
    if at_least is not None:
        parts.append(f">= {at_least:g}")
        if value < at_least:
            failed.append(f"{fmt.format(value)} < {at_least:g}")
    if at_most is not None:
        parts.append(f"<= {at_most:g}")
        if value > at_most:
            failed.append(f"{fmt.format(value)} > {at_most:g}")
    if failed and config.is_rehearsal():
        print(f"{name} {fmt.format(value)} {', '.join(parts)}: not checked (rehearsal)")
        return value
    if failed:
        raise ClaimError(
            f"claim failed: {name} {'; '.join(failed)}. The lesson's result no longer holds: "
            "check the recipe (data, epochs, learning rate) before changing the bound."
        )
    print(f"{name} {fmt.format(value)} {', '.join(parts)} ✓")
    return value
