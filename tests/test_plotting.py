"""Pictures drawn from data: the skip-network diagram reads the model's own layers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np

import dip_helpers as dh


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def test_diagram_of_the_paper_network():
    texts = " | ".join(_texts(dh.plot_skip_network(dh.skip_network(), size=(512, 384))))
    assert "z: 512×384, 32 ch" in texts and "deepest: 16×12, 128 ch" in texts and "image: 512×384, 3 ch" in texts
    assert texts.count("skip: 1×1 conv, 4 ch") == 5 and texts.count("(bilinear)") == 5
    assert "concat 4 + 128 ch" in texts and "scale 4: 32×24, 128 ch" in texts


def test_diagram_follows_the_knobs():
    net = dh.skip_network(8, 1, (16, 24, 32), (12, 20, 28), (4, 0, 2), upsample="nearest")
    texts = " | ".join(_texts(dh.plot_skip_network(net, size=(64, 64))))
    assert "z: 64×64, 8 ch" in texts and "scale 1: 32×32, 16 ch" in texts and "scale 2: 16×16, 24 ch" in texts
    assert "deepest: 8×8, 32 ch" in texts and "image: 64×64, 1 ch" in texts
    assert "skip: 1×1 conv, 4 ch" in texts and "no skip" in texts and "skip: 1×1 conv, 2 ch" in texts
    assert "concat 2 + 32 ch" in texts and "concat 4 + 20 ch" in texts and texts.count("(nearest)") == 3


def test_the_dip_loop_names_each_part_and_the_operator_it_is_given():
    import numpy as np

    for operator, words in [
        (None, "A = identity\n(denoising)"),
        (dh.Identity(), "A = identity\n(denoising)"),
        (dh.Mask(np.tile([[1.0, 0.0, 0.0, 0.0]], (4, 1))), "keeps 25%"),
        (dh.Downsampler(4, "lanczos2"), "A = ×4 lanczos2"),
        (dh.Downsampler(2, "box"), "A = ×2 box"),
    ]:
        fig = dh.plot_dip_loop(operator)
        texts = " | ".join(_texts(fig))
        assert words in texts, (operator, texts)
        for part in ("z\nfixed noise", "f_θ", "x = f_θ(z + n)", "loss = mean((A x − y)²)", "y: the measurement"):
            assert part in texts
        from matplotlib.text import Annotation

        arrows = [t for t in fig.axes[0].texts if isinstance(t, Annotation)]
        assert len(fig.axes[0].texts) - len(arrows) == 7 and len(arrows) == 6 and "updates θ" in texts


def test_receptive_fields_drawn_as_squares_of_their_sizes_around_the_middle():
    import numpy as np

    fields = {"scale 1": 7, "scale 5": 187, "output": 315}
    fig = dh.plot_receptive_fields(np.zeros((512, 384, 3)), fields, gradient=np.ones((512, 384)))
    squares = fig.axes[0].patches
    assert [(p.get_width(), p.get_height()) for p in squares] == [(7, 7), (187, 187), (315, 315)]
    assert all(p.get_x() + p.get_width() / 2 == 192 and p.get_y() + p.get_height() / 2 == 256 for p in squares)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["scale 1: 7", "scale 5: 187", "output: 315"]
    assert len(fig.axes) == 2 and "log scale" in fig.axes[1].get_title()
    assert len(dh.plot_receptive_fields(np.zeros((64, 64)), {"a": 3}).axes) == 1


def test_rule_losses_draw_the_mean_the_range_and_every_seed():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    dh.plot_rule_losses(ax, {"last": [1.0, 2.0, 4.5], "sure": [0.5, 0.1, 0.3]})
    assert [round(b.get_height(), 6) for b in ax.patches] == [2.5, 0.3]
    ranges = [tuple(np.round(seg[:, 1], 6)) for lines in ax.collections for seg in lines.get_segments()]
    assert ranges == [(1.0, 4.5), (0.1, 0.5)]  # a vertical line per rule, from the least to the most lost
    dots = [line for line in ax.lines if line.get_marker() == "."]
    assert [list(d.get_ydata()) for d in dots] == [[1.0, 2.0, 4.5], [0.5, 0.1, 0.3]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["last", "sure"]
    plt.close(fig)
