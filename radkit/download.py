"""Download a dataset file once, check it, and keep it in the data folder.

Introduced in notebook 00_start_here. Uses pooch, which downloads to a
temporary file, checks the checksum and only then moves the file into
place, so an interrupted or corrupted download never leaves a broken file
in the cache.

Where a file is looked for, in order:
1. ``RADKIT_LOCAL_DATA`` (a pre-fetched folder: USB stick, shared drive),
2. the data folder (``RADKIT_DATA``), from an earlier download,
3. the internet (unless ``RADKIT_OFFLINE=1``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from radkit import config, registry
from radkit.errors import RadkitError


def md5sum(path: Path) -> str:
    """The MD5 checksum of a file, as 32 hex digits."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, md5: str, folder: Path, filename: str, progress: bool = True) -> Path:
    """Download ``url`` into ``folder/filename`` and check its MD5. Returns the path.

    Raises RadkitError, leaving nothing behind, when the network fails or
    the checksum does not match.
    """
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")  # radkit says what it downloads, in its own words
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path = pooch.retrieve(url, known_hash=f"md5:{md5}", fname=filename, path=folder,
                              progressbar=progress)
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        raise RadkitError(
            f"Could not download {filename}: the internet could not be reached ({type(error).__name__}).",
            "Check your connection and run the cell again; or copy the file from a colleague into a folder "
            "and set RADKIT_LOCAL_DATA to that folder; or carry on with the built-in practice images.",
        ) from None
    except requests.exceptions.HTTPError as error:
        raise RadkitError(
            f"Could not download {filename}: the server answered '{error}'.",
            "The file may have moved. Try again later, or tell your course instructor.",
        ) from None
    except ValueError as error:
        if "hash" not in str(error).lower():
            raise
        raise RadkitError(
            f"The downloaded {filename} is damaged or not the expected file (its checksum does not match), "
            "so it was thrown away.",
            "Run the cell again to retry the download. If it keeps happening, tell your course instructor.",
        ) from None
    return Path(path)


def stored_copy(key: str, filename: str, folders=None) -> Path | None:
    """A copy of a dataset file already on this computer, or None.

    Looks in ``folders`` (default: RADKIT_LOCAL_DATA, then the data folder),
    as ``folder/<dataset>/<file>`` or ``folder/<file>``. Checksums are not checked here.
    """
    if folders is None:
        folders = (config.local_data_dir(), config.data_dir())
    for folder in filter(None, folders):
        for candidate in (folder / key / filename, folder / filename):
            if candidate.is_file():
                return candidate
    return None


def fetch(key: str, variant=None, quiet: bool = False) -> Path:
    """Return the path of a dataset file, downloading it the first time.

    >>> fetch("pneumoniamnist", 64)   # doctest: +SKIP
    """
    dataset = registry.get(key)
    if variant is None:
        variant = next(iter(dataset.files), None)
    if not dataset.files:
        raise RadkitError(f"{dataset.title} has nothing to download.", dataset.notes or "It is built in.")
    file = dataset.file(variant)
    say = (lambda *a: None) if quiet else print

    local = stored_copy(key, file.name, folders=(config.local_data_dir(),))
    if local is not None:
        if md5sum(local) != file.md5:
            say(f"Note: {local} is used as it is. It is not byte-identical to the official {file.name} "
                "(its checksum differs), for example a cut-down copy for teaching.")
        return local

    cached = config.data_dir() / key / file.name
    if cached.is_file() and md5sum(cached) == file.md5:
        return cached
    if config.offline():
        raise RadkitError(
            f"{file.name} is not in the data folder and RadKit is set to work offline (RADKIT_OFFLINE=1).",
            f"Unset RADKIT_OFFLINE and run `radkit fetch {key}` while online, or set RADKIT_LOCAL_DATA "
            "to a folder holding the file.",
        )
    say(f"Downloading {file.name} for {dataset.title} (once; it is kept in {cached.parent}) ...")
    return download(file.url, file.md5, cached.parent, file.name, progress=not quiet)


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
        members = tar.getmembers()
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
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder
