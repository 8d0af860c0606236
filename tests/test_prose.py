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


def test_one_readable_formatter_for_every_table_cell():
    from helpers.core.numbers import display_name, readable

    cases = {
        1570000.0: "1,570,000",  # a count written as a float
        np.int64(2048): "2,048",
        0.041: "0.041",
        -0.008: "-0.008",
        12.345: "12.3",
        1234.5: "1,234",
        6.1e-6: "6.10 × 10⁻⁶",
        2.5e7 + 0.5: "2.50 × 10⁷",
        float("nan"): "–",
        None: "–",
        True: "yes",
        np.bool_(False): "no",
        "text": "text",
    }
    for value, expected in cases.items():
        assert readable(value) == expected, value
    assert display_name("mean_universality") == "mean universality" and display_name("R²") == "R²" and display_name(3) == 3
    assert [display_name(n) for n in ("l0", "ce_clean", "r_squared", "n_c", "alpha", "α_m", "lm_step", "d_model", "r_low")] == [
        "L0",
        "CE clean",
        "R²",
        "N_c",
        "α",
        "αₘ",
        "LM step",
        "d model",
        "r, low",
    ]


def test_glued_tables_read_without_snake_case_nan_or_row_numbers():
    """A notebook's tables get the readable formatter (notebook.start) and glue_table's headers."""
    import pandas as pd

    from helpers.publish import notebook
    from helpers.publish.prose import display_name

    previous = pd.get_option("styler.format.formatter"), pd.get_option("styler.format.na_rep")
    try:
        pd.set_option("styler.format.formatter", notebook.readable)
        pd.set_option("styler.format.na_rep", "–")
        frame = pd.DataFrame({"share_matched": [0.5, float("nan")], "ok": [True, False], "tokens": [1570000.0, 2.0]})
        html = frame.style.hide(axis="index").format_index(display_name, axis="columns").to_html()
    finally:
        pd.set_option("styler.format.formatter", previous[0])
        pd.set_option("styler.format.na_rep", previous[1])
    assert "share matched" in html and "share_matched" not in html
    assert ">nan<" not in html and ">–<" in html and ">yes<" in html and ">False<" not in html and ">1,570,000<" in html


def test_a_chapters_own_formats_still_show_missing_values_as_a_dash():
    import pandas as pd

    from helpers.publish.prose import readable_styler

    frame = pd.DataFrame({"mean_r": [0.25, float("nan")], "kind": ["a", "b"]})
    html = readable_styler(frame.style.format({"mean_r": "{:.3f}"}).hide(axis="index")).to_html()
    assert ">0.250<" in html and ">–<" in html and ">nan<" not in html and "mean r" in html
    pivot = pd.DataFrame({"keep_fraction": [0.1, 0.2], "rule": ["x", "x"], "alpha": [1.0, 2.0]}).pivot(
        index="keep_fraction", columns="rule", values="alpha"
    )
    assert "keep_fraction" not in readable_styler(pivot.style).to_html()


def test_no_false_or_e_notation_survives_a_chapters_own_format():
    import pandas as pd

    from helpers.publish.prose import readable_styler

    frame = pd.DataFrame({"comparable": [False, True], "N": [1.57e6, 9.44e6], "r": [0.12345, 0.5]}, index=pd.Index([0.1, 0.2], name="keep_fraction"))
    html = readable_styler(frame.style.format(precision=3)).to_html()
    assert ">False<" not in html and ">no<" in html and ">yes<" in html
    assert "e+06" not in html and ">1,570,000<" in html and ">0.123<" in html  # a chapter's precision kept where it reads well
    assert ">0.100000<" not in html and ">0.1<" in html and "keep fraction" in html


def test_long_rules_are_numbered_once_in_order_of_appearance():
    from helpers.publish.prose import numbered, numbered_list

    labels = numbered(["beats L∞ + A/d", "above the untrained pair", "beats L∞ + A/d"])
    assert labels == {"beats L∞ + A/d": "R1", "above the untrained pair": "R2"}
    assert numbered_list(labels) == "- **R1.** beats L∞ + A/d\n- **R2.** above the untrained pair"


def test_binned_means_by_hand():
    import numpy as np

    from helpers.publish.plotting import binned_means

    x = np.array([0.05, 0.1, 0.15, 0.55, 0.6, 1.0, 0.99])
    y = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 5.0, 7.0])
    centres, means = binned_means(x, y, bins=2, min_count=2)
    np.testing.assert_allclose(centres, [0.25, 0.75])
    np.testing.assert_allclose(means, [2.0, (10 + 20 + 5 + 7) / 4])  # x = 1.0 falls in the last bin
    assert np.isnan(binned_means(x, y, bins=2, min_count=4)[1][0])


def test_log_axes_get_labels_that_do_not_collide():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.publish.plotting import compact_number, log_ticks, tidy_log_ticks

    assert [compact_number(v) for v in (0.5, 2, 3000, 300_000, 1e6, 2e-4)] == ["0.5", "2", "3,000", "3×10⁵", "10⁶", "2×10⁻⁴"]
    assert log_ticks(3e5, 3e6) == [5e5, 1e6, 2e6] and log_ticks(3e5, 9e5) == [3e5, 5e5] and log_ticks(6e5, 9e5) == [6e5, 7e5, 8e5, 9e5]
    fig, (narrow, wide) = plt.subplots(1, 2)
    narrow.plot([2.5e5, 1.5e6], [1, 2]), narrow.set_xscale("log")  # under one decade: one power of ten inside
    wide.plot([1, 1e6], [1, 2]), wide.set_xscale("log")
    tidy_log_ticks(fig)
    fig.canvas.draw()
    labels = [t.get_text() for t in narrow.get_xticklabels() if t.get_text() and narrow.get_xlim()[0] <= t.get_position()[0] <= narrow.get_xlim()[1]]
    assert labels == ["5×10⁵", "10⁶"]  # 1, 2 and 5 × 10ᵉ inside the limits, not every multiple
    assert not [t for t in narrow.xaxis.get_minorticklabels() if t.get_text()]
    assert not [t for t in wide.xaxis.get_minorticklabels() if t.get_text()]
    plt.close(fig)


def test_ladder_names_each_rung_once_per_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from helpers.publish.plotting import draw_ladder

    ladder = pd.DataFrame({"rung": ["quick", "study"], "widest N": [4e5, 3.5e6], "r": [0.1, 0.3], "untrained r": [0.2, 0.25]})
    fig, ax = plt.subplots()
    draw_ladder(ax, ladder, "r", "trained")
    draw_ladder(ax, ladder, "untrained r", "untrained")
    assert sorted(t.get_text() for t in ax.texts) == ["quick", "study"]
    plt.close(fig)


def test_a_rounded_negative_number_reads_as_zero():
    import pandas as pd

    from helpers.publish.prose import readable_styler

    html = readable_styler(pd.DataFrame({"slope": [-0.0, -0.0004, -0.25]}).style.format(precision=2)).to_html()
    assert ">0.00<" in html and ">-0.00<" not in html and ">-0.25<" in html
    assert "-4.00 × 10⁻⁴" in html  # a non-zero number is never printed as zero, signed or not
