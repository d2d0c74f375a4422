"""claims.claim: prints the visible check line, raises on a missed bound."""

import fractions
import math
import re

import pytest

from homl_cv import config
from homl_cv.claims import COMPARISON_PATTERNS, SAME, ClaimError, claim, measured, published


@pytest.fixture(autouse=True)
def quick_by_default(monkeypatch):
    """The tests above the "modes" part check quick mode, whatever the shell says."""
    monkeypatch.setenv(config.QUICK_ENV, "1")
    monkeypatch.delenv(config.REHEARSE_ENV, raising=False)


def test_passing_claim_prints_one_line_and_returns_the_value(capsys):
    assert claim("mean IoU", 0.6912, at_least=0.6) == pytest.approx(0.6912)
    assert capsys.readouterr().out == "mean IoU 0.691 >= 0.6 ✓\n"


def test_near_and_bounds_are_all_shown(capsys):
    claim("mAP@0.5", 0.891, near=0.889, tol=0.01, reference="pycocotools", at_least=0.7)
    assert capsys.readouterr().out == "mAP@0.5 0.891 = pycocotools 0.889 ± 0.01, >= 0.7 ✓\n"


@pytest.mark.parametrize("kwargs, text", [
    (dict(at_least=0.7), "0.650 < 0.7"),
    (dict(at_most=0.6), "0.650 > 0.6"),
    (dict(near=0.7, tol=0.03), "not within 0.03 of 0.700"),
])
def test_missed_bound_raises_with_value_and_bound(kwargs, text, capsys):
    with pytest.raises(ClaimError, match=text):
        claim("score", 0.65, **kwargs)
    assert capsys.readouterr().out == ""  # nothing printed as if it held


def test_bounds_are_inclusive():
    claim("x", 0.7, at_least=0.7, at_most=0.7, near=0.75, tol=0.05 + 1e-12)
    # exactly representable: |0.5 - 0.25| == 0.25 is within tol=0.25 (a ">=" in the check would fail it)
    claim("x", 0.5, near=0.25, tol=0.25)
    claim("x", 0.0, near=0.25, tol=0.25)   # both sides of near
    with pytest.raises(ClaimError, match="not within 0.25"):
        claim("x", 0.5 + 2 ** -20, near=0.25, tol=0.25)
    with pytest.raises(ClaimError, match="< 0.5"):
        claim("x", 0.5 - 2 ** -20, at_least=0.5)
    with pytest.raises(ClaimError, match="> 0.5"):
        claim("x", 0.5 + 2 ** -20, at_most=0.5)


def test_nan_and_bad_use_are_clear_errors():
    with pytest.raises(ClaimError, match="NaN"):
        claim("loss", math.nan, at_most=1)
    with pytest.raises(TypeError, match="value='high'"):
        claim("loss", "high", at_most=1)
    with pytest.raises(ValueError, match="at_least="):
        claim("loss", 1.0)
    with pytest.raises(ValueError, match="needs tol="):
        claim("loss", 1.0, near=1.0)


def test_a_rehearsal_prints_a_missed_claim_without_raising(monkeypatch, capsys):
    monkeypatch.setenv("HOML_CV_REHEARSE", "1")  # training capped at a few steps: numbers mean nothing
    assert claim("mean IoU", 0.1, at_least=0.6, full=SAME) == pytest.approx(0.1)
    assert capsys.readouterr().out == "mean IoU 0.100 >= 0.6: not checked (rehearsal)\n"
    assert claim("mean IoU", 0.7, at_least=0.6, full=SAME) == pytest.approx(0.7)
    assert capsys.readouterr().out.endswith("✓\n")


# ----------------------------------------------------------------------------- modes
@pytest.fixture()
def quick_mode(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "1")


@pytest.fixture()
def full_mode(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "0")


FLOWERS = published(0.9111, source="handson-ml3 ch. 14", margin=0.05)


def test_quick_mode_checks_the_quick_bound_and_ignores_the_full_one(quick_mode, capsys):
    claim("IoU", 0.7, at_least=0.7, full=measured(at_least=0.95))  # equality holds
    assert capsys.readouterr().out == "IoU 0.700 >= 0.7 ✓\n"
    with pytest.raises(ClaimError, match=r"quick mode\): IoU 0.650 < 0.7"):
        claim("IoU", 0.65, at_least=0.7, full=measured(at_least=0.5))
    with pytest.raises(ClaimError, match="0.750 > 0.7"):
        claim("loss", 0.75, at_most=0.7, full=measured(at_most=0.9))
    claim("loss", 0.7, at_most=0.7, full=measured(at_most=0.1))
    assert capsys.readouterr().out == "loss 0.700 <= 0.7 ✓\n"


def test_quick_mode_without_a_quick_bound_shows_the_value(quick_mode, capsys):
    assert claim("val accuracy", 0.2, full=FLOWERS) == pytest.approx(0.2)
    assert capsys.readouterr().out == "val accuracy 0.200: not checked in quick mode (its bound is full mode's)\n"


@pytest.mark.parametrize("kwargs, value, raises", [
    (dict(at_least=0.8), 0.8, False), (dict(at_least=0.8), 0.79, True),
    (dict(at_most=0.2), 0.2, False), (dict(at_most=0.2), 0.21, True),
    (dict(near=0.5, tol=0.01), 0.505, False), (dict(near=0.5, tol=0.01), 0.52, True),
])
def test_full_mode_checks_a_measured_full_bound_in_both_directions(full_mode, kwargs, value, raises, capsys):
    quick = dict(at_least=0.0, at_most=1.0)  # always holds: only the full bound can fail
    if raises:
        with pytest.raises(ClaimError, match=r"full mode\)"):
            claim("score", value, **quick, full=measured(**kwargs))
    else:
        claim("score", value, **quick, full=measured(**kwargs))
        assert capsys.readouterr().out.endswith(" ✓\n")


def test_full_mode_never_uses_the_quick_bound(full_mode, capsys):
    assert claim("U-Net mean IoU", 0.1, at_least=0.75, digits=2) == pytest.approx(0.1)
    assert capsys.readouterr().out == ("U-Net mean IoU 0.10: not checked in full mode "
                                       "(the bound >= 0.75 is quick mode's)\n")
    claim("U-Net mean IoU", 0.1, at_least=0.05, full=measured(at_least=0.1), digits=2)
    assert capsys.readouterr().out == "U-Net mean IoU 0.10 >= 0.1 ✓\n"


def test_same_checks_the_quick_bound_in_full_mode(full_mode, capsys):
    claim("loss difference", 1e-3, at_most=1e-3, full=SAME)
    assert capsys.readouterr().out == "loss difference 0.001 <= 0.001 ✓\n"
    with pytest.raises(ClaimError, match="> 0.001"):
        claim("loss difference", 2e-3, at_most=1e-3, full=SAME)


def test_full_mode_shows_a_published_bound_unverified_and_never_raises(full_mode, capsys):
    assert claim("val accuracy", 0.5, at_least=0.1, full=FLOWERS) == pytest.approx(0.5)
    assert capsys.readouterr().out == ("val accuracy 0.500: expected >= 0.861 "
                                       "(handson-ml3 ch. 14: 0.911 - 0.05), unverified here (below it)\n")
    claim("val accuracy", 0.8611, full=FLOWERS)  # equality meets it
    assert capsys.readouterr().out.endswith("unverified here (meets it)\n")
    error = published(0.25, source="paper", margin=0.05, direction="at_most")
    claim("error", 0.3, full=error, digits=2)
    assert capsys.readouterr().out == "error 0.30: expected <= 0.30 (paper: 0.25 + 0.05), unverified here (meets it)\n"
    claim("error", 0.31, full=error, digits=2)
    assert capsys.readouterr().out.endswith("unverified here (above it)\n")


def test_a_rehearsal_uses_the_full_bound_and_never_raises(monkeypatch, capsys):
    monkeypatch.setenv(config.REHEARSE_ENV, "1")
    monkeypatch.setenv(config.QUICK_ENV, "1")  # ignored when rehearsing: full mode
    claim("IoU", 0.1, at_least=0.05, full=measured(at_least=0.6))
    assert capsys.readouterr().out == "IoU 0.100 >= 0.6: not checked (rehearsal)\n"
    claim("IoU", 0.1, at_least=0.6)
    assert capsys.readouterr().out == "IoU 0.100: not checked in full mode (the bound >= 0.6 is quick mode's)\n"
    claim("IoU", 0.1, full=FLOWERS)
    assert "unverified here" in capsys.readouterr().out


def test_bad_full_bounds_are_clear_errors(full_mode):
    with pytest.raises(ValueError, match="full=0.8 must be measured"):
        claim("x", 1.0, at_least=0.5, full=0.8)
    with pytest.raises(ValueError, match="full=SAME repeats"):
        claim("x", 1.0, full=SAME)
    with pytest.raises(ValueError, match="source=''"):
        published(0.9, source="", margin=0.1)
    with pytest.raises(ValueError, match="direction='above'"):
        published(0.9, source="paper", margin=0.1, direction="above")
    with pytest.raises(ValueError, match="margin=-0.1"):
        published(0.9, source="paper", margin=-0.1)
    with pytest.raises(ValueError, match="measured\\(\\): give at least one"):
        measured()
    with pytest.raises(ValueError, match="needs tol="):
        measured(near=1.0)


def _masked(text):
    for pattern, replacement in COMPARISON_PATTERNS.items():
        text = re.sub(pattern, replacement, text)
    return text


def _line(capsys, *args, **kwargs):
    claim(*args, **kwargs)
    return capsys.readouterr().out


def test_comparison_masks_the_measured_values_of_claim_lines_only(capsys):
    # Two CPUs: the same claim, other last digits -> the same compared text.
    a = _line(capsys, "tiny YOLO mAP@0.5", 0.77, near=0.77, tol=0.01, reference="pycocotools", at_least=0.7, digits=2)
    b = _line(capsys, "tiny YOLO mAP@0.5", 0.78, near=0.785, tol=0.01, reference="pycocotools", at_least=0.7,
              digits=2)
    assert a != b and _masked(a) == _masked(b)
    assert _masked(a) == "tiny YOLO mAP@0.5 <measured> = pycocotools <measured> ± 0.01, >= 0.7 ✓\n"
    assert _masked("loss 4.159 = log B 4.159 ± 1e-05 ✓\nx -0.003 <= 0 ✓\n") == (
        "loss <measured> = log B <measured> ± 1e-05 ✓\nx <measured> <= 0 ✓\n")
    # ... but the name, the bound and the verdict are still compared,
    assert _masked(_line(capsys, "acc", 0.95, at_least=0.9)) != _masked(_line(capsys, "acc", 0.95, at_least=0.8))
    assert _masked(_line(capsys, "acc", 0.95, at_least=0.9)) != _masked(_line(capsys, "top-1", 0.95, at_least=0.9))
    assert _masked("acc 0.95 >= 0.9 ✓") != _masked("acc 0.95 >= 0.9")
    # and so is every number outside a claim line.
    for text in ["recall@1: 0.45\n", "mean IoU 0.57 pixel acc 0.92\n", "0.0", "acc 0.95 >= 0.9 (see above)\n"]:
        assert _masked(text) == text


def test_an_unchecked_quick_line_is_masked_too(capsys):
    a = _line(capsys, "val accuracy", 0.812, full=measured(at_least=0.8))
    assert _masked(a) == "val accuracy <measured>: not checked in quick mode (its bound is full mode's)\n"


# ============================================================================ mutation testing (issue 23)
def test_error_messages_in_full(capsys):
    with pytest.raises(TypeError, match=r"^claim 'loss': value='high' is not a number; pass the measured float\.$"):
        claim("loss", "high", at_most=1)
    with pytest.raises(TypeError, match=r"^claim 'loss': value=None is not a number"):
        claim("loss", None, at_most=1)
    with pytest.raises(ClaimError, match=r"^claim 'loss': the measured value is NaN \(training diverged\?\)\.$"):
        claim("loss", "nan", at_most=1)
    with pytest.raises(ClaimError, match=r"^claim 'x': the measured value is NaN"):
        claim("x", 1.0, near=math.nan, tol=0.1)
    with pytest.raises(ValueError, match=r"^claim 'loss': give at least one of at_least=, at_most=, near=\.$"):
        claim("loss", 1.0)
    with pytest.raises(ValueError, match=r"^claim 'loss': near=1\.0 needs tol= \(the allowed absolute difference\)\.$"):
        claim("loss", 1.0, near=1.0)
    with pytest.raises(ValueError, match=r"^measured\(\): give at least one of at_least=, at_most=, near=\.$"):
        measured()
    with pytest.raises(ValueError, match=r"^measured\(\): near=2 needs tol="):
        measured(near=2)
    with pytest.raises(ValueError, match=r"^published\(\): source='' must name where the figure is published\.$"):
        published(0.9, source="", margin=0.1)
    with pytest.raises(ValueError, match=r"^published\(\): source='  ' must name"):
        published(0.9, source="  ", margin=0.1)
    with pytest.raises(ValueError, match=r"^published\(\): source=None must name"):
        published(0.9, source=None, margin=0.1)
    with pytest.raises(ValueError, match=r"^direction='above' must be 'at_least' or 'at_most'"):
        published(0.9, source="paper", margin=0.1, direction="above")
    with pytest.raises(ValueError, match=r"^margin=-0\.1 must be a number of at least 0 \(how much worse a result may "
                                         r"be and still reproduce the figure\)\.$"):
        published(0.9, source="paper", margin=-0.1)
    with pytest.raises(ValueError, match=r"^claim 'x': full=0\.8 must be measured\(\.\.\.\), published\(\.\.\.\), "
                                         r"SAME or None\.$"):
        claim("x", 1.0, at_least=0.5, full=0.8)
    with pytest.raises(ValueError, match=r"^claim 'x': full=SAME repeats the quick bound; give at_least=, at_most= "
                                         r"or near=\.$"):
        claim("x", 1.0, full=SAME)
    with pytest.raises(ClaimError, match=r"^claim failed \(quick mode\): score 0\.650 < 0\.7; 0\.650 > 0\.6\. "
                                         r"The lesson's result no longer holds: check the recipe \(data, epochs, "
                                         r"learning rate\) before changing the bound\.$"):
        claim("score", 0.65, at_least=0.7, at_most=0.6)
    with pytest.raises(ClaimError, match=r"^claim failed \(quick mode\): s 0\.65 is not within 0\.01 of ref 0\.70\.$"
                                         r"|^claim failed \(quick mode\): s 0\.65 is not within 0\.01 of ref 0\.70\. "):
        claim("s", 0.65, near=0.7, tol=0.01, reference="ref", digits=2)
    assert capsys.readouterr().out == ""


def test_bounds_and_published_figures():
    bound = measured(at_least=0.1, at_most=0.9, near=0.5, tol=0.2, reference="ref")
    assert (bound.at_least, bound.at_most, bound.near, bound.tol, bound.reference) == (0.1, 0.9, 0.5, 0.2, "ref")
    assert bound.checked and bound.source is None
    assert measured(at_most=3).at_most == 3 and measured(at_most=3).at_least is None
    # the expected bound is rounded to 12 decimals: 3000.3 - 0.1 is 3000.2000000000003 in floats
    low = published(3000.3, source="paper", margin=0.1)
    assert low.at_least == 3000.2 and low.at_most is None and not low.checked
    assert (low.source, low.figure, low.margin) == ("paper", 3000.3, 0.1)
    high = published("3000.1", source="paper", margin="0.2", direction="at_most")
    assert high.at_most == 3000.3 and high.at_least is None and high.figure == 3000.1 and high.margin == 0.2
    assert published(0.5, source="paper", margin=0).at_least == 0.5
    assert repr(SAME) == "SAME"


def test_default_digits_reference_and_returned_value(capsys):
    assert claim("acc", 0.91234, at_least=0.9) == 0.91234
    assert capsys.readouterr().out == "acc 0.912 >= 0.9 ✓\n"
    value = claim("acc", fractions.Fraction(1, 2), at_most=0.5)
    assert type(value) is float and value == 0.5
    claim("loss", 1.25, near=1.0, tol=0.25)                  # no reference: no label
    assert capsys.readouterr().out.splitlines()[-1] == "loss 1.250 = 1.000 ± 0.25 ✓"
    claim("loss", 1.25, near=1.5, tol=0.25, reference="keras", at_most=2, at_least=1)
    assert capsys.readouterr().out == "loss 1.250 = keras 1.500 ± 0.25, >= 1, <= 2 ✓\n"
    with pytest.raises(ClaimError, match=r"0\.750 is not within 0\.25 of 0\.250"):
        claim("x", 0.75, near=0.25, tol=0.25)


def test_full_mode_lines(monkeypatch, capsys):
    monkeypatch.setenv(config.QUICK_ENV, "0")
    claim("IoU", 0.8, at_least=0.1, at_most=0.9, near=0.5, tol=0.5, reference="r", digits=1)
    assert capsys.readouterr().out == ("IoU 0.8: not checked in full mode "
                                       "(the bound = r 0.5 ± 0.5, >= 0.1, <= 0.9 is quick mode's)\n")
    claim("IoU", 0.8, full=measured(near=0.75, tol=0.1, reference="paper"))
    assert capsys.readouterr().out == "IoU 0.800 = paper 0.750 ± 0.1 ✓\n"
    with pytest.raises(ClaimError, match=r"^claim failed \(full mode\): IoU 0\.800 > 0\.7\. "):
        claim("IoU", 0.8, at_most=0.9, full=measured(at_most=0.7))
    claim("IoU", 0.8, at_most=0.9, full=SAME)
    assert capsys.readouterr().out == "IoU 0.800 <= 0.9 ✓\n"
    # a published upper bound: "above it" only when the value is above
    error = published(0.25, source="paper", margin=0.05, direction="at_most")
    claim("error", 0.2, full=error, digits=2)
    assert capsys.readouterr().out == "error 0.20: expected <= 0.30 (paper: 0.25 + 0.05), unverified here (meets it)\n"
    flowers = published(0.9, source="book", margin=0.1)
    claim("acc", 0.85, full=flowers, digits=2)
    assert capsys.readouterr().out == "acc 0.85: expected >= 0.80 (book: 0.90 - 0.1), unverified here (meets it)\n"
    claim("acc", 0.75, full=flowers, digits=2)
    assert capsys.readouterr().out == "acc 0.75: expected >= 0.80 (book: 0.90 - 0.1), unverified here (below it)\n"
    with pytest.raises(ValueError, match=r"^claim 'acc': give at least one of"):
        claim("acc", 0.75)


def test_a_rehearsal_shows_every_part_of_a_missed_bound(monkeypatch, capsys):
    monkeypatch.setenv(config.REHEARSE_ENV, "1")
    claim("IoU", 0.1, full=measured(at_least=0.6, near=0.5, tol=0.1, reference="r"))
    assert capsys.readouterr().out == "IoU 0.100 = r 0.500 ± 0.1, >= 0.6: not checked (rehearsal)\n"
    claim("IoU", 0.7, full=measured(at_least=0.6))
    assert capsys.readouterr().out == "IoU 0.700 >= 0.6 ✓\n"
