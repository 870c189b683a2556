"""Volumes (notebook 08): NIfTI in and out, the Decathlon layout, bad input, DICOM series <-> NIfTI,
slices for a 2-D model and back, patient-level splits, GIFs, and safe unpacking of a .tar."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from radkit import download, volumes
from radkit.errors import RadkitError


def _msd_folder(tmp_path, n=3, shapes=None, drop_label=None):
    """A tiny Decathlon-style task folder written with radkit's own writer."""
    folder = tmp_path / "Task99_Tiny"
    entries = []
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = shapes[i] if shapes else (6, 10, 8)
        image = rng.integers(0, 255, shape).astype(np.uint8 if i % 2 else np.float32)
        label = np.zeros(shape, np.uint8)
        label[2:4, 3:6, 2:5] = 1 + i % 2
        volumes.write_nifti(image, folder / "imagesTr" / f"case_{i}.nii.gz", spacing=(1.0, 0.5, 2.0))
        if drop_label != i:
            volumes.write_nifti(label, folder / "labelsTr" / f"case_{i}.nii.gz", spacing=(1.0, 0.5, 2.0))
        entries.append({"image": f"./imagesTr/case_{i}.nii.gz", "label": f"./labelsTr/case_{i}.nii.gz"})
    (folder / "dataset.json").write_text(json.dumps(
        {"name": "Tiny", "labels": {"0": "background", "1": "a", "2": "b"}, "training": entries}))
    return folder


# Catches losing the voxel size or the data type round trip (spacing is what turns voxels into mL).
def test_nifti_round_trip_keeps_array_and_spacing(tmp_path):
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    path = volumes.write_nifti(array, tmp_path / "scan.nii.gz", spacing=(2.0, 0.5, 0.5))
    back, spacing = volumes.read_nifti(path)
    assert np.array_equal(back, array) and spacing == (2.0, 0.5, 0.5)
    facts = volumes.nifti_facts(path)
    assert facts["shape"] == (4, 5, 6) and facts["orientation"] == "RAS" and facts["affine"][0, 0] == 2.0


# Catches writing over an existing file unasked, and leaving a temporary file behind.
def test_write_nifti_refuses_to_overwrite(tmp_path):
    path = tmp_path / "mine.nii.gz"
    path.write_bytes(b"someone else's file")
    with pytest.raises(RadkitError, match="already exists"):
        volumes.write_nifti(np.zeros((2, 2, 2)), path)
    assert path.read_bytes() == b"someone else's file"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.nii.gz"]


# Catches a damaged header surfacing as a nibabel traceback instead of a plain message.
def test_broken_header_gives_plain_message(tmp_path):
    good = volumes.write_nifti(np.zeros((3, 3, 3), np.uint8), tmp_path / "good.nii")
    broken = tmp_path / "broken.nii"
    data = bytearray(good.read_bytes())
    data[0:4] = (12345).to_bytes(4, "little")  # sizeof_hdr must be 348
    data[40:56] = b"\xff" * 16                   # dim[] garbage
    broken.write_bytes(bytes(data))
    with pytest.raises(RadkitError, match="not a readable NIfTI"):
        volumes.read_nifti(broken)
    (tmp_path / "truncated.nii.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    with pytest.raises(RadkitError, match="not a readable NIfTI"):
        volumes.read_nifti(tmp_path / "truncated.nii.gz")


# Catches a 4-D file (time series) being treated as one 3-D volume.
def test_4d_volume_is_refused_unless_asked(tmp_path):
    import nibabel

    path = tmp_path / "fmri.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.zeros((3, 3, 3, 5), np.float32), np.eye(4)), path)
    with pytest.raises(RadkitError, match="4-D"):
        volumes.read_nifti(path)
    array, spacing = volumes.read_nifti(path, allow_4d=True)
    assert array.shape == (3, 3, 3, 5) and len(spacing) == 4


# Catches the Decathlon loader mixing up images and labels, or not scaling uint8 and float scans alike.
def test_load_msd_reads_pairs_and_scales(tmp_path):
    folder = _msd_folder(tmp_path, n=3)
    data = volumes.load_msd(folder)
    assert len(data) == 3 and data.label_names == ("background", "a", "b") and data.is_real
    assert data.ids == ["case_0", "case_1", "case_2"] and data.spacings[0] == (1.0, 0.5, 2.0)
    assert all(0 <= v.min() and v.max() <= 1 for v in data.images)
    assert data.labels[1].max() == 2 and data.labels[0].dtype == np.uint8


# Catches an image without its label file being skipped silently or crashing obscurely.
def test_image_without_label_is_named(tmp_path):
    folder = _msd_folder(tmp_path, n=3, drop_label=1)
    with pytest.raises(RadkitError, match="case_1.nii.gz has no label file"):
        volumes.load_msd(folder)


# Catches a label volume of another shape being accepted (it would pair voxels with the wrong anatomy).
def test_label_shape_mismatch_is_refused(tmp_path):
    folder = _msd_folder(tmp_path, n=2)
    volumes.write_nifti(np.zeros((6, 10, 7), np.uint8), folder / "labelsTr" / "case_1.nii.gz", overwrite=True)
    with pytest.raises(RadkitError, match="shape"):
        volumes.load_msd(folder)


# Catches a split that puts slices of one patient on both sides (leakage), or loses scans.
def test_split_is_by_patient():
    data = volumes.load_phantom_mri(n=10)
    train, val, test = volumes.split_by_patient(data, val=0.2, test=0.2)
    ids = [set(part.ids) for part in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert sum(map(len, ids)) == 10 and len(test) == 2


# Catches to_slices/from_slices losing the padding offset or mixing scans.
def test_slices_round_trip(tmp_path):
    data = volumes.load_msd(_msd_folder(tmp_path, n=2, shapes=[(6, 10, 8), (5, 9, 11)]))
    x, y, where = volumes.to_slices(data, size=(32, 32))
    assert x.shape == (11, 32, 32, 1) and y.shape == (11, 32, 32) and where[6] == (1, 0)
    back = volumes.from_slices(y, where, data)
    assert all(np.array_equal(b, t) for b, t in zip(back, data.labels))
    with pytest.raises(RadkitError, match="do not fit"):
        volumes.to_slices(data, size=(8, 8))


# Catches 2.5-D slices whose neighbours come from the wrong place (another scan, the wrong side, or
# off the end of the volume), and predict_probabilities not giving a 2.5-D model its neighbours.
def test_slices_with_neighbours(tmp_path):
    data = volumes.load_msd(_msd_folder(tmp_path, n=2, shapes=[(6, 10, 8), (5, 9, 11)]))
    plain, _, _ = volumes.to_slices(data, size=(32, 32))
    x, y, where = volumes.to_slices(data, size=(32, 32), context=1)
    assert x.shape == (11, 32, 32, 3) and np.array_equal(x[..., 1:2], plain)
    assert np.array_equal(x[3, ..., 0], plain[2, ..., 0]) and np.array_equal(x[3, ..., 2], plain[4, ..., 0])
    assert np.array_equal(x[0, ..., 0], plain[0, ..., 0])      # first slice: its own edge, not nothing
    assert np.array_equal(x[5, ..., 2], plain[5, ..., 0])      # last slice of scan 0: not scan 1's first
    assert np.array_equal(x[6, ..., 0], plain[6, ..., 0])      # first slice of scan 1: not scan 0's last
    with pytest.raises(RadkitError, match="context"):
        volumes.to_slices(data, context=-1)

    class EchoMiddle:  # a stand-in model: answers with the middle channel, so we see what it was given
        input_shape = (None, 32, 32, 3)

        def predict(self, x, batch_size=None, verbose=0):
            assert x.shape[-1] == 3
            return x[..., 1:2]

    back = volumes.predict_probabilities(EchoMiddle(), data)
    assert all(np.allclose(b[..., 0], img) for b, img in zip(back, data.images))


# Catches a threshold applied to the wrong channel: background probability, not a structure's.
def test_to_labels_threshold():
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.1, 0.5], [0.1, 0.8, 0.1]])
    assert list(volumes.to_labels(p, 0.5)) == [0, 2, 1]
    assert list(volumes.to_labels(p, 0.25)) == [1, 2, 1]
    assert list(volumes.to_labels(np.array([[0.3], [0.7]]), 0.5)) == [0, 1]


# Catches a DICOM -> NIfTI hand-off that loses the slice order or the slice spacing, and a way back that
# changes the pixels or reuses the original series' identity.
def test_dicom_series_to_nifti_and_back(tmp_path):
    from radkit import dicom

    folder = dicom.example_series(tmp_path / "series")
    series = dicom.load_series(folder)
    path = volumes.series_to_nifti(folder, tmp_path / "series.nii.gz")
    array, spacing = volumes.read_nifti(path, canonical=False)  # the file as written: slices in order
    assert np.array_equal(array, series.volume) and spacing == series.spacing
    ras, ras_spacing, _, _ = volumes.to_canonical(series.volume, volumes.series_affine(series), series.spacing)
    array, spacing = volumes.read_nifti(path)  # read as radkit always reads: turned to RAS
    assert np.array_equal(array, ras) and spacing == ras_spacing
    mask = (array > np.median(array)).astype(np.uint8)  # a mask made on the RAS volume goes back to the slices
    written = volumes.volume_to_series(mask, folder, tmp_path / "mask_series", description="mask")
    again = dicom.load_series(tmp_path / "mask_series")
    assert len(written) == len(series.files) and np.array_equal(again.volume, series.volume > np.median(array))
    assert np.array_equal(volumes.read_scan(tmp_path / "mask_series").array, mask)
    assert again.header.SeriesInstanceUID != series.header.SeriesInstanceUID
    with pytest.raises(RadkitError, match="not empty"):
        volumes.volume_to_series(mask, folder, tmp_path / "mask_series")


# Catches a GIF with the wrong number of frames, or one written over an existing file.
def test_gif_has_one_frame_per_slice(tmp_path):
    from PIL import Image

    scan = volumes.load_phantom_mri(n=1)
    path = volumes.save_gif(scan.images[0], tmp_path / "scan.gif", truth=scan.labels[0], pred=scan.labels[0])
    with Image.open(path) as gif:
        assert gif.n_frames == scan.images[0].shape[0]
    with pytest.raises(RadkitError, match="already exists"):
        volumes.save_gif(scan.images[0], path)


# Catches the phantom fallback not saying so, or real data being reported as phantoms.
def test_load_hippocampus_offline_falls_back_to_phantoms(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    data = volumes.load_hippocampus(n=4)
    assert not data.is_real and len(data) == 4 and "phantoms" in capsys.readouterr().out
    with pytest.raises(RadkitError):
        volumes.load_hippocampus(n=4, source="real")


def test_load_hippocampus_real(shared_data):
    data = volumes.load_hippocampus(n=5)
    assert data.is_real and data.orientation == "RAS" and data.label_names[1] == "anterior"
    assert all(img.shape == lab.shape for img, lab in zip(data.images, data.labels))
    assert all(set(np.unique(lab)) <= {0, 1, 2} for lab in data.labels)


# ---------------------------------------------------------------- unpacking a .tar safely

def _tar(path, names):
    with tarfile.open(path, "w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
    return path


# Catches a path-traversal archive writing outside the folder, or half-unpacking before refusing.
def test_tar_with_parent_paths_is_refused(tmp_path):
    archive = _tar(tmp_path / "evil.tar", ["Task/ok.txt", "Task/../../escaped.txt"])
    target = tmp_path / "out"
    with pytest.raises(RadkitError, match="outside the folder"):
        download.extract_tar(archive, target)
    assert not (tmp_path / "escaped.txt").exists() and not (target / "Task").exists()
    assert list(target.iterdir()) == []  # no temporary folder left behind
    with pytest.raises(RadkitError, match="outside the folder"):
        download.extract_tar(_tar(tmp_path / "abs.tar", ["/tmp/abs.txt"]), target)


# Catches a link inside the archive being followed (a link can point anywhere on the disk).
def test_tar_with_link_is_refused(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("Task/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(RadkitError, match="link"):
        download.extract_tar(archive, tmp_path / "out")


# Catches unpacking over an existing folder (radkit never replaces files it did not make).
def test_tar_unpacks_and_never_overwrites(tmp_path):
    archive = _tar(tmp_path / "good.tar", ["Task/a.txt", "Task/sub/b.txt"])
    target = download.extract_tar(archive, tmp_path / "out")
    assert (target / "Task" / "sub" / "b.txt").read_bytes() == b"hello"
    with pytest.raises(RadkitError, match="already exists"):
        download.extract_tar(archive, target)
    assert sorted(p.name for p in target.iterdir()) == ["Task"]


# Catches a damaged (cut short) archive escaping as a raw tarfile error, or leaving a half-unpacked folder.
def test_cut_short_tar_is_a_plain_error_and_leaves_nothing(tmp_path):
    archive = tmp_path / "whole.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("Task/a.bin", "Task/b.bin"):
            info = tarfile.TarInfo(name)
            info.size = 20_000
            tar.addfile(info, io.BytesIO(bytes(20_000)))
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[:25_000])  # an interrupted copy: the second file is cut off
    target = tmp_path / "out"
    with pytest.raises(RadkitError, match="damaged or cut short"):
        download.extract_tar(cut, target)
    assert list(target.iterdir()) == []


# Catches an error while unpacking (e.g. a full disk) escaping as OSError or leaving the half-written copy.
def test_failure_while_unpacking_leaves_nothing(tmp_path, monkeypatch):
    archive = _tar(tmp_path / "good.tar", ["Task/a.txt", "Task/b.txt"])
    original = tarfile.TarFile.extractall

    def disk_full(self, path, *args, **kwargs):
        original(self, path, *args, **kwargs)  # the files are written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "extractall", disk_full)
    target = tmp_path / "out"
    with pytest.raises(RadkitError, match="could not be unpacked"):
        download.extract_tar(archive, target)
    assert list(target.iterdir()) == []


# ---------------------------------------------------------------- the Decathlon tar, served from 127.0.0.1

def _serve_decathlon(tmp_path, monkeypatch, key, task):
    """A tiny Decathlon task tar served on 127.0.0.1, with the registry card pointing to it (URL and MD5)."""
    import functools
    import hashlib
    import http.server
    import threading

    from radkit import registry

    made = _msd_folder(tmp_path / "made", n=3)
    served = tmp_path / "served"
    served.mkdir(exist_ok=True)
    archive = served / f"{task}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(made, arcname=task)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    card = registry.get(key)
    official = card.files["all"]
    assert official.name == archive.name  # the card names the Decathlon's own tar
    url = f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
    monkeypatch.setitem(card.files, "all", registry.DataFile(official.name, url,
                                                             hashlib.md5(archive.read_bytes()).hexdigest()))
    return archive, server


@pytest.fixture
def decathlon_server(tmp_path, monkeypatch):
    """Task04_Hippocampus.tar (tiny) served on 127.0.0.1 for the msd_hippocampus card."""
    archive, server = _serve_decathlon(tmp_path, monkeypatch, "msd_hippocampus", "Task04_Hippocampus")
    yield archive
    server.shutdown()


# Catches load_hippocampus not downloading, not checking, or not unpacking the Decathlon tar (or falling back
# to phantoms when the real scans were there to be had).
def test_load_hippocampus_downloads_and_unpacks_the_tar(data_dir, decathlon_server, capsys):
    data = volumes.load_hippocampus(source="real")
    assert data.is_real and len(data) == 3 and data.ids == ["case_0", "case_1", "case_2"]
    assert (data_dir / "msd_hippocampus" / "Task04_Hippocampus" / "dataset.json").is_file()
    assert (data_dir / "msd_hippocampus" / "Task04_Hippocampus.tar").is_file()  # kept: checked, reusable
    assert not [p for p in (data_dir / "msd_hippocampus").iterdir() if p.name.startswith(".")]  # no staging left
    decathlon_server.unlink()  # the server has nothing any more: a second load must not need it
    assert len(volumes.load_hippocampus()) == 3


# Catches `radkit fetch msd_hippocampus` then working offline failing (the tar is there but was never unpacked).
def test_a_fetched_tar_is_unpacked_offline(data_dir, decathlon_server, monkeypatch, capsys):
    from radkit import cli

    assert cli.main(["fetch", "msd_hippocampus"]) == 0
    assert any(line.startswith("OK ") for line in capsys.readouterr().out.splitlines())
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    data = volumes.load_hippocampus(source="real")
    assert data.is_real and len(data) == 3


# Catches a download whose checksum differs from the card's being unpacked and used all the same.
def test_a_tar_with_the_wrong_checksum_is_not_unpacked(data_dir, decathlon_server, capsys):
    decathlon_server.write_bytes(decathlon_server.read_bytes() + bytes(512))  # not the file the card vouches for
    data = volumes.load_hippocampus()
    assert not data.is_real and "checksum" in capsys.readouterr().out
    assert not (data_dir / "msd_hippocampus" / "Task04_Hippocampus").exists()


# Catches the left-atrium task (Task02 Heart, the online option) not going through the same checked download
# and safe unpacking, or losing its card's label names.
def test_load_decathlon_heart_from_its_card(data_dir, tmp_path, monkeypatch, capsys):
    archive, server = _serve_decathlon(tmp_path, monkeypatch, "msd_heart", "Task02_Heart")
    try:
        data = volumes.load_decathlon("msd_heart")
    finally:
        server.shutdown()
    assert data.is_real and len(data) == 3 and data.label_names == ("background", "left atrium")
    assert (data_dir / "msd_heart" / "Task02_Heart" / "dataset.json").is_file()
    with pytest.raises(RadkitError, match="not a Decathlon task"):
        volumes.load_decathlon("pneumoniamnist")


# Catches a damaged copy of the real scans being hidden behind practice phantoms (it must be said plainly).
def test_a_damaged_local_copy_is_said_not_replaced_by_phantoms(data_dir, tmp_path):
    folder = _msd_folder(tmp_path, n=2)
    volumes.write_nifti(np.zeros((6, 10, 7), np.uint8), folder / "labelsTr" / "case_1.nii.gz", overwrite=True)
    (data_dir / "msd_hippocampus").mkdir(parents=True)
    folder.rename(data_dir / "msd_hippocampus" / "Task04_Hippocampus")
    with pytest.raises(RadkitError, match="shape"):
        volumes.load_hippocampus()
