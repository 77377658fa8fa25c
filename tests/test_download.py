"""Cached, checksummed downloads (jaxdl.data.download) against a local HTTP server.

The server runs on 127.0.0.1 in a thread and serves bytes the tests make; nothing here touches
the internet. It can honour or ignore HTTP ``Range`` requests and can drop the connection part
way through a response, to test resumed and restarted downloads.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading

import pytest

from jaxdl.data import download
from jaxdl.data.download import ChecksumError, DownloadError, fetch_file, resolve_cache_dir
from jaxdl.infra.untrusted import UntrustedFileError


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and srv.ranges:
            start = int(rng.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        if srv.cut_after is not None and srv.cuts > 0:
            srv.cuts -= 1
            self.wfile.write(rest[: srv.cut_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # drop the connection mid-body
            self.close_connection = True
            return
        self.wfile.write(rest)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.ranges = True
        self.cut_after: int | None = None
        self.cuts = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PAYLOAD = bytes(range(256)) * 40 + b"tail"  # 10244 bytes


def test_download_writes_the_checked_file(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    path = fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path)
    assert path == str(tmp_path / "a.bin")
    assert open(path, "rb").read() == PAYLOAD
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]  # no .part left behind
    assert server.requests == [("/a.bin", None)]


def test_cache_hit_makes_no_request(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path)
    server.shutdown()  # a second request would now fail
    server.server_close()
    again = fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD).upper(), tmp_path)
    assert open(again, "rb").read() == PAYLOAD
    assert len(server.requests) == 1


def test_dropped_connection_is_continued_with_a_range_request(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    server.cut_after, server.cuts = 3000, 1
    seen = []
    path = fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path,
                 progress=lambda done, total: seen.append((done, total)))
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests == [("/a.bin", None), ("/a.bin", "bytes=3000-")]
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_partial_file_from_an_earlier_run_is_continued(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:5000])
    path = fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path)
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests == [("/a.bin", "bytes=5000-")]


def test_server_without_ranges_restarts_from_the_first_byte(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    server.ranges = False
    (tmp_path / "a.bin.part").write_bytes(b"x" * 5000)  # garbage that must not be kept
    path = fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path)
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests == [("/a.bin", "bytes=5000-")]


def test_complete_partial_file_gets_416_and_restarts(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD)
    path = fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path)
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests == [("/a.bin", f"bytes={len(PAYLOAD)}-"), ("/a.bin", None)]


def test_connection_dropped_every_time_gives_up_and_keeps_the_partial_file(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    server.cut_after, server.cuts = 1000, 10
    with pytest.raises(DownloadError, match="broke.*3 times.*run again") as err:
        fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path, retries=2)
    assert str(tmp_path / "a.bin") in str(err.value)
    assert (tmp_path / "a.bin.part").read_bytes() == PAYLOAD[:3000]
    assert not (tmp_path / "a.bin").exists()
    server.cuts = 0
    assert open(fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path), "rb").read() \
        == PAYLOAD
    assert server.requests[-1] == ("/a.bin", "bytes=3000-")


def test_wrong_checksum_is_refused_and_nothing_is_kept(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    wrong = _sha(b"something else")
    with pytest.raises(ChecksumError) as err:
        fetch_file(server.url("a.bin"), "a.bin", wrong, tmp_path)
    message = str(err.value)
    assert server.url("a.bin") in message and wrong in message and _sha(PAYLOAD) in message
    assert str(tmp_path / "a.bin") in message
    assert os.listdir(tmp_path) == []
    assert isinstance(err.value, OSError)


@pytest.mark.parametrize("cached", [PAYLOAD[:-1] + b"X", PAYLOAD + b"more"])
def test_damaged_cached_file_is_downloaded_again(server, tmp_path, cached):
    server.files["a.bin"] = PAYLOAD
    (tmp_path / "a.bin").write_bytes(cached)
    path = fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path,
                      max_bytes=len(PAYLOAD))
    assert open(path, "rb").read() == PAYLOAD
    assert len(server.requests) == 1


@pytest.mark.skipif(download.fcntl is None, reason="no fcntl: downloads are not locked")
def test_a_download_in_progress_elsewhere_is_not_disturbed(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:100])
    fd = os.open(tmp_path / "a.bin.part", os.O_RDWR)
    try:
        download.fcntl.flock(fd, download.fcntl.LOCK_EX)
        with pytest.raises(DownloadError, match="another process is downloading"):
            fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path)
        assert (tmp_path / "a.bin.part").read_bytes() == PAYLOAD[:100]
    finally:
        os.close(fd)
    assert server.requests == []


def test_partial_file_that_is_a_link_or_a_fifo_is_refused(tmp_path):
    os.symlink(tmp_path / "elsewhere", tmp_path / "a.bin.part")
    with pytest.raises(UntrustedFileError, match="is a symlink"):
        fetch_file("http://127.0.0.1:9/a.bin", "a.bin", "0" * 64, tmp_path)
    assert not (tmp_path / "elsewhere").exists()
    os.unlink(tmp_path / "a.bin.part")
    os.mkfifo(tmp_path / "a.bin.part")
    with pytest.raises(DownloadError, match="not a regular file"):
        fetch_file("http://127.0.0.1:9/a.bin", "a.bin", "0" * 64, tmp_path)


def test_connection_refused_is_one_clear_error(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    url = f"http://127.0.0.1:{port}/train-images-idx3-ubyte.gz"
    with pytest.raises(DownloadError) as err:
        fetch_file(url, "train-images-idx3-ubyte.gz", "0" * 64, tmp_path, timeout=5)
    message = str(err.value)
    assert url in message and "offline" in message and "by hand" in message
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
    assert os.listdir(tmp_path) == []


def test_http_404_is_one_clear_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404.*by hand"):
        fetch_file(server.url("missing.bin"), "missing.bin", "0" * 64, tmp_path)


def test_size_limit(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="more than the limit of 1000"):
        fetch_file(server.url("a.bin"), "a.bin", _sha(PAYLOAD), tmp_path, max_bytes=1000)
    assert os.listdir(tmp_path) == []


def test_cached_path_that_is_not_a_regular_file_is_refused(tmp_path):
    (tmp_path / "a.bin").mkdir()
    with pytest.raises(UntrustedFileError, match="not a regular file"):
        fetch_file("http://127.0.0.1:9/a.bin", "a.bin", "0" * 64, tmp_path)


@pytest.mark.parametrize("url, filename, sha, match", [
    ("file:///etc/passwd", "a.bin", "0" * 64, "http"),
    ("http://x/a", "../a.bin", "0" * 64, "plain file name"),
    ("http://x/a", "sub/a.bin", "0" * 64, "plain file name"),
    ("http://x/a", "a.bin", "abc", "64 hex digits"),
])
def test_bad_arguments(tmp_path, url, filename, sha, match):
    with pytest.raises(ValueError, match=match):
        fetch_file(url, filename, sha, tmp_path)


def test_cache_folder_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(download.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache_dir() == str(tmp_path / "xdg" / "jaxdl" / "datasets")
    monkeypatch.setenv(download.ENV_VAR, str(tmp_path / "env"))
    assert resolve_cache_dir() == str(tmp_path / "env")
    assert resolve_cache_dir(tmp_path / "arg") == str(tmp_path / "arg")


def _idx(a) -> bytes:
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    return header + a.tobytes()


def test_load_images_downloads_from_the_next_mirror(server, tmp_path, monkeypatch):
    """The whole path: two mirrors (the first refuses connections), four checked downloads,
    the IDX files read; a second load makes no request."""
    import gzip

    import numpy as np

    from jaxdl.data import catalog

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, 3).astype(np.uint8),
              rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, 2).astype(np.uint8)]
    source = catalog.SOURCES["mnist"]
    remotes = []
    for remote, a in zip(source.files, arrays):
        body = gzip.compress(_idx(a))
        server.files["mirror/" + remote.filename] = body
        remotes.append(catalog.Remote(remote.filename, len(body), _sha(body)))
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}/"
    dead.close()
    monkeypatch.setitem(catalog.SOURCES, "mnist", source._replace(
        mirrors=(dead_url, server.url("mirror/")), files=tuple(remotes)))
    data = catalog.load_images("mnist", tmp_path, timeout=5)
    np.testing.assert_array_equal(data.x_train[..., 0], arrays[0])
    np.testing.assert_array_equal(data.y_test, arrays[3])
    assert sorted(os.listdir(tmp_path / "mnist")) == sorted(r.filename for r in remotes)
    assert len(server.requests) == 4
    catalog.load_images("mnist", tmp_path)
    assert len(server.requests) == 4
    server.files["mirror/" + remotes[0].filename] = b"damaged"
    (tmp_path / "mnist" / remotes[0].filename).unlink()
    with pytest.raises(ChecksumError, match="other mirrors failed too") as err:
        catalog.load_images("mnist", tmp_path, timeout=5)
    assert dead_url + remotes[0].filename in str(err.value)
