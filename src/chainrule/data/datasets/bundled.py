"""The data files that ship inside the package, each checked by its sha256 on read.

The files live in ``files/`` beside this module (their sources and licences are in
``files/README.md``) and are reached with :mod:`importlib.resources`, so they are
found wherever chainrule is installed.
"""

from __future__ import annotations

from importlib import resources

from ...io import ChecksumError, sha256_of

# sha256 of each shipped file, as listed with the project's shared data sets
# (MNIST's values are the published files' own: md5 9fb629c4... and ec29112d...).
BUNDLED = {
    "Churn_Modelling.csv":
        "d67867b8dc6582c3caf24cbcd435c568decca160148585b506fa1b061d84ad04",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "chain_rule.txt":
        "c44699d935913462ffbd83eaba04d34fb9e0cf3383ee6b556d605da5f155d27d",
}


def bundled_file(name: str):
    """The shipped file ``name`` (a Traversable, a Path on ordinary installs)."""
    if name not in BUNDLED:
        raise KeyError(f"No data file named {name!r} ships with chainrule; "
                       f"choose from {sorted(BUNDLED)}.")
    return resources.files(__package__).joinpath("files", name)


def read_bundled(name: str) -> bytes:
    """The bytes of shipped file ``name``, after checking its sha256."""
    data = bundled_file(name).read_bytes()
    found = sha256_of(data)
    if found != BUNDLED[name]:
        raise ChecksumError(f"chainrule's copy of {name} has sha256 {found}, not "
                            f"{BUNDLED[name]}: the installation is damaged; reinstall chainrule.")
    return data


def chain_rule_text() -> str:
    """The character LSTM's corpus: six paragraphs about backpropagation (public domain)."""
    return read_bundled("chain_rule.txt").decode("utf-8")
