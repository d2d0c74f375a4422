"""claims.claim: prints the visible check line, raises on a missed bound."""

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
