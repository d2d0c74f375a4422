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


# notebook: (code shown, the call that first uses it); a layer is used through its builder
SHOWN_BEFORE_USE = {
    "02_architectures.ipynb": [(name, name) for name in (
        "models.build_lenet5", "models.build_alexnet", "models.LocalResponseNormalization",
        "models.InceptionModule", "models.build_vgg16", "models.ResidualUnit", "models.build_resnet34",
        "models.build_xception", "models.SEBlock")] + [("models.XceptionBlock", "models.build_xception")],
    "05_detection.ipynb": [(name, name) for name in (
        "detection.dense_to_conv", "detection.encode_yolo_targets", "detection.evaluate_detections")],
}


@pytest.mark.parametrize("notebook", sorted(SHOWN_BEFORE_USE))
def test_chapters_show_the_code_they_teach_right_before_its_first_use(notebook):
    import json
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "chapters" / notebook
    code = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]
    for name, call in SHOWN_BEFORE_USE[notebook]:
        shown = [i for i, src in enumerate(code) if f"show_source({name}" in src]
        used = [i for i, src in enumerate(code) if re.search(re.escape(call) + r"\(", src)]
        assert shown and used, f"{notebook}: {name} is {'never used' if shown else 'never shown'}"
        assert shown[0] < used[0], f"{notebook}: {name} is used (code cell {used[0]}) before it is shown"


def test_mutation_tool_pragmas_are_left_out_of_listings():
    from homl_cv import conv

    assert "# pragma: no mutate block" in inspect.getsource(conv.DepthwiseMaxPool2D)
    shown = show_source(conv.DepthwiseMaxPool2D).text
    assert "pragma" not in shown
    assert "    def __init__(self, pool_size: int = 2, **kwargs):\n" in shown
