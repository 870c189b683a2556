"""NIH ChestX-ray14 films, one file at a time, from a web copy of the dataset (notebooks 06, 07 and 10).

ChestX-ray14 (112,120 films) is far too big to download for a course, but each
film is also one PNG file on a public web copy, named as in NIH's tables
(``00000001_000.png``). RadKit downloads only the films a course set needs:

- ``download_images(names, folder)`` - any list of NIH names into a folder, one at a
  time, each atomic and checked against the MD5 the server vouches for (Google Cloud
  Storage sends it in its ``x-goog-hash`` header; a plain ``Content-MD5`` works too; a
  server that offers none gives "unverified" files, and RadKit says so). Run it
  again and it skips what is already here, so an interrupted download resumes.
- ``fetch_subset()`` - the 1,000-film teaching subset of notebooks 06 and 10
  (``radkit fetch nih_cxr_subset``), chosen from NIH's public table Data_Entry_2017.
- ``fetch_heart_boxes()`` - the 146 films with a heart box of notebook 07
  (``radkit fetch nih_heart_boxes``), from NIH's public BBox_List_2017.csv.

The web copy: Google's mirror of the NIH files (bucket gcs-public-data--healthcare-nih-chest-xray)
is "Requester Pays": Google charges the downloader's own Google Cloud project, so it
needs ``RADKIT_GCP_PROJECT`` and an access token in ``RADKIT_GCP_TOKEN``
(``gcloud auth print-access-token``; it is sent to Google's storage site only).
``RADKIT_NIH_MIRROR`` points RadKit at any other web folder holding the PNGs by their
NIH names (an instructor's copy).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radkit import config, download
from radkit.errors import RadkitError
from radkit.files import write_atomically

MIRROR = "https://storage.googleapis.com/gcs-public-data--healthcare-nih-chest-xray/png/"
NIH_PAGE = "https://nihcc.app.box.com/v/ChestXray-NIHCC"
RECORD = ".radkit-downloads.json"   # in each image folder: name -> MD5 and whether the server vouched for it
DATA_ENTRY_NAMES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")
BBOX_NAME = "BBox_List_2017.csv"
SUBSET_PER_LABEL = 500              # films with Pneumonia, and as many with No Finding (notebooks 06, 10)
TOKEN_SITES = ("https://storage.googleapis.com/",)  # the only places RADKIT_GCP_TOKEN is ever sent to
GIVE_UP_AFTER = 3                    # network failures in a row before we stop trying the rest


def mirror() -> str:
    """The web folder the NIH PNGs are downloaded from (``RADKIT_NIH_MIRROR``, else Google's copy)."""
    url = os.environ.get("RADKIT_NIH_MIRROR", "").strip() or MIRROR
    return url if url.endswith("/") else url + "/"


def server_md5(headers) -> str | None:
    """The MD5 a server vouches for in its answer (``x-goog-hash: md5=...`` or ``Content-MD5``), as hex, or None."""
    lower = {k.lower(): v for k, v in dict(headers).items()}
    offered = []
    for part in lower.get("x-goog-hash", "").split(","):
        kind, _, value = part.strip().partition("=")
        if kind.lower() == "md5":
            offered.append(value)
    if "content-md5" in lower:
        offered.append(lower["content-md5"])
    for value in offered:
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 16:
            return raw.hex()
    return None


@dataclass
class Fetched:
    """What ``download_images`` did: lists of names, and the reason for each failure."""

    verified: list = field(default_factory=list)     # downloaded, MD5 matched the server's
    unverified: list = field(default_factory=list)   # downloaded, the server offered no checksum
    present: list = field(default_factory=list)      # already here (skipped)
    missing: list = field(default_factory=list)      # the server has no such file (404)
    failed: dict = field(default_factory=dict)       # name -> why (dropped connection, damaged, ...)
    stopped: str = ""                                # why the rest was not tried, if it was not

    @property
    def ready(self) -> list:
        """Names whose file is in the folder now."""
        return self.present + self.verified + self.unverified

    def summary(self) -> str:
        """Plain sentences saying what was downloaded, skipped, missing and failed."""
        lines = [f"{len(self.verified) + len(self.unverified)} downloaded ({len(self.verified)} checked against "
                 f"the server's MD5, {len(self.unverified)} unverified: the server offered no checksum); "
                 f"{len(self.present)} already here (skipped)."]
        if self.missing:
            lines.append(f"{len(self.missing)} not on the server (404): " + _some(self.missing) + ".")
        if self.failed:
            lines.append(f"{len(self.failed)} failed: " + "; ".join(f"{n} ({why})" for n, why in
                                                                    list(self.failed.items())[:5])
                         + ("; ..." if len(self.failed) > 5 else "") + ".")
        if self.stopped:
            lines.append(self.stopped)
        if self.failed or self.stopped:
            lines.append("Run the same command again to retry: files already here are skipped.")
        return "\n".join(lines)


def _some(names, k: int = 5) -> str:
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


def _read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_record(folder: Path, record: dict) -> None:
    text = json.dumps(record, indent=0, sort_keys=True)
    write_atomically(folder / RECORD, lambda t: Path(t).write_text(text, encoding="utf-8"), lambda p: True, 0o644)


def _request(base: str) -> tuple[str, dict | None]:
    """The query string and headers for Google's Requester Pays copy, when the user gave a project and token.

    The token goes to Google's storage site only, never to another mirror.
    """
    if not base.startswith(TOKEN_SITES):
        return "", None
    project, token = os.environ.get("RADKIT_GCP_PROJECT", "").strip(), os.environ.get("RADKIT_GCP_TOKEN", "").strip()
    query = f"?userProject={project}" if project else ""
    return query, ({"Authorization": f"Bearer {token}"} if token else None)


def _requester_pays(error: RadkitError) -> bool:
    text = getattr(error, "http_text", "").lower()
    return getattr(error, "http_status", 0) in (400, 401, 403) and (
        "requester pays" in text or "userprojectmissing" in text or "user project" in text)


def download_images(names, folder, mirror_url: str | None = None, progress: bool = True,
                    quiet: bool = False) -> Fetched:
    """Download NIH ChestX-ray14 films by name into ``folder``, one at a time (notebooks 06, 07, 10).

    Each file is checked against the MD5 the server sends (else kept as "unverified"),
    written atomically, and recorded in ``folder/.radkit-downloads.json``. Files already
    in the folder are skipped (never replaced), so running it again resumes. A film the
    server does not have is listed as missing and the rest carry on; after three network
    failures in a row it stops and says so. Returns a ``Fetched`` report.

    >>> download_images(["00000001_000.png"], "images")   # doctest: +SKIP
    """
    names = [str(n) for n in names]
    bad = [n for n in names if not n or "/" in n or "\\" in n or n.startswith(".")]
    if bad:
        raise RadkitError(f"{bad[0]!r} is not an NIH image name.", "Use names such as 00000001_000.png.")
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise download._cannot_write(folder, error) from None
    base = mirror_url or mirror()
    base = base if base.endswith("/") else base + "/"
    query, headers = _request(base)
    record, done = _read_record(folder), Fetched()
    say = (lambda *a: None) if quiet else print
    todo = []
    for name in names:
        if not (folder / name).is_file():
            todo.append(name)
        elif name in record and download.md5sum(folder / name) != record[name]["md5"]:
            done.failed[name] = "changed since RadKit downloaded it; left as it is"
        else:  # downloaded earlier (whole and checked: downloads are atomic), or put here by someone
            done.present.append(name)
    if todo and config.offline():
        raise RadkitError(f"{len(todo)} NIH films are not here yet and RadKit is set to work offline "
                          "(RADKIT_OFFLINE=1).", "Unset RADKIT_OFFLINE and run this again while online.")
    if todo:
        say(f"Downloading {len(todo)} NIH films one at a time into {config.display_path(folder)} "
            f"({len(done.present)} already there) ...")
    bar = None
    if progress and todo:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), unit="film", leave=False)
        except ImportError:
            pass
    in_a_row = 0
    try:
        for number, name in enumerate(todo):
            vouched = {}

            def expected(answer_headers, vouched=vouched):
                vouched["md5"] = server_md5(answer_headers)
                return vouched["md5"]

            try:
                path = download.download(base + name + query, expected, folder, name, progress=False,
                                         headers=headers)
            except RadkitError as error:
                status = getattr(error, "http_status", None)
                if status == 404:
                    done.missing.append(name)
                elif _requester_pays(error):
                    done.failed[name] = "the server wants a paying Google Cloud project"
                    done.stopped = (
                        f"Stopped: {base} is Google's 'Requester Pays' copy of ChestX-ray14: Google charges each "
                        "download to the downloader's own Google Cloud project. Either set RADKIT_GCP_PROJECT "
                        "(your project) and RADKIT_GCP_TOKEN (from `gcloud auth print-access-token`), or set "
                        "RADKIT_NIH_MIRROR to a web folder with the NIH PNGs (ask your instructor), or copy the "
                        f"films in from NIH's own page ({NIH_PAGE}).")
                    break
                elif error.problem.startswith(("The disk is full", "RadKit cannot save downloads")):
                    done.failed[name] = "could not be saved"
                    done.stopped = f"Stopped: {error.problem} {error.fix}"  # every other film would fail alike
                    break
                else:
                    done.failed[name] = error.problem.split(": ", 1)[-1].rstrip(".")
                in_a_row = in_a_row + 1 if status is None and "checksum" not in error.problem else 0
                if in_a_row >= GIVE_UP_AFTER:
                    done.stopped = (f"Stopped after {GIVE_UP_AFTER} network failures in a row; "
                                    f"{len(todo) - number - 1} films were not tried.")
                    break
                continue
            finally:
                if bar is not None:
                    bar.update(1)
            in_a_row = 0
            md5 = vouched.get("md5")
            (done.verified if md5 else done.unverified).append(name)
            record[name] = {"md5": md5 or download.md5sum(path), "verified": bool(md5)}
    finally:
        if bar is not None:
            bar.close()
        if done.verified or done.unverified:
            _write_record(folder, record)
    if todo:
        say(done.summary())
    return done


# ---------------------------------------------------------------- NIH's public tables

def _find_table(names, folder: Path) -> Path:
    places = [config.local_data_dir(), folder, folder.parent]
    for place in filter(None, places):
        for name in names:
            if (Path(place) / name).is_file():
                return Path(place) / name
    raise RadkitError(
        f"NIH's table {names[0]} is not on this computer.",
        f"Download it from NIH's page {NIH_PAGE} (a small CSV) into {config.display_path(folder)}, "
        "then run this again.")


def _read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _write_table(folder: Path, name: str, rows: list[dict], header: list[str]) -> None:
    """Write a CSV table RadKit makes in its own dataset folder; never over a table it did not write."""
    path = folder / name
    if path.exists() and not _written_here(path):
        raise RadkitError(f"{config.display_path(path)} is already there, and RadKit did not write it.",
                          "RadKit never overwrites a file it did not create: move it away, or use it as it is "
                          "(the films are then read from it).")
    _claim(folder, name)
    header = [h for h in header if h]  # NIH's BBox table ends with empty columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    text = buffer.getvalue()
    write_atomically(path, lambda t: Path(t).write_text(text, encoding="utf-8"), _written_here, 0o644)


def _written_here(path: Path) -> bool:
    """A table RadKit wrote into its own dataset folder (listed in the folder's record)."""
    return path.name in _read_record(path.parent).get("_tables", [])


def _claim(folder: Path, table: str) -> None:
    record = _read_record(folder)
    record["_tables"] = sorted(set(record.get("_tables", [])) | {table})
    _write_record(folder, record)


def choose_subset(rows: list[dict], n_per_label: int = 500, seed: int = 0) -> list[dict]:
    """NIH table rows for the teaching subset: ``n_per_label`` adult films with Pneumonia, as many with No Finding.

    Seeded, so everyone who runs it gets the same films. Not a random sample of NIH's films
    (pneumonia is half of it), as notebook 06 says.
    """
    def adult(row):
        age = row.get("Patient Age", "").strip().rstrip("Y")
        return age.isdigit() and 18 <= int(age) <= 100

    pneumonia = [r for r in rows if "Pneumonia" in r["Finding Labels"].split("|") and adult(r)]
    normal = [r for r in rows if r["Finding Labels"].strip() == "No Finding" and adult(r)]
    rng = np.random.default_rng(seed)
    chosen = []
    for pool in (pneumonia, normal):
        if len(pool) < n_per_label:
            raise RadkitError(f"NIH's table has only {len(pool)} suitable films of one kind; {n_per_label} are "
                              "needed.", "Use NIH's full Data_Entry_2017 table, not a part of it.")
        chosen += [pool[i] for i in sorted(rng.choice(len(pool), n_per_label, replace=False))]
    return sorted(chosen, key=lambda r: r["Image Index"])


def _folder(key: str) -> Path:
    from radkit import registry

    return config.data_dir() / registry.get(key).folder_name


def fetch_subset(n_per_label: int | None = None, seed: int = 0, quiet: bool = False) -> Fetched:
    """Download the NIH teaching subset of notebooks 06 and 10 into the data folder (``radkit fetch nih_cxr_subset``).

    Chooses the films from NIH's public Data_Entry_2017 table (put it in the data folder's
    ``nih_cxr_subset/``), downloads them one at a time into ``images/``, and writes
    ``Data_Entry_subset.csv`` with the films that arrived. Run it again to resume.
    """
    folder = _folder("nih_cxr_subset")
    table = _find_table(DATA_ENTRY_NAMES, folder)
    rows = _read_rows(table)
    chosen = choose_subset(rows, n_per_label or SUBSET_PER_LABEL, seed)
    done = download_images([r["Image Index"] for r in chosen], folder / "images", quiet=quiet)
    ready = set(done.ready)
    _write_table(folder, "Data_Entry_subset.csv", [r for r in chosen if r["Image Index"] in ready], list(rows[0]))
    return done


def fetch_heart_boxes(quiet: bool = False) -> Fetched:
    """Download the films with an NIH heart box for notebook 07 (``radkit fetch nih_heart_boxes``).

    Reads NIH's public BBox_List_2017.csv (and Data_Entry_2017 for age, sex and view) from the
    data folder's ``cxr_heart_boxes/``, keeps the Cardiomegaly boxes, downloads their films
    into ``images/``, and writes BBox_List_Cardiomegaly.csv and Data_Entry_subset.csv.
    """
    folder = _folder("nih_heart_boxes")
    boxes = _read_rows(_find_table((BBOX_NAME,), folder))
    entries = {r["Image Index"]: r for r in _read_rows(_find_table(DATA_ENTRY_NAMES, folder))}
    hearts = [r for r in boxes if r.get("Finding Label", "").strip() == "Cardiomegaly"]
    if not hearts:
        raise RadkitError(f"{BBOX_NAME} has no Cardiomegaly boxes.", f"Use NIH's own {BBOX_NAME} from {NIH_PAGE}.")
    done = download_images([r["Image Index"] for r in hearts], folder / "images", quiet=quiet)
    ready = set(done.ready)
    kept = [r for r in hearts if r["Image Index"] in ready and r["Image Index"] in entries]
    # NIH's BBox table names its four box columns oddly ("Bbox [x", "y", "w", "h]"); keep them as they are.
    _write_table(folder, "BBox_List_Cardiomegaly.csv", kept, list(boxes[0]))
    data_header = list(next(iter(entries.values())))
    _write_table(folder, "Data_Entry_subset.csv", [entries[r["Image Index"]] for r in kept], data_header)
    return done


FETCHERS = {"nih_cxr_subset": fetch_subset, "nih_heart_boxes": fetch_heart_boxes}
TABLES = {"nih_cxr_subset": "Data_Entry_subset.csv", "nih_heart_boxes": "BBox_List_Cardiomegaly.csv"}


def films_here(key: str) -> int | None:
    """How many films the table of an NIH course set lists on this computer (with images/ beside it), or None."""
    from radkit import registry

    table = download.stored_copy(registry.get(key).folder_name, TABLES[key])
    if table is None or not (table.parent / "images").is_dir():
        return None
    try:
        return len(_read_rows(table))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
