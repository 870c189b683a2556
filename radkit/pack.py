"""A data pack for a workshop: every dataset file the notebooks can use, in one folder, with a manifest.

Introduced in INSTRUCTORS.md. An instructor runs, once, on a machine that has the data:

    python3 run.py pack /media/usb/radkit-pack      # or: radkit pack PATH

then on every learner's machine sets ``RADKIT_LOCAL_DATA=/media/usb/radkit-pack``:
nothing is downloaded in the room. ``radkit doctor`` checks a pack file by file.

The pack holds, for each dataset card in ``radkit.registry``:
- its downloadable files (the MedMNIST ``.npz`` files, weight files, archives)
  found on this computer, each checked against the card's checksum;
- its folder, when one with the dataset's name is on this computer (for
  example an extracted Decathlon task), copied file by file.

``radkit-pack.json`` lists every file with its size, SHA-256, the dataset's
licence and citation, and whether the file is the official one
("verified"), a re-hosted copy that differs from it ("differs from the
official file"), or a folder with no official checksum ("no official
checksum"). Files are made readable by every user, so a pack copied by an
instructor works from the learners' accounts too.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
from pathlib import Path

from radkit import config, registry
from radkit.download import md5sum, sha256sum, stored_copy
from radkit.files import write_atomically
from radkit.errors import RadkitError

MANIFEST = "radkit-pack.json"
VERIFIED, DIFFERS, NO_CHECKSUM = "verified", "differs from the official file", "no official checksum"


def _copy_readable(source: Path, target: Path) -> None:
    """Copy a file atomically and make it (and its folder) readable by everyone; our own pack's files may be replaced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)
    write_atomically(target, lambda temporary: shutil.copyfile(source, temporary), _own_pack_file, mode=0o644)


def _own_pack_file(path: Path) -> bool:
    """make_pack checks the old manifest before writing: whatever it replaces is a file of its own pack."""
    return True


def _wanted_files(sources: list[Path]) -> list[tuple[str, Path, str, str | None]]:
    """(dataset key, file found, path inside the pack, official MD5 or None) for everything to pack."""
    wanted, taken = [], set()
    for key, dataset in registry.DATASETS.items():
        name = dataset.folder_name
        for file in dataset.files.values():
            found = stored_copy(name, file.name, folders=sources)
            if found is not None:
                wanted.append((key, found, f"{name}/{file.name}", file.md5))
                taken.add(found.resolve())
        for source in sources:
            folder = source / name
            if folder.is_dir():
                for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
                    if path.resolve() not in taken:
                        wanted.append((key, path, f"{name}/{path.relative_to(folder).as_posix()}", None))
                        taken.add(path.resolve())
                break
    return wanted


def _check_target(target: Path) -> dict:
    """Refuse a folder that holds files RadKit did not put there; return the old manifest of a pack it made."""
    if target.exists() and not target.is_dir():
        raise RadkitError(f"{target} is a file, not a folder.", "Choose a new folder name for the pack.")
    if not target.is_dir() or not any(target.iterdir()):
        return {}
    manifest = target / MANIFEST
    if not manifest.is_file():
        raise RadkitError(f"{target} already holds files, and it is not a RadKit data pack.",
                          "RadKit never overwrites files it did not create: choose a new or empty folder.")
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RadkitError(f"The pack's list of files ({MANIFEST}) in {target} is damaged.",
                          "Make the pack again in a new, empty folder.") from None


def make_pack(target, sources=None, quiet: bool = False) -> dict:
    """Write a data pack into the folder ``target`` and return its manifest (INSTRUCTORS.md).

    ``sources`` are the folders to collect from (default: ``RADKIT_LOCAL_DATA``
    and the data folder). Running it again on a pack RadKit made updates it.
    """
    target = Path(target).expanduser()
    old = _check_target(target)
    sources = [Path(s).expanduser() for s in (sources or (config.local_data_dir(), config.data_dir())) if s]
    if target.resolve() in {s.resolve() for s in sources}:
        raise RadkitError(f"{target} is where the data is read from.", "Write the pack to another folder.")
    ours = {entry["path"] for entry in old.get("files", [])}
    say = (lambda *a: None) if quiet else print
    entries = []
    for key, path, inside, official_md5 in _wanted_files(sources):
        destination = target / inside
        if destination.exists() and inside not in ours:
            raise RadkitError(f"{destination} is already there and RadKit did not put it there.",
                              "RadKit never overwrites files it did not create: use a new, empty folder.")
        _copy_readable(path, destination)
        sha256 = sha256sum(destination)
        status = NO_CHECKSUM if not official_md5 else (VERIFIED if md5sum(destination) == official_md5 else DIFFERS)
        entries.append({"dataset": key, "path": inside, "bytes": destination.stat().st_size, "sha256": sha256,
                        "status": status})
    if not entries:
        raise RadkitError("No dataset files were found to pack.",
                          "Fetch them first (`python3 run.py fetch pneumoniamnist`), or point RADKIT_LOCAL_DATA "
                          "at a folder that holds them.")
    datasets = {}
    for entry in entries:
        card = registry.get(entry["dataset"])
        datasets[card.key] = {"title": card.title, "licence": card.licence, "citation": card.citation}
    from radkit import __version__

    manifest = {"made_by": f"RadKit {__version__}", "made": datetime.date.today().isoformat(),
                "datasets": datasets, "files": entries}
    text = json.dumps(manifest, indent=1) + "\n"
    write_atomically(target / MANIFEST, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"),
                     _own_pack_file, mode=0o644)
    os.chmod(target, 0o755)
    size = sum(e["bytes"] for e in entries) / 1e6
    say(f"Packed {len(entries)} files from {len(datasets)} datasets ({size:.0f} MB) into {target}.")
    for key in datasets:
        counts = {}
        for entry in (e for e in entries if e["dataset"] == key):
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        say(f"  {key}: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    say("On each learner's computer set RADKIT_LOCAL_DATA to this folder; `python3 run.py doctor` checks it.")
    return manifest


def is_pack(folder) -> bool:
    """True when ``folder`` is a data pack made by ``make_pack`` (it has a manifest)."""
    return folder is not None and (Path(folder) / MANIFEST).is_file()


def verify_pack(folder) -> list[dict]:
    """Check every file a pack's manifest lists: present, unchanged, readable by every user.

    Returns one row per file: ``path``, ``dataset``, ``ok`` (True/False) and ``problem`` (in words).
    """
    folder = Path(folder).expanduser()
    manifest = _check_target(folder) if folder.is_dir() else {}
    if not manifest:
        raise RadkitError(f"{folder} is not a RadKit data pack (it has no {MANIFEST}).",
                          "Make one with `python3 run.py pack PATH`, or check the folder name.")
    rows = []
    for entry in manifest.get("files", []):
        path = folder / entry["path"]
        problem = ""
        if not path.is_file():
            problem = "missing"
        elif not path.stat().st_mode & stat.S_IROTH:
            problem = "not readable by other users (run `chmod -R a+rX` on the pack)"
        elif path.stat().st_size != entry["bytes"] or sha256sum(path) != entry["sha256"]:
            problem = "changed since the pack was made (damaged copy?)"
        rows.append({"path": entry["path"], "dataset": entry["dataset"], "ok": not problem, "problem": problem})
    return rows
