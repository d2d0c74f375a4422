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
