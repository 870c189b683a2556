"""How well the course classifier knows its scope: the share of pictures it refuses, per kind of picture.

Usage (from the project folder; the shared data folder holds the real pictures):

    RADKIT_LOCAL_DATA=../shared/data python benchmarks/scope.py            # Python only
    RADKIT_LOCAL_DATA=../shared/data python benchmarks/scope.py --page     # also in the web page (Chromium)

The classifier is the one shipped with radkit (``radkit.models.course_classifier("shipped")``: PneumoniaMNIST,
28 px). Its scope is learned with ``radkit.report.learn_scope`` from the training films and calibrated on the
validation films (99th percentile of the feature distance, 0.5th percentile of the contrast). Each picture is
then checked as ``Scope.check`` does (and as the page does): the DICOM header where there is one, then colour,
contrast and the distance of the model's own features. Printed per kind: how many pictures, the share flagged
(any check), the share flagged by the pixels alone (what a PNG export of the same picture would get), and
which check flagged them. Targets (issue "Your own patients", section 4): at most 5 % of the in-distribution
test films flagged; at least 95 % of every out-of-scope kind. The NIH adult films are a middle case: real
chest films, but adults from another hospital, where the model is known to do worse (notebook 10).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from radkit import config, data, models, report  # noqa: E402
from radkit.deploy.prepare import preprocess_pixels  # noqa: E402


def shared() -> Path:
    folder = Path(os.environ.get("RADKIT_LOCAL_DATA", "../shared/data")).expanduser()
    if not (folder / "pneumoniamnist" / "pneumoniamnist.npz").is_file():
        sys.exit(f"The shared data folder was not found ({folder}); set RADKIT_LOCAL_DATA.")
    return folder


def _dicoms(paths, modalities, chest=None):
    """(path, pixels) of the DICOM files of these modalities whose pixels can be read; ``chest=False``: only
    those whose Body Part Examined names another part than the chest."""
    import pydicom

    out = []
    for path in paths:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            if str(ds.get("Modality", "")) not in modalities:
                continue
            if chest is False and str(ds.get("BodyPartExamined", "")).upper() in ("CHEST", ""):
                continue
            out.append((Path(path), data.decode_image(path)))
        except Exception:  # noqa: BLE001 - a test file pydicom cannot decode here is left out (and counted)
            out.append((Path(path), None))
    return out


def _slices(folder: Path, volumes: int = 40) -> list:
    """The middle slice along each of the three axes of the first ``volumes`` Decathlon hippocampus MRIs, 0-255."""
    import nibabel

    pictures = []
    for path in sorted(folder.glob("*/imagesTr/*.nii.gz"))[:volumes]:
        volume = np.asarray(nibabel.load(path).dataobj, dtype=np.float64)
        for axis in range(3):
            plane = np.take(volume, volume.shape[axis] // 2, axis=axis)
            low, high = np.percentile(plane, [0.5, 99.5])
            pictures.append(np.round(255 * np.clip((plane - low) / max(high - low, 1e-9), 0, 1)).astype(np.uint8))
    return pictures


def _photos() -> list:
    """Natural photographs that ship with installed packages (scikit-learn, matplotlib), whole and as four quarters."""
    from PIL import Image

    photos = []
    try:
        from sklearn.datasets import load_sample_images

        photos += list(load_sample_images().images)
    except Exception:  # noqa: BLE001
        pass
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        photos.append(np.asarray(Image.open(path).convert("RGB")))
    except Exception:  # noqa: BLE001
        pass
    out = []
    for photo in photos:
        h, w = photo.shape[:2]
        out += [photo] + [photo[y:y + h // 2, x:x + w // 2] for y in (0, h // 2) for x in (0, w // 2)]
    return out


def kinds(folder: Path) -> dict:
    """Every kind of picture: name -> list of (name, pixels, DICOM path or None)."""
    import pydicom.data

    npz = np.load(folder / "pneumoniamnist" / "pneumoniamnist.npz")
    rng = np.random.default_rng(0)
    test = [(f"test_{i}", img, None) for i, img in enumerate(npz["test_images"])]
    nih = [(Path(p).name, data.decode_image(p), None)
           for p in sorted(glob.glob(str(folder / "nih_cxr_subset" / "images" / "*.png")))]
    corpus = sorted(p for p in set(pydicom.data.get_testdata_files()) | set(glob.glob(str(folder / "dicom" / "*.dcm")))
                    if Path(p).is_file())
    as_rows = lambda found: [(p.name, pixels, p) for p, pixels in found if pixels is not None]  # noqa: E731
    ct, mr = _dicoms(corpus, {"CT"}), _dicoms(corpus, {"MR"})
    limbs = _dicoms(corpus, {"CR", "DX"}, chest=False)
    blank = [(f"blank_{v}_{s}", np.full((s, s), v, np.uint8), None) for v in (0, 32, 64, 96, 128, 160, 192, 224, 255)
             for s in (64, 512)]
    noise = ([(f"uniform_{i}", rng.integers(0, 256, (256, 256)).astype(np.uint8), None) for i in range(8)]
             + [(f"gauss_{i}", np.clip(rng.normal(128, 50, (128, 128)), 0, 255).astype(np.uint8), None) for i in range(8)]
             + [(f"colour_{i}", rng.integers(0, 256, (200, 200, 3)).astype(np.uint8), None) for i in range(4)])
    return {
        "chest films, PneumoniaMNIST test (in scope)": test,
        "NIH adult chest films (middle case)": nih,
        "CT slices (pydicom-data, shared DICOM)": as_rows(ct),
        "MR slices (pydicom-data, shared DICOM)": as_rows(mr),
        "MR slices, Decathlon hippocampus (no header)": [(f"hippocampus_{i}", s, None)
                                                         for i, s in enumerate(_slices(folder / "msd_hippocampus"))],
        "limb and spine films (CR)": as_rows(limbs),
        "blood smears (BCCD)": [(Path(p).name, data.decode_image(p), None)
                                for p in sorted(glob.glob(str(folder / "bccd" / "BCCD" / "JPEGImages" / "*.jpg")))],
        "fundus photos (DRIVE)": [(Path(p).name, data.decode_image(p), None)
                                  for p in sorted(glob.glob(str(folder / "drive" / "*" / "images" / "*")))],
        "natural photographs (scikit-learn, matplotlib)": [(f"photo_{i}", p, None) for i, p in enumerate(_photos())],
        "blank pictures": blank,
        "noise": noise,
    }


def check_python(model, scope, rows) -> list[dict]:
    """Scope.check for each picture: header first (DICOM), then the pixels (all in one batch)."""
    x = np.concatenate([preprocess_pixels(pixels, scope.input) for _, pixels, _ in rows])
    pixel_checks = scope.check_input(model, x, colour=[report.colourfulness(p) for _, p, _ in rows])
    out = []
    for (name, _, path), check in zip(rows, pixel_checks):
        header = scope.header_problems(path) if path is not None else []
        out.append({"name": name, "header": bool(header), "pixels": not check["in_scope"], "check": check})
    return out


def check_page(model, scope, table) -> dict:
    """The same pictures opened in the web page (headless Chromium): DICOM files as they are, others as PNG."""
    from PIL import Image

    from radkit import deploy

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        deploy.export_tfjs(model, tmp / "exported", label_names=["normal", "pneumonia"], scope=scope)
        deploy.build_webapp(tmp / "exported", tmp / "site")
        for kind, rows in table.items():
            files = []
            for i, (name, pixels, path) in enumerate(rows):
                if path is not None:
                    files.append(path)
                else:
                    files.append(tmp / f"{i:04d}.png")
                    Image.fromarray(pixels).save(files[-1])
            with deploy.serve(tmp / "site") as server:
                report_ = deploy.try_in_browser(server.url, files=files, timeout=1800)
            results[kind] = report_["files"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", action="store_true", help="also open every picture in the web page")
    args = parser.parse_args()
    folder = shared()
    config.set_seed(0)
    started = time.perf_counter()
    model = models.course_classifier("shipped")
    npz = np.load(folder / "pneumoniamnist" / "pneumoniamnist.npz")
    scope = report.learn_scope(model, npz["train_images"], npz["val_images"])
    print(scope)
    table = kinds(folder)
    page = check_page(model, scope, table) if args.page else {}
    print(f"\n{'kind':48s} {'n':>5s} {'flagged':>8s} {'by pixels':>9s} {'header':>7s} {'colour':>7s} {'contrast':>8s} "
          f"{'distance':>8s}" + (f" {'page':>7s} {'max |d|':>8s}" if page else ""))
    for kind, rows in table.items():
        checks = check_python(model, scope, rows)
        n = len(checks)
        share = lambda f: f"{100 * np.mean([f(c) for c in checks]):6.1f} %"  # noqa: E731
        reason = lambda word: share(lambda c: any(word in r for r in c["check"]["reasons"]))  # noqa: E731
        line = (f"{kind:48s} {n:5d} {share(lambda c: c['header'] or c['pixels']):>8s} {share(lambda c: c['pixels']):>9s} "
                f"{share(lambda c: c['header']):>7s} {reason('colour'):>7s} {reason('contrast'):>8s} "
                f"{reason('features'):>8s}")
        if page:
            shown = page[kind]
            flagged = [not r["ok"] or bool(r.get("withheld")) for r in shown]
            gaps = [abs(r["scope"]["distance"] - c["check"]["distance"]) for r, c in zip(shown, checks)
                    if r.get("scope") and not c["header"]]
            line += f" {100 * np.mean(flagged):5.1f} % {max(gaps, default=0):8.1e}"
        print(line)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
