"""Model size on disk and inference time per image: in headless Chromium (TF.js, WASM) and in Keras.

Usage (from the project folder, after `npm ci` and with Chromium installed):

    python benchmarks/browser_inference.py            # all models, 30 timed runs each
    python benchmarks/browser_inference.py --runs 10 small_cnn
    python benchmarks/browser_inference.py --offline --runs 10   # reload with the network off

Prints one row per model: size (float32 and float16 exports), median milliseconds per image in
the browser and with Keras `model.predict` (and a direct `model(x)` call) on this machine, and
how long the page took from navigation to a loaded, warmed-up model. Weights are random: speed
and size do not depend on what a model has learned. Timings depend on the machine and its load.

Targets (issue 4): small CNN at most 1 MB and 20 ms per image; MobileNetV2-class at most 60 ms;
first load from localhost under 1 s.

    python benchmarks/browser_inference.py --dicom-runs 15 small_cnn    # also a DICOM, open to heatmap
    python benchmarks/browser_inference.py --screenshot docs/webapp_screenshot.png --runs 1 small_cnn

``--dicom-runs N`` opens a 1024 x 1024 16-bit DICOM film (a phantom, or ``--dicom FILE``) N times in each
classifier's page and reports the median time from choosing the file to the drawn prediction and heatmap
(issue 13's target: at most 150 ms; the small CNN's prediction alone at most 5 ms; page ready within 1 s).
``--screenshot PATH`` saves the README's picture: the course classifier's app after opening pydicom-data's
real chest film (RG1_UNCR.dcm), with its heatmap.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from radkit import deploy, models  # noqa: E402

MODELS = {
    "small_cnn": lambda: models.small_cnn((64, 64, 1)),
    "mobilenetv2_a035_96": lambda: models.transfer_model((96, 96, 1), base="mobilenetv2", weights=None, alpha=0.35),
    "efficientnetb0_96": lambda: models.transfer_model((96, 96, 1), base="efficientnetb0", weights=None),
    "unet_128": lambda: models.unet((128, 128, 1)),
}


def keras_ms(model, x, runs: int) -> tuple[float, float]:
    """Median ms per image for model.predict and for a direct call, after a warm-up."""
    model.predict(x, verbose=0)
    model(x, training=False)
    predict, call = [], []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict(x, verbose=0)
        predict.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        np.asarray(model(x, training=False))
        call.append(1000 * (time.perf_counter() - start))
    return statistics.median(predict), statistics.median(call)


def offline_reload(names, runs: int) -> None:
    """Issue 13: after one visit, how long the app takes to open again with the network off.

    For each model: build the site, visit it once in a fresh Chromium profile (the service worker stores
    the site), stop the local server, switch the browser offline, then reload ``runs`` times; prints the
    median and the slowest reload, from the reload to a loaded, warmed-up model. Target: at most 1 s.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import webapp_scenarios  # tests/webapp_scenarios.py: the same scenario the offline test plays

    print(f"{'model':22s} {'first visit ms':>14s} {'offline reload ms (median)':>26s} {'slowest':>8s} "
          f"{'from service worker':>19s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            folder = Path(tmp) / name
            site = deploy.build_webapp(deploy.export_tfjs(MODELS[name](), folder / "model"), folder / "site")
            with deploy.serve(site) as server:
                report = webapp_scenarios.run(server, "offline", reloads=runs)
            offline = [r for r in report["requests"] if r["phase"] == "offline"]
            served = sum(bool(r.get("from_service_worker")) for r in offline)
            times = report["offline_reloads_ms"]
            print(f"{name:22s} {report['load_ms']:14.0f} {statistics.median(times):26.0f} {max(times):8.0f} "
                  f"{served:>9d} of {len(offline):<7d}")
    print(f"\n{runs} reloads each with the local server stopped and the browser offline; 'first visit' = "
          "navigation to a warmed-up model on the first, online visit (fresh profile).")


def phantom_dicom(path: Path, size: int = 1024) -> Path:
    """A phantom chest film written as a 16-bit (12 bits used) MONOCHROME2 DICOM with its own window."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    from radkit import phantoms

    film = phantoms.chest_xray(size=size, pneumonia=True, seed=0)["image"].astype(np.uint16) * 16
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = "DX", size, size, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth, ds.PixelSpacing = 2048, 4096, [0.35, 0.35]
    ds.PixelData = film.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def screenshot(path: str) -> None:
    """The README's picture: the course classifier's app after opening a real DICOM chest film, with its heatmap."""
    from radkit import dicom

    with tempfile.TemporaryDirectory() as tmp:
        exported = deploy.export_tfjs(models.course_classifier(source="shipped"), Path(tmp) / "model", label_names=["normal", "pneumonia"])
        site = deploy.build_webapp(exported, Path(tmp) / "site", title="Pneumonia on a chest film (teaching demo)",
                                   learn_more={"pneumonia": "https://radiopaedia.org/articles/pneumonia"})
        with deploy.serve(site) as server:
            report = deploy.try_in_browser(server.url, files=[dicom.example_path("RG1_UNCR.dcm")], screenshot=path)
    if not report["files"][0]["ok"] or report["errors"]:
        sys.exit(f"The page did not read the film: {report['files'][0].get('message')} {report['errors']}")
    print(f"Saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS), help=f"any of {', '.join(MODELS)}")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per model (median reported)")
    parser.add_argument("--offline", action="store_true", help="measure only the offline reload (issue 13)")
    parser.add_argument("--dicom-runs", type=int, default=0, help="open a 1024 x 1024 DICOM this many times per classifier")
    parser.add_argument("--dicom", help="the DICOM file to open (default: a 1024 x 1024 phantom film)")
    parser.add_argument("--screenshot", help="save the README's screenshot (course classifier, a real DICOM film)")
    args = parser.parse_args()
    if args.offline:
        return offline_reload(args.models, args.runs)
    why = deploy.browser_missing()
    if why:
        sys.exit(f"Cannot run the browser benchmark: {why}")
    if args.screenshot:
        screenshot(args.screenshot)
    rows, dicom_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model = MODELS[name]()
            folder = Path(tmp) / name
            exported = deploy.export_tfjs(model, folder / "model")
            half = deploy.export_tfjs(model, folder / "model16", float16=True)
            site = deploy.build_webapp(exported, folder / "site")
            x = np.random.default_rng(0).random((1, *model.input_shape[1:]), dtype=np.float32)
            with deploy.serve(site) as server:
                report = deploy.try_in_browser(server.url, inputs={"x": x}, repeat=args.runs)
                meta = json.loads((exported / "radkit.json").read_text())
                if args.dicom_runs and meta["task"] == "classification":
                    film = Path(args.dicom) if args.dicom else phantom_dicom(Path(tmp) / "film_1024.dcm")
                    opened = deploy.try_in_browser(server.url, files=[film] * args.dicom_runs)["files"]
                    if not all(r["ok"] and "heatmap" in r for r in opened):
                        sys.exit(f"The page did not read {film.name}: {opened[0].get('message')}")
                    times = [r["ms_total"] for r in opened]
                    later = times[1:] or times
                    dicom_rows.append((name, film.name, times[0], statistics.median(later), min(later)))
            predict_ms, call_ms = keras_ms(model, x, args.runs)
            rows.append((name, model.count_params(), deploy.folder_size(exported) / 1e6, deploy.folder_size(half) / 1e6,
                         report["timings"]["x"], report["backend"], predict_ms, call_ms,
                         report["load_ms"], report["ready"]["loadMs"]))
            print(f"measured {name}", file=sys.stderr)
    header = (f"{'model':22s} {'params':>9s} {'MB f32':>7s} {'MB f16':>7s} {'browser ms':>10s} {'backend':>7s} "
              f"{'keras predict ms':>16s} {'keras call ms':>13s} {'page ready ms':>13s} {'of which model':>14s}")
    print(header)
    print("-" * len(header))
    for name, params, mb, mb16, browser, backend, predict_ms, call_ms, load, model_load in rows:
        print(f"{name:22s} {params:9,d} {mb:7.2f} {mb16:7.2f} {browser:10.1f} {backend:>7s} "
              f"{predict_ms:16.1f} {call_ms:13.1f} {load:13.0f} {model_load:14.0f}")
    print(f"\nMedian of {args.runs} runs, batch of one image. 'page ready' = navigation to a loaded, warmed-up model, "
          "fresh browser profile (cold cache); 'of which model' = from app.js start.")
    if dicom_rows:
        print(f"\n{'model':22s} {'DICOM file':28s} {'first open ms':>13s} {'median ms':>10s} {'fastest ms':>10s}")
        for name, film, first, median, fastest in dicom_rows:
            print(f"{name:22s} {film:28s} {first:13.1f} {median:10.1f} {fastest:10.1f}")
        print(f"DICOM: from choosing the file to the drawn prediction and heatmap, inside the page (read, window, "
              f"prepare, predict, heatmap, draw); median and fastest of the {args.dicom_runs - 1 or 1} openings after the "
              f"first. On a shared machine the fastest is the closest to what the CPU itself needs; load: "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")


if __name__ == "__main__":
    main()
