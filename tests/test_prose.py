from helpers.prose import sci


def test_scientific_notation_for_prose():
    assert sci(7.06e13) == "7.06 × 10¹³"
    assert sci(1_572_864) == "1.57 × 10⁶"
    assert sci(9.996e5) == "1.00 × 10⁶"
    assert sci(2.5e-7, 2) == "2.5 × 10⁻⁷"
    assert sci(0.0793) == "0.0793"
    assert sci(123.456) == "123"
