"""Writing a file safely: never half-written, and never over a file RadKit did not write.

Used by every helper that saves something for the learner (DICOM and PNG in
notebook 01, NIfTI and GIF in 08, the workshop data pack).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from radkit.errors import RadkitError


def write_atomically(path, write, written_by_radkit=None, mode: int | None = None) -> Path:
    """Call ``write(temporary_path)``, then move the finished file into place (never half-written).

    An existing file is only replaced when ``written_by_radkit(path)`` says radkit wrote it:
    radkit never overwrites a file it did not create (the original scan, for example).
    ``mode`` (e.g. ``0o644``, readable by every account) is set before the file appears.
    """
    path = Path(path)
    if path.exists() and not (written_by_radkit is not None and _safely(written_by_radkit, path)):
        raise RadkitError(f"{path.name} already exists, and RadKit did not write it, so it is left as it is.",
                          "RadKit never overwrites a file it did not create: save under another name "
                          f"(for example {path.stem}_radkit{path.suffix}), or move the existing file first.")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        write(temporary)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def _safely(check, path) -> bool:
    try:
        return bool(check(Path(path)))
    except Exception:  # unreadable or not the expected kind of file: not ours
        return False
