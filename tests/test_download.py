"""Downloads: checksum verified, nothing half-written, plain errors when the network fails."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from radkit import config, download, registry
from radkit.errors import RadkitError

ROOT = Path(__file__).resolve().parent.parent


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
    out = capsys.readouterr().out
    assert "unverified copy" in out and "checksum differs" in out
    assert str(tmp_path) not in out, "the note must not show this computer's absolute path"


def test_fetch_offline_without_data_says_what_to_do(data_dir, monkeypatch):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    with pytest.raises(RadkitError, match="run.py fetch pneumoniamnist"):
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


# ---------------------------------------------------------------- a misbehaving server (issue 12, section 5)

@pytest.fixture
def bad_server():
    """A server on 127.0.0.1 that misbehaves on purpose; ``start(kind)`` returns its URL.

    kinds: "drop" (promises 200 kB, sends 20 kB, hangs up), "drop-chunked" (the same with chunked
    transfer), "trickle" (one byte every 0.1 s: only an overall deadline stops it), "garbage-length",
    "silent" (never answers).
    """
    servers = []

    def start(kind):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        stop = threading.Event()

        def serve():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                try:
                    conn.recv(65536)
                    if kind == "drop":
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 20000)
                    elif kind == "drop-chunked":
                        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     + b"4e20\r\n" + b"x" * 20000 + b"\r\n" + b"4e20\r\nxx")
                    elif kind == "garbage-length":
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\nxxxx")
                    elif kind == "silent":  # takes the request, never answers
                        stop.wait(30)
                    elif kind == "trickle":
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                        while not stop.is_set():
                            conn.sendall(b"x")
                            time.sleep(0.1)
                except OSError:
                    pass
                finally:
                    conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((stop, listener))
        return f"http://127.0.0.1:{listener.getsockname()[1]}/file.npz"

    yield start
    for stop, listener in servers:
        stop.set()
        listener.close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# Bug caught: a connection dropped mid-file raised requests' raw ChunkedEncodingError (or left a .part file).
@pytest.mark.parametrize("kind", ["drop", "drop-chunked", "garbage-length"])
def test_a_connection_dropped_mid_file_is_a_plain_error_and_leaves_nothing(bad_server, tmp_path, kind):
    url = bad_server(kind)
    with pytest.raises(RadkitError, match=r"file\.npz") as error:
        download.download(url, "0" * 32, tmp_path / "cache", "file.npz", progress=False)
    assert kind == "garbage-length" or "practice images" in str(error.value)
    assert _leftovers(tmp_path / "cache") == []


# Bug caught: a server that sends one byte at a time kept a notebook waiting for hours (no overall deadline).
def test_a_slow_server_meets_an_overall_deadline(bad_server, tmp_path):
    url = bad_server("trickle")
    start = time.monotonic()
    with pytest.raises(RadkitError, match="too slow"):
        download.download(url, "0" * 32, tmp_path / "cache", "file.npz", progress=False, deadline=1.0)
    assert time.monotonic() - start < 6, "the deadline must stop a read that is waiting on the server"
    assert _leftovers(tmp_path / "cache") == []


# Bug caught: a read-only data folder (a shared workshop cache) raised a raw PermissionError.
def test_a_folder_that_cannot_be_written_is_a_plain_error(web_server, tmp_path, monkeypatch):
    root, url = web_server
    (root / "file.npz").write_bytes(b"data")
    cache = tmp_path / "cache"
    cache.mkdir()
    if os.geteuid() != 0:
        cache.chmod(0o555)
    else:  # root may write anywhere: make the temporary file fail as a read-only folder would
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(download.tempfile, "NamedTemporaryFile", refuse)
    try:
        with pytest.raises(RadkitError, match="cannot save downloads") as error:
            download.download(f"{url}/file.npz", hashlib.md5(b"data").hexdigest(), cache, "file.npz",
                              progress=False)
        assert "RADKIT_DATA" in str(error.value)
        assert _leftovers(cache) == []
    finally:
        cache.chmod(0o755)


# Bug caught: a RADKIT_DATA that cannot be created raised a raw FileExistsError/PermissionError from mkdir.
@pytest.mark.parametrize("where", ["below-a-file", "system-folder"])
def test_an_uncreatable_data_folder_is_a_plain_error(tmp_path, monkeypatch, where):
    if where == "below-a-file":
        (tmp_path / "a-file").write_text("x")
        folder = tmp_path / "a-file" / "radkit"
    else:
        folder = Path("/sys/radkit-cannot-be-here")
        if not Path("/sys").is_dir() or os.access("/sys", os.W_OK) and os.geteuid() != 0:
            pytest.skip("no read-only system folder here")
    monkeypatch.setenv("RADKIT_DATA", str(folder))
    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    with pytest.raises(RadkitError, match="cannot create its data folder") as error:
        config.data_dir()
    assert str(tmp_path) not in str(error.value)
    with pytest.raises(RadkitError):
        download.fetch("pneumoniamnist", 28, quiet=True)


# Bug caught: every file radkit downloaded was mode 0600, so a copied cache was unreadable for other accounts.
def test_downloaded_files_are_readable_by_everyone(web_server, tmp_path):
    root, url = web_server
    (root / "file.npz").write_bytes(b"data")
    path = download.download(f"{url}/file.npz", hashlib.md5(b"data").hexdigest(), tmp_path / "cache",
                             "file.npz", progress=False)
    assert path.stat().st_mode & 0o777 == 0o644


# Bug caught: `kill -9` during a download left tmp* files forever; the clean-up must also never touch
# files that merely look similar (a user's tmp_notes.txt, a young download still running in another notebook).
def test_files_left_by_a_killed_download_are_cleaned_and_nothing_else(bad_server, web_server, tmp_path):
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        from radkit import download
        download.download({bad_server("trickle")!r}, "0" * 32, {str(cache)!r}, "file.npz", progress=False)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)})
    for _ in range(100):
        parts = [p for p in _leftovers(cache) if p.endswith(".part")]
        if parts and (cache / parts[0]).stat().st_size > 0:
            break
        time.sleep(0.1)
    child.kill()  # kill -9: no clean-up code runs
    child.wait()
    assert len(parts) == 1, "the killed download should have left its .part file (the situation under test)"
    old = time.time() - download.STALE_SECONDS - 60
    keep = ["tmp_notes.txt", "tmpabcdefgh.csv", "my.part", "pneumoniamnist.npz"]
    for name in keep + ["tmpab_12xyz"]:
        (cache / name).write_text("a user's file")
    for name in keep + [parts[0], "tmpab_12xyz"]:
        os.utime(cache / name, (old, old))
    young = cache / ".radkit-download-running.part"
    young.write_text("another notebook is downloading")
    root, url = web_server
    (root / "file2.npz").write_bytes(b"data")
    download.download(f"{url}/file2.npz", hashlib.md5(b"data").hexdigest(), cache, "file2.npz", progress=False)
    assert sorted(_leftovers(cache)) == sorted(keep + [young.name, "file2.npz"])


# Bug caught: a file with the wrong checksum in the data folder was announced as real data without a word
# (and with pooch it would have been overwritten by a new download).
def test_a_cached_file_with_the_wrong_checksum_is_called_unverified_and_kept(data_dir, web_server, monkeypatch,
                                                                            capsys):
    root, url = web_server
    (root / "pneumoniamnist.npz").write_bytes(b"the official file")
    card = registry.get("pneumoniamnist")
    monkeypatch.setitem(card.files, 28, registry.DataFile("pneumoniamnist.npz", f"{url}/pneumoniamnist.npz",
                                                          hashlib.md5(b"the official file").hexdigest()))
    cached = data_dir / "pneumoniamnist" / "pneumoniamnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"an instructor's copy")
    assert download.fetch("pneumoniamnist", 28) == cached
    out = capsys.readouterr().out
    assert "unverified copy" in out and "checksum differs" in out and str(data_dir) not in out
    assert cached.read_bytes() == b"an instructor's copy", "radkit must not overwrite a file it did not make"


# Bug caught: RADKIT_LOCAL_DATA set to a folder that does not exist was ignored without a word.
def test_local_data_pointing_nowhere_is_said(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "_SAID", set())
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(tmp_path / "usb-stick-not-plugged-in"))
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    with pytest.raises(RadkitError):
        download.fetch("pneumoniamnist", 28)
    out = capsys.readouterr().out
    assert "RADKIT_LOCAL_DATA is set to" in out and "no folder there" in out
    assert str(tmp_path) not in out


# Bug caught: load_pneumonia(source="auto") crashed on a dropped download instead of using the phantoms.
# One case per failure of section 5; each must end in the practice phantoms with the reason said.
@pytest.mark.parametrize("kind", ["drop", "drop-chunked", "trickle", "unwritable", "uncreatable"])
def test_load_pneumonia_falls_back_to_phantoms_on_every_download_failure(data_dir, bad_server, tmp_path,
                                                                         monkeypatch, capsys, kind):
    from radkit import data

    monkeypatch.setattr(download, "DEADLINE_SECONDS", 1.0)
    card = registry.get("pneumoniamnist")
    for size in (28, 64):
        url = bad_server("drop" if kind in ("unwritable", "uncreatable") else kind)
        monkeypatch.setitem(card.files, size, registry.DataFile(card.files[size].name, url, "0" * 32))
    if kind == "unwritable":
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(download.tempfile, "NamedTemporaryFile", refuse)
    if kind == "uncreatable":
        (tmp_path / "a-file").write_text("x")
        monkeypatch.setenv("RADKIT_DATA", str(tmp_path / "a-file" / "radkit"))
    monkeypatch.setenv("RADKIT_FAST", "0")  # the stand-in below has no fast-mode subset
    monkeypatch.setattr(data.datasets, "load_phantom_chest", lambda size, *a, **k: "phantoms")
    assert data.load_pneumonia(28) == "phantoms"
    out = capsys.readouterr().out
    assert "PRACTICE images" in out
    assert "Traceback" not in out


# Bug caught: a damaged file someone left in the data folder stopped load_pneumonia(source="auto") instead of
# falling back, or was replaced by radkit (it did not make it).
def test_a_damaged_cached_file_falls_back_to_phantoms_and_is_kept(data_dir, monkeypatch, capsys):
    from radkit import data

    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "0")
    card = registry.get("pneumoniamnist")
    for size in (28, 64):
        cached = data_dir / "pneumoniamnist" / card.files[size].name
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(b"half a file")
    monkeypatch.setattr(data.datasets, "load_phantom_chest", lambda size, *a, **k: "phantoms")
    assert data.load_pneumonia(64) == "phantoms"
    out = capsys.readouterr().out
    assert "unverified copy" in out and "PRACTICE images" in out and "damaged" in out
    assert cached.read_bytes() == b"half a file"


# Bug caught: a server that takes the request and never answers gave requests' raw ReadTimeout.
def test_a_server_that_never_answers_is_a_plain_error(bad_server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "READ_TIMEOUT", 1)
    with pytest.raises(RadkitError, match="stopped answering") as error:
        download.download(bad_server("silent"), "0" * 32, tmp_path / "cache", "file.npz", progress=False)
    assert "Timeout" not in str(error.value)
    assert _leftovers(tmp_path / "cache") == []
