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
import os
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


def sha256sum(path: Path) -> str:
    """The SHA-256 checksum of a file, as 64 hex digits (pretrained weights are checked with it)."""
    digest = hashlib.sha256()
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
