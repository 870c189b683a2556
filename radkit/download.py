"""Download a dataset file once, check it, and keep it in the data folder.

Introduced in notebook 00_start_here. A download goes into a temporary file
(named ``.radkit-download-XXXXXXXX.part``) beside its final place; only when
the whole file has arrived and its checksum matches is it moved into place,
so an interrupted or corrupted download never leaves a broken file in the
cache. Leftover ``.part`` files of a download that was killed are removed
the next time (only files with radkit's own name pattern, and only old ones).
Every problem (no internet, a connection dropped mid-file, a server too
slow, a full disk or a folder you cannot write to) is a RadkitError in plain
words, so the notebooks can fall back to the practice images.

Where a file is looked for, in order:
1. ``RADKIT_LOCAL_DATA`` (a pre-fetched folder: USB stick, shared drive),
2. the data folder (``RADKIT_DATA``), from an earlier download,
3. the internet (unless ``RADKIT_OFFLINE=1``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

from radkit import config, registry
from radkit.errors import RadkitError

CONNECT_TIMEOUT = 15      # seconds to reach the server
READ_TIMEOUT = 60         # seconds the server may stay silent
DEADLINE_SECONDS = 30 * 60  # a whole download may take at most this long (a slow workshop network)
CHUNK_BYTES = 1 << 16
PART_PREFIX, PART_SUFFIX = ".radkit-download-", ".part"
# Names of unfinished downloads: radkit's own, and the ``tmpXXXXXXXX`` files that pooch made for older radkit.
_PART_NAME = re.compile(r"^(\.radkit-download-[a-z0-9_]{8}\.part|tmp[a-z0-9_]{8})$")
STALE_SECONDS = DEADLINE_SECONDS + 10 * 60  # older than any download still running
FILE_MODE = 0o644  # readable by every account: an instructor's copied cache works for the learners


def checksum(path: Path, algorithm: str = "md5") -> str:
    """A file's checksum (its fingerprint) in hex digits: ``"md5"`` (dataset cards) or ``"sha256"``."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def md5sum(path: Path) -> str:
    """The MD5 checksum of a file, as 32 hex digits."""
    return checksum(path, "md5")


def sha256sum(path: Path) -> str:
    """The SHA-256 checksum of a file, as 64 hex digits (pretrained weights are checked with it)."""
    return checksum(path, "sha256")


def clean_stale_downloads(folder: Path, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove unfinished downloads left in ``folder`` by a download that was killed. Returns what was removed.

    Only files named as radkit names unfinished downloads, and only when older than ``older_than``
    seconds (so a download running in another notebook is left alone). Nothing else is touched.
    """
    removed, now = [], time.time()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        try:
            if _PART_NAME.match(path.name) and path.is_file() and not path.is_symlink() \
                    and now - path.stat().st_mtime > older_than:
                path.unlink()
                removed.append(path)
        except OSError:  # read-only folder, or another notebook removed it first
            continue
    return removed


class _TooSlow(Exception):
    pass


def _cannot_write(folder: Path, error: OSError) -> RadkitError:
    shown = config.display_path(folder)
    if error.errno == errno.ENOSPC:
        return RadkitError(f"The disk is full: the download into {shown} could not be saved.",
                           "Free some space, or set RADKIT_DATA to a folder on a bigger disk; "
                           "until then the notebooks use the built-in practice images.")
    why = ("you do not have permission to write there" if isinstance(error, PermissionError)
           or error.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else (error.strerror or str(error)).lower())
    return RadkitError(f"RadKit cannot save downloads in {shown}: {why}.",
                       "Set RADKIT_DATA to a folder you can write to, or ask your course instructor to "
                       "run `python3 run.py fetch` for everyone; until then the notebooks use the built-in "
                       "practice images.")


def _transfer(url: str, handle, deadline: float, progress: bool, headers=None, answer=None) -> tuple[str, int]:
    """Stream ``url`` into ``handle``; returns (MD5, bytes). Gives up after ``deadline`` seconds in all.

    ``answer`` (a dict), when given, receives the server's response headers (``answer["headers"]``),
    or the start of its explanation when it refuses (``answer["error_text"]``).
    """
    import requests

    start, cut = time.monotonic(), threading.Event()
    response = requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), headers=headers)
    with response:
        if response.status_code >= 400 and answer is not None:
            # Keep the start of the server's explanation: it may say why (Google's "requester pays").
            first = next(response.iter_content(4096), b"")
            answer["error_text"] = first[:2000].decode("utf-8", errors="replace")
        response.raise_for_status()
        if answer is not None:
            answer["headers"] = dict(response.headers)

        def stop():  # wakes a read that is waiting on a slow server
            cut.set()
            try:
                response.raw.connection.sock.shutdown(socket.SHUT_RDWR)
            except Exception:  # no socket to reach: closing the response stops the next read
                response.close()

        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None  # a size the server may get wrong: only for the bar
        timer = threading.Timer(max(0.0, deadline - (time.monotonic() - start)), stop)
        timer.daemon = True
        timer.start()
        digest, size = hashlib.md5(), 0
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, leave=False)
            except ImportError:
                pass
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                if cut.is_set():
                    raise _TooSlow
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        except Exception:
            if cut.is_set():
                raise _TooSlow from None
            raise
        finally:
            timer.cancel()
            if bar is not None:
                bar.close()
        if cut.is_set():
            raise _TooSlow
    return digest.hexdigest(), size


def download(url: str, md5, folder: Path, filename: str, progress: bool = True,
             deadline: float | None = None, headers=None) -> Path:
    """Download ``url`` into ``folder/filename`` and check its MD5 (``""`` or None: none is known). Returns the path.

    Raises RadkitError, leaving nothing behind, when the network fails, the
    server is too slow (``deadline`` seconds in all), the file cannot be
    written, or the checksum does not match. Never replaces a file that is already there.
    ``md5`` may also be a function of the server's response headers that returns the MD5
    the server vouches for, or None when it offers none (the file is then kept unchecked:
    the caller says "unverified"; ``radkit.nih`` does this). ``headers`` go with the request.
    An answer such as 404 raises a RadkitError whose ``http_status`` is the status code.
    """
    import requests
    import urllib3

    deadline = DEADLINE_SECONDS if deadline is None else deadline
    folder = Path(folder)
    target = folder / filename
    if target.exists():
        raise RadkitError(f"{config.display_path(target)} is already there, and radkit does not replace files it "
                          "did not verify.", "Move it away (or delete it) if you want a fresh download.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _cannot_write(folder, error) from None
    clean_stale_downloads(folder)
    try:
        handle = tempfile.NamedTemporaryFile(prefix=PART_PREFIX, suffix=PART_SUFFIX, dir=folder, delete=False)
    except OSError as error:
        raise _cannot_write(folder, error) from None
    part = Path(handle.name)
    fix_network = ("Check your connection and run the cell again; or copy the file from a colleague into a "
                   "folder and set RADKIT_LOCAL_DATA to that folder; or carry on with the built-in practice images.")
    size, answer = 0, {}
    try:
        try:
            with handle:
                digest, size = _transfer(url, handle, deadline, progress, headers, answer)
        except _TooSlow:
            raise RadkitError(
                f"The download of {filename} was too slow: it had not finished after {deadline / 60:.0f} minute(s).",
                "Try again later or on a faster network (a busy workshop network is often the cause); " + fix_network,
            ) from None
        except requests.exceptions.HTTPError as error:
            failed = RadkitError(f"Could not download {filename}: the server answered "
                                 f"'{error.response.status_code} {error.response.reason}'.",
                                 "The file may have moved. Try again later, or tell your course instructor.")
            failed.http_status, failed.http_text = error.response.status_code, answer.get("error_text", "")
            raise failed from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.ConnectionError) as error:
            started = part.exists() and part.stat().st_size > 0
            problem = ("the connection broke off part-way through" if started or
                       isinstance(error, requests.exceptions.ReadTimeout) else "the internet could not be reached")
            raise RadkitError(f"Could not download {filename}: {problem} (nothing was kept).", fix_network) from None
        except requests.exceptions.Timeout:
            raise RadkitError(f"Could not download {filename}: the server stopped answering for "
                              f"{READ_TIMEOUT} s (nothing was kept).", fix_network) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
            raise RadkitError(f"Could not download {filename}: the connection broke off part-way through "
                              "(nothing was kept).", fix_network) from None
        except OSError as error:  # writing: disk full, no permission
            raise _cannot_write(folder, error) from None
        expected = md5(answer.get("headers", {})) if callable(md5) else md5
        if expected and digest != expected:  # "" or None: the source publishes no checksum
            raise RadkitError(
                f"The downloaded {filename} is damaged or not the expected file (its checksum does not match), "
                "so it was thrown away.",
                "Run the cell again to retry the download. If it keeps happening, tell your course instructor.")
        try:
            os.chmod(part, FILE_MODE)
            os.replace(part, target)
        except OSError as error:
            raise _cannot_write(folder, error) from None
    finally:  # whatever happened (even Ctrl+C), no half-written file stays behind
        try:
            part.unlink()
        except OSError:
            pass
    return target


def stored_copy(key: str, filename: str, folders=None) -> Path | None:
    """A copy of a dataset file already on this computer, or None.

    Looks in ``folders`` (default: RADKIT_LOCAL_DATA, then the data folder),
    as ``folder/<dataset>/<file>`` or ``folder/<file>``. Checksums are not checked here.
    """
    if folders is None:
        folders = [config.local_data_dir()]
        try:
            folders.append(config.data_dir())
        except RadkitError:  # no data folder: nothing can be stored there
            pass
    for folder in filter(None, folders):
        for candidate in (folder / key / filename, folder / filename):
            if candidate.is_file():
                return candidate
    return None


def unverified_note(path: Path, dataset_title: str, variant) -> str:
    """What to tell a clinician about a dataset file that is not exactly the official one."""
    return (f"Note: using an unverified copy of {dataset_title} ({variant} px) from {config.display_path(path)}: "
            "its checksum differs (the checksum is a fingerprint of the file), so it is not exactly the official "
            "file; it may be a smaller teaching copy. The images are real, but results may differ from "
            "published ones.")


def fetch(key: str, variant=None, quiet: bool = False) -> Path:
    """Return the path of a dataset file, downloading it the first time.

    Raises RadkitError (never another error) when the file cannot be had, so
    loaders can fall back to the practice images.

    >>> fetch("pneumoniamnist", 64)   # doctest: +SKIP
    """
    dataset = registry.get(key)
    if variant is None:
        variant = next(iter(dataset.files), None)
    if not dataset.files:
        raise RadkitError(f"{dataset.title} has nothing to download.", dataset.notes or "It is built in.")
    file = dataset.file(variant)
    say = (lambda *a: None) if quiet else print

    def checked(path: Path) -> Path:
        try:
            same = md5sum(path) == file.md5
        except OSError as error:
            raise RadkitError(f"{config.display_path(path)} cannot be read ({(error.strerror or str(error)).lower()}).",
                              "Ask whoever copied it there to make it readable for everyone (chmod a+r), "
                              "or set RADKIT_LOCAL_DATA / RADKIT_DATA to another folder.") from None
        if not same:
            say(unverified_note(path, dataset.title, variant))
        return path

    local = stored_copy(key, file.name, folders=(config.local_data_dir(),))
    if local is not None:
        return checked(local)
    cached = config.data_dir() / key / file.name
    if cached.is_file():
        # A file radkit did not download (its own downloads are verified before they are kept): use it,
        # say so, and never overwrite it.
        return checked(cached)
    if config.offline():
        raise RadkitError(
            f"{file.name} is not in the data folder and RadKit is set to work offline (RADKIT_OFFLINE=1).",
            f"Unset RADKIT_OFFLINE and run `python3 run.py fetch {key}` (in the course folder) while online, "
            "or set RADKIT_LOCAL_DATA "
            "to a folder holding the file.",
        )
    say(f"Downloading {file.name} for {dataset.title} (once; it is kept in {config.display_path(cached.parent)}) ...")
    return download(file.url, file.md5, cached.parent, file.name, progress=not quiet)


def keras_home_models() -> Path:
    """Keras' own folder of downloaded weights (``~/.keras/models``, or ``$KERAS_HOME/models``)."""
    return Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser() / "models"


def keras_weights(variant: str = "mobilenetv2_0.35", quiet: bool = False) -> Path:
    """The path of Keras' pretrained ImageNet weights for ``variant``, checked by SHA-256 (notebook 04).

    Looks in RADKIT_LOCAL_DATA, the data folder and Keras' own folder (~/.keras/models), like a dataset
    file; then, unless RADKIT_OFFLINE=1, downloads the official file once from Keras' site into the data
    folder. A copy whose checksum differs is never used, nor deleted: radkit says so and looks on.
    Raises RadkitError (problem and fix) when the file cannot be had.

    >>> keras_weights("mobilenetv2_0.35")   # doctest: +SKIP
    """
    key = "keras_weights"
    file = registry.get(key).file(variant)
    say = (lambda *a: None) if quiet else print
    places = (("RADKIT_LOCAL_DATA", config.local_data_dir()), ("the data folder", config.data_dir()),
              ("Keras' folder ~/.keras/models", keras_home_models()))
    for where, folder in places:
        found = stored_copy(key, file.name, folders=(folder,))
        if found is None:
            continue
        if sha256sum(found) == file.sha256:
            return found
        say(f"Note: the copy of {file.name} in {where} is not the official file (its SHA-256 checksum "
            "differs), so it is not used. Replace it with a fresh copy (radkit fetch keras_weights).")
    fix = (f"Copy {file.name} into a folder named {key} inside RADKIT_LOCAL_DATA (an instructor can prepare it "
           f"with `radkit fetch {key}`), or run this again with internet.")
    if config.offline():
        raise RadkitError(f"{file.name} is not on this computer and RadKit is set to work offline "
                          "(RADKIT_OFFLINE=1).", fix)
    target = config.data_dir() / key
    if (target / file.name).exists():  # a damaged copy we found above: never overwrite a file we cannot vouch for
        raise RadkitError(f"A copy of {file.name} in the data folder is damaged or not the official file.",
                          f"Delete or rename it ({key}/{file.name} in the data folder), then run this again.")
    say(f"Downloading {file.name} (Keras' ImageNet weights, about 2 MB, once; kept in the data folder) ...")
    try:
        path = download(file.url, file.md5, target, file.name, progress=not quiet)
    except RadkitError as error:
        raise RadkitError(error.problem, fix) from None
    if sha256sum(path) != file.sha256:  # the MD5 matched; SHA-256 is the stricter check the registry promises
        path.unlink()  # radkit wrote this file itself: a damaged download must not stay in the cache
        raise RadkitError(f"The downloaded {file.name} does not have the expected SHA-256 checksum.",
                          "It was thrown away. Try again; if it keeps happening, tell your course instructor.")
    return path
def extract_tar(archive, folder) -> Path:
    """Unpack a downloaded .tar archive into ``folder`` safely (notebook 08), and return ``folder``.

    Every entry is checked first: a path that would land outside ``folder``
    (``../``, an absolute path), a link or a device is refused and nothing is
    unpacked. The archive is unpacked into a temporary folder beside ``folder``
    and only moved into place when complete; existing files are never replaced.
    """
    import os
    import shutil
    import tarfile
    import tempfile

    archive, folder = Path(archive), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(archive)
    except (tarfile.TarError, OSError) as error:
        raise RadkitError(f"{archive.name} is not a readable archive ({error}).",
                          "Download it again (`radkit fetch`), or tell your course instructor.") from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, EOFError, OSError) as error:  # cut short, e.g. an interrupted copy
            raise RadkitError(f"{archive.name} is damaged or cut short ({error}), so nothing was unpacked.",
                              "Download it again (`radkit fetch`), or tell your course instructor.") from None
        for member in members:
            parts = Path(member.name.replace("\\", "/")).parts
            if member.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise RadkitError(f"{archive.name} holds a file that would be written outside the folder "
                                  f"({member.name!r}), so nothing was unpacked.",
                                  "This archive is not safe to unpack. Download it again from the official "
                                  "source, or tell your course instructor.")
            if not (member.isfile() or member.isdir()):
                raise RadkitError(f"{archive.name} holds a link or special file ({member.name!r}), so nothing was "
                                  "unpacked.", "Dataset archives hold only files and folders. Download it again "
                                  "from the official source.")
        tops = sorted({Path(m.name).parts[0] for m in members if Path(m.name).parts})
        taken = [name for name in tops if (folder / name).exists()]
        if taken:
            raise RadkitError(f"{', '.join(taken)} already exists in {folder.name}/, and radkit does not replace "
                              "files it did not make.", "Use the existing folder, or move it away first.")
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{archive.name}.", suffix=".part"))
        try:
            tar.extractall(staging, members=members, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
            for name in tops:
                os.replace(staging / name, folder / name)
        except (tarfile.TarError, EOFError, OSError) as error:  # a cut-short archive, a full disk: nothing kept
            raise RadkitError(f"{archive.name} could not be unpacked ({type(error).__name__}: {str(error)[:100]}), "
                              "so nothing was kept.", "Download it again (`radkit fetch`); check the disk has "
                              "room for it.") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def folder_digest(folder) -> str:
    """One SHA-256 fingerprint for a whole folder: each file's path (relative, with /) and its own SHA-256, sorted (notebook 07).

    Hidden files (names starting with a dot, such as macOS's ``.DS_Store``) are left out: they are not data.
    """
    folder = Path(folder)
    lines = sorted(f"{path.relative_to(folder).as_posix()}\0{sha256sum(path)}\n" for path in folder.rglob("*")
                   if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts))
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def fetch_folder(key: str, variant=None, quiet: bool = False, check: bool = True) -> Path:
    """Return the folder of a dataset published as an archive (BCCD, notebook 07), downloading and unpacking it once.

    Looks in RADKIT_LOCAL_DATA and the data folder first (``<folder>/<dataset>/<name>``).
    Otherwise, unless RADKIT_OFFLINE=1, downloads the pinned archive into the data
    folder, unpacks it safely (``extract_tar``: nothing outside the folder, no links)
    and keeps only the dataset's folder inside it. The folder's contents are checked
    file by file (``folder_digest``) against the card's ``contents_sha256`` (the
    copy the course was built with): a folder whose files differ is used, but
    called unverified (the archive itself has no published checksum), never changed.
    ``check=False`` leaves that check to the caller (``radkit fetch`` makes it once and says OK or UNVERIFIED).
    """
    import shutil

    dataset = registry.get(key)
    variant = next(iter(dataset.files), None) if variant is None else variant
    file = dataset.file(variant)
    if not file.unpack:
        raise RadkitError(f"{dataset.title} is a single file, not an archive to unpack.",
                          f"Use radkit.download.fetch({key!r}).")
    name = Path(file.unpack).name
    say = (lambda *a: None) if quiet else print

    def checked(folder: Path) -> Path:
        if check and file.contents_sha256 and folder_digest(folder) != file.contents_sha256:
            say(f"Note: using an unverified copy of {dataset.title} from {config.display_path(folder)}: its files "
                "differ from the ones RadKit was checked against (they may have been edited). The pictures are "
                "real, but results may differ from published ones.")
        return folder

    places = [config.local_data_dir()]
    try:
        places.append(config.data_dir())
    except RadkitError:
        pass
    for place in filter(None, places):
        if (place / dataset.folder_name / name).is_dir():
            return checked(place / dataset.folder_name / name)
    if config.offline():
        raise RadkitError(f"{dataset.title} is not in the data folder and RadKit is set to work offline "
                          "(RADKIT_OFFLINE=1).",
                          f"Unset RADKIT_OFFLINE and run `radkit fetch {key}` while online, or set RADKIT_LOCAL_DATA "
                          f"to a folder holding {dataset.folder_name}/{name}/.")
    home = config.data_dir() / dataset.folder_name
    archive = home / file.name
    if not archive.is_file():
        say(f"Downloading {file.name} for {dataset.title} (once; kept in {config.display_path(home)}) ...")
        archive = download(file.url, file.md5, home, file.name, progress=not quiet)
    staging = Path(tempfile.mkdtemp(dir=home, prefix=".radkit-unpack-"))
    try:
        extract_tar(archive, staging)
        inside = staging / file.unpack
        if not inside.is_dir():
            raise RadkitError(f"{file.name} does not hold the folder {file.unpack}.",
                              f"Delete {config.display_path(archive)} (radkit downloaded it) and run "
                              f"`radkit fetch {key}` again; if it happens again, tell your course instructor.")
        os.replace(inside, home / name)
    finally:  # the half-unpacked archive never stays behind
        shutil.rmtree(staging, ignore_errors=True)
    return checked(home / name)
