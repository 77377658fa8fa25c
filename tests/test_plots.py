"""Figure titles: wrapped to the figure's width, the words spread evenly over the lines."""

import pytest

from jaxdl import plots

HEADLINE = ("after 20 epochs: cost 0.083 stochastic, 0.272 mini-batch, 0.585 batch: more steps "
            "per pass, noisier steps")


def test_wrap_balances_lines_and_keeps_every_word():
    wrapped = plots.wrap(HEADLINE, 9.0, "large")
    lines = wrapped.split("\n")
    width = int(9.0 * plots.CHARS_PER_INCH["large"])
    assert len(HEADLINE) > width  # one line would overflow the figure
    assert len(lines) == 2 and all(len(line) <= width for line in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 10  # no last line of one word
    assert " ".join(lines).split() == HEADLINE.split()
    assert not any(line.endswith("-") for line in lines)  # "mini-batch" stays whole


def test_wrap_keeps_short_lines_and_explicit_breaks():
    assert plots.wrap("short title", 4.0) == "short title"
    assert plots.wrap("first line\nsecond line", 4.0) == "first line\nsecond line"
    # The font size sets the width: a line that fits as a medium axes title wraps as large.
    text = "x" * 10 + " " + "y" * 40
    assert plots.wrap(text, 4.0, "medium") == text
    assert plots.wrap(text, 4.0, "large").count("\n") == 1


def test_wrap_rejects_an_unknown_size():
    with pytest.raises(ValueError, match="size must be one of"):
        plots.wrap("title", 4.0, "huge")


def test_log_labels_do_not_crowd_a_log_axis():
    pytest.importorskip("matplotlib")
    from matplotlib.ticker import NullFormatter

    from jaxdl import plots

    fig, (wide, narrow) = plots.figure(2)
    wide.scatter([1e-4, 0.09], [1, 2])  # about three decades: the powers of ten
    narrow.scatter([5e-4, 4e-3], [1, 2])  # under a decade: 1, 2 and 5 times a power of ten
    for ax in (wide, narrow):
        ax.set_xscale("log")
        plots.log_labels(ax)
        assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)
    fig.canvas.draw()

    def shown(ax):
        low, high = ax.get_xlim()
        return [t.get_text() for t in ax.get_xticklabels()
                if low <= t.get_position()[0] <= high and t.get_text()]

    assert shown(narrow) == ["0.0005", "0.001", "0.002"]
    assert shown(wide) == [f"$\\mathdefault{{10^{{{k}}}}}$" for k in (-4, -3, -2, -1)]
