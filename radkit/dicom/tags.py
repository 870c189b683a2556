"""The header's tags as a table, and de-identification (DICOM PS3.15 Basic Profile).
Introduced in notebook 01_medical_images.
"""

from __future__ import annotations

import pydicom


def tag_table(ds: pydicom.Dataset, keywords=None) -> str:
    """A short table of the tags a radiologist looks at first (or of ``keywords``), as text."""
    keywords = keywords or ["Modality", "BodyPartExamined", "PhotometricInterpretation", "Rows", "Columns",
                            "NumberOfFrames", "BitsStored", "PixelSpacing", "SliceThickness",
                            "RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"]
    rows = []
    for keyword in keywords:
        value = ds.get(keyword)
        if value is None:
            value = _from_functional_groups(ds, keyword)
        if value is None:
            value = "(not in this file)"
        elif value == "":
            value = "(empty)"
        elif isinstance(value, pydicom.Sequence):
            value = f"(a sequence of {len(value)} item{'s' * (len(value) != 1)})"
        rows.append(f"{keyword:<26} {_tag(pydicom.tag.Tag(keyword))}  {value}")
    return "\n".join(rows)


def _from_functional_groups(ds: pydicom.Dataset, keyword: str) -> str | None:
    """Where an enhanced (multi-frame) file keeps ``keyword``: in the functional groups shared by all frames,
    or in each frame's own. Returns the value with where it was found, or None."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    for group in (shared[0] if shared else []):
        for item in (group.value if group.VR == "SQ" else []):
            if keyword in item:
                return f"{item.get(keyword)}  (shared by all frames, {group.keyword})"
    frames = ds.get("PerFrameFunctionalGroupsSequence") or []
    found = []
    for frame in frames:
        value = next((item.get(keyword) for group in frame if group.VR == "SQ" for item in group.value
                      if keyword in item), None)
        found.append(value)
    if not any(v is not None for v in found):
        return None
    differ = len({str(v) for v in found}) > 1
    return f"{found[0]}  (frame 1 of {len(frames)}{'; differs from frame to frame' if differ else ', the same in every frame'})"


def _tag(tag) -> str:
    """A tag written the way DICOM documents write it, e.g. (0010,0010)."""
    return f"({tag.group:04X},{tag.element:04X})"


def deidentify(ds: pydicom.Dataset, keep=(), secret: bytes | None = None):
    """Remove what identifies the patient from ``ds`` (in place) by the DICOM standard's Basic Profile
    (PS3.15 Annex E), and return a report of what was removed, emptied, replaced and kept, and why.

    Nested sequences, private tags, overlays and curves included; new UIDs are the same within a
    session (a series stays a series) and cannot be recomputed without the session's secret (pass
    ``secret=`` bytes of your own to de-identify more files consistently later). ``keep`` lists keywords
    to keep anyway, e.g. ``keep=["PatientAge", "PatientSex"]``. Text burned into the pixels cannot be
    removed this way: the report warns. Introduced in notebook 01; the work is in ``radkit.deidentification``.
    """
    from radkit.deidentification import apply_basic_profile

    return apply_basic_profile(ds, keep=keep, secret=secret)
