"""claims.claim: prints the visible check line, raises on a missed bound."""

import math

import pytest

from homl_cv.claims import ClaimError, claim


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
    assert claim("mean IoU", 0.1, at_least=0.6) == pytest.approx(0.1)
    assert capsys.readouterr().out == "mean IoU 0.100 >= 0.6: not checked (rehearsal)\n"
    assert claim("mean IoU", 0.7, at_least=0.6) == pytest.approx(0.7)
    assert capsys.readouterr().out.endswith("✓\n")
