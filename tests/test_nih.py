"""NIH films one file at a time (radkit.nih), against a web server on 127.0.0.1 that plays Google Cloud Storage."""

from __future__ import annotations

import base64
import csv
import hashlib
import http.server
import json
import threading

import numpy as np
import pytest

from radkit import cli, download, nih
from radkit.errors import RadkitError


def _png(seed: int, size: int = 40) -> bytes:
    """A real PNG (so the loaders can read what was downloaded), different for each seed."""
    import io

    from PIL import Image

    pixels = np.full((size, size), seed % 256, dtype=np.uint8)
    pixels[:8, :8] = np.random.default_rng(seed).integers(0, 255, (8, 8), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class Bucket:
    """What the fake server holds and how it misbehaves, film by film."""

    def __init__(self):
        self.files, self.wrong_hash, self.no_hash, self.drop = {}, set(), set(), set()
        self.requester_pays = False
        self.requests = []


@pytest.fixture
def bucket():
    state = Bucket()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            state.requests.append((self.path, self.headers.get("Authorization")))
            name = self.path.split("?")[0].rsplit("/", 1)[-1]
            if state.requester_pays and "userProject=" not in self.path:
                body = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>UserProjectMissing</Code><Message>Bucket "
                        b"is a requester pays bucket but no user project provided.</Message></Error>")
                self.send_response(400)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if name not in state.files:
                self.send_error(404)
                return
            content = state.files[name]
            md5 = hashlib.md5(b"something else" if name in state.wrong_hash else content).digest()
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            if name not in state.no_hash:  # as Google Cloud Storage sends it: base64 of the raw digests
                self.send_header("x-goog-hash", f"crc32c=AAAAAA==,md5={base64.b64encode(md5).decode()}")
            self.end_headers()
            if name in state.drop:  # half the file, then the connection breaks
                self.wfile.write(content[: len(content) // 2])
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            self.wfile.write(content)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/png/"
    yield state
    server.shutdown()


NAMES = [f"0000{i:04d}_000.png" for i in range(1, 7)]


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


# Catches: the server's x-goog-hash (base64 MD5) read wrongly, so good files are refused or bad ones kept.
def test_server_md5_reads_google_and_content_md5_headers():
    digest = hashlib.md5(b"film").digest()
    b64 = base64.b64encode(digest).decode()
    assert nih.server_md5({"x-goog-hash": f"crc32c=n03x6A==,md5={b64}"}) == digest.hex()
    assert nih.server_md5({"Content-MD5": b64}) == digest.hex()
    assert nih.server_md5({"x-goog-hash": "crc32c=n03x6A=="}) is None  # composite objects carry no MD5
    assert nih.server_md5({}) is None


# Catches: a failure on one film stopping the rest, a damaged or half file kept, missing films not named,
# unverified files passed off as checked, and a re-run downloading again.
def test_download_images_checks_each_file_reports_and_resumes(bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("RADKIT_NIH_MIRROR", bucket.url)
    for i, name in enumerate(NAMES[:5]):
        bucket.files[name] = _png(i)
    bucket.wrong_hash.add(NAMES[1])
    bucket.no_hash.add(NAMES[2])
    bucket.drop.add(NAMES[3])
    folder = tmp_path / "images"
    done = nih.download_images(NAMES, folder, progress=False, quiet=True)
    assert done.verified == [NAMES[0], NAMES[4]]
    assert done.unverified == [NAMES[2]]
    assert done.missing == [NAMES[5]]          # the 404: named, and the others carried on
    assert set(done.failed) == {NAMES[1], NAMES[3]}
    assert "checksum" in done.failed[NAMES[1]]
    assert "broke off" in done.failed[NAMES[3]]
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(done.ready)
    assert _leftovers(folder) == []
    for name in done.ready:
        assert (folder / name).read_bytes() == bucket.files[name]
    text = done.summary()
    assert NAMES[5] in text and "unverified" in text and "Run the same command again" in text
    record = json.loads((folder / nih.RECORD).read_text())
    assert record[NAMES[0]]["verified"] and not record[NAMES[2]]["verified"]

    # Re-run with the server fixed: only the two that failed are fetched again, nothing else is requested.
    bucket.wrong_hash.clear()
    bucket.drop.clear()
    bucket.requests.clear()
    again = nih.download_images(NAMES, folder, progress=False, quiet=True)
    assert sorted(again.verified) == sorted([NAMES[1], NAMES[3]])
    assert sorted(again.present) == sorted([NAMES[0], NAMES[2], NAMES[4]])
    assert len(bucket.requests) == 3            # the two failed films and the one missing on the server
    bucket.requests.clear()
    third = nih.download_images(NAMES[:5], folder, progress=False, quiet=True)
    assert bucket.requests == [] and len(third.present) == 5 and not (third.verified or third.unverified)


# Catches: radkit replacing a file it did not download, or a file changed after it downloaded it.
def test_files_already_there_are_never_replaced(bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("RADKIT_NIH_MIRROR", bucket.url)
    bucket.files[NAMES[0]] = _png(0)
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / NAMES[0]).write_bytes(b"the clinic's own copy")
    done = nih.download_images(NAMES[:1], folder, progress=False, quiet=True)
    assert done.present == [NAMES[0]] and bucket.requests == []
    assert (folder / NAMES[0]).read_bytes() == b"the clinic's own copy"


# Catches: a network that is down costing one long wait per film (1,000 of them) instead of stopping.
def test_network_down_stops_after_a_few_and_says_so(tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("RADKIT_NIH_MIRROR", f"http://127.0.0.1:{port}/png")
    done = nih.download_images(NAMES, tmp_path / "images", progress=False, quiet=True)
    assert len(done.failed) == nih.GIVE_UP_AFTER
    assert "internet could not be reached" in next(iter(done.failed.values()))
    assert "were not tried" in done.stopped
    assert _leftovers(tmp_path / "images") == []


# Catches: Google's Requester Pays answer (400) shown as a bare status, or tried 1,000 times; the project and
# token not sent when the user gave them.
def test_requester_pays_is_explained_and_project_and_token_are_sent(bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("RADKIT_NIH_MIRROR", bucket.url)
    bucket.requester_pays = True
    bucket.files.update({n: _png(i) for i, n in enumerate(NAMES)})
    done = nih.download_images(NAMES, tmp_path / "images", progress=False, quiet=True)
    assert len(bucket.requests) == 1 and "Requester Pays" in done.stopped and "RADKIT_NIH_MIRROR" in done.stopped
    bucket.requests.clear()
    monkeypatch.setenv("RADKIT_GCP_PROJECT", "my-project")
    monkeypatch.setenv("RADKIT_GCP_TOKEN", "secret-token")
    nih.download_images(NAMES, tmp_path / "images", progress=False, quiet=True)
    assert bucket.requests[0][1] is None, "the token went to a server that is not Google's"
    bucket.requests.clear()
    monkeypatch.setattr(nih, "TOKEN_SITES", (bucket.url,))  # this local server plays Google's
    done = nih.download_images(NAMES, tmp_path / "images", progress=False, quiet=True)
    assert len(done.verified) == len(NAMES)
    assert all("userProject=my-project" in path and auth == "Bearer secret-token" for path, auth in bucket.requests)
    assert "secret-token" not in done.summary()


# Catches: a name that would write outside the folder (../), and downloading while told to stay offline.
def test_bad_names_and_offline_are_plain_errors(tmp_path, monkeypatch):
    with pytest.raises(RadkitError, match="not an NIH image name"):
        nih.download_images(["../evil.png"], tmp_path)
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    with pytest.raises(RadkitError, match="offline"):
        nih.download_images(NAMES, tmp_path / "images", quiet=True)


HEADER = ["Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age", "Patient Gender",
          "View Position", "OriginalImage[Width", "Height]", "OriginalImagePixelSpacing[x", "y]"]


def _data_entry(path, n=30):
    """A small table in NIH's Data_Entry_2017 layout: pneumonia, no finding, other findings, one child."""
    rows = []
    for i in range(n):
        labels = ["Pneumonia|Effusion", "No Finding", "Cardiomegaly"][i % 3]
        rows.append([f"{i + 1:08d}_000.png", labels, "0", str(i + 1), "9" if i == 0 else str(30 + i),
                     "MF"[i % 2], "AP" if i % 2 else "PA", "2500", "2048", "0.143", "0.143"])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return rows


# Catches: `radkit fetch nih_cxr_subset` choosing children or other findings, writing a table that names
# films which never arrived (the loader would then refuse the folder), or overwriting a table it did not write.
def test_fetch_subset_builds_a_folder_the_loader_reads(bucket, data_dir, monkeypatch, capsys):
    from radkit import labels

    monkeypatch.setenv("RADKIT_NIH_MIRROR", bucket.url)
    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    folder = data_dir / "nih_cxr_subset"
    folder.mkdir(parents=True)
    rows = _data_entry(folder / "Data_Entry_2017_v2020.csv")
    bucket.files.update({r[0]: _png(i) for i, r in enumerate(rows)})
    chosen = nih.choose_subset(nih._read_rows(folder / "Data_Entry_2017_v2020.csv"), n_per_label=5)
    assert all(r["Finding Labels"] in ("Pneumonia|Effusion", "No Finding") for r in chosen)
    assert "00000001_000.png" not in [r["Image Index"] for r in chosen]  # the 9-year-old
    gone = chosen[0]["Image Index"]
    monkeypatch.setattr(nih, "SUBSET_PER_LABEL", 5)
    del bucket.files[gone]
    assert cli.main(["fetch", "nih_cxr_subset"]) == 0
    films = labels.load_nih_subset(size=32, source="real")
    written = nih._read_rows(folder / "Data_Entry_subset.csv")
    assert gone not in [r["Image Index"] for r in written] and len(written) == 9  # 5 + 5 of 30 rows, one missing
    assert films.is_real and len(films.images) == 9
    # No radiologists' labels in a fetched folder: notebook 06's section 5 gets the stand-in, and is told so.
    assert films.expert["labels"].shape[1] == len(films.expert["findings"])
    out = capsys.readouterr().out
    assert gone in out and "radiologists' labels" in out
    # A table the user wrote is never replaced.
    (folder / nih.RECORD).unlink()
    with pytest.raises(RadkitError, match="did not write"):
        nih.fetch_subset(n_per_label=5, quiet=True)


def test_fetch_subset_without_nih_table_says_where_to_get_it(data_dir, monkeypatch):
    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    with pytest.raises(RadkitError, match="Data_Entry_2017") as error:
        nih.fetch_subset(quiet=True)
    assert nih.NIH_PAGE in str(error.value)


# Catches: the heart films written with the wrong box columns, so notebook 07's loader cannot read them.
def test_fetch_heart_boxes_feeds_the_detection_loader(bucket, data_dir, monkeypatch):
    from radkit.boxes import datasets

    monkeypatch.setenv("RADKIT_NIH_MIRROR", bucket.url)
    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    folder = data_dir / "cxr_heart_boxes"
    folder.mkdir(parents=True)
    rows = _data_entry(folder / "Data_Entry_2017.csv", n=12)
    with open(folder / nih.BBOX_NAME, "w", newline="") as handle:
        handle.write("Image Index,Finding Label,Bbox [x,y,w,h],,,\n")
        for i, r in enumerate(rows):
            handle.write(f"{r[0]},{'Cardiomegaly' if i % 2 else 'Mass'},{300 + i},400.5,400,300,,,\n")
    bucket.files.update({r[0]: _png(i, size=1024) for i, r in enumerate(rows)})  # NIH boxes are in 1024 px
    done = nih.fetch_heart_boxes(quiet=True)
    assert len(done.verified) == 6
    data = datasets.load_heart_boxes(size=32, source="real")
    total = sum(len(part[0]) for part in (data.train, data.val, data.test))
    assert data.is_real and total == 6


# Catches: doctor not telling an instructor whether the NIH films are ready (or how to get them).
def test_doctor_reports_the_nih_sets(data_dir, monkeypatch):
    from radkit import doctor

    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    lines = {c.name: c for c in doctor.check_data() if "NIH" in c.name}
    subset = lines["Data: NIH ChestX-ray14, a 1,000-film teaching subset"]
    assert subset.status == "NOTE" and "fetch nih_cxr_subset" in subset.fix
    folder = data_dir / "nih_cxr_subset"
    (folder / "images").mkdir(parents=True)
    _data_entry(folder / "Data_Entry_subset.csv", n=7)
    lines = {c.name: c for c in doctor.check_data() if "NIH" in c.name}
    assert lines["Data: NIH ChestX-ray14, a 1,000-film teaching subset"].status == "OK"
    assert "7 films" in lines["Data: NIH ChestX-ray14, a 1,000-film teaching subset"].detail


# Catches: a full disk tried again for every one of 1,000 films, or its message lost.
def test_a_full_disk_stops_at_once_with_the_reason(bucket, tmp_path, monkeypatch):
    import errno
    import tempfile

    monkeypatch.setenv("RADKIT_NIH_MIRROR", bucket.url)
    bucket.files.update({n: _png(i) for i, n in enumerate(NAMES)})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)
    done = nih.download_images(NAMES, tmp_path / "images", progress=False, quiet=True)
    assert len(done.failed) == 1 and "disk is full" in done.stopped and bucket.requests == []
