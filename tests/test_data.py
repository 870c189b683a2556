"""Loaders: MedMNIST npz, a folder of your own images, the course's chest X-rays, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radkit import data
from radkit.errors import RadkitError


def write_npz(path, n=10, size=28, label_shape="column", colour=False):
    rng = np.random.default_rng(0)
    arrays = {}
    for split in ("train", "val", "test"):
        shape = (n, size, size, 3) if colour else (n, size, size)
        arrays[f"{split}_images"] = rng.integers(0, 255, shape, dtype=np.uint8)
        labels = np.arange(n) % 2
        arrays[f"{split}_labels"] = labels[:, None] if label_shape == "column" else labels
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("label_shape", ["column", "flat"])
def test_medmnist_labels_of_either_shape_become_flat(tmp_path, label_shape):
    dataset = data.load_medmnist(write_npz(tmp_path / "pneumoniamnist.npz", label_shape=label_shape))
    images, labels = dataset.train
    assert images.shape == (10, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10,)
    assert dataset.label_names == ["normal", "pneumonia"]


def test_medmnist_any_size(tmp_path):
    dataset = data.load_medmnist(write_npz(tmp_path / "pneumoniamnist_64.npz", size=64))
    assert dataset.test[0].shape == (10, 64, 64)


def test_medmnist_colour_where_grey_expected(tmp_path):
    with pytest.raises(RadkitError, match="colour image, but a grey"):
        data.load_medmnist(write_npz(tmp_path / "x.npz", colour=True))


def test_medmnist_not_a_zip(tmp_path):
    path = tmp_path / "pneumoniamnist.npz"
    path.write_text("this is not a dataset")
    with pytest.raises(RadkitError, match="not a readable MedMNIST"):
        data.load_medmnist(path)


def test_medmnist_missing_arrays(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, images=np.zeros((2, 4, 4)))
    with pytest.raises(RadkitError, match="lacks train_images"):
        data.load_medmnist(path)


@pytest.mark.realdata
def test_real_pneumoniamnist(shared_data):
    dataset = data.load_medmnist(shared_data / "pneumoniamnist" / "pneumoniamnist.npz")
    assert len(dataset.val[0]) == 524 and len(dataset.test[0]) == 624
    assert dataset.train[0].shape[1:] == (28, 28)
    assert set(np.unique(dataset.test[1])) == {0, 1}
    assert dataset.is_real


@pytest.mark.realdata
def test_real_breastmnist_with_flat_labels(shared_data):
    dataset = data.load_medmnist(shared_data / "breastmnist" / "breastmnist.npz")
    assert dataset.train[1].ndim == 1
    assert dataset.label_names == ["malignant", "normal or benign"]
    assert len(dataset.test[0]) == 156


def make_folder(root, layout):
    """layout: {class name: [file names]}; writes small grey pictures."""
    rng = np.random.default_rng(0)
    for label, names in layout.items():
        (root / label).mkdir(parents=True)
        for name in names:
            Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(root / label / name)
    return root


def test_folder_of_mixed_png_jpeg_and_dicom(tmp_path):
    from pydicom.data import get_testdata_file

    root = make_folder(tmp_path / "mine", {"normal": ["a.png", "b.jpg"], "pneumonia": ["c.jpeg"]})
    shutil.copy(get_testdata_file("CT_small.dcm"), root / "pneumonia" / "d.dcm")
    shutil.copy(get_testdata_file("MR_small.dcm"), root / "pneumonia" / "e")  # DICOM without extension
    (root / "normal" / "notes.txt").write_text("not a picture")
    folder = data.load_image_folder(root, size=32)
    assert folder.images.shape == (5, 32, 32) and folder.images.dtype == np.uint8
    assert folder.label_names == ["normal", "pneumonia"]
    assert folder.labels.tolist() == [0, 0, 1, 1, 1]


@pytest.mark.realdata
def test_folder_with_real_dicom_and_jpeg(shared_data, tmp_path):
    root = tmp_path / "real"
    (root / "xray").mkdir(parents=True)
    (root / "mask").mkdir()
    shutil.copy(shared_data / "dicom" / "DX_chest_NIH_ChestXray14_via_nhsx.dcm", root / "xray")
    shutil.copy(shared_data / "cxr_lung_masks" / "1.jpg", root / "xray")
    shutil.copy(shared_data / "cxr_lung_masks" / "1-mask.png", root / "mask")
    folder = data.load_image_folder(root, size=64)
    assert folder.images.shape == (3, 64, 64)
    assert folder.images.std() > 10  # real pictures, not blank


def test_text_file_named_png(tmp_path):
    root = make_folder(tmp_path / "mine", {"a": ["1.png"], "b": ["2.png"]})
    (root / "b" / "broken.png").write_text("I am not a picture")
    with pytest.raises(RadkitError, match="broken.png could not be read"):
        data.load_image_folder(root)
    folder = data.load_image_folder(root, on_error="skip")
    assert len(folder.images) == 2


def test_empty_folder(tmp_path):
    with pytest.raises(RadkitError, match="is empty"):
        data.load_image_folder(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(RadkitError, match="no folder"):
        data.load_image_folder(tmp_path / "nope")


def test_pictures_without_class_subfolders(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(RadkitError, match="without sub-folders") as error:
        data.load_image_folder(tmp_path)
    assert "normal/" in str(error.value)  # the fix shows the expected layout


def test_one_class_only(tmp_path):
    make_folder(tmp_path, {"pneumonia": ["1.png", "2.png"]})
    with pytest.raises(RadkitError, match="only one sub-folder"):
        data.load_image_folder(tmp_path)


def test_pictures_one_level_too_deep(tmp_path):
    make_folder(tmp_path / "normal", {"2024": ["1.png"]})
    make_folder(tmp_path / "pneumonia", {"2024": ["2.png"]})
    with pytest.raises(RadkitError, match="one folder further down"):
        data.load_image_folder(tmp_path)


# Catches: grey saved as RGB being stretched per image (a 50..200 ramp became 0..255) or read from
# the wrong channel; the browser keeps 50..200, so must we.
def test_colour_photo_is_refused_but_grey_saved_as_rgb_keeps_its_values(tmp_path):
    ramp = np.tile(np.arange(50, 201, 10, dtype=np.uint8), (8, 1))
    Image.fromarray(np.stack([ramp] * 3, axis=-1)).save(tmp_path / "grey_as_rgb.png")
    image = data.read_image(tmp_path / "grey_as_rgb.png")
    assert image.dtype == np.uint8 and np.array_equal(image, ramp)
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(tmp_path / "colour.png")
    with pytest.raises(RadkitError, match="colour image"):
        data.read_image(tmp_path / "colour.png")


# Catches: 16-bit values clipped at 255 (everything above 255 white), or stretched per image (a
# uniform image became 0, and the same value gave different greys in different files). The mapping
# is the browser's: keep the top 8 bits (value // 256).
def test_sixteen_bit_png_keeps_its_top_eight_bits(tmp_path):
    values = np.array([[0, 255, 256, 300, 1000, 4095], [30000, 32768, 40000, 65280, 65535, 12345]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = data.read_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8
    assert image.tolist() == [[0, 0, 1, 1, 3, 15], [117, 128, 156, 255, 255, 48]]
    Image.fromarray(np.full((10, 10), 30000, np.uint16)).save(tmp_path / "uniform.png")
    assert (data.read_image(tmp_path / "uniform.png") == 117).all()


def test_to_model_input():
    images = np.full((3, 20, 20), 255, np.uint8)
    x = data.to_model_input(images, size=16)
    assert x.shape == (3, 16, 16, 1) and x.dtype == np.float32
    assert np.allclose(x, 1.0)
    assert data.to_model_input(images[0]).shape == (1, 20, 20, 1)
    with pytest.raises(RadkitError, match="convert them to grey"):
        data.to_model_input(np.zeros((2, 8, 8, 3), np.uint8))


def test_split_of_own_folder_is_stratified(tmp_path):
    root = make_folder(tmp_path, {"a": [f"{i}.png" for i in range(20)], "b": [f"{i}.png" for i in range(20)]})
    dataset = data.load_image_folder(root, size=16).split(val=0.2, test=0.2, seed=1)
    assert len(dataset.train[0]) + len(dataset.val[0]) + len(dataset.test[0]) == 40
    assert dataset.test[1].sum() == len(dataset.test[1]) / 2


def write_films(root, films):
    """films: {relative path: grey value}; each film is uniform, so its value tells where it ended up."""
    for name, value in films.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((12, 12), value, np.uint8)).save(root / name)
    return root


def values_of(pair):
    return sorted(int(image[0, 0]) for image in pair[0])


def kaggle_folder(root, with_val):
    """The Kaggle chest X-ray layout: train/, test/ (and val/), each with NORMAL/ and PNEUMONIA/."""
    films, value, person = {}, 1, 0
    for split, n_patients in (("train", 12), ("test", 4)) + ((("val", 2),) if with_val else ()):
        for _ in range(n_patients):
            person += 1
            for image in range(1 + person % 3):  # 1 to 3 films per patient
                films[f"{split}/PNEUMONIA/person{person}_virus_{image}.jpeg"] = value
                films[f"{split}/NORMAL/IM-{person + 100:04d}-{image + 1:04d}.jpeg"] = value + 1
                value += 2
    return write_films(root, films), films


# Catches: a train/ val/ test/ folder being refused or read as three labels, test/ films ending up
# in train, or a missing val/ carved without regard to patients.
@pytest.mark.parametrize("with_val", [True, False])
def test_a_folder_with_train_and_test_keeps_its_splits(tmp_path, with_val, capsys):
    root, films = kaggle_folder(tmp_path / "chest_xray", with_val)
    (root / ".DS_Store").write_text("")  # hidden files of a Mac are ignored
    folder = data.load_image_folder(root, size=12)
    assert folder.label_names == ["NORMAL", "PNEUMONIA"]
    assert "Found the folder's own splits" in capsys.readouterr().out
    dataset = folder.split(val=0.25, test=0.15)
    assert values_of(dataset.test) == sorted(v for name, v in films.items() if name.startswith("test/"))
    labels = {v: int("PNEUMONIA" in name) for name, v in films.items()}
    for split in ("train", "val", "test"):
        images, y = getattr(dataset, split)
        assert [labels[int(i[0, 0])] for i in images] == y.tolist(), "a film lost its label"
    from_val = sorted(v for name, v in films.items() if name.startswith("val/"))
    if with_val:
        assert values_of(dataset.val) == from_val
    else:
        assert set(dataset.val[1]) == {0, 1} and "val taken from train/ by patient" in capsys.readouterr().out
        ids = {v: data.patient_ids([name], quiet=True)[0] for name, v in films.items()}
        assert not {ids[v] for v in values_of(dataset.val)} & {ids[v] for v in values_of(dataset.train)}


# Catches: test=0 refused; sklearn's raw "The least populated class ..." error for small labels.
def test_split_with_test_zero_and_too_few_images(tmp_path):
    root = make_folder(tmp_path, {"a": [f"{i}.png" for i in range(10)], "b": ["1.png", "2.png"]})
    folder = data.load_image_folder(root, size=16)
    dataset = folder.split(val=0.2, test=0)
    assert len(dataset.test[0]) == 0 and set(dataset.val[1]) == {0, 1}
    assert len(dataset.train[0]) + len(dataset.val[0]) == 12
    with pytest.raises(RadkitError, match="The label 'b' has only 2 image") as error:
        folder.split(val=0.15, test=0.15)
    assert "test=0" in error.value.fix
    with pytest.raises(RadkitError, match="not a fraction"):
        folder.split(val=15, test=0)


def patients_folder(root):
    """40 patients with 1 to 4 films each; a patient's films share one label and one grey value."""
    films = {}
    for patient in range(40):
        label = "pneumonia" if patient % 3 == 0 else "normal"
        for image in range(1 + patient % 4):
            films[f"{label}/{patient:08d}_{image:03d}.png"] = patient + 1
    return write_films(root, films)


# Catches: split() ignoring groups (the same patient in train and test: patient leakage), a
# patient_ids that does not read the NIH file names, and a split left without one label.
def test_split_by_patient_keeps_each_patient_in_one_split(tmp_path, capsys):
    folder = data.load_image_folder(patients_folder(tmp_path / "mine"), size=12)
    assert "split(..., groups=radkit.data.patient_ids(folder.paths))" not in capsys.readouterr().out
    leaky = folder.split(val=0.15, test=0.15, seed=0)
    assert "groups=radkit.data.patient_ids(folder.paths)" in capsys.readouterr().out  # the hint
    assert set(values_of(leaky.train)) & set(values_of(leaky.test)), "a random split leaks: the check can fail"
    # The notebook 02 cell, exactly:
    mine = folder.split(val=0.15, test=0.15, groups=data.patient_ids(folder.paths))
    assert "40 patients for 100 files" in capsys.readouterr().out
    train, val, test = (set(values_of(p)) for p in (mine.train, mine.val, mine.test))
    assert not (train & val or train & test or val & test)
    assert len(train | val | test) == 40
    for split in (mine.train, mine.val, mine.test):
        assert set(split[1]) == {0, 1}
    assert 0.08 < len(mine.test[0]) / 100 < 0.25


# Catches: patient IDs read wrongly from the Kaggle and NIH file names, a CSV column ignored, a
# pattern without a group accepted, and files without an ID silently merged into one patient.
def test_patient_ids_from_names_pattern_and_csv(tmp_path, capsys):
    names = ["person12_virus_44.jpeg", "person12_bacteria_45.jpeg", "IM-0115-0001.jpeg",
             "NORMAL2-IM-1427-0001.jpeg", "00001234_002.png", "00001234_000.png", "scan.png"]
    ids = data.patient_ids(names)
    assert ids.tolist() == ["person12", "person12", "IM-0115", "NORMAL2-IM-1427", "00001234", "00001234",
                            "file 6: scan.png"]
    assert "1 file(s) without an ID each count as their own patient" in capsys.readouterr().out
    assert data.patient_ids(["p7-a.png", "p7-b.png", "p8-a.png"], pattern=r"^(p\d+)-").tolist() == ["p7", "p7", "p8"]
    with pytest.raises(RadkitError, match="no group in brackets"):
        data.patient_ids(names, pattern=r"person\d+")
    capsys.readouterr()
    assert data.patient_ids(["normal/1.png", "pneumonia/1.png"]).tolist() == ["file 0: 1.png", "file 1: 1.png"]
    assert "Warning: no patient ID was found" in capsys.readouterr().out
    table = tmp_path / "labels.csv"
    table.write_text("Image Index,Finding Labels,Patient ID\n00000001_000.png,Cardiomegaly,1\n"
                     "00000001_001.png,No Finding,1\n00000002_000.png,Mass,2\n")
    ids = data.patient_ids([tmp_path / "x" / "00000001_001.png", "00000002_000.png"], csv=table,
                           file_column="Image Index", patient_column="Patient ID")
    assert ids.tolist() == ["1", "2"]
    with pytest.raises(RadkitError, match="no column 'Patient'"):
        data.patient_ids(["00000002_000.png"], csv=table, file_column="Image Index", patient_column="Patient")


class Brightness:
    """A stand-in model: the probability is the mean brightness of the picture."""
    input_shape = (None, 8, 8, 1)

    def __call__(self, x, training=False):
        return x.mean(axis=(1, 2))


# Catches: predict_folder calling every film "normal"/"pneumonia" whatever the folder's labels are,
# and ending with a 600-line table but no sensitivity/specificity/PPV/NPV/AUC when the truth is known.
def test_predict_folder_with_label_subfolders_ends_with_clinical_metrics(tmp_path, capsys):
    from radkit import evaluate

    # NORMAL: 12 dark films and 3 bright ones (false alarms); PNEUMONIA: 10 bright and 5 dark (missed).
    films = {f"test/NORMAL/n{i:02d}.png": (40 if i < 12 else 220) for i in range(15)}
    films.update({f"test/PNEUMONIA/p{i:02d}.png": (220 if i < 10 else 40) for i in range(15)})
    films.update({"test/PNEUMONIA/p99.png": 100})  # a third level, so the AUC is not just 0/1 counts
    write_films(tmp_path, films)
    (tmp_path / "test" / "NORMAL" / "notes.txt").write_text("not a picture")
    rows = evaluate.predict_folder(Brightness(), tmp_path, threshold=0.5)
    out = capsys.readouterr().out
    by_file = {Path(r["file"]).name: r for r in rows}
    assert by_file["p00.png"]["prediction"] == "PNEUMONIA" and by_file["n00.png"]["prediction"] == "NORMAL"
    assert by_file["p00.png"]["truth"] == "PNEUMONIA" and "not a PNG" in by_file["notes.txt"]["note"]
    m = rows.metrics
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (10, 6, 3, 12)
    assert m["sensitivity"] == pytest.approx(10 / 16) and m["specificity"] == pytest.approx(12 / 15)
    assert m["ppv"] == pytest.approx(10 / 13) and m["npv"] == pytest.approx(12 / 18)
    from sklearn.metrics import roc_auc_score

    truth = [int("PNEUMONIA" in name) for name in films]
    assert m["auc"] == pytest.approx(roc_auc_score(truth, [v / 255 for v in films.values()]))
    assert "sensitivity  62.5 %" in out and "AUC         " in out
    assert "... and 12 more rows" in out and out.index("more rows") < out.index("sensitivity")
    # Without label sub-folders: no metrics, the course's label names, the whole table.
    loose = write_films(tmp_path / "loose", {"a.png": 220, "b.png": 40})
    rows = evaluate.predict_folder(Brightness(), loose)
    assert rows.metrics is None and [r["prediction"] for r in rows] == ["pneumonia", "normal"]


def test_pneumonia_falls_back_to_phantoms_offline(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "1")
    dataset = data.load_pneumonia(size=32)
    assert "PRACTICE images (phantoms)" in capsys.readouterr().out
    assert not dataset.is_real
    assert dataset.train[0].shape[1:] == (32, 32)
    assert set(np.unique(dataset.train[1])) == {0, 1}
    again = data.load_pneumonia(size=32)
    assert np.array_equal(again.test[0], dataset.test[0]), "phantom data must be the same every run"
    with pytest.raises(RadkitError):
        data.load_pneumonia(size=32, source="real")


@pytest.mark.realdata
def test_pneumonia_uses_real_data_when_present(shared_data, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "0")
    dataset = data.load_pneumonia(size=64)
    assert dataset.is_real and dataset.train[0].shape[1:] == (64, 64)
    assert len(dataset.test[0]) == 624
    assert "using the 28 px copy" in capsys.readouterr().out
    dataset.describe()
    assert "REAL patient images" in capsys.readouterr().out


def test_fast_mode_shrinks_the_data(data_dir, monkeypatch):
    """Fast mode is smaller: a third of the practice films at most (1,000 of 3,000 for training, enough for the
    shortcut model of notebook 05 to learn its marker), never more than full mode."""
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    monkeypatch.setenv("RADKIT_FAST", "0")
    full = data.load_pneumonia(size=16)
    monkeypatch.setenv("RADKIT_FAST", "1")
    fast = data.load_pneumonia(size=16)
    for split in ("train", "val", "test"):
        assert 0 < len(getattr(fast, split)[0]) <= len(getattr(full, split)[0]) / 2, split


# Catches, on real NIH films: patient IDs from the file names disagreeing with the NIH table, and a
# patient split that leaks (the 1,000 films come from 682 patients, some with many films).
@pytest.mark.realdata
def test_real_nih_folder_split_by_patient(shared_data, tmp_path, capsys):
    import csv

    nih = shared_data / "nih_cxr_subset"
    with open(nih / "Data_Entry_subset.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # links, not copies, in the layout a clinician would make
        label = "pneumonia" if "Pneumonia" in row["Finding Labels"] else "no_finding"
        (tmp_path / label).mkdir(exist_ok=True)
        (tmp_path / label / row["Image Index"]).symlink_to(nih / "images" / row["Image Index"])
    folder = data.load_image_folder(tmp_path, size=16)
    from_names = data.patient_ids(folder.paths)
    from_table = data.patient_ids(folder.paths, csv=nih / "Data_Entry_subset.csv", file_column="Image Index",
                                  patient_column="Patient ID")
    assert len(set(from_names)) == len(set(from_table)) == 682
    assert all(int(a) == int(b) for a, b in zip(from_names, from_table))
    patient_of = {}
    for image, pid in zip(folder.images, from_table):  # films are recognised by their pixels
        assert patient_of.setdefault(image.tobytes(), pid) == pid, "two patients' films look identical"
    mine = folder.split(val=0.15, test=0.15, groups=from_table)
    patients = [{patient_of[i.tobytes()] for i in getattr(mine, s)[0]} for s in ("train", "val", "test")]
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    sizes = [len(getattr(mine, s)[0]) for s in ("train", "val", "test")]
    assert sum(sizes) == 1000 and 100 < sizes[1] < 200 and 100 < sizes[2] < 200
    leaky = folder.split(val=0.15, test=0.15)
    assert {patient_of[i.tobytes()] for i in leaky.train[0]} & {patient_of[i.tobytes()] for i in leaky.test[0]}
