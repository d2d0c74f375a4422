"""homl_cv.checks: one rule set, and messages that name the argument, the value and the fix."""

import numpy as np
import pytest

from homl_cv import checks


def test_positive_int_accepts_numpy_ints_and_rejects_bools():
    assert checks.positive_int(np.int64(3), "n") == 3
    for bad in (0, -1, 2.5, True, np.bool_(True), "3"):
        with pytest.raises(ValueError, match=rf"n={bad!r} must be a positive integer"):
            checks.positive_int(bad, "n")


def test_int_at_least_says_why():
    assert checks.int_at_least(2, "num_classes", 2) == 2
    with pytest.raises(ValueError, match=r"num_classes=1 must be an integer of at least 2 \(two or more\)"):
        checks.int_at_least(1, "num_classes", 2, "two or more")


def test_pair_rejects_bools_and_negatives():
    assert checks.pair(3, "kernel") == (3, 3)
    assert checks.pair([2, np.int32(5)], "kernel") == (2, 5)
    assert checks.pair((0, 1), "output_padding", minimum=0) == (0, 1)
    with pytest.raises(ValueError, match=r"strides=True must be an int or a pair of ints \(height, width\)"):
        checks.pair(True, "strides")
    with pytest.raises(ValueError, match="strides=-1 must be a positive integer"):
        checks.pair((-1, 2), "strides")
    with pytest.raises(ValueError, match="must be an int or a pair"):
        checks.pair((1, 2, 3), "strides")
    with pytest.raises(ValueError, match="output_padding=-1 must be an integer of at least 0"):
        checks.pair(-1, "output_padding", minimum=0)


def test_one_of_and_padding():
    assert checks.one_of("max", "mode", ("max", "avg")) == "max"
    with pytest.raises(ValueError, match="mode='min' must be 'max' or 'avg'"):
        checks.one_of("min", "mode", ("max", "avg"))
    with pytest.raises(ValueError, match="variant='4s' must be '32s', '16s' or '8s'"):
        checks.one_of("4s", "variant", ("32s", "16s", "8s"))
    with pytest.raises(ValueError, match="flag=True must be 1 or 0"):
        checks.one_of(True, "flag", (1, 0))
    assert checks.padding("SAME") == "same"
    with pytest.raises(ValueError, match="padding='full' must be 'valid' or 'same'"):
        checks.padding("full")


def test_image_batch_says_how_to_add_the_batch_axis():
    assert checks.image_batch(np.zeros((2, 4, 4, 3)), dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"images must be a batch of shape \(N, H, W, C\).*image\[None\]"):
        checks.image_batch(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"photos must be a batch .* got shape \(4, 4\)\.$"):
        checks.image_batch(np.zeros((4, 4)), name="photos")


def test_input_shape_and_multiples_of_the_stride():
    assert checks.input_shape([64, 64, np.int64(3)]) == (64, 64, 3)
    with pytest.raises(ValueError, match=r"input_shape=\(28, 28\) must be \(height, width, channels\)"):
        checks.input_shape((28, 28))
    with pytest.raises(ValueError, match="three positive integers"):
        checks.input_shape((28, 0, 1))
    with pytest.raises(ValueError, match=r"U-Net downsamples by 8, so the image width must be a positive "
                                         r"multiple of 8; resize or pad the images \(e.g. to 56\)"):
        checks.input_shape((64, 50, 3), multiple_of=8, model="U-Net")


def test_shaped_fixed_and_free_axes_and_leading_ellipsis():
    assert checks.shaped(np.zeros((3, 4)), "boxes", ("N", 4)).shape == (3, 4)
    assert checks.shaped(np.zeros((2, 5, 4)), "boxes", ("...", 4)).shape == (2, 5, 4)
    assert checks.shaped([1, 2], "x", ("N",), dtype=np.float32).dtype == np.float32
    for bad in (np.zeros((3, 5)), np.zeros(4), np.zeros((1, 3, 4))):
        with pytest.raises(ValueError, match=rf"boxes must have shape \(N, 4\); got shape \{bad.shape}"[:-1]):
            checks.shaped(bad, "boxes", ("N", 4))
    with pytest.raises(ValueError, match=r"x must have shape \(N,\) \(one per box\); got shape \(2, 2\)\. Flatten"):
        checks.shaped(np.zeros((2, 2)), "x", ("N",), "one per box", hint="Flatten it.")
    with pytest.raises(ValueError, match=r"must have shape \(\.\.\., 4\); got shape \(3,\)"):
        checks.shaped(np.zeros(3), "boxes", ("...", 4))


def test_same_length_names_every_length():
    assert checks.same_length(("a", [1, 2]), ("b", (3, 4)), ("c", "xy")) == 2
    with pytest.raises(ValueError, match=r"^a \(2\), b \(2\) and c \(1\) must have the same length\.$"):
        checks.same_length(("a", [1, 2]), ("b", [3, 4]), ("c", [5]))


def test_positive_number_and_number_at_least_at_the_bound():
    assert checks.positive_number(1e-9, "lr") == 1e-9
    assert checks.number_at_least(0, "margin", 0) == 0.0
    for bad in (0, -1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match=r"lr=.* must be a positive number"):
            checks.positive_number(bad, "lr")
    with pytest.raises(ValueError, match=r"margin=-0\.1 must be a number of at least 0 \(a tolerance\)\."):
        checks.number_at_least(-0.1, "margin", 0, "a tolerance")


def test_ordered_range_at_both_ends():
    assert checks.ordered_range((0.3, 0.3), "r", 0, 1, low_open=True) == (0.3, 0.3)
    assert checks.ordered_range([0, 1], "r", 0, 1) == (0.0, 1.0)
    assert checks.ordered_range((0, 5), "speed_range", 0) == (0.0, 5.0)
    for bad in ((0, 0.5), (0.6, 0.5), (0.5, 1.01), (0.5,), "ab"):
        with pytest.raises(ValueError, match=r"must be \(min, max\) with 0 < min <= max <= 1\.$"):
            checks.ordered_range(bad, "r", 0, 1, low_open=True)
    with pytest.raises(ValueError, match=r"speed_range=\(-1, 2\) must be \(min, max\) with 0 <= min <= max \(pixels per frame\)\."):
        checks.ordered_range((-1, 2), "speed_range", 0, unit="pixels per frame")


def test_non_empty():
    assert checks.non_empty([1], "rates") == [1]
    with pytest.raises(ValueError, match=r"^names=\(\) is empty: pass at least one item\.$"):
        checks.non_empty((), "names")


def test_int_in_at_both_bounds():
    assert checks.int_in(1, "k", 1, 4) == 1 and checks.int_in(np.int64(4), "k", 1, 4) == 4
    for bad in (0, 5, 2.0, True):
        with pytest.raises(ValueError, match=r"^k=.* must be an integer from 1 to 4 \(one per box\)\.$"):
            checks.int_in(bad, "k", 1, 4, "one per box")


def test_multiple_of_at_the_bound_and_its_example():
    assert checks.multiple_of(8, "size", 8) == 8 and checks.multiple_of(np.int32(16), "size", 8) == 16
    for bad, example in ((0, 8), (9, 16), (-8, 8), (8.0, 8), (True, 8)):
        with pytest.raises(ValueError, match=rf"^size={bad!r} must be a positive multiple of 8, e\.g\. {example}\.$"):
            checks.multiple_of(bad, "size", 8)


def test_same_shape_names_every_shape():
    assert checks.same_shape(("a", np.zeros((2, 3))), ("b", [[0, 0, 0]] * 2)) == (2, 3)
    assert checks.same_shape(("a", np.zeros(1)), ("b", [7])) == (1,)
    with pytest.raises(ValueError, match=r"^a \(2, 3\), b \(2, 3\) and c \(3,\) must have the same shape \(one per pixel\)\.$"):
        checks.same_shape(("a", np.zeros((2, 3))), ("b", np.zeros((2, 3))), ("c", np.zeros(3)), why="one per pixel")


def test_integers_accepts_every_integer_dtype_only():
    for dtype in (np.int8, np.uint8, np.int64):
        assert checks.integers(np.zeros(2, dtype), "ids").dtype == dtype
    for dtype in (np.float32, bool):
        with pytest.raises(ValueError, match=rf"^ids must hold integers; got dtype {np.dtype(dtype).name}\.$"):
            checks.integers(np.zeros(2, dtype), "ids")


def test_binary_accepts_bools_and_0_1_only():
    assert checks.binary(np.array([True, False]), "m").dtype == bool
    assert checks.binary(np.zeros((2, 2), np.uint8), "m").shape == (2, 2)
    assert checks.binary([], "m").size == 0
    for bad in ([0, 2], [-1, 0], [0.5]):
        with pytest.raises(ValueError, match=r"^m must hold only 0 and 1 \(or booleans\); threshold it\.$"):
            checks.binary(bad, "m", "threshold it")


def test_shaped_accepts_any_of_several_shapes():
    assert checks.shaped(np.zeros((3, 4)), "m", [("H", "W"), ("N", "H", "W")]).shape == (3, 4)
    assert checks.shaped(np.zeros((2, 3, 4)), "m", [("H", "W"), ("N", "H", "W")]).shape == (2, 3, 4)
    for bad in (np.zeros(3), np.zeros((1, 2, 3, 4))):
        with pytest.raises(ValueError, match=r"^m must have shape \(H, W\) or \(N, H, W\); got shape"):
            checks.shaped(bad, "m", [("H", "W"), ("N", "H", "W")])


def test_positive_values_at_zero_and_non_finite():
    assert checks.positive_values([1e-6, 2], "r").dtype == np.float32
    with pytest.raises(ValueError, match=r"^r must hold finite, positive numbers; got 0.0 at index 1\.$"):
        checks.positive_values([1, 0], "r")
    with pytest.raises(ValueError, match=r"^r has a non-finite value inf"):
        checks.positive_values([1, np.inf], "r")


def test_has_attributes_names_what_is_missing():
    class Clip:
        boxes, ids = [], []
    clip = Clip()
    assert checks.has_attributes(clip, "truth", ("boxes", "ids"), "a clip") is clip
    with pytest.raises(ValueError, match=r"^strategy must have scope \(a strategy\); got int\.$"):
        checks.has_attributes(3, "strategy", ("scope",), "a strategy")


def test_unique_and_odd_at_their_bounds():
    assert checks.unique((1, 2), "seeds") == (1, 2) and checks.unique((), "seeds") == ()
    with pytest.raises(ValueError, match=r"^seeds=\(1, 1\) repeats 1; its items must be unique\.$"):
        checks.unique((1, 1), "seeds")
    assert checks.odd(1, "k") == 1 and checks.odd(np.int64(3), "k") == 3
    for bad, example in ((0, 3), (2, 3), (-1, 3), (True, 3), (3.0, 3)):
        with pytest.raises(ValueError, match=rf"^k={bad!r} must be an odd positive integer, e\.g\. {example}\.$"):
            checks.odd(bad, "k")


def test_indices_at_both_ends():
    assert checks.indices([0, 2], "i", 3).tolist() == [0, 2]
    assert checks.indices(np.array([5]), "i", None).tolist() == [5]
    for bad, value in (([3], 3), ([-1], -1)):
        with pytest.raises(ValueError, match=rf"^i has {value} at index 0 \(1 in all\), outside \[0, 3\) \(rows\)\.$"):
            checks.indices(bad, "i", 3, "rows")
    with pytest.raises(ValueError, match=r"outside \[0, \.\.\.\)"):
        checks.indices([-2], "i", None)
    with pytest.raises(ValueError, match=r"^i must hold integers"):
        checks.indices([0.5], "i", 3)


def test_values_in_at_the_bounds_and_tolerance():
    assert checks.values_in([0, 1], "x", 0, 1).tolist() == [0, 1]
    assert checks.values_in([-0.01, 1.01], "x", 0, 1, tolerance=0.01).shape == (2,)
    assert checks.values_in([], "x", 0, 1).size == 0
    with pytest.raises(ValueError, match=r"^x must hold values in \[0, 1\]; got \[0, 1\.02\]\.$"):
        checks.values_in([0, 1.02], "x", 0, 1, tolerance=0.01)


def test_subset_lists_or_describes_what_is_allowed():
    assert checks.subset((3, 5), "k", (3, 5, 7)) == (3, 5) and checks.subset((), "k", (3,)) == ()
    with pytest.raises(ValueError, match=r"^k=\(3, 9\) has 9, which is not 3, 5 or 7\.$"):
        checks.subset((3, 9), "k", (3, 5, 7))
    with pytest.raises(ValueError, match=r"^k=\[9\] has 9, which is not one of the kernels\.$"):
        checks.subset([9], "k", (3,), "one of the kernels")


def test_the_docstring_examples_hold():
    import doctest

    assert doctest.testmod(checks, optionflags=doctest.ELLIPSIS).failed == 0
