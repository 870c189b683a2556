"""The workshop data pack: complete, verified, readable by every user, and it never overwrites a stranger's file."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from radkit import doctor, pack, registry
from radkit.errors import RadkitError


@pytest.fixture
def source(tmp_path):
    """A data folder with one official-looking file, one altered copy, and an extracted folder."""
    folder = tmp_path / "source"
    (folder / "pneumoniamnist").mkdir(parents=True)
    official = folder / "pneumoniamnist" / "pneumoniamnist.npz"
    np.savez(official, train_images=np.zeros((2, 28, 28), np.uint8))
    (folder / "breastmnist").mkdir()
    (folder / "breastmnist" / "breastmnist.npz").write_bytes(b"not the official bytes")
    (folder / "msd_heart" / "imagesTr").mkdir(parents=True)
    (folder / "msd_heart" / "imagesTr" / "la_003.nii.gz").write_bytes(b"volume")
    (folder / "unrelated_notes.txt").write_text("not a dataset")
    return folder


@pytest.fixture
def official_md5(monkeypatch, source):
    """Make the registry's PneumoniaMNIST 28 px checksum equal to our test file's, as for a real download."""
    card = registry.DATASETS["pneumoniamnist"]
    md5 = pack.md5sum(source / "pneumoniamnist" / "pneumoniamnist.npz")
    files = dict(card.files)
    files[28] = registry.DataFile(files[28].name, files[28].url, md5)
    monkeypatch.setitem(registry.DATASETS, "pneumoniamnist", registry.Dataset(**{**card.__dict__, "files": files}))


# Catches: a pack that misses registry files or folders, copies unrelated files, or says an altered
# copy is the official file.
def test_pack_holds_every_dataset_file_with_honest_status(tmp_path, source, official_md5):
    manifest = pack.make_pack(tmp_path / "pack", sources=[source], quiet=True)
    status = {e["path"]: e["status"] for e in manifest["files"]}
    assert status == {"pneumoniamnist/pneumoniamnist.npz": pack.VERIFIED,
                      "breastmnist/breastmnist.npz": pack.DIFFERS,
                      "msd_heart/imagesTr/la_003.nii.gz": pack.NO_CHECKSUM}
    assert set(manifest["datasets"]) == {"pneumoniamnist", "breastmnist", "msd_heart"}
    assert manifest["datasets"]["pneumoniamnist"]["licence"] == "CC BY 4.0"
    on_disk = json.loads((tmp_path / "pack" / pack.MANIFEST).read_text())
    assert on_disk["files"] == manifest["files"]


# Catches: files copied with the downloader's private mode (0600), unreadable from learners' accounts.
def test_pack_files_are_readable_by_every_user(tmp_path, source):
    os.chmod(source / "breastmnist" / "breastmnist.npz", 0o600)
    pack.make_pack(tmp_path / "pack", sources=[source], quiet=True)
    for path in (tmp_path / "pack").rglob("*"):
        assert path.stat().st_mode & stat.S_IROTH, path
        if path.is_dir():
            assert path.stat().st_mode & stat.S_IXOTH, path


# Catches: writing a pack over a folder of the user's own files.
def test_refuses_a_folder_it_did_not_make(tmp_path, source):
    target = tmp_path / "my_project"
    target.mkdir()
    notebook = target / "analysis.ipynb"
    notebook.write_text("{}")
    with pytest.raises(RadkitError, match="not a RadKit data pack"):
        pack.make_pack(target, sources=[source], quiet=True)
    assert notebook.read_text() == "{}" and sorted(p.name for p in target.iterdir()) == ["analysis.ipynb"]


# Catches: updating a pack by overwriting a file someone added to it by hand.
def test_updating_a_pack_never_overwrites_a_stranger(tmp_path, source):
    target = tmp_path / "pack"
    pack.make_pack(target, sources=[source], quiet=True)
    pack.make_pack(target, sources=[source], quiet=True)  # updating our own pack is fine
    (target / "msd_heart" / "imagesTr" / "la_003.nii.gz").unlink()
    (target / "msd_heart" / "imagesTr" / "la_003.nii.gz").write_bytes(b"mine")
    (source / "msd_heart" / "imagesTr" / "la_004.nii.gz").write_bytes(b"new")
    (target / "msd_heart" / "imagesTr" / "la_004.nii.gz").write_bytes(b"a file I put here")
    with pytest.raises(RadkitError, match="did not put it there"):
        pack.make_pack(target, sources=[source], quiet=True)
    assert (target / "msd_heart" / "imagesTr" / "la_004.nii.gz").read_bytes() == b"a file I put here"


# Catches: a verifier that does not notice a missing, altered or unreadable file.
def test_verify_finds_missing_changed_and_unreadable_files(tmp_path, source):
    target = tmp_path / "pack"
    pack.make_pack(target, sources=[source], quiet=True)
    assert all(row["ok"] for row in pack.verify_pack(target))
    (target / "breastmnist" / "breastmnist.npz").write_bytes(b"damaged copy!!!!!!!!!!")
    (target / "msd_heart" / "imagesTr" / "la_003.nii.gz").unlink()
    os.chmod(target / "pneumoniamnist" / "pneumoniamnist.npz", 0o600)
    problems = {row["path"]: row["problem"] for row in pack.verify_pack(target) if not row["ok"]}
    assert set(problems) == {"breastmnist/breastmnist.npz", "msd_heart/imagesTr/la_003.nii.gz",
                             "pneumoniamnist/pneumoniamnist.npz"}
    assert "changed" in problems["breastmnist/breastmnist.npz"]
    assert problems["msd_heart/imagesTr/la_003.nii.gz"] == "missing"
    assert "readable" in problems["pneumoniamnist/pneumoniamnist.npz"]


# Catches: doctor staying silent about a damaged pack that RADKIT_LOCAL_DATA points to.
def test_doctor_reports_the_pack(tmp_path, source, monkeypatch):
    target = tmp_path / "pack"
    pack.make_pack(target, sources=[source], quiet=True)
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(target))
    [check] = doctor.check_pack()
    assert check.status == "OK" and "3 files verified" in check.detail
    (target / "breastmnist" / "breastmnist.npz").unlink()
    [check] = doctor.check_pack()
    assert check.status == "PROBLEM" and "breastmnist.npz is missing" in check.detail and check.fix


# Catches: a pack of the real shared data that leaves out the folders the new notebooks read.
@pytest.mark.realdata
def test_pack_of_the_shared_data(tmp_path, shared_data):
    manifest = pack.make_pack(tmp_path / "pack", sources=[shared_data], quiet=True)
    packed = {e["dataset"] for e in manifest["files"]}
    present = {key for key, card in registry.DATASETS.items() if (shared_data / card.folder_name).is_dir()}
    assert packed == present and {"pneumoniamnist", "nih_heart_boxes"} <= packed
    assert all(row["ok"] for row in pack.verify_pack(tmp_path / "pack"))
