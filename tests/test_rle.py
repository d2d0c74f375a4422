"""Run-length encoding of masks (chapter 06): the Kaggle convention, round trips, bad input."""

import numpy as np
import pytest

from homl_cv import data, rle


def test_hand_case_column_major_differs_from_row_major():
    mask = np.array([[1, 1, 1],
                     [0, 0, 0]])
    # column by column the pixels read 1 0 | 1 0 | 1 0: runs at pixels 1, 3 and 5
    assert rle.encode_rle(mask) == "1 1 3 1 5 1"
    row_major = " ".join(str(v) for v in rle.rle_runs(mask.T).ravel())  # rows of mask = columns of mask.T
    assert row_major == "1 3" != rle.encode_rle(mask)
    np.testing.assert_array_equal(rle.decode_rle("1 1 3 1 5 1", (2, 3)), mask.astype(bool))
    # the row-major string, decoded column-major, is another mask
    np.testing.assert_array_equal(rle.decode_rle("1 3", (2, 3)), [[1, 1, 0], [1, 0, 0]])
    # not symmetric in height and width: the same string on a 3x2 grid
    np.testing.assert_array_equal(rle.decode_rle("2 2", (3, 2)), [[0, 0], [1, 0], [1, 0]])


def test_runs_touching_the_first_and_last_pixels_and_empty_and_full_masks():
    mask = np.zeros((4, 5), bool)
    mask[0, 0] = mask[3, 4] = True
    assert rle.encode_rle(mask) == "1 1 20 1"
    assert rle.encode_rle(np.zeros((3, 3))) == ""
    assert rle.decode_rle("", (3, 3)).sum() == 0 and rle.decode_rle("  ", (2, 2)).shape == (2, 2)
    assert rle.encode_rle(np.ones((3, 4), int)) == "1 12"
    # a run crosses from the bottom of one column into the top of the next
    wrap = np.zeros((3, 3), bool)
    wrap[2, 0] = wrap[0, 1] = True
    assert rle.encode_rle(wrap) == "3 2"


@pytest.mark.parametrize("seed", range(5))
def test_round_trip_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 40, size=2)
    mask = rng.random((height, width)) < rng.uniform(0.05, 0.95)
    text = rle.encode_rle(mask)
    np.testing.assert_array_equal(rle.decode_rle(text, (height, width)), mask)
    runs = rle.rle_runs(mask)
    assert runs[:, 1].sum() == mask.sum()
    assert (runs[1:, 0] > runs[:-1, 0] + runs[:-1, 1]).all()  # separate runs have a gap


def test_round_trip_on_the_generated_shape_masks():
    shapes = data.make_shapes(20, image_size=32, max_objects=3, seed=3)
    for class_mask in shapes.masks:
        for value in np.unique(class_mask):
            mask = class_mask == value
            assert np.array_equal(rle.decode_rle(rle.encode_rle(mask), mask.shape), mask)
    # RLE is short for compact shapes: at most one run per column crossing
    one = shapes.masks[0] > 0
    assert len(rle.rle_runs(one)) <= 3 * one.shape[1]


@pytest.mark.parametrize("call, message", [
    (lambda: rle.encode_rle(np.zeros((2, 3, 3))), r"mask must have shape \(H, W\) \(one mask\); got shape \(2, 3, 3\)\. Encode a batch mask by mask"),
    (lambda: rle.encode_rle(np.full((2, 2), 0.7)), r"must hold only 0 and 1"),
    (lambda: rle.decode_rle("1 2 3", (2, 2)), r"has 3 numbers; it must hold pairs"),
    (lambda: rle.decode_rle("1 x", (2, 2)), r"must hold integers only"),
    (lambda: rle.decode_rle("3 3", (2, 2)), r"every run must end within the 2x2 = 4 pixels"),
    (lambda: rle.decode_rle("0 1", (2, 2)), r"starts must be >= 1"),
    (lambda: rle.decode_rle("3 1 1 1", (2, 2)), r"runs overlap or are out of order"),
    (lambda: rle.decode_rle("1 2 2 1", (2, 2)), r"runs overlap or are out of order"),
    (lambda: rle.decode_rle("1 1", (0, 2)), r"shape=.* must be|shape=0"),
    (lambda: rle.decode_rle(None, (2, 2)), r"rle=None must be a string"),
])
def test_bad_input_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
