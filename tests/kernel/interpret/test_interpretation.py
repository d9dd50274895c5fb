"""ClassificationInterpretation on a real (synthetic-blob) classifier built with torchloom's data API."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from torchloom import (
    Categorize,
    ClassificationInterpretation,
    CrossEntropyLossFlat,
    Datasets,
    ItemGetter,
    Learner,
)

VOCAB = ["ant", "bee", "cat", "dog"]


def _learn(epochs: int = 3):
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.6, 0.6]])  # dog sits next to ant
    ys = torch.randint(0, 4, (400,), generator=g)
    xs = centers[ys] + 0.7 * torch.randn(400, 2, generator=g)
    items = [(x, VOCAB[int(y)]) for x, y in zip(xs, ys)]
    dsets = Datasets(items, [[ItemGetter(0)], [ItemGetter(1), Categorize()]],
                     splits=[list(range(300)), list(range(300, 400))])
    dls = dsets.dataloaders(bs=32)
    learn = Learner(dls, nn.Linear(2, 4), loss_func=CrossEntropyLossFlat(), lr=0.1, progress=False)
    learn.fit(epochs)
    return learn


@pytest.fixture(scope="module")
def interp():
    return ClassificationInterpretation.from_learner(_learn())


def test_confusion_matrix_counts_actual_rows_against_predicted_columns(interp):
    cm = interp.confusion_matrix()
    preds, targs = interp.learn.get_preds()
    assert cm.shape == (4, 4) and int(cm.sum()) == 100
    for i in range(4):
        for j in range(4):
            assert int(cm[i, j]) == int(((targs == i) & (preds.argmax(1) == j)).sum())
    assert cm.diagonal().sum() / cm.sum() > 0.7  # it learned something


def test_most_confused_names_classes_largest_first(interp):
    pairs = interp.most_confused()
    assert pairs == sorted(pairs, key=lambda r: -r[2]) and all(a != b for a, b, _ in pairs)
    assert {pairs[0][0], pairs[0][1]} == {"ant", "dog"}  # the overlapping pair
    assert interp.most_confused(min_val=1000) == []
    cm = interp.confusion_matrix()
    assert sum(c for *_, c in interp.most_confused()) == int(cm.sum() - cm.diagonal().sum())


def test_top_losses_are_the_per_item_losses(interp):
    losses, idxs = interp.top_losses(5)
    preds, targs = interp.learn.get_preds()
    expected = nn.functional.nll_loss(preds.log(), targs, reduction="none")
    assert torch.allclose(losses, expected[idxs], atol=1e-5)
    assert torch.allclose(losses, expected.topk(5).values, atol=1e-5)  # the largest ones, largest first


def test_plots_render_items_by_type(interp):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    fig = interp.plot_top_losses(4)
    _, idxs = interp.top_losses(4)
    titles = [ax.get_title() for ax in fig.axes[:4]]
    for t, i in zip(titles, idxs.tolist()):
        pred, actual = t.split("\n")[0].split("/")
        assert actual == VOCAB[int(interp.targs[i])] and pred == VOCAB[int(interp.decoded[i])]
    # a plain tensor input has no show(): it is drawn as its values
    assert fig.axes[0].texts and fig.axes[0].texts[0].get_text().startswith("[")
    cm_fig = interp.plot_confusion_matrix(normalize=True)
    ax = cm_fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == VOCAB and len(ax.texts) == 16


def test_unlabelled_data_is_refused():
    learn = _learn(epochs=0)
    test_dl = learn.dls.test_dl([torch.zeros(2), torch.ones(2)])
    with pytest.raises(ValueError, match="labelled"):
        ClassificationInterpretation.from_learner(learn, dl=test_dl)


def test_text_inputs_are_drawn_as_snippets_and_tables_come_back_as_tables(interp):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    from torchloom import TitledStr, subplots

    _, ax = subplots(what="a test")
    interp.show_input(TitledStr("a decoded review that is long enough to be wrapped over lines"), ax)
    assert ax.get_title() == "" and "\n" in ax.texts[0].get_text()  # a snippet, not a title
    pd = pytest.importorskip("pandas")

    class TableInterp(ClassificationInterpretation):  # what a loader that decodes to a DataFrame yields
        def decoded_items(self, idxs):
            return pd.DataFrame({"x": [float(i) for i in idxs], "y": ["?"] * len(idxs)}, index=list(idxs))

    t = TableInterp(interp.learn, interp.dl, interp.preds, interp.targs, interp.decoded, interp.losses)
    table = t.plot_top_losses(3)
    losses, idxs = interp.top_losses(3)
    assert list(table.columns) == ["x", "y", "loss", "probability"]
    assert table["x"].tolist() == [float(i) for i in idxs] and table["loss"].tolist() == pytest.approx(losses.tolist())
