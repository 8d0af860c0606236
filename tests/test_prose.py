import numpy as np

from helpers.publish.prose import plain, sci


def test_scientific_notation_for_prose():
    assert sci(7.06e13) == "7.06 × 10¹³"
    assert sci(1_572_864) == "1.57 × 10⁶"
    assert sci(9.996e5) == "1.00 × 10⁶"
    assert sci(2.5e-7, 2) == "2.5 × 10⁻⁷"
    assert sci(0.0793) == "0.0793"
    assert sci(123.456) == "123"


def test_numpy_scalars_are_glued_as_python_numbers():
    for value in (np.float64(0.25), np.float32(0.5), np.int64(3)):
        assert type(plain(value)) in (float, int) and repr(plain(value)) in ("0.25", "0.5", "3")
    assert plain("text") == "text" and plain([1, 2]) == [1, 2]
