"""io/download.py and the fetchers, against an HTTP server on 127.0.0.1 that each test
starts itself: nothing here reaches the internet."""

import gzip
import hashlib
import http.server
import io
import socket
import tarfile
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.datasets import remote
from chainrule.io import ChecksumError, DownloadError, get_file

PAYLOAD = bytes(range(256)) * 1000  # 256 kB: several chunks


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LoopbackServer:
    """Serves ``files`` (name -> bytes); counts requests; with ``cut_short`` it sends
    the full Content-Length, half the body, and closes the connection."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.cut_short = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if server.cut_short else body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = LoopbackServer()
    yield s
    s.close()


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_a_good_file_is_downloaded_checked_and_cached(server, tmp_path):
    server.files["data.bin"] = PAYLOAD
    path = get_file("data.bin", server.url + "data.bin", file_hash=sha256(PAYLOAD),
                    cache_dir=tmp_path, progress=False)
    assert path == tmp_path / "datasets" / "data.bin"
    assert path.read_bytes() == PAYLOAD and len(server.requests) == 1
    again = get_file("data.bin", server.url + "data.bin", file_hash=sha256(PAYLOAD),
                     cache_dir=tmp_path, progress=False)
    assert again == path and len(server.requests) == 1  # the second call asked nothing
    assert leftovers(tmp_path) == ["data.bin"]


def test_a_wrong_checksum_raises_and_keeps_nothing(server, tmp_path):
    server.files["data.bin"] = PAYLOAD
    expected = sha256(b"something else")
    url = server.url + "data.bin"
    with pytest.raises(ChecksumError) as raised:
        get_file("data.bin", url, file_hash=expected, cache_dir=tmp_path, progress=False)
    message = str(raised.value)
    assert url in message and expected in message and sha256(PAYLOAD) in message
    assert str(tmp_path / "datasets" / "data.bin") in message  # where a hand copy goes
    assert leftovers(tmp_path) == []


def test_a_connection_closed_mid_file_leaves_no_partial_file(server, tmp_path):
    server.files["data.bin"] = PAYLOAD
    server.cut_short = True
    url = server.url + "data.bin"
    with pytest.raises(DownloadError, match="data.bin"):
        get_file("data.bin", url, file_hash=sha256(PAYLOAD), cache_dir=tmp_path,
                 progress=False)
    assert leftovers(tmp_path) == []
    server.cut_short = False
    path = get_file("data.bin", url, file_hash=sha256(PAYLOAD), cache_dir=tmp_path,
                    progress=False)
    assert path.read_bytes() == PAYLOAD and leftovers(tmp_path) == ["data.bin"]


def test_a_cut_short_file_without_a_hash_is_still_refused(server, tmp_path):
    server.files["data.bin"] = PAYLOAD
    server.cut_short = True
    with pytest.raises(DownloadError):
        get_file("data.bin", server.url + "data.bin", cache_dir=tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_no_server_raises_the_offline_error(tmp_path):
    with socket.socket() as s:  # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mnist.npz"
    expected = "ab" * 32
    with pytest.raises(DownloadError) as raised:
        get_file("mnist.npz", url, file_hash=expected, cache_dir=tmp_path, progress=False)
    message = str(raised.value)
    assert message.startswith(f"Could not download {url}")
    assert expected in message and "by hand" in message
    assert str(tmp_path / "datasets" / "mnist.npz") in message
    assert "set CHAINRULE_DATA to a folder holding datasets/mnist.npz" in message
    assert leftovers(tmp_path) == []


def test_a_missing_file_names_the_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match="Not Found"):
        get_file("absent.bin", server.url + "absent.bin", cache_dir=tmp_path, progress=False)


def test_a_damaged_cached_file_is_fetched_again(server, tmp_path):
    server.files["data.bin"] = PAYLOAD
    target = tmp_path / "datasets" / "data.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"damaged")
    get_file("data.bin", server.url + "data.bin", file_hash=sha256(PAYLOAD),
             cache_dir=tmp_path, progress=False)
    assert target.read_bytes() == PAYLOAD and len(server.requests) == 1


def test_the_cache_folder_comes_from_chainrule_data(server, tmp_path, monkeypatch):
    server.files["data.bin"] = PAYLOAD
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "cache"))
    path = get_file(origin=server.url + "data.bin", cache_subdir="here", progress=False)
    assert path == tmp_path / "cache" / "here" / "data.bin"
    monkeypatch.delenv("CHAINRULE_DATA")
    assert cr.io.cache_root().parts[-2:] == (".cache", "chainrule")


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="origin"):
        get_file("x", None, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="fname"):
        get_file("../x", "http://127.0.0.1/x", cache_dir=tmp_path)


# ---------------------------------------------------------------- the fetchers


def idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def serve_as(server, monkeypatch, dataset, files: dict[str, bytes]) -> None:
    """Serve ``files`` and make ``dataset`` expect their hashes (the published ones
    belong to the real files, which no test downloads)."""
    for name, body in files.items():
        server.files[name] = body
        monkeypatch.setitem(dataset.files, name, sha256(body))


def mnist_npz(n_train: int = 6, n_test: int = 2) -> tuple[bytes, dict]:
    """A small file shaped as Keras' mnist.npz, and its arrays."""
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": np.arange(n_train, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": np.arange(n_test, dtype=np.uint8)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue(), arrays


def test_fetch_mnist_reads_the_npz_without_pickles(server, tmp_path, monkeypatch):
    body, arrays = mnist_npz()
    serve_as(server, monkeypatch, remote.MNIST, {"mnist.npz": body})
    (x_train, y_train), (x_test, y_test) = cr.datasets.fetch_mnist(
        origin=server.url, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert (tmp_path / "datasets" / "mnist" / "mnist.npz").is_file()


def test_fetch_fashion_mnist_reads_four_idx_files(server, tmp_path, monkeypatch):
    images, labels = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256, np.array([9, 0, 3])
    serve_as(server, monkeypatch, remote.FASHION_MNIST, {
        "train-images-idx3-ubyte.gz": idx_gz(images), "train-labels-idx1-ubyte.gz":
        idx_gz(labels), "t10k-images-idx3-ubyte.gz": idx_gz(images[:1]),
        "t10k-labels-idx1-ubyte.gz": idx_gz(labels[:1])})
    (x_train, y_train), (x_test, y_test) = cr.datasets.fetch_fashion_mnist(
        origin=server.url, cache_dir=tmp_path, progress=False)
    assert x_train.shape == (3, 28, 28) and x_train.dtype == np.uint8
    assert y_train.tolist() == [9, 0, 3] and x_test.shape == (1, 28, 28)


def test_fetch_cifar10_reads_the_binary_release_channels_last(server, tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    batches = {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            records = rng.integers(0, 256, (2, 3073), dtype=np.uint8)
            records[:, 0] %= 10
            batches[name] = records
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = records.nbytes
            tar.addfile(info, io.BytesIO(records.tobytes()))
    serve_as(server, monkeypatch, remote.CIFAR10, {"cifar-10-binary.tar.gz": buffer.getvalue()})
    (x_train, y_train), (x_test, y_test) = cr.datasets.fetch_cifar10(
        origin=server.url, cache_dir=tmp_path, progress=False)
    assert x_train.shape == (10, 32, 32, 3) and y_train.shape == (10, 1)
    first = batches["data_batch_1.bin"][0]
    assert y_train[0, 0] == first[0]
    np.testing.assert_array_equal(x_train[0, :, :, 1], first[1 + 1024:1 + 2048].reshape(32, 32))
    np.testing.assert_array_equal(y_test[:, 0], batches["test_batch.bin"][:, 0])


def test_the_published_hashes_are_sha256_values():
    for dataset in (remote.MNIST, remote.FASHION_MNIST, remote.CIFAR10):
        assert dataset.origin.startswith("https://")
        for sha in dataset.files.values():
            assert len(sha) == 64 and int(sha, 16) >= 0
