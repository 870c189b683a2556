"""Tests for radkit.boxes: formats round-trip, IoU and mAP against hand-computed cases, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radkit import RadkitError, boxes

pytest.importorskip("keras")


def _table():
    """Two pictures of different sizes, three boxes, two classes, one picture with a box touching the edge."""
    return boxes.BoxTable(
        files=["a.png", "b.png"], sizes=np.array([[100, 200], [50, 60]]),
        boxes=[np.array([[10, 20, 30, 40], [0, 0, 200, 100]], np.float32), np.array([[5.5, 6, 20, 30]], np.float32)],
        labels=[np.array([0, 1]), np.array([1])], class_names=["heart", "mass"])


# Catches a converter that swaps width and height, or centre and corner, for any of the formats.
@pytest.mark.parametrize("fmt", ["nih", "coco", "voc", "yolo"])
def test_convert_round_trips(fmt):
    corners = np.array([[10, 20, 40, 60], [0, 0, 200, 100]], np.float32)
    there = boxes.convert(corners, "xyxy", fmt, image_size=(100, 200))
    np.testing.assert_allclose(boxes.convert(there, fmt, "xyxy", image_size=(100, 200)), corners, atol=1e-4)


# Catches the meaning of each format's numbers being wrong (hand-computed).
def test_convert_hand_computed():
    np.testing.assert_allclose(boxes.convert([10, 20, 30, 40], "nih", "xyxy"), [[10, 20, 40, 60]])
    np.testing.assert_allclose(boxes.convert([10, 20, 40, 60], "voc", "coco"), [[10, 20, 30, 40]])
    # YOLO: centre (25, 40) of a 200-wide, 100-tall picture, 30 x 40 box -> fractions.
    np.testing.assert_allclose(boxes.convert([10, 20, 40, 60], "xyxy", "yolo", (100, 200)),
                               [[0.125, 0.4, 0.15, 0.4]], atol=1e-6)
    with pytest.raises(RadkitError, match="image_size"):
        boxes.convert([0.5, 0.5, 0.1, 0.1], "yolo", "xyxy")


# Catches a writer or reader that loses boxes, classes, sizes or picture names in any format.
@pytest.mark.parametrize("fmt", ["nih", "csv", "coco", "voc", "yolo"])
def test_files_round_trip(tmp_path, fmt):
    table = _table()
    path = tmp_path / {"nih": "b.csv", "csv": "b.csv", "coco": "b.json", "voc": "voc", "yolo": "yolo"}[fmt]
    boxes.save_boxes(table, path, fmt)
    sizes = None
    if fmt in ("nih", "yolo"):  # these formats do not store the picture size: give the pictures
        from PIL import Image

        for name, (h, w) in zip(table.files, table.sizes):
            Image.fromarray(np.zeros((h, w), np.uint8)).save(tmp_path / name)
        sizes = tmp_path
    back = boxes.load_boxes(path, images=sizes, class_names=table.class_names)
    assert back.files == table.files and back.class_names == table.class_names
    np.testing.assert_array_equal(back.sizes, table.sizes)
    for a, b in zip(back.boxes, table.boxes):
        np.testing.assert_allclose(a, b, atol=1e-3)
    for a, b in zip(back.labels, table.labels):
        np.testing.assert_array_equal(a, b)


# Catches the writer overwriting a file it did not create.
def test_save_refuses_to_overwrite(tmp_path):
    (tmp_path / "b.json").write_text("mine")
    with pytest.raises(RadkitError, match="does not overwrite"):
        boxes.save_boxes(_table(), tmp_path / "b.json", "coco")
    assert (tmp_path / "b.json").read_text() == "mine"


# IoU by hand: overlap 5x5 = 25, union 100 + 100 - 25 = 175. Catches a "+1" on the end (inclusive corners),
# which would make the touching boxes overlap and change 25/175.
def test_iou_hand_computed():
    assert boxes.iou([0, 0, 10, 10], [5, 5, 15, 15]) == pytest.approx(25 / 175)
    assert boxes.iou([0, 0, 10, 10], [0, 0, 10, 10]) == pytest.approx(1.0)
    assert boxes.iou([0, 0, 10, 10], [10, 0, 20, 10]) == pytest.approx(0.0)  # touching, not overlapping
    assert boxes.iou([0, 0, 10, 10], [0, 0, 10, 5]) == pytest.approx(0.5)
    np.testing.assert_allclose(boxes.iou([[0, 0, 10, 10], [0, 0, 4, 4]], [[0, 0, 10, 5], [0, 0, 4, 4]]), [0.5, 1.0])
    assert boxes.iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 5], [20, 20, 30, 30]]).shape == (1, 2)


# mAP by hand (COCO's 101-point interpolation): truths A, B; detections A (0.9), a false alarm (0.8), B (0.7).
# Precision/recall after each: 1/0.5, 0.5/0.5, 0.67/1 -> interpolated precision 1 for recall <= 0.5
# (51 points) and 2/3 above (50 points): AP = (51 + 50 * 2/3) / 101. Catches ignoring scores or the order.
def test_map_hand_computed():
    truth = [(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 0]))]
    found = [(np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]]), np.array([0, 0, 0]),
              np.array([0.9, 0.8, 0.7]))]
    result = boxes.evaluate_detections(truth, found, ["cell"])
    assert result["AP"]["cell"] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-6)
    # The false alarm ranked last instead: every found cell comes first, AP 1.
    found[0] = (found[0][0], found[0][1], np.array([0.9, 0.1, 0.7]))
    assert boxes.evaluate_detections(truth, found, ["cell"])["mAP"] == pytest.approx(1.0)


# Catches an AP that ignores the IoU threshold or the class of a detection.
def test_map_needs_overlap_and_the_right_class():
    truth = [(np.array([[0, 0, 10, 10]]), np.array([1]))]
    shifted = [(np.array([[6, 0, 16, 10]]), np.array([1]), np.array([0.9]))]  # IoU 4/16 = 0.25
    wrong_class = [(np.array([[0, 0, 10, 10]]), np.array([0]), np.array([0.9]))]
    assert boxes.evaluate_detections(truth, shifted, ["a", "b"])["AP"]["b"] == pytest.approx(0.0)
    result = boxes.evaluate_detections(truth, wrong_class, ["a", "b"])
    assert result["AP"]["b"] == pytest.approx(0.0) and np.isnan(result["AP"]["a"])


# Catches a count that ignores the score threshold or mixes classes.
def test_counts():
    counts = boxes.count_objects([[0, 0, 1], [2]], 3, [[0.9, 0.2, 0.8], [0.7]], threshold=0.5)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 0, 1]])
    per_class = boxes.count_objects([[0, 0, 1], [2]], 3, [[0.9, 0.2, 0.8], [0.7]], threshold=[0.1, 0.9, 0.5])
    np.testing.assert_array_equal(per_class, [[2, 0, 0], [0, 0, 1]])


# Catches a sureness count that mixes classes, counts a box as 1, keeps boxes below the floor, or drops the last class.
def test_confidence_sums_weigh_each_box_by_its_confidence_per_class():
    found = [(np.zeros((4, 4)), np.array([0, 0, 1, 2]), np.array([0.9, 0.3, 0.6, 0.04])),
             (np.zeros((0, 4)), np.array([], dtype=int), np.array([]))]
    sums = boxes.confidence_sums(found, 3)
    np.testing.assert_allclose(sums, [[1.2, 0.6, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(boxes.confidence_sums(found, 3, floor=0.0)[0], [1.2, 0.6, 0.04])
    with pytest.raises(RadkitError, match="3 labels but 2 confidences"):
        boxes.confidence_sums([(np.zeros((3, 4)), np.array([0, 1, 2]), np.array([0.5, 0.5]))], 3)


# Catches a relative count error that divides by "at least 1": a smear with no red cell boxed but 11 found then
# counts as 1100 % off and rules the mean of 72 smears (it did in notebook 07: 72 % mean, 27 % without it).
def test_count_errors_leave_out_pictures_with_nothing_labelled():
    errors = boxes.count_errors([11, 9, 12, 0], [0, 10, 10, 0])
    assert np.isnan(errors[0]) and np.isnan(errors[3])
    np.testing.assert_allclose(errors[1:3], [0.1, 0.2])
    assert np.nanmean(errors) == pytest.approx(0.15)
    with pytest.raises(RadkitError, match="3 counts against 2"):
        boxes.count_errors([1, 2, 3], [1, 2])


# Cardiothoracic ratio by hand: heart 50 px wide, thorax 80 px wide.
def test_cardiothoracic_ratio():
    assert boxes.cardiothoracic_ratio([10, 0, 60, 5], [0, 0, 80, 100]) == pytest.approx(50 / 80)
    mask = np.zeros((20, 30), bool)
    mask[5:10, 3:27] = True
    np.testing.assert_array_equal(boxes.box_of_mask(mask), [3, 5, 27, 10])


def test_pad_keeps_boxes_with_their_picture():
    padded = boxes.pad([np.array([[1, 2, 3, 4]]), np.zeros((0, 4))], [np.array([2]), np.array([], int)])
    assert padded["boxes"].shape == (2, 1, 4) and padded["labels"].tolist() == [[2], [-1]]


# ---------------------------------------------------------------- bad input: plain messages

def test_box_outside_and_zero_size():
    with pytest.raises(RadkitError, match="outside"):
        boxes.check_boxes([[10, 10, 300, 50]], (100, 200))
    with pytest.raises(RadkitError, match="zero or negative size"):
        boxes.check_boxes([[10, 10, 10, 50]], (100, 200))


def _voc(path, objects):
    body = "".join(f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                   f"<ymax>{b[3]}</ymax></bndbox></object>" for n, b in objects)
    path.write_text(f"<annotation><filename>{path.stem}.jpg</filename><size><width>64</width><height>48</height>"
                    f"</size>{body}</annotation>")
    return path


def test_voc_without_objects_unknown_class_and_skipping(tmp_path):
    with pytest.raises(RadkitError, match="no objects"):
        boxes.load_boxes(_voc(tmp_path / "empty.xml", []))
    _voc(tmp_path / "cells.xml", [("RBC", (1, 1, 10, 10)), ("Monocyte", (2, 2, 9, 9))])
    with pytest.raises(RadkitError, match="Unknown class name 'Monocyte'"):
        boxes.load_boxes(tmp_path / "cells.xml", class_names=["RBC", "WBC"])
    _voc(tmp_path / "bad.xml", [("RBC", (1, 1, 10, 10)), ("RBC", (5, 5, 5, 5)), ("RBC", (1, 1, 90, 10))])
    with pytest.raises(RadkitError, match="zero or negative size"):
        boxes.load_boxes(tmp_path / "bad.xml")
    kept = boxes.load_boxes(tmp_path / "bad.xml", on_error="skip")
    assert len(kept.boxes[0]) == 1 and "2 box(es) skipped" in kept.notes[0]


def test_csv_row_for_missing_picture(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "list.csv").write_text("Image Index,Finding Label,Bbox [x,y,w,h]\nghost.png,Cardiomegaly,1,2,3,4\n")
    with pytest.raises(RadkitError, match="no such picture"):
        boxes.load_boxes(tmp_path / "list.csv", images=tmp_path / "images")
    with pytest.raises(RadkitError, match="size of 1 picture"):
        boxes.load_boxes(tmp_path / "list.csv")


def test_coco_with_unlisted_picture(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"images": [], "categories": [{"id": 1, "name": "x"}],
                                                 "annotations": [{"image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1]}]}))
    with pytest.raises(RadkitError, match="picture id 7"):
        boxes.load_boxes(tmp_path / "c.json")


def test_mixed_picture_sizes(tmp_path):
    from PIL import Image

    table = _table()
    for name, (h, w) in zip(table.files, table.sizes):
        Image.fromarray(np.zeros((h, w), np.uint8)).save(tmp_path / name)
    with pytest.raises(RadkitError, match="different sizes"):
        boxes.read_pictures(table, tmp_path)
    pictures, scaled = boxes.read_pictures(table, tmp_path, size=50)
    assert pictures.shape == (2, 50, 50)
    np.testing.assert_allclose(scaled[0][0], [10 / 4, 20 / 2, 30 / 4, 40 / 2])  # 200 x 100 -> 50 x 50
    coloured, scaled_again = boxes.read_pictures(table, tmp_path, size=(40, 50), colour=True)
    assert coloured.shape == (2, 40, 50, 3)
    np.testing.assert_allclose(scaled_again[0][0], [10 / 4, 20 * 40 / 100, 30 / 4, 40 * 40 / 100])


# ---------------------------------------------------------------- the real files

# The shared mass set is exported in four formats by its author: all four must read to the same boxes.
@pytest.mark.realdata
def test_four_real_formats_agree(shared_data):
    root = shared_data / "cxr_mass_detection" / "annotated_data"
    images = shared_data / "cxr_mass_detection" / "raw_data" / "50_chest_xrays_raw_data_in_jpg"
    tables = [boxes.load_boxes(root / "CSV" / "50_chest_xrays_annotated_data_in_csv_format.csv", images=images),
              boxes.load_boxes(root / "COCO" / "50_chest_xrays_annotated_data_in_coco_json_format.json", images=images),
              boxes.load_boxes(root / "VOC" / "50_chest_xrays_annotated_data_in_voc_xml_format.xml", images=images),
              boxes.load_boxes(root / "YOLO" / "50_yolo_txt_format_data", images=images,
                               class_names=["Mass", "Nodule"])]
    reference = {f: b for f, b in zip(tables[0].files, tables[0].boxes)}
    for table in tables:
        assert len(table) == 50 and sum(len(b) for b in table.boxes) == 283
        for name, found in zip(table.files, table.boxes):
            # CSV and COCO hold whole pixels, VOC (CVAT) two decimals, YOLO six digits of a fraction.
            np.testing.assert_allclose(np.sort(found, 0), np.sort(reference[name], 0), atol=0.6)


# Catches a threshold chooser that ignores the truth: two of three boxes are real cells, so the threshold
# must fall between the second (0.8) and third (0.2) score; all three are real below 0.2.
def test_count_thresholds_follow_the_truth():
    found = [(np.zeros((3, 4)), np.array([0, 0, 0]), np.array([0.9, 0.8, 0.2]))]
    assert 0.2 < boxes.choose_count_thresholds(found, [[2]])[0] <= 0.8
    assert boxes.choose_count_thresholds(found, [[3]])[0] <= 0.2


# Catches the edge of a tie taken instead of its middle. Every threshold from 0.25 to 0.80 counts these two
# white cells right (the picture has nothing scored between 0.2 and 0.8); the lowest, 0.25, would also count a
# speck scored 0.3 on a new smear, the highest, 0.80, would drop a faint cell scored 0.7. The middle one, 0.50
# (the lower of the two middle candidates of twelve), counts both right.
def test_count_thresholds_take_the_middle_of_a_tie():
    found = [(np.zeros((3, 4)), np.array([1, 1, 1]), np.array([0.9, 0.85, 0.2]))]
    chosen = boxes.choose_count_thresholds(found, [[0, 2]])
    assert chosen[1] == pytest.approx(0.5)
    new_smear = np.array([0.95, 0.3]), np.array([0.95, 0.7])  # a speck at 0.3; a faint real cell at 0.7
    assert (new_smear[0] >= chosen[1]).sum() == 1 and (new_smear[1] >= chosen[1]).sum() == 2


# Catches thresholds chosen by percentage error, which a smear with few labelled cells dominates (BCCD has such
# smears): here that rule would count nothing at all (100 % off on both), while counting the 20 cells of the full
# smear right and overcounting the sparse one by 8 miscounts fewer cells.
def test_count_thresholds_are_not_ruled_by_a_sparsely_labelled_picture():
    sparse = (np.zeros((10, 4)), np.zeros(10, int), np.full(10, 0.9))
    full = (np.zeros((20, 4)), np.zeros(20, int), np.r_[np.full(10, 0.9), np.full(10, 0.3)])
    assert boxes.choose_count_thresholds([sparse, full], [[2], [20]])[0] <= 0.3


# ---------------------------------------------------------------- `radkit fetch bccd`: archive, unpack, check

@pytest.fixture
def served(tmp_path):
    """A tiny web server on 127.0.0.1 serving files from a temporary folder."""
    import functools
    import http.server
    import threading

    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _bccd_like_archive(path, extra=None):
    """A .tar.gz shaped like GitHub's archive of BCCD: one top folder with BCCD/ inside, plus a stray file."""
    import io
    import tarfile

    files = {"repo-abc/README.md": b"readme", "repo-abc/BCCD/Annotations/a.xml": b"<annotation/>",
             "repo-abc/BCCD/ImageSets/Main/test.txt": b"a\n", "repo-abc/BCCD/.DS_Store": b"litter"}
    files.update(extra or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def _card(monkeypatch, url, contents_sha256):
    from radkit import registry

    card = registry.get("bccd")
    file = registry.DataFile("repo-abc.tar.gz", url, md5="", unpack="repo-abc/BCCD", contents_sha256=contents_sha256)
    monkeypatch.setitem(registry.DATASETS, "bccd", registry.Dataset(**{**card.__dict__, "files": {"all": file}}))


# Catches a fetch that keeps the whole archive folder (the loader would not find BCCD/), leaves the unpacking
# folder behind, or calls a folder whose files match the card unverified.
def test_fetch_folder_downloads_unpacks_and_checks_the_files(data_dir, served, tmp_path, monkeypatch, capsys):
    from radkit import download

    root, url = served
    _bccd_like_archive(root / "repo-abc.tar.gz")
    expected = tmp_path / "expected"
    (expected / "Annotations").mkdir(parents=True)
    (expected / "Annotations" / "a.xml").write_bytes(b"<annotation/>")
    (expected / "ImageSets" / "Main").mkdir(parents=True)
    (expected / "ImageSets" / "Main" / "test.txt").write_bytes(b"a\n")
    _card(monkeypatch, f"{url}/repo-abc.tar.gz", download.folder_digest(expected))
    folder = download.fetch_folder("bccd")
    assert folder == data_dir / "bccd" / "BCCD"
    assert (folder / "Annotations" / "a.xml").read_bytes() == b"<annotation/>"
    assert download.stored_copy("bccd", "BCCD/ImageSets/Main/test.txt") is not None  # where load_blood_cells looks
    assert sorted(p.name for p in (data_dir / "bccd").iterdir()) == ["BCCD", "repo-abc.tar.gz"]
    assert "unverified" not in capsys.readouterr().out
    # A second call finds the folder and downloads nothing (the server is no longer asked).
    (root / "repo-abc.tar.gz").unlink()
    assert download.fetch_folder("bccd") == folder


# Catches a digest that ignores a changed file (the check could never fail) and a fetch that stays silent about it.
def test_fetch_folder_calls_changed_files_unverified(data_dir, served, monkeypatch, capsys):
    from radkit import download

    root, url = served
    _bccd_like_archive(root / "repo-abc.tar.gz")
    _card(monkeypatch, f"{url}/repo-abc.tar.gz", "0" * 64)
    download.fetch_folder("bccd")
    assert "unverified copy of BCCD" in capsys.readouterr().out


# Catches an unpacker that writes outside the data folder: a ../ entry in the archive is refused, nothing is kept
# but the downloaded archive itself, and the error is a plain RadkitError.
def test_fetch_folder_refuses_an_archive_that_climbs_out(data_dir, served, monkeypatch):
    from radkit import download

    root, url = served
    _bccd_like_archive(root / "repo-abc.tar.gz", extra={"repo-abc/../../evil.txt": b"x"})
    _card(monkeypatch, f"{url}/repo-abc.tar.gz", "")
    with pytest.raises(RadkitError, match="outside the folder"):
        download.fetch_folder("bccd")
    assert sorted(p.name for p in (data_dir / "bccd").iterdir()) == ["repo-abc.tar.gz"]
    assert not (data_dir.parent / "evil.txt").exists()


# Catches a card that lost its pinned commit or its contents fingerprint (the real BCCD card, not a test one).
def test_bccd_card_pins_a_commit_archive_and_the_course_copy():
    from radkit import registry

    file = registry.get("bccd").file("all")
    assert registry.BCCD_COMMIT in file.url and file.url.endswith(".tar.gz") and len(registry.BCCD_COMMIT) == 40
    assert file.unpack.endswith("/BCCD") and len(file.contents_sha256) == 64


# ---------------------------------------------------------------- thoracic width from the film (no lung outline)

# Catches an estimate that returns the whole film (edges never found) or the lungs' inner edges (the heart's
# borders): on phantom films whose lung masks are known, the estimated chest width is within 15 % of theirs.
def test_estimated_thorax_matches_the_lung_masks_on_phantoms():
    from radkit import phantoms

    films = phantoms.chest_xrays(12, size=128, seed=5)
    truth = np.stack([boxes.box_of_mask(m) for m in films["lung_masks"]])
    found = boxes.estimate_thorax_boxes(films["images"])
    error = (found[:, 2] - found[:, 0]) / (truth[:, 2] - truth[:, 0]) - 1
    assert np.abs(error).mean() < 0.15, error
    assert (found[:, 0] < truth[:, 0] + 0.1 * 128).all() and (found[:, 2] > truth[:, 2] - 0.1 * 128).all()


# Catches heart boxes that are silently ignored or mismatched with the films.
def test_estimated_thorax_uses_the_heart_rows_and_refuses_a_mismatch():
    from radkit import phantoms

    films = phantoms.chest_xrays(3, size=128, seed=1)
    found = boxes.estimate_thorax_boxes(films["images"], films["heart_boxes"])
    np.testing.assert_allclose(found[:, 1], np.floor(films["heart_boxes"][:, 1]))
    with pytest.raises(RadkitError, match="3 films but 2 heart boxes"):
        boxes.estimate_thorax_boxes(films["images"], films["heart_boxes"][:2])


# Catches a card whose fingerprint does not match the course's real BCCD copy (every learner's fetch would then be
# called UNVERIFIED), and a `radkit fetch bccd` that tries to download when a local copy is there.
def test_radkit_fetch_bccd_finds_and_verifies_the_shared_copy(shared_data, data_dir, monkeypatch, capsys):
    if not (shared_data / "bccd" / "BCCD").is_dir():
        pytest.skip("BCCD is not in the shared data")
    from radkit import cli

    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    assert cli.main(["fetch", "bccd"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "BCCD" in out, out


# Catches a loader that insists on the listed file type: NIH lists its films as PNG, the course's copy is JPEG,
# and a download of single NIH films may bring PNGs for a list that names JPEGs.
def test_pictures_are_found_under_the_other_format(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / "film.png")
    (tmp_path / "boxes.csv").write_text("Image Index,Finding Label,Bbox [x,y,w,h]\nfilm.jpg,heart,2,3,10,8\n")
    table = boxes.load_boxes(tmp_path / "boxes.csv", images=tmp_path)
    assert table.sizes.tolist() == [[20, 30]]
    pictures, found = boxes.read_pictures(table, tmp_path)
    assert pictures.shape == (1, 20, 30) and found[0].tolist() == [[2, 3, 12, 11]]


# Catches practice smears whose boxes hold cells nobody can see (a cell drawn over another one, a white cell's
# nucleus painted over by red cells): notebook 07's detector, offline, must find the cells it is judged on.
def test_phantom_smears_show_every_boxed_cell():
    pictures, all_boxes, all_labels = boxes.phantom_smears(60, size=(120, 160), seed=3)
    for picture, found, kinds in zip(pictures, all_boxes, all_labels):
        whole = np.isclose(found[:, 2] - found[:, 0], found[:, 3] - found[:, 1], atol=0.5)  # not cut by the edge
        centres, radii = (found[:, :2] + found[:, 2:]) / 2, (found[:, 2] - found[:, 0]) / 2
        for i in np.flatnonzero(whole):
            for j in np.flatnonzero(whole):
                if i < j:
                    assert np.hypot(*(centres[i] - centres[j])) >= 0.9 * (radii[i] + radii[j])
            if kinds[i] == 1:   # a white cell shows its dark nucleus
                x0, y0, x1, y1 = found[i].astype(int)
                assert (picture[y0:y1, x0:x1] < 0.4 * 255).sum() >= 10
    assert {0, 1, 2} <= set(np.concatenate(all_labels).tolist())
