"""radkit.labels: multi-label CSVs, multi-hot arrays, splits by patient, and their bad-input messages."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from radkit import labels, models, phantoms
from radkit.errors import RadkitError

HEADER = "Image Index,Finding Labels,Patient ID,Patient Age,Patient Gender,View Position\n"


def _folder(tmp_path, rows: str, images=("a.png", "b.png", "c.png")):
    """A folder with a few grey PNGs and a NIH-style CSV naming them."""
    (tmp_path / "images").mkdir()
    for i, name in enumerate(images):
        Image.fromarray(np.full((32, 32), 40 * i, np.uint8)).save(tmp_path / "images" / name)
    (tmp_path / "labels.csv").write_text(HEADER + rows, encoding="utf-8")
    return tmp_path / "labels.csv", tmp_path / "images"


# Catches: a film with two findings getting one, "No Finding" becoming a column, or columns in the wrong order.
def test_multi_hot_puts_each_finding_in_its_column():
    array, names = labels.multi_hot(["Effusion|Pneumonia", "No Finding", "Pneumonia"])
    assert names == ["Effusion", "Pneumonia"]
    assert array.tolist() == [[1, 1], [0, 0], [0, 1]]
    fixed, names = labels.multi_hot(["Pneumonia"], findings=["Pneumonia", "Effusion"])
    assert fixed.tolist() == [[1, 0]] and names == ["Pneumonia", "Effusion"]


# Catches: "Pleural_Thickening" and "pleural thickening" silently becoming two findings with half the films each.
def test_a_finding_spelled_two_ways_is_refused_in_plain_words():
    with pytest.raises(RadkitError, match="spelled in more than one way.*Pleural_Thickening"):
        labels.multi_hot(["Pleural_Thickening", "pleural thickening|Effusion"])


# Catches: an empty cell read as "no finding" (a normal film) rather than as a missing label.
@pytest.mark.parametrize("text", ["", "  ", "Effusion||Pneumonia", "Effusion|"])
def test_an_empty_label_is_refused(text):
    with pytest.raises(RadkitError, match="empty label"):
        labels.multi_hot(["Pneumonia", text])


# Catches: the CSV reader dropping the patient, age, sex or view columns, or losing a row's findings.
def test_read_label_csv_keeps_patient_age_sex_view(tmp_path):
    csv_path, folder = _folder(tmp_path, "a.png,Effusion|Pneumonia,1,60,F,AP\nb.png,No Finding,1,61,F,PA\n"
                                         "c.png,Pneumonia,2,30,M,PA\n")
    table = labels.read_label_csv(csv_path, folder)
    assert table.findings == ["Effusion", "Pneumonia"]
    assert table.labels.tolist() == [[1, 1], [0, 0], [0, 1]]
    assert table.info["patient"].tolist() == ["1", "1", "2"]
    assert table.info["age"].tolist() == [60, 61, 30] and table.info["view"].tolist() == ["AP", "PA", "PA"]
    assert labels.load_films(table, size=16).shape == (3, 16, 16)


# Catches: 0/1 (or yes/no) columns per finding being misread, or a blank cell read as 0.
def test_one_column_per_finding(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("Image Index,Effusion,Pneumonia\na.png,1,0\nb.png,no,YES\n", encoding="utf-8")
    table = labels.read_label_csv(path, finding_columns=["Effusion", "Pneumonia"])
    assert table.labels.tolist() == [[1, 0], [0, 1]]
    path.write_text("Image Index,Effusion,Pneumonia\na.png,1,\n", encoding="utf-8")
    with pytest.raises(RadkitError, match="'Pneumonia', row 1 holds '' \\(empty\\)"):
        labels.read_label_csv(path, finding_columns=["Effusion", "Pneumonia"])


# Catches: training starting on a table whose images are not on disk (a crash deep inside the image reader).
def test_csv_image_names_missing_on_disk_are_named(tmp_path):
    csv_path, folder = _folder(tmp_path, "a.png,Pneumonia,1,60,F,AP\nx.png,No Finding,2,61,F,PA\n"
                                         "y.png,Pneumonia,3,30,M,PA\n")
    with pytest.raises(RadkitError, match="2 of the 3 images named in labels.csv are not in the folder images/, "
                                          "for example 'x.png'"):
        labels.read_label_csv(csv_path, folder)


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("file,labels\na.png,Pneumonia\n", encoding="utf-8")
    with pytest.raises(RadkitError, match="no column 'Image Index'"):
        labels.read_label_csv(path)


# Catches: patient leakage, a split that puts one patient's films in both training and test.
def test_split_by_patient_keeps_each_patient_in_one_split():
    patients = np.repeat(np.arange(100), 3)
    splits = labels.split_by_patient(patients, val=0.2, test=0.3, seed=1)
    seen = [set(patients[index]) for index in splits.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert sum(len(i) for i in splits.values()) == len(patients)


def test_a_patient_in_two_splits_gets_a_plain_message():
    patients = np.array(["p1", "p1", "p2", "p3"])
    with pytest.raises(RadkitError, match="Patient p1 has films in two splits"):
        labels.check_patient_split(patients, [0, 2], [1, 3])


# Catches: hidden labels kept by mistake, or a kept share far from the one asked for.
def test_hide_labels_keeps_the_asked_share_of_each_label():
    truth = np.array([0] * 80 + [1] * 20)
    hidden = labels.hide_labels(truth, keep=0.1, seed=0)
    known = hidden != -1
    assert known.sum() == 10 and (hidden[known] == truth[known]).all() and hidden[known].sum() == 2


# Catches: label spreading that ignores the neighbours (e.g. labels everything with the commoner label).
def test_spread_labels_follows_the_neighbours():
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (50, 4)), rng.normal(6, 1, (50, 4))])
    truth = np.array([0] * 50 + [1] * 50)
    hidden = labels.hide_labels(truth, keep=0.1, seed=0)
    spread, probability = models.spread_labels(features, hidden)
    assert (spread == truth).mean() > 0.95 and probability[truth == 1].mean() > 0.8
    with pytest.raises(RadkitError, match="both kinds"):
        models.spread_labels(features, np.where(truth == 1, -1, 0))


# Catches: agreement counts swapped between the two raters, or kappa not correcting for chance.
def test_agreement_counts_and_kappa():
    a = labels.agreement([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert (a["both"], a["only_first"], a["only_second"], a["neither"]) == (2, 1, 1, 1)
    assert a["agree"] == pytest.approx(0.6)
    assert labels.agreement([1, 0, 1, 0], [1, 0, 1, 0])["kappa"] == pytest.approx(1.0)


def test_phantom_films_have_several_findings_and_patients_split():
    films = labels.phantom_films(n=80, size=32, seed=0)
    assert films.labels.shape == (80, len(phantoms.MULTI_FINDINGS))
    assert (films.labels.sum(axis=1) >= 2).any() and not films.is_real
    labels.check_patient_split(films.info["patient"], *films.splits.values())


# Catches: the NIH table read with the wrong columns, a film's findings lost, or a patient split across sets.
def test_nih_subset_reads_as_documented(shared_data):
    films = labels.load_nih_subset(size=32, source="real")
    assert films.is_real and films.images.shape == (1000, 32, 32)
    assert int(films.column("Pneumonia").sum()) == 500
    assert len(np.unique(films.info["patient"])) == 682
    assert sorted(set(films.info["view"])) == ["AP", "PA"]
    labels.check_patient_split(films.info["patient"], *films.splits.values())
    assert films.expert["labels"].shape == (39, 4)



# Catches notebook 07's normal films being anything but the subset's "No Finding" films, a sample that is not the
# size asked, or a crash (rather than None) when the NIH films are absent.
def test_normal_films_are_the_no_finding_films(shared_data, data_dir, monkeypatch):
    assert labels.load_normal_films(size=16) is None        # no data here: the notebook then says so
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    films, views = labels.load_normal_films(size=16)
    table = labels.read_label_csv(shared_data / "nih_cxr_subset" / "Data_Entry_subset.csv",
                                  shared_data / "nih_cxr_subset" / "images", findings=labels.NIH_FINDINGS)
    normal = table.labels.sum(axis=1) == 0
    assert films.shape == (normal.sum(), 16, 16) and list(views) == list(np.asarray(table.info["view"])[normal])
    sample, sample_views = labels.load_normal_films(size=16, n=20, seed=1)
    assert sample.shape == (20, 16, 16) and set(sample_views) <= {"AP", "PA"}
    assert any((sample[0] == film).all() for film in films)


# ---------------------------------------------------------------- ChestMNIST in notebook 06

def _notebook_06_cell(marker: str) -> str:
    import nbformat
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "solutions" / "06_multilabel_and_unlabelled_data.ipynb"
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"notebook 06 should have one cell with {marker}"
    return cells[0]


def _fake_chestmnist(path, rng):
    """A small file in MedMNIST's ChestMNIST layout: 14 findings, 7 common and 7 with 5 positive test films."""
    arrays = {}
    for split, n in (("train", 240), ("val", 60), ("test", 200)):
        y = np.zeros((n, 14), np.uint8)
        y[:, :7] = rng.random((n, 7)) < 0.3
        for k in range(7, 14):
            y[rng.choice(n, 5, replace=False), k] = 1
        x = rng.integers(0, 120, (n, 28, 28)).astype(np.uint8)
        x[y[:, 0] == 1, 10:18, 10:18] = 255  # something to learn for the first finding
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, y
    np.savez_compressed(path, **arrays)


# Catches: notebook 06's ChestMNIST step crashing, judging a finding with fewer than 20 positive films,
# showing an unjudged finding, downloading by itself, or staying silent when it skips.
def test_notebook_06_chestmnist_step(data_dir, tmp_path, monkeypatch, capsys):
    import dataclasses
    import functools
    import hashlib
    import http.server
    import threading

    import radkit
    from radkit import cli, evaluate, registry, train

    monkeypatch.setenv("RADKIT_FAST", "1")
    monkeypatch.delenv("RADKIT_LOCAL_DATA", raising=False)
    source = _notebook_06_cell("load_chestmnist")
    served = tmp_path / "served"
    served.mkdir()
    _fake_chestmnist(served / "chestmnist.npz", np.random.default_rng(0))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    card = registry.get("chestmnist")
    fake = registry.DataFile("chestmnist.npz", f"http://127.0.0.1:{server.server_address[1]}/chestmnist.npz",
                             hashlib.md5((served / "chestmnist.npz").read_bytes()).hexdigest())
    monkeypatch.setitem(registry.DATASETS, "chestmnist", dataclasses.replace(card, files={28: fake}))
    space = {"radkit": radkit, "labels": labels, "models": models, "train": train, "evaluate": evaluate,
             "N_BOOT": 50, "np": np}
    try:
        exec(source, space)                     # not on this computer: said, skipped, nothing downloaded
        out = capsys.readouterr().out
        assert space["chest"] is None and "skipped" in out and "fetch chestmnist" in out
        assert not (data_dir / "chestmnist").exists()
        assert cli.main(["fetch", "chestmnist", "--size", "28"]) == 0
        capsys.readouterr()
        exec(source, space)
    finally:
        server.shutdown()
    out = capsys.readouterr().out
    rows = space["chest_rows"]
    assert [r["judged"] for r in rows] == [r["positives"] >= 20 for r in rows]
    assert sum(r["judged"] for r in rows) == 7  # the common seven; the seven with 5 positives are not judged
    shown = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert all(card.label_names[k] in out for k in range(7))
    assert not any(card.label_names[k] in shown for k in range(7, 14))


# Catches practice films whose pneumonia is too faint to carry notebook 06's section 4 offline: with 10 % of the
# pneumonia labels, label spreading on plain picture features (each film shrunk to 8 x 8) must label the hidden
# films better than guessing the commoner answer, as it does on the real NIH films. Also: nodules rare but present
# (a handful of test films, too few to judge, not one or none).
def test_phantom_pneumonia_can_be_spread_from_few_labels():
    films = labels.phantom_films(n=300, size=32, seed=0)
    pneumonia = films.labels[:, films.findings.index("Pneumonia")].astype(int)
    features = films.images.reshape(len(films.images), 8, 4, 8, 4).mean(axis=(2, 4)).reshape(len(films.images), -1)
    hidden = labels.hide_labels(pneumonia, keep=0.1, seed=0)
    spread, _ = models.spread_labels(features, hidden)
    unknown = hidden == -1
    majority = max(pneumonia[unknown].mean(), 1 - pneumonia[unknown].mean())
    assert (spread[unknown] == pneumonia[unknown]).mean() > majority + 0.05
    nodules = films.labels[:, films.findings.index("Nodule")].sum()
    assert 0.03 * len(films.images) <= nodules <= 0.15 * len(films.images)
