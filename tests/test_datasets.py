"""cr.datasets: the shipped files (checked by sha256), the loaders with and without a
path, and the small sets built in code."""

import gzip
import hashlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.datasets import BUNDLED, bundled
from chainrule.io import ChecksumError

# MNIST's published test-set class counts, digits 0..9
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_each_shipped_file_has_its_recorded_sha256(name):
    data = bundled.bundled_file(name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == BUNDLED[name]


def test_the_data_readme_names_every_file_its_source_and_licence():
    readme = bundled.bundled_file("Churn_Modelling.csv").parent.joinpath("README.md").read_text()
    for name, sha in BUNDLED.items():
        assert f"`{name}`" in readme and sha in readme
    assert "Y. LeCun and C. Cortes" in readme and "CC BY-SA 3.0" in readme
    assert "Kaggle" in readme and "undocumented" in readme


def test_load_mnist_gives_the_test_release():
    images, labels = cr.datasets.load_mnist()
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS
    assert images.max() == 255 and images.min() == 0


def test_load_churn_gives_10000_rows_and_2037_leavers():
    X, y, names = cr.datasets.load_churn()
    assert X.shape == (10000, 11) and X.dtype == np.float32
    assert y.shape == (10000,) and int(y.sum()) == 2037
    assert names == cr.datasets.CHURN_FEATURES
    # first row: France, 619, Female, 42, 2, 0.0, 1, 1, 1, 101348.88
    np.testing.assert_allclose(X[0], [0, 0, 619, 0, 42, 2, 0, 1, 1, 1, 101348.88], rtol=1e-6)


def test_a_damaged_shipped_file_is_refused(monkeypatch):
    monkeypatch.setitem(BUNDLED, "Churn_Modelling.csv", "0" * 64)
    with pytest.raises(ChecksumError, match="Churn_Modelling.csv.*reinstall"):
        cr.datasets.load_churn()


def test_loaders_read_a_users_own_copy(tmp_path):
    images, labels = cr.datasets.load_mnist()
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (5, 28, 28))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(header + images[:5].tobytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(
        bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + labels[:5].tobytes()))
    got_images, got_labels = cr.datasets.load_mnist(tmp_path)
    np.testing.assert_array_equal(got_images, images[:5])
    np.testing.assert_array_equal(got_labels, labels[:5])
    csv = tmp_path / "churn.csv"
    source = bundled.read_bundled("Churn_Modelling.csv").decode().splitlines()
    csv.write_text("\n".join(source[:4]) + "\n")
    X, y, _ = cr.datasets.load_churn(csv)
    assert X.shape == (3, 11) and y.tolist() == [1, 0, 1]


def test_loader_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_churn: no file at"):
        cr.datasets.load_churn(tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError, match="load_mnist"):
        cr.datasets.load_mnist(tmp_path / "missing")
    (tmp_path / "images-idx3").write_bytes(b"not an idx file")
    (tmp_path / "labels-idx1").write_bytes(b"not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        cr.datasets.load_mnist(tmp_path)


def test_small_sets_built_in_code():
    X, y = cr.datasets.xor()
    assert X.shape == (4, 3) and y.ravel().tolist() == [0, 1, 1, 0]
    c, f = cr.datasets.celsius()
    assert c.shape == f.shape == (100, 1) and f[50, 0] == 32.0
    text = cr.datasets.chain_rule_text()
    assert text.startswith("A neural network is a function") and len(text) == 2615


def test_the_datasets_package_is_reachable_both_ways():
    assert cr.datasets is cr.data.datasets
    assert cr.datasets.load_mnist is cr.data.datasets.idx.load_mnist


def test_damaged_files_are_named_with_what_is_wrong(tmp_path):
    source = bundled.read_bundled("Churn_Modelling.csv").decode().splitlines()
    header, row = source[0], source[1].split(",")
    row[header.split(",").index("Age")] = "forty"
    (tmp_path / "age.csv").write_text("\n".join([header, source[2], ",".join(row)]) + "\n")
    with pytest.raises(ValueError, match=r"age.csv: row 2, column 'Age' holds 'forty', not "
                                         r"a number"):
        cr.datasets.load_churn(tmp_path / "age.csv")
    (tmp_path / "short.csv").write_text(header + "\n1,2,3\n")
    with pytest.raises(ValueError, match=r"short.csv: row 1 has Geography None"):
        cr.datasets.load_churn(tmp_path / "short.csv")
    (tmp_path / "latin1.csv").write_bytes(header.encode() + b"\n\xe9\xe9\n")
    with pytest.raises(ValueError, match="latin1.csv is not a readable UTF-8 CSV"):
        cr.datasets.load_churn(tmp_path / "latin1.csv")
    idx = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2, 28, 28))
    for name, data, message in (
            ("cut-images-idx3", idx[:9], "truncated inside its header"),
            ("few-images-idx3", idx + bytes(100), r"declares an array of shape \(2, 28, 28\) "
                                                 r"\(1,568 bytes\), but holds 100 bytes"),
            ("cut-images-idx3.gz", gzip.compress(idx + bytes(1568))[:-30], "is damaged"),
            ("short-images-idx3.gz", gzip.compress(idx + bytes(100)), "holds 100 bytes of")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=f"{name}.*{message}|{message}.*{name}"):
            cr.datasets.load_mnist(tmp_path / name)
