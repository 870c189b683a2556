"""De-identifying DICOM by the standard: the Basic Application Level Confidentiality Profile (PS3.15 Annex E).

Introduced in notebook 01_medical_images, through ``radkit.dicom.deidentify``. The profile's table
(Table E.1-1: each attribute with its action, remove / empty / dummy / new UID) is applied by the
maintained ``dicom-anonymizer`` package; this module applies it at every level of nested sequences,
replaces UIDs with a keyed hash whose secret is new in each session, and reports in plain words what
was removed, emptied, replaced and kept, with warnings about text burned into the pixels.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pydicom

from radkit.dicom import _tag
from radkit.errors import RadkitError

# A secret made afresh each time Python starts (each notebook session): new UIDs are a keyed hash of
# the old ones, so slices of one series stay one series within a session, yet nobody who holds an
# original UID can recompute the new one without this secret.
_RUN_SECRET = secrets.token_bytes(32)

# Keywords that the Basic Profile's "Retain Patient Characteristics Option" (PS3.15 E.3.6) lets us keep.
_PATIENT_CHARACTERISTICS = {"PatientAge", "PatientSex", "PatientSize", "PatientWeight", "EthnicGroup",
                            "SmokingStatus", "PregnancyStatus", "PatientSexNeutered"}

# Attributes the profile keeps that a reader may worry about, and why they stay.
_KEPT_BECAUSE = {
    "Rows": "needed to show the image", "Columns": "needed to show the image",
    "PixelData": "the image itself (check it for names written into the pixels)",
    "PhotometricInterpretation": "needed to show the greys the right way round",
    "BitsStored": "needed to read the pixel values", "NumberOfFrames": "needed to read every frame",
    "RescaleSlope": "needed for real units (HU on CT)", "RescaleIntercept": "needed for real units (HU on CT)",
    "WindowCenter": "the display window", "WindowWidth": "the display window",
    "PixelSpacing": "needed to measure in mm", "SliceThickness": "needed to measure in mm",
    "ImagePositionPatient": "needed to put slices in order", "ImageOrientationPatient": "needed to put slices in order",
    "Modality": "says what kind of image it is", "BodyPartExamined": "says what was imaged",
    "Manufacturer": "a make of scanner, not a person", "ManufacturerModelName": "a make of scanner, not a person",
    "SOPClassUID": "a standard code for the kind of object, the same in every hospital",
}

# Modalities and kinds of object that often carry names written into the pixels.
_BURNED_IN_MODALITIES = {"US": "ultrasound", "SC": "a secondary capture (screenshot)", "OT": "an 'other' image",
                         "DOC": "a scanned document", "XC": "a photograph", "ES": "an endoscopy video frame"}
_BURNED_IN_CLASSES = ("Secondary Capture", "Encapsulated", "Ultrasound", "VL ", "Video")


@dataclass(repr=False)
class DeidentificationReport:
    """What ``deidentify`` did, in plain words: removed, emptied, replaced, kept (and why), warnings."""

    removed: list[str]
    emptied: list[str]
    replaced: list[str]
    kept: list[str]
    warnings: list[str]
    identity_removed: bool

    def lines(self) -> list[str]:
        """The report as lines of text (what ``print(report)`` shows)."""
        out = []
        for title, items in [("Removed", self.removed),
                             ("Emptied (kept as blanks because the DICOM standard requires them)", self.emptied),
                             ("Replaced (by dummy values or new UIDs)", self.replaced),
                             ("Kept", self.kept)]:
            if items:
                out.append(f"{title}: {len(items)}")
                out += [f"  - {item}" for item in items]
        out += [f"WARNING: {item}" for item in self.warnings]
        out.append("PatientIdentityRemoved set to " + ("YES" if self.identity_removed else "NO (see above)"))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    __repr__ = __str__  # a notebook shows the report itself, not its Python fields

    def __contains__(self, text) -> bool:  # e.g. "Patient's Name" in report
        return any(text in line for line in self.lines())


def _uid_for(old: str, secret: bytes) -> str:
    """A new UID from the old one: a keyed hash, the same within a session, not recomputable without the secret."""
    digest = hmac.new(secret, str(old).strip().encode(), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))  # 2.25: a UID made from a 128-bit number (PS3.5 B.2)


def _is_standard_uid(value) -> bool:
    """True for UIDs the DICOM standard itself defines (kinds of object, transfer syntaxes): they identify no one."""
    uid = pydicom.uid.UID(str(value))
    return uid.name != str(uid)  # pydicom names the UIDs of the standard; any other UID is its own name


def _datasets(ds) -> list:
    """Every dataset in ``ds``: the items of its sequences (deepest first), then ``ds`` itself."""
    found = []
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                found += _datasets(item)
    return found + [ds]


def _snapshot(ds) -> dict:
    """{(where, tag): value as text} for every element, where = the path of sequence items leading to it."""
    values = {}

    def visit(dataset, where):
        for element in dataset:
            if element.VR == "SQ":
                values[(where, element.tag)] = f"sequence of {len(element.value)}"
                for index, item in enumerate(element.value):
                    visit(item, where + ((element.tag, index),))
            else:
                values[(where, element.tag)] = _as_text(element.value)

    visit(ds, ())
    if getattr(ds, "file_meta", None) is not None:
        visit(ds.file_meta, ("file meta",))
    return values


def _as_text(value) -> str:
    """A value as comparable text: "" when empty, a fingerprint for bytes (pixel data can be megabytes)."""
    if value is None or (isinstance(value, (bytes, list, pydicom.multival.MultiValue)) and len(value) == 0):
        return ""
    if str(value) == "":  # empty text, including an empty person name
        return ""
    if isinstance(value, bytes):
        return "bytes " + hashlib.sha256(value).hexdigest()
    return repr(value)


def _label(tag) -> str:
    """How a report names an attribute: "Patient's Name (0010,0010)", or "private tag (0009,1001)"."""
    tag = pydicom.tag.Tag(tag)
    if tag.is_private:
        return f"private (vendor-specific) tag {_tag(tag)}"
    if 0x6000 <= tag.group <= 0x60FF:
        return f"overlay {_tag(tag)} (drawn marks, may hold text)"
    if 0x5000 <= tag.group <= 0x50FF:
        return f"curve {_tag(tag)}"
    try:
        return f"{pydicom.datadict.dictionary_description(tag)} {_tag(tag)}"
    except KeyError:
        return f"tag {_tag(tag)}"


def _profile_rules(keep_tags: set) -> dict:
    """The Basic Profile's action for each tag, as dicom-anonymizer implements it, with four changes:
    UIDs are left to ``_uid_for`` (salted), "X" always removes (the library sets X dates to 00010101),
    "Z" empties dates too (the library writes the dummy 00010101, which reads like a real date),
    and tags the user keeps are kept."""
    from dicomanonymizer import simpledicomanonymizer as library
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    tables = dicom_anonymization_database_selector(_PROFILE_TABLE)

    def remove(dataset, tag):
        if tag in dataset:
            del dataset[tag]

    def empty(dataset, tag):
        element = dataset.get(tag)
        if element is not None and element.VR in ("DA", "DT", "TM"):
            element.value = ""
        else:
            library.empty(dataset, tag)

    rules = library.initialize_actions(_PROFILE_TABLE)
    rules.update({tag: empty for tag in tables["Z_TAGS"] + tables["X_Z_TAGS"]})
    rules.update({tag: remove for tag in tables["X_TAGS"]})
    rules.update({tag: library.keep for tag in tables["U_TAGS"] + tables["X_Z_U_STAR_TAGS"]})
    rules.update({(tag.group, tag.element): library.keep for tag in keep_tags})
    return rules


_PROFILE_TABLE = "dicomfields_2026c"  # dicom-anonymizer's copy of PS3.15 Table E.1-1 (2026c edition)


def apply_basic_profile(ds: pydicom.Dataset, keep=(), secret: bytes | None = None) -> DeidentificationReport:
    """Apply the DICOM Basic Application Level Confidentiality Profile (PS3.15 Annex E) to ``ds``, in place,
    and return a report of what was removed, emptied, replaced and kept. Introduced in notebook 01.

    The profile's table (Table E.1-1) is applied by the maintained ``dicom-anonymizer`` package,
    at every level of nested sequences; private tags, overlays and curves are removed. Every UID that is
    not a standard code is replaced by a keyed hash with a ``secret`` made afresh in each session
    (pass your own ``secret`` bytes to de-identify more files consistently later). ``keep`` lists keywords
    to keep anyway (e.g. ``keep=["PatientAge", "PatientSex"]``); PatientIdentityRemoved is set to YES only
    when nothing beyond the profile's patient-characteristics option was kept and the pixels are not known
    to carry text. Text burned into the pixels cannot be removed this way: the report warns.
    """
    from dicomanonymizer import simpledicomanonymizer as library

    secret = secret or _RUN_SECRET
    keep = set(keep)
    unknown = [k for k in keep if pydicom.datadict.tag_for_keyword(k) is None]
    if unknown:
        raise RadkitError(f"keep= names something that is not a DICOM keyword: {', '.join(unknown)}.",
                          "Use keywords such as PatientAge or PatientSex (spelled as in ds.dir()).")
    keep_tags = {pydicom.tag.Tag(k) for k in keep}
    before = _snapshot(ds)

    # 1. UIDs anywhere (top level and nested sequences): salted, consistent within the session.
    for dataset in _datasets(ds):
        for element in dataset:
            if element.VR != "UI" or element.tag in keep_tags or not element.value:
                continue
            values = element.value if isinstance(element.value, pydicom.multival.MultiValue) else [element.value]
            new = [v if _is_standard_uid(v) else _uid_for(v, secret) for v in values]
            element.value = new if len(new) > 1 else new[0]
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:  # the file's own copy of the SOP Instance UID
        meta.MediaStorageSOPInstanceUID = _uid_for(meta.MediaStorageSOPInstanceUID, secret)

    # 2. The profile's table, applied to every dataset, nested ones first.
    rules = _profile_rules(keep_tags)
    for dataset in _datasets(ds):
        library.anonymize_dataset(dataset, base_rules_gen=lambda: dict(rules), delete_private_tags=True)
    for dataset in _datasets(ds):  # whole overlay and curve groups, not only their data
        for tag in [e.tag for e in dataset if e.tag.group & 0xFF00 in (0x5000, 0x6000)]:
            del dataset[tag]

    # 3. What the file now says about itself.
    warnings = _burned_in_warnings(ds)
    beyond_option = sorted(keep - _PATIENT_CHARACTERISTICS)
    identity_removed = not beyond_option and ds.get("BurnedInAnnotation") != "YES"
    ds.PatientIdentityRemoved = "YES" if identity_removed else "NO"
    if beyond_option:
        warnings.append(f"you kept {', '.join(beyond_option)}, which the profile removes: "
                        "the file is only partly de-identified")
    ds.DeidentificationMethod = ("PS3.15 Basic Profile, dicom-anonymizer via radkit"
                                 + (" (partial)" if beyond_option else ""))
    ds.DeidentificationMethodCodeSequence = [_code("113100", "Basic Application Confidentiality Profile")]
    if keep & _PATIENT_CHARACTERISTICS:
        ds.DeidentificationMethodCodeSequence.append(_code("113108", "Retain Patient Characteristics Option"))

    return _report(before, _snapshot(ds), ds, keep_tags, warnings, identity_removed)


def _code(value: str, meaning: str) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def _report(before: dict, after: dict, ds, keep_tags: set, warnings, identity_removed) -> DeidentificationReport:
    """Compare the snapshots before and after, and name each attribute once (nested copies counted)."""
    groups: dict[str, dict] = {"removed": {}, "emptied": {}, "replaced": {}}
    new_tags = {pydicom.tag.Tag(k) for k in ("PatientIdentityRemoved", "DeidentificationMethod",
                                              "DeidentificationMethodCodeSequence")}
    for (where, tag), old in before.items():
        if _inside_dropped_sequence(where, after):
            continue  # counted once, with the sequence that held it
        new = after.get((where, tag))
        if (where, tag) not in after:
            kind = "removed"
        elif new == old or tag in new_tags:
            continue
        else:
            kind = "emptied" if new == "" else "replaced"
        label = _label(tag)
        groups[kind][label] = groups[kind].get(label, 0) + 1
    private = sum(1 for label in groups["removed"] if label.startswith("private"))
    removed = [f"{label}" + (f" (x{n})" if n > 1 else "") for label, n in groups["removed"].items()
               if not label.startswith("private")]
    if private:
        removed.append(f"{private} private (vendor-specific) tags: they can hide anything")
    emptied = [label for label in groups["emptied"]]
    replaced = [label + (" (new UID)" if "UID" in label else "") for label in groups["replaced"]]
    kept = [f"{keyword}: {why}" for keyword, why in _KEPT_BECAUSE.items() if keyword in ds]
    kept += [f"{_label(tag)}: you asked to keep it" for tag in sorted(keep_tags) if tag in ds]
    return DeidentificationReport(removed, emptied, replaced, kept, warnings, identity_removed)


def _inside_dropped_sequence(where, after: dict) -> bool:
    """True when a sequence on the path to an element is gone (so the element went with it)."""
    steps = [step for step in where if isinstance(step, tuple)]
    return any((tuple(steps[:i]), step[0]) not in after for i, step in enumerate(steps))


def _burned_in_warnings(ds) -> list[str]:
    """Warnings about text that may be written into the pixels, and how to check."""
    if "PixelData" not in ds:
        return []
    flag = ds.get("BurnedInAnnotation")
    modality = str(ds.get("Modality", ""))
    kind = getattr(ds.get("SOPClassUID"), "name", "")
    reasons = []
    if flag != "NO":
        reasons.append("BurnedInAnnotation is YES" if flag == "YES" else "the file does not say BurnedInAnnotation: NO")
    if modality in _BURNED_IN_MODALITIES:
        reasons.append(f"it is {_BURNED_IN_MODALITIES[modality]} ({modality}), which often has names on the image")
    elif any(word in kind for word in _BURNED_IN_CLASSES):
        reasons.append(f"it is a {kind} object, which often has names on the image")
    if not reasons:
        return []
    return [f"text written into the pixels may still identify the patient ({'; '.join(reasons)}). "
            "Look at every frame at full size, corners and edges included (for example with "
            "matplotlib: plt.imshow(ds.pixel_array[0])), and black out any text before sharing, or leave "
            "the image out"]
