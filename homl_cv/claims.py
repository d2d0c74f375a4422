"""Visible checks of what a chapter claims it measured, in the mode it ran in.

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

**Each bound belongs to the data it is checked on.** Quick mode
(``HOML_CV_QUICK=1``) and full mode often train on different data (generated
shapes against Oxford-IIIT Pets, six photos against tf_flowers) or at other
sizes, so a claim carries one bound per mode:

- ``at_least=``, ``at_most=``, ``near=``/``tol=`` are the **quick-mode** bound,
  measured on the quick (offline) data. In quick mode they are checked and a
  miss raises.
- ``full=`` is the **full-mode** bound, one of:

  * :func:`measured` (``full=measured(at_least=0.8)``): a bound measured here
    by an uncapped full run; checked in full mode, a miss raises.
  * :data:`SAME`: the quick bound does not depend on the data (an identity,
    agreement with a reference implementation on the same numbers); checked
    in both modes.
  * :func:`published` (``full=published(0.9111, source="...", margin=0.05)``):
    a figure someone else reported, with its source and a stated margin. It
    cannot be verified here, so in full mode the line shows the value, the
    expected bound (figure minus the margin) and the source, marked
    "unverified", and never raises.
  * ``None`` (the default): no full-mode bound; full mode prints the value
    with "not checked in full mode".

  Without a quick bound (only ``full=``), quick mode prints the value with
  "not checked in quick mode".

In full mode::

    >>> claim("U-Net mean IoU", 0.62, at_least=0.75)  # doctest: +SKIP
    U-Net mean IoU 0.620: not checked in full mode (the bound >= 0.75 is quick mode's)
    >>> claim("val accuracy", 0.87, full=published(0.9111, source="handson-ml3 ch. 14",
    ...       margin=0.05))  # doctest: +SKIP
    val accuracy 0.870: expected >= 0.861 (handson-ml3 ch. 14: 0.911 - 0.05), unverified here (below it)

In a rehearsal (``HOML_CV_REHEARSE=1``: full mode, training capped at a few
steps, see :mod:`homl_cv.config`) the full-mode bound is used but a claim
never raises: a missed one prints its line with "not checked (rehearsal)".
The code path runs, the number cannot mean anything.
"""

from __future__ import annotations

import dataclasses
import math

from homl_cv import checks, config

__all__ = ["COMPARISON_PATTERNS", "SAME", "Bound", "ClaimError", "claim", "measured", "published"]

_DIRECTIONS = ("at_least", "at_most")


_NUMBER = r"-?(?:\d+(?:\.\d*)?|nan|inf)"

COMPARISON_PATTERNS = {
    # "name 0.961 >= 0.9 ✓", "name 0.77 = pycocotools 0.77 ± 0.01, >= 0.7 ✓": the measured value
    rf"(?m)^(.+) {_NUMBER} ((?:=|>=|<=) [^\n]*✓)$": r"\1 <measured> \2",
    # ... and the value it is compared with (near=), often measured too (pycocotools' mAP)
    rf"(?m)(= (?:[^\n±]* )?){_NUMBER}( ± [^\n]*✓)$": r"\1<measured>\2",
    # "name 0.812: not checked in quick mode (its bound is full mode's)"
    rf"(?m)^(.+) {_NUMBER}(: not checked in quick mode)": r"\1 <measured>\2",
}
"""Regex -> replacement pairs applied to a chapter's stored and fresh outputs before nbval compares them.

The last digits of a trained model's scores differ from one CPU to another
(kernels reduce in another order), so a claim line's *measured* numbers are
masked: ``"mean IoU 0.961 >= 0.9 ✓"`` is compared as ``"mean IoU <measured> >= 0.9 ✓"``.
The name, the bound and the ✓ are still compared, and the claim itself raises
when its bound is missed, so nothing goes unchecked. ``conftest.py`` installs them.

    >>> import re
    >>> line = "mAP@0.5 0.77 = pycocotools 0.78 ± 0.01, >= 0.7 ✓"
    >>> for pattern, replacement in COMPARISON_PATTERNS.items():
    ...     line = re.sub(pattern, replacement, line)
    >>> line
    'mAP@0.5 <measured> = pycocotools <measured> ± 0.01, >= 0.7 ✓'
"""


class ClaimError(AssertionError):
    """A chapter's measured result missed the bound it claims."""


@dataclasses.dataclass(frozen=True)
class Bound:
    """A full-mode bound of a claim: use :func:`measured` or :func:`published` to make one.

    Attributes:
        at_least: lower bound (inclusive), or None.
        at_most: upper bound (inclusive), or None.
        near: value to agree with, within ``tol``, or None.
        tol: absolute tolerance for ``near``.
        reference: what ``near`` is, shown in the line.
        source: None for a bound measured here (checked); the source of a
            published figure otherwise (shown, not checked).
        figure: the published figure (with ``source``).
        margin: how far below (``at_least``) or above (``at_most``) the
            published figure a result still counts as reproducing it.
    """

    at_least: float | None = None
    at_most: float | None = None
    near: float | None = None
    tol: float | None = None
    reference: str | None = None
    source: str | None = None
    figure: float | None = None
    margin: float | None = None

    @property
    def checked(self) -> bool:
        """True for a bound measured here, False for a published figure."""
        return self.source is None


class _Same:
    """The quick bound holds in full mode too (see :data:`SAME`)."""

    def __repr__(self) -> str:
        return "SAME"


SAME = _Same()
"""``full=SAME``: the quick bound does not depend on the data; check it in full mode too."""


def _number(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"claim {name!r}: value={value!r} is not a number; pass the measured float.") from None
    if math.isnan(number):
        raise ClaimError(f"claim {name!r}: the measured value is NaN (training diverged?).")
    return number


def _check_bound_arguments(where: str, at_least, at_most, near, tol) -> None:
    if at_least is None and at_most is None and near is None:
        raise ValueError(f"{where}: give at least one of at_least=, at_most=, near=.")
    if near is not None and tol is None:
        raise ValueError(f"{where}: near={near!r} needs tol= (the allowed absolute difference).")


def measured(at_least=None, at_most=None, near=None, tol=None, reference: str | None = None) -> Bound:
    """A full-mode bound measured here by an uncapped full run: checked in full mode.

    Record the run (command, measured value) in BENCHMARKS.md's "Full mode" section.

    Example:
        >>> measured(at_least=0.8).checked
        True
    """
    _check_bound_arguments("measured()", at_least, at_most, near, tol)
    return Bound(at_least=at_least, at_most=at_most, near=near, tol=tol, reference=reference)


def published(figure, source: str, margin, direction: str = "at_least") -> Bound:
    """A full-mode bound from a published figure: shown as unverified, never raised.

    Args:
        figure: the published number (e.g. 0.9111 validation accuracy).
        source: where it is published, precise enough to look up
            ("handson-ml3, chapter 14 notebook, stored outputs").
        margin: how much worse a result may be and still reproduce it; the
            expected bound is ``figure - margin`` (``at_least``) or
            ``figure + margin`` (``at_most``).
        direction: ``"at_least"`` (higher is better) or ``"at_most"``.

    Example:
        >>> published(0.9111, source="handson-ml3 ch. 14", margin=0.05).at_least
        0.8611
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"published(): source={source!r} must name where the figure is published.")
    checks.one_of(direction, "direction", _DIRECTIONS)
    figure, margin = float(figure), float(margin)
    checks.number_at_least(margin, "margin", 0, "how much worse a result may be and still reproduce the figure")
    bound = round(figure - margin, 12) if direction == "at_least" else round(figure + margin, 12)
    return Bound(**{direction: bound}, source=source, figure=figure, margin=margin)


def _evaluate(value: float, name: str, fmt: str, at_least, at_most, near, tol, reference):
    """The shown checks and the failures of one bound."""
    parts, failed = [], []
    if near is not None:
        near_f, tol_f = _number(near, name), float(tol)
        label = f"{reference} " if reference else ""
        parts.append(f"= {label}{fmt.format(near_f)} ± {tol_f:g}")
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
    return parts, failed


def _show_published(name: str, value: float, fmt: str, bound: Bound) -> None:
    if bound.at_least is not None:
        expected, sign, holds = bound.at_least, f"- {bound.margin:g}", value >= bound.at_least
        relation = ">="
    else:
        expected, sign, holds = bound.at_most, f"+ {bound.margin:g}", value <= bound.at_most
        relation = "<="
    verdict = "meets it" if holds else ("below it" if relation == ">=" else "above it")
    print(f"{name} {fmt.format(value)}: expected {relation} {fmt.format(expected)} "
          f"({bound.source}: {fmt.format(bound.figure)} {sign}), unverified here ({verdict})")


def claim(name: str, value, at_least=None, at_most=None, near=None, tol=None,
          reference: str | None = None, digits: int = 3, full=None) -> float:
    """Print ``name value <checks> ✓`` and raise :class:`ClaimError` if the mode's check fails.

    Args:
        name: what was measured, as the chapter calls it ("mean IoU").
        value: the measured number.
        at_least: quick-mode lower bound (inclusive), or None.
        at_most: quick-mode upper bound (inclusive), or None.
        near: a value the measurement must agree with in quick mode (a
            reference implementation's, or a seeded regression figure), within ``tol``.
        tol: absolute tolerance for ``near`` (required with it).
        reference: what ``near`` is, shown in the line ("pycocotools").
        digits: decimals printed.
        full: the full-mode bound: :func:`measured` (checked), :func:`published`
            (shown, unverified), :data:`SAME` (the quick bound, checked) or
            None (not checked in full mode). See the module docstring.

    Returns:
        ``value`` as a float, so a claim can wrap an expression.

    Raises:
        ClaimError: the mode's bound is missed (the message gives value and bound).
        ValueError: no check was asked for in either mode, ``near`` without
            ``tol``, or ``full`` is not a bound.
    """
    value = _number(value, name)
    has_quick = not (at_least is None and at_most is None and near is None)
    if full is not None and full is not SAME and not isinstance(full, Bound):
        raise ValueError(f"claim {name!r}: full={full!r} must be measured(...), published(...), "
                         "SAME or None.")
    if not has_quick and full is SAME:
        raise ValueError(f"claim {name!r}: full=SAME repeats the quick bound; give at_least=, at_most= or near=.")
    if has_quick or full is None:
        _check_bound_arguments(f"claim {name!r}", at_least, at_most, near, tol)
    fmt = f"{{:.{digits}f}}"
    quick = config.is_quick()
    if quick:
        if not has_quick:
            print(f"{name} {fmt.format(value)}: not checked in quick mode (its bound is full mode's)")
            return value
        bound = Bound(at_least=at_least, at_most=at_most, near=near, tol=tol, reference=reference)
    elif full is SAME:
        bound = Bound(at_least=at_least, at_most=at_most, near=near, tol=tol, reference=reference)
    elif full is None:
        parts, _ = _evaluate(value, name, fmt, at_least, at_most, near, tol, reference)
        print(f"{name} {fmt.format(value)}: not checked in full mode "
              f"(the bound {', '.join(parts)} is quick mode's)")
        return value
    elif not full.checked:
        _show_published(name, value, fmt, full)
        return value
    else:
        bound = full
    parts, failed = _evaluate(value, name, fmt, bound.at_least, bound.at_most, bound.near, bound.tol,
                              bound.reference)
    if failed and config.is_rehearsal():
        print(f"{name} {fmt.format(value)} {', '.join(parts)}: not checked (rehearsal)")
        return value
    if failed:
        mode = "quick" if quick else "full"
        raise ClaimError(
            f"claim failed ({mode} mode): {name} {'; '.join(failed)}. The lesson's result no longer holds: "
            "check the recipe (data, epochs, learning rate) before changing the bound."
        )
    print(f"{name} {fmt.format(value)} {', '.join(parts)} ✓")
    return value
