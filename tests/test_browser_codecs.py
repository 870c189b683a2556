"""Compressed DICOM in the browser app: the page decompresses what hospitals export (JPEG baseline, JPEG
lossless, JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy, RLE) with the kept decoders
copied into the site, and gets the same stored values as pydicom with pylibjpeg (the notebook's path).

Files: the real compressed files in ../shared/data/dicom and those that ship with pydicom-data, plus JPEG
baseline files made here from a real film (pydicom-data has greyscale JPEG baseline only in colour files).
The figures for the report: ``pytest tests/test_browser_codecs.py -s -k every`` prints, per file, its
compression, size and the largest difference from pydicom. Runs in Debian's Chromium like test_browser.py.
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import keras
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit

from radkit import deploy, models
from radkit.errors import RadkitError

needs_browser = pytest.mark.skipif(bool(deploy.browser_missing()),
                                   reason=f"cannot drive a headless browser: {deploy.browser_missing()}")

HERE = Path(__file__).resolve().parent

# Greyscale compressed files that ship with pydicom-data (colour ones are refused by the page and by radkit).
PYDICOM_FILES = [
    "JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm",                      # JPEG lossless, 16 bit signed / 8 bit
    "MR_small_jpeg_ls_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm",    # JPEG-LS lossless (signed; 10 frames)
    "JPEGLSNearLossless_08.dcm", "JPEGLSNearLossless_16.dcm",              # JPEG-LS near-lossless
    "MR_small_jp2klossless.dcm", "693_J2KR.dcm", "MR2_J2KR.dcm",          # JPEG 2000 lossless
    "emri_small_jpeg_2k_lossless.dcm",                                     # ... 10 frames
    "J2K_pixelrep_mismatch.dcm",                                           # ... header and stream disagree on sign
    "693_J2KI.dcm", "RG3_J2KI.dcm", "JPEG2000.dcm",                        # JPEG 2000 lossy (and the chest CR)
    "MR_small_RLE.dcm", "emri_small_RLE.dcm", "rtdose_rle_1frame.dcm", "rtdose_rle.dcm",  # RLE: 16 / 32 bit
]
# Compressed in a way the page does not decompress (12-bit JPEG, process 4): the page names the compression.
REFUSED = ["JPEG-lossy.dcm"]


def _pydicom_file(name) -> Path | None:
    found = get_testdata_file(name, download=False)
    return Path(found) if found else None


def _jpeg_baseline(path: Path, source: Path, frames: int = 1, quality: int = 90) -> Path:
    """A JPEG baseline DICOM made from a real film: its picture in 8 bits, compressed by Pillow (libjpeg).
    Several frames are each split in two fragments, without an offset table (where each frame starts must
    then be found from the JPEG markers, as some systems write them)."""
    ds = pydicom.dcmread(source)
    picture = ds.pixel_array.astype(np.float64)
    picture = picture[::4, ::4]  # a quarter of the size: quick to send to the page
    picture = np.round(255 * (picture - picture.min()) / np.ptp(picture)).astype(np.uint8)
    encoded = []
    for k in range(frames):
        buffer = io.BytesIO()
        Image.fromarray(np.roll(picture, 40 * k, axis=1)).save(buffer, format="JPEG", quality=quality)
        encoded.append(buffer.getvalue())
    ds.PixelData = encapsulate(encoded) if frames == 1 else encapsulate(encoded, fragments_per_frame=2, has_bot=False)
    ds.Rows, ds.Columns = picture.shape
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    for keyword in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept", "PixelPaddingValue"):
        if keyword in ds:
            delattr(ds, keyword)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(path, enforce_file_format=True)
    return path


def _pydicom_values(path) -> np.ndarray:
    """pydicom's stored values (pixel_array), decoded with pylibjpeg where it can (RLE: pydicom's own)."""
    ds = pydicom.dcmread(path)
    syntax = ds.file_meta.TransferSyntaxUID
    plugin = "pydicom" if syntax == pydicom.uid.RLELossless else "pylibjpeg"
    ds.pixel_array_options(decoding_plugin=plugin)
    return ds.pixel_array


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import test_browser as base  # batch-norm statistics, so the model's outputs depend on its input

    keras.utils.set_random_seed(0)
    model = base._with_learned_statistics(models.small_cnn((64, 64, 1)))
    folder = tmp_path_factory.mktemp("codecs")
    exported = deploy.export_tfjs(model, folder / "model", label_names=["normal", "pneumonia"])
    return deploy.build_webapp(exported, folder / "site")


def _decode_in_page(site, files) -> tuple[dict, list]:
    """The page's stored values for each file (an array, or the page's message), and what else happened."""
    from webapp_scenarios import node_modules

    with deploy.serve(site) as server, tempfile.TemporaryDirectory() as tmp:
        job = {"url": server.url, "chromium": deploy.find_chromium(), "node_modules": str(node_modules()),
               "files": [str(Path(f).resolve()) for f in files], "out_dir": tmp, "timeout_ms": 120_000}
        (Path(tmp) / "job.json").write_text(json.dumps(job), encoding="utf-8")
        done = subprocess.run(["node", str(HERE / "browser_codecs.mjs"), str(Path(tmp) / "job.json")],
                              capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        got = []
        for index, result in enumerate(report["files"]):
            if not result["ok"]:
                got.append(result["message"])
                continue
            values = np.fromfile(Path(tmp) / f"{index}.bin", dtype=result["dtype"])
            shape = (result["frames"], result["rows"], result["cols"]) if result["frames"] > 1 else \
                (result["rows"], result["cols"])
            got.append(values.reshape(shape))
        report["origin"] = server.url
    return report, got


def _check_same_origin(report):
    port = urlparse(report["origin"]).port
    for requested in report["requests"]:
        parsed = urlparse(requested)
        assert (parsed.scheme, parsed.hostname, parsed.port) == ("http", "127.0.0.1", port), requested
    assert report["blocked"] == [] and report["csp"] == [], (report["blocked"], report["csp"])


# What each compression promises: lossless ones and those decoded by the same library as pylibjpeg's
# (JPEG-LS near-lossless: an exact integer algorithm; JPEG 2000 lossy: OpenJPEG in both) must give the very
# same values; JPEG baseline is decoded by libjpeg-turbo in the page and by libjpeg in pylibjpeg, whose
# inverse DCTs may round a value differently: at most 2 grey levels apart.
JPEG_BASELINE = {pydicom.uid.JPEGBaseline8Bit, pydicom.uid.JPEGExtended12Bit}


def _compressed_corpus(shared_data, tmp_path) -> list[Path]:
    uncompressed = shared_data / "dicom" / "CR_chest_RG1_WG04_from_JLSN_uncompressed.dcm"
    return [shared_data / "dicom" / "CR_chest_RG1_WG04_JPEG2000lossy.dcm",
            shared_data / "dicom" / "CR_chest_RG1_WG04_JPEGLS_nearlossless.dcm",
            _jpeg_baseline(tmp_path / "CR_jpeg_baseline.dcm", uncompressed),
            _jpeg_baseline(tmp_path / "CR_jpeg_baseline_3_frames.dcm", uncompressed, frames=3, quality=75),
            *[p for p in map(_pydicom_file, PYDICOM_FILES) if p]]


# Bugs caught: a decoder wired to the wrong compression, bytes of 16-bit values swapped, signed values read
# as unsigned (or pydicom's sign correction for JPEG-LS / JPEG 2000 left out), frames taken from the wrong
# fragments, an RLE segment put in the wrong byte, a decoder missing from the site or blocked by the page's
# Content-Security-Policy, anything fetched from elsewhere; a 12-bit JPEG shown wrongly instead of refused.
@pytest.mark.browser
@needs_browser
def test_every_compressed_file_gives_pydicoms_stored_values(site, shared_data, tmp_path):
    files = _compressed_corpus(shared_data, tmp_path)
    refused = [p for p in map(_pydicom_file, REFUSED) if p]
    assert len(files) >= 20, "pydicom-data's example files are missing"
    report, got = _decode_in_page(site, files + refused)
    decoders = report["decoders"]
    assert decoders["loaded"] == ["jpeg", "jpeg2000", "jpegLS", "jpegLossless", "rle"] and decoders["failed"] == {}
    print(f"\nthe decoders were ready {decoders['ms']} ms after the page started opening, the model by "
          f"{report['ready_ms']} ms")
    print(f"\n{'file':46} {'compression':52} {'kB':>6} {'frames x rows x cols':>20} {'max diff':>8} {'ms':>6}")
    for path, page, result in zip(files, got, report["files"]):
        assert not isinstance(page, str), f"{path.name}: the page said {page}"
        expected = _pydicom_values(path)
        assert page.shape == expected.shape, (path.name, page.shape, expected.shape)
        difference = np.abs(page.astype(np.float64) - expected.astype(np.float64))
        syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
        allowed = 2 if syntax in JPEG_BASELINE else 0
        assert difference.max() <= allowed, f"{path.name}: the page's values are {difference.max()} from pydicom's"
        print(f"{path.name:46} {syntax.name[:52]:52} {path.stat().st_size / 1024:6.0f} "
              f"{' x '.join(map(str, page.shape)):>20} {difference.max():8.0f} {result['ms']:6.0f}"
              + (f"  ({(difference > 0).mean():.1%} of values differ)" if difference.max() else ""))
    for path, message in zip(refused, got[len(files):]):
        syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
        assert isinstance(message, str) and f"is compressed ({syntax.name})" in message, (path.name, message)
    # A second, independent reference: WG04's uncompressed copy of the near-lossless chest film (decoded by
    # their software) is what the page decoded, value for value; the JPEG 2000 lossy copy of the same film is
    # not (so these comparisons do tell two decodings apart).
    reference = pydicom.dcmread(shared_data / "dicom" / "CR_chest_RG1_WG04_from_JLSN_uncompressed.dcm").pixel_array
    jpeg_2000_lossy, jpeg_ls_near_lossless = got[0], got[1]
    assert np.array_equal(jpeg_ls_near_lossless, reference)
    assert jpeg_2000_lossy.shape == reference.shape and np.abs(jpeg_2000_lossy - reference.astype(np.int64)).max() > 0
    assert report["errors"] == []
    _check_same_origin(report)


def _python_refuses(path) -> bool:
    from radkit import dicom

    try:
        dicom.load_image(path)
    except RadkitError:
        return True
    return False


def _damaged_copy(source: Path, path: Path, how: str) -> Path:
    """A copy of a one-frame compressed file whose compressed bytes are spoilt: "cut" in half, or "garbled"
    (200 bytes zeroed in the middle and the last quarter gone)."""
    ds = pydicom.dcmread(source)
    data = bytearray(next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)))
    if how == "garbled":
        data[len(data) // 2: len(data) // 2 + 200] = bytes(200)
    data = data[: len(data) * (3 if how == "garbled" else 2) // 4]
    ds.PixelData = encapsulate([bytes(data)])
    ds.save_as(path)
    return path


# Bugs caught: a damaged compressed file shown anyway (a picture of garbage, or of the first frames of a cut
# file), a decoder's crash left uncaught (the page stuck on "Analysing..."), and messages that do not say the
# file is damaged.
@pytest.mark.browser
@needs_browser
def test_damaged_compressed_files_are_refused_in_plain_words(site, tmp_path):
    cut_multiframe = _pydicom_file("emri_small_jpeg_2k_lossless_too_short.dcm")  # its last bytes are missing
    files = [cut_multiframe] if cut_multiframe else []
    files += [_damaged_copy(_pydicom_file("693_J2KR.dcm"), tmp_path / "j2k_garbled.dcm", "garbled"),
              _damaged_copy(_pydicom_file("MR_small_RLE.dcm"), tmp_path / "rle_cut.dcm", "cut"),
              _damaged_copy(_pydicom_file("MR_small_jpeg_ls_lossless.dcm"), tmp_path / "jpeg_ls_garbled.dcm",
                            "garbled")]
    with deploy.serve(site) as server:
        report = deploy.try_in_browser(server.url, files=files)
    for path, result in zip(files, report["files"]):
        assert not result["ok"], f"{path.name}: the page showed a damaged file"
        assert "damaged" in result["message"] and path.name in result["status"], (path.name, result["message"])
    # Python refuses the same files (pylibjpeg's JPEG-LS decoder reads the garbled one without complaint: the
    # page is stricter there).
    assert all(_python_refuses(p) for p in files if p.name != "jpeg_ls_garbled.dcm")
    assert not any("Uncaught" in e for e in report["errors"]), report["errors"]


# Bugs caught: a site whose decoder is missing (built by an older radkit, or a file lost in copying) failing
# silently or with a raw error instead of saying what to do; one missing decoder breaking the others.
@pytest.mark.browser
@needs_browser
def test_a_site_missing_a_decoder_says_so(site, tmp_path):
    import shutil

    partial = tmp_path / "site"
    shutil.copytree(site, partial)
    (partial / "vendor" / "charlswasm_decode.js").unlink()
    files = [_pydicom_file("MR_small_jpeg_ls_lossless.dcm"), _pydicom_file("MR_small_jp2klossless.dcm")]
    with deploy.serve(partial) as server:
        report = deploy.try_in_browser(server.url, files=files)
    jpeg_ls, jpeg_2000 = report["files"]
    assert not jpeg_ls["ok"] and "has no decompressor for it" in jpeg_ls["message"], jpeg_ls
    assert "Build the site again" in jpeg_ls["message"]
    assert jpeg_2000["ok"], jpeg_2000


# Bug caught: the copies shipped in radkit/webapp/codecs drifting from the npm packages pinned in
# package.json (edited by hand, or left behind when a version was raised), so the site would run code
# nobody can trace to a release.
def test_the_decoders_shipped_are_the_pinned_npm_builds():
    sources = {"libjpegturbowasm_decode": "@cornerstonejs/codec-libjpeg-turbo-8bit/dist",
               "charlswasm_decode": "@cornerstonejs/codec-charls/dist",
               "openjpegwasm_decode": "@cornerstonejs/codec-openjpeg/dist",
               "lossless-min": "jpeg-lossless-decoder-js/release/current"}
    codecs = deploy.WEBAPP_DIR / "codecs"
    shipped = sorted(p.name for p in codecs.iterdir() if p.name != "LICENSES.md")
    assert shipped == sorted([f"{stem}.{ext}" for stem in sources for ext in ("js", "wasm") if stem != "lossless-min"]
                             + ["lossless-min.js"])
    node_modules = next((p for p in deploy._node_modules_candidates()
                         if (p / "@cornerstonejs" / "codec-charls" / "package.json").is_file()), None)
    if node_modules is None:
        pytest.skip("the npm packages are not installed (run `npm ci` in the radkit project folder)")
    pinned = json.loads((deploy.WEBAPP_DIR.parent.parent / "package.json").read_text())["dependencies"]
    licences = (codecs / "LICENSES.md").read_text()
    for name in shipped:
        folder = sources[name.rsplit(".", 1)[0]]
        package = folder.split("/dist")[0].split("/release")[0]
        installed = json.loads((node_modules / package / "package.json").read_text())["version"]
        assert installed == pinned[package], f"{package}: {installed} installed, {pinned[package]} pinned"
        assert f"{package} {installed}" in licences, f"LICENSES.md does not name {package} {installed}"
        assert (codecs / name).read_bytes() == (node_modules / folder / name).read_bytes(), \
            f"{name} is not the file of {package} {installed}"
