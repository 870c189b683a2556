"""Downloads: checksum verified, nothing half-written, plain errors when the network fails."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading

import pytest

from radkit import download
from radkit.errors import RadkitError


@pytest.fixture
def web_server(tmp_path):
    """A tiny web server on 127.0.0.1 serving files from a temporary folder."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_checks_md5_and_keeps_the_file(web_server, tmp_path):
    root, url = web_server
    content = b"pretend dataset" * 1000
    (root / "file.npz").write_bytes(content)
    path = download.download(f"{url}/file.npz", hashlib.md5(content).hexdigest(), tmp_path / "cache",
                             "file.npz", progress=False)
    assert path.read_bytes() == content
    assert download.md5sum(path) == hashlib.md5(content).hexdigest()


def test_checksum_mismatch_is_a_clear_error_and_leaves_nothing(web_server, tmp_path):
    root, url = web_server
    (root / "file.npz").write_bytes(b"not what we expected")
    cache = tmp_path / "cache"
    with pytest.raises(RadkitError, match="checksum does not match"):
        download.download(f"{url}/file.npz", "0" * 32, cache, "file.npz", progress=False)
    assert list(cache.iterdir()) == [], "a failed download must leave no file, not even a temporary one"


def test_missing_file_on_server_is_a_clear_error(web_server, tmp_path):
    _, url = web_server
    with pytest.raises(RadkitError, match="server answered"):
        download.download(f"{url}/nothing.npz", "0" * 32, tmp_path / "cache", "nothing.npz", progress=False)


def test_network_down_is_a_clear_error(tmp_path):
    with socket.socket() as sock:  # a port on which nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RadkitError, match="internet could not be reached") as error:
        download.download(f"http://127.0.0.1:{port}/x.npz", "0" * 32, tmp_path / "cache", "x.npz", progress=False)
    assert "RADKIT_LOCAL_DATA" in str(error.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_fetch_prefers_a_local_copy_and_says_when_it_differs(data_dir, tmp_path, monkeypatch, capsys):
    local = tmp_path / "usb-stick" / "pneumoniamnist"
    local.mkdir(parents=True)
    (local / "pneumoniamnist.npz").write_bytes(b"a teaching copy")
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(local.parent))
    assert download.fetch("pneumoniamnist", 28) == local / "pneumoniamnist.npz"
    assert "not byte-identical" in capsys.readouterr().out


def test_fetch_offline_without_data_says_what_to_do(data_dir, monkeypatch):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    with pytest.raises(RadkitError, match="radkit fetch pneumoniamnist"):
        download.fetch("pneumoniamnist", 64)


def test_fetch_uses_a_verified_cached_copy(data_dir, monkeypatch):
    content = b"cached"
    from radkit import registry

    card = registry.get("breastmnist")
    fake = registry.DataFile(card.files[28].name, "http://127.0.0.1:9/never-used", hashlib.md5(content).hexdigest())
    monkeypatch.setitem(card.files, 28, fake)
    cached = data_dir / "breastmnist" / fake.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(content)
    monkeypatch.setenv("RADKIT_OFFLINE", "1")  # proves no download is attempted
    assert download.fetch("breastmnist", 28) == cached


def test_stored_copy_looks_in_both_layouts_and_folders(data_dir, tmp_path, monkeypatch):
    local = tmp_path / "stick"
    (local / "breastmnist").mkdir(parents=True)
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(local))
    assert download.stored_copy("breastmnist", "breastmnist.npz") is None
    (data_dir / "breastmnist.npz").write_bytes(b"x")  # flat layout, in the data folder
    assert download.stored_copy("breastmnist", "breastmnist.npz") == data_dir / "breastmnist.npz"
    (local / "breastmnist" / "breastmnist.npz").write_bytes(b"y")  # the pre-fetched folder comes first
    assert download.stored_copy("breastmnist", "breastmnist.npz") == local / "breastmnist" / "breastmnist.npz"
