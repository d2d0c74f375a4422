"""listing.show_source: the package code as a chapter shows it."""

import inspect

import pytest

from homl_cv import claims
from homl_cv.listing import Listing, show_source


def test_plain_text_is_the_source_itself():
    listing = show_source(claims.claim)
    assert isinstance(listing, Listing)
    assert listing.name == "homl_cv.claims.claim"
    assert listing.text == inspect.getsource(claims.claim)
    assert repr(listing) == "# homl_cv.claims.claim\n" + listing.text


def test_html_is_highlighted_and_escaped():
    html = show_source(claims.ClaimError).html()
    assert "<span" in html and "ClaimError" in html
    assert "<div" in html


def test_docstring_can_be_skipped():
    full = show_source(claims.claim).text
    short = show_source(claims.claim, skip_docstring=True).text
    assert "Args:" in full and "Args:" not in short
    assert "def claim(" in short and "print(" in short


def test_no_source_is_a_clear_error():
    with pytest.raises(TypeError, match="obj=3 has no Python source"):
        show_source(3)


def _documented(x):
    """First line.

    Indented body, as every multi-line docstring in the package has.
    """
    return x + 1


def test_docstring_is_skipped_whatever_python_makes_of_doc():
    # Python 3.13 dedents __doc__ at compile time, so __doc__'s text is not in the
    # source; set it to the dedented text on every version to test the 3.13 case.
    _documented.__doc__ = inspect.cleandoc(_documented.__doc__)
    text = show_source(_documented, skip_docstring=True).text
    assert text == "def _documented(x):\n    return x + 1\n"


def test_a_function_without_docstring_is_shown_whole():
    text = show_source(lambda_free, skip_docstring=True).text
    assert text == inspect.getsource(lambda_free)


def lambda_free(x):
    return x * 2
