"""The web app installed and offline, usable by everyone, and through the camera (issue 13, items 4, 6, 7).

Each test plays one scenario of tests/webapp_scenarios.mjs in a fresh headless Chromium profile
(playwright-core, Debian's Chromium); set-up as for tests/test_browser.py (`npm ci`, chromium).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import keras
import numpy as np
import pytest
from PIL import Image

from radkit import deploy, models, phantoms
from radkit.errors import RadkitError

pytestmark = pytest.mark.browser

if deploy.browser_missing():
    pytest.skip(f"cannot drive a headless browser: {deploy.browser_missing()}", allow_module_level=True)

import webapp_scenarios as scenarios  # noqa: E402  (tests/webapp_scenarios.py)
from test_browser import _with_learned_statistics  # noqa: E402


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    """The small CNN exported and built into a site, and a phantom film (PNG) to open in it."""
    keras.utils.set_random_seed(0)
    model = _with_learned_statistics(models.small_cnn((64, 64, 1)))
    folder = tmp_path_factory.mktemp("offline")
    exported = deploy.export_tfjs(model, folder / "model", label_names=["normal", "pneumonia"])
    site = deploy.build_webapp(exported, folder / "site", title="Pneumonia check (offline test)")
    film = folder / "film.png"
    Image.fromarray(phantoms.chest_xray(size=256, pneumonia=True, seed=5)["image"]).save(film)
    return {"model": model, "exported": exported, "site": site, "film": film, "folder": folder}


def _version(site: Path) -> str:
    return re.search(r"const VERSION = '([0-9a-f]+)'", (site / "sw.js").read_text()).group(1)


def _same_origin(url: str, server_url: str) -> bool:
    a, b = urlparse(url), urlparse(server_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


# ---------------------------------------------------------------- 4. installable and offline

@pytest.fixture(scope="module")
def offline(cnn):
    """Visit once, wait for the service worker, stop the server and go offline, reload, open the film."""
    with deploy.serve(cnn["site"]) as server:
        report = scenarios.run(server, "offline", files=[cnn["film"]])
    return report, server.url


# Bugs caught: a service worker that never installs or never takes control of the page; a file the page
# needs left out of the cache (the reload or the prediction then fails with the server stopped); a
# prediction offline that differs from Keras.
def test_after_one_visit_the_app_opens_and_predicts_with_the_network_off(cnn, offline):
    report, _ = offline
    assert report["offline_setup"]["installed"], report["offline_setup"]
    assert report["controlled"], "the reloaded page is not controlled by the service worker"
    assert report["offline_ready"]["backend"] == "wasm"
    result = report["offline_files"][0]
    assert result["ok"], result
    x = deploy.preprocess(cnn["film"], cnn["exported"])
    expected = float(cnn["model"].predict(x, verbose=0)[0, 0])
    assert abs(result["values"][0] - expected) <= 1e-4
    offline_requests = [r for r in report["requests"] if r["phase"] == "offline"]
    assert offline_requests, "the offline reload made no requests at all: the scenario did not run"
    assert all(r.get("from_service_worker") for r in offline_requests), offline_requests
    assert report["failed"] == [] and report["errors"] == [] and report["csp"] == []
    assert report["offline_note"].startswith("Saved on this device")  # the person is told it works offline


# Bug caught: a cache list written by hand (or from a fixed list of names) that misses a file
# build_webapp wrote, e.g. one of the three WASM builds (which one the browser needs depends on the
# device) or a weight shard; or stale entries for files the site no longer has.
def test_the_service_worker_stores_exactly_the_files_build_webapp_wrote(cnn, offline):
    report, url = offline
    site = cnn["site"]
    written = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    expected = {url + name for name in written - {deploy.SITE_MARKER, "sw.js"}} | {url}
    assert set(report["cached"]["urls"]) == expected
    assert len(report["cached"]["names"]) == 1


# Bug caught: the origin check of test_browser.py seeing only the page's own requests: the service
# worker fetches files itself (its pre-caching), and those must stay on the app's origin too.
def test_neither_the_page_nor_its_service_worker_asks_outside_the_origin(offline):
    report, url = offline
    by_worker = [r for r in report["requests"] if r["by"] == "service worker"]
    assert by_worker, "no request of the service worker was recorded, so this check would not see them"
    assert all(_same_origin(r["url"], url) for r in report["requests"]), report["requests"]
    assert report["blocked"] == []


# Bug caught: a manifest Chromium rejects (missing icons of the sizes it needs, wrong start_url or
# scope, no service worker with a fetch handler): the app could not be installed on a phone.
def test_the_app_is_installable(cnn, offline):
    report, _ = offline
    assert report["manifest_errors"] == []
    assert report["installability_errors"] == []
    manifest = json.loads((cnn["site"] / "manifest.webmanifest").read_text())
    assert manifest["name"] == "Pneumonia check (offline test)"
    for icon in manifest["icons"]:
        with Image.open(cnn["site"] / icon["src"]) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]


# Bugs caught: a cache version that does not change when the site changes (phones would keep the old
# model for ever), or that changes on every build of the same site (every visit would copy it all again,
# e.g. because the icons are not drawn reproducibly).
def test_a_rebuilt_site_gets_a_new_cache_version_and_only_then(cnn, tmp_path):
    again = deploy.build_webapp(cnn["exported"], tmp_path / "site", title="Pneumonia check (offline test)")
    assert _version(again) == _version(cnn["site"])
    assert (again / "icons" / "icon-512.png").read_bytes() == (cnn["site"] / "icons" / "icon-512.png").read_bytes()
    changed = deploy.build_webapp(cnn["exported"], tmp_path / "site", title="Pneumonia check (version 2)")
    assert changed == again and _version(changed) != _version(cnn["site"])


# Bugs caught: a service worker that keeps serving the first site it stored after the site is rebuilt
# (a corrected model would never reach the phones), or that leaves the old copy on the device.
def test_a_rebuilt_site_replaces_the_stored_copy_on_the_next_visits(cnn, tmp_path):
    site = deploy.build_webapp(cnn["exported"], tmp_path / "site", title="Version one")
    versions = [_version(site)]

    def rebuild():
        deploy.build_webapp(cnn["exported"], site, title="Version two")
        versions.append(_version(site))

    with deploy.serve(site) as server:
        report = scenarios.run(server, "update", when={"rebuild-the-site": rebuild})
    assert report["offline_setup"]["installed"] and versions[0] != versions[1]
    assert [name.rsplit(" ", 1)[1] for name in report["caches_before"]] == [versions[0]]
    assert [name.rsplit(" ", 1)[1] for name in report["caches_after"]] == [versions[1]]  # the old copy is gone
    assert report["title_after"] == "Version two"


# Bug caught: build_webapp's refusal to replace folders it did not make, broken by the new files (a site
# with sw.js and icons/ would count as "holding files radkit did not put there" and could not be rebuilt),
# or widened so far that it deletes a learner's own file (beside the site's files, or put in its icons/).
def test_build_webapp_replaces_its_own_offline_files_but_nothing_else(cnn, tmp_path):
    site = deploy.build_webapp(cnn["exported"], tmp_path / "site")
    assert {"sw.js", "offline.js", "manifest.webmanifest", "icons"} <= {p.name for p in site.iterdir()}
    deploy.build_webapp(cnn["exported"], site)  # replaces its own site, new files included
    (site / "icons" / "mine.png").write_bytes(b"my own")
    with pytest.raises(RadkitError, match="icons/mine.png"):
        deploy.build_webapp(cnn["exported"], site)
    (site / "icons" / "mine.png").unlink()
    (site / "notes.txt").write_text("mine")
    with pytest.raises(RadkitError, match="notes.txt"):
        deploy.build_webapp(cnn["exported"], site)
    assert (site / "notes.txt").read_text() == "mine" and (site / "sw.js").is_file()


# ---------------------------------------------------------------- 6. usable by everyone

SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def keyboard(cnn):
    """axe-core audit, then Tab to "Choose an image", Enter, pick the film, audit again."""
    with deploy.serve(cnn["site"]) as server:
        return scenarios.run(server, "a11y", files=[cnn["film"]], key="Enter")


def _serious(audit) -> list:
    return [v for v in audit["violations"] if v["impact"] in SERIOUS]


# Bugs caught: missing labels, names, contrast, landmarks, languages... anything axe-core rates serious
# or critical, on the page as it opens and with a result shown (bars, link, preview).
@pytest.mark.skipif(scenarios.axe_missing() is not None, reason=str(scenarios.axe_missing()))
def test_no_serious_or_critical_accessibility_problems_before_and_after_a_prediction(keyboard):
    for audit in (keyboard["audit_before"], keyboard["audit_after"]):
        assert audit["rules_passed"] >= 10, "axe-core did not really run"
        assert _serious(audit) == [], audit["violations"]
    assert keyboard["result"]["ok"]


# The audit above can fail: the same page with its file control's label emptied has a critical problem.
@pytest.mark.skipif(scenarios.axe_missing() is not None, reason=str(scenarios.axe_missing()))
def test_the_audit_finds_a_control_without_a_name(cnn):
    with deploy.serve(cnn["site"]) as server:
        report = scenarios.run(server, "a11y", files=[cnn["film"]], unlabel=True)
    assert any(v["id"] == "label" for v in _serious(report["audit_before"])), report["audit_before"]


# Bugs caught: the file control unreachable by Tab (e.g. hidden with display: none), a focus ring that
# does not show on it (the CSS rule once targeted a label placed before its input, so it never matched),
# Enter not opening the file chooser, a keyboard-chosen file not analysed.
def test_the_keyboard_alone_chooses_a_file_and_gets_a_result(cnn, keyboard):
    assert [t["id"] for t in keyboard["tabs"]] == ["file-input"], keyboard["tabs"]  # the first Tab stop
    assert keyboard["tabs"][-1]["outline"] != "none", "no visible focus on 'Choose an image'"
    assert keyboard["chooser_opened"], "Enter did not open the file chooser"
    result = keyboard["result"]
    assert result["ok"] and result["name"] == cnn["film"].name


# Bug caught: a status line that says only "Done: film.png." (a screen reader user hears that something
# finished, never what the model found), or a result written somewhere no live region covers.
def test_the_result_is_announced_to_screen_readers(keyboard):
    assert keyboard["status_attributes"] == {"live": "polite", "role": "status"}
    top = keyboard["result"]["ranked"][0]
    said = keyboard["announced"]
    assert len(said) >= 2 and said[-1] == keyboard["status"], said  # it changed: analysing, then the answer
    assert f"Most likely: {top['label']}" in said[-1] and f"{100 * top['p']:.1f} %" in said[-1], said[-1]


# Bugs caught: a fixed-width preview (180 px plus padding), long words or file names that push the page
# sideways, and the empty result box that was shown before any prediction (its display rule overrode
# `hidden`). A 360 px phone at 200 % zoom lays the page out 180 CSS px wide.
def test_text_fits_a_phone_at_200_percent_zoom(cnn, tmp_path):
    long_name = tmp_path / ("a_film_with_a_very_long_file_name_from_the_pacs_export_" * 2 + ".png")
    long_name.write_bytes(cnn["film"].read_bytes())
    with deploy.serve(cnn["site"]) as server:
        report = scenarios.run(server, "zoom", files=[long_name], viewport={"width": 180, "height": 390},
                               device_scale_factor=4)
    assert report["result"]["ok"]
    for moment in ("before", "after"):
        fit = report[moment]
        assert fit["scroll_width"] <= fit["client_width"], (moment, fit)
        assert fit["cut"] == [], (moment, fit)
    assert report["font_px"] >= 16


# ---------------------------------------------------------------- 7. the camera path

def _lightbox_video(path: Path, film: np.ndarray, width: int = 320, height: int = 240, frames: int = 3) -> np.ndarray:
    """A short .y4m (YUV 4:2:0) of a film photographed on a lightbox: tilted, with glare, on a dark desk.

    Returns the grey frame (height x width, uint8) the fake camera shows.
    """
    photo = phantoms.other_scanner(film, kind="screen_photo", seed=1)
    frame = np.full((height, width), 20, np.uint8)
    top, left = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
    frame[top:top + photo.shape[0], left:left + photo.shape[1]] = photo
    chroma = np.full(width // 2 * height // 2 * 2, 128, np.uint8).tobytes()  # grey: no colour
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + frame.tobytes() + chroma)
    return frame


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory):
    folder = tmp_path_factory.mktemp("camera")
    film = phantoms.chest_xray(size=200, pneumonia=True, seed=5)["image"]
    frame = _lightbox_video(folder / "lightbox.y4m", film)
    Image.fromarray(frame).save(folder / "frame.png")
    return folder / "lightbox.y4m", folder / "frame.png"


FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


# Bugs caught: the camera button that never shows or never starts the video, "Take picture" that
# analyses an empty (black) canvas or something other than the camera's picture, a prediction from the
# camera that differs from Keras on the same input, the camera left running after the picture.
def test_the_camera_button_takes_a_picture_of_the_film_and_predicts(cnn, camera_video):
    video, frame = camera_video
    with deploy.serve(cnn["site"]) as server:
        report = scenarios.run(server, "camera", flags=[*FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"])
    assert report["camera_opened"] and report["video"] == {"width": 320, "height": 240}
    result = report["result"]
    assert result["ok"] and result["name"] == "camera picture" and report["camera_hidden_after"]
    got = np.asarray(result["input"], np.float32).reshape(1, 64, 64, 1)
    assert abs(cnn["model"].predict(got, verbose=0)[0, 0] - result["values"][0]) <= 1e-4
    # The picture is the film: the browser converts the camera's YUV to RGB with its own levels, so
    # compare shapes (correlation), not grey values, with Python's preparation of the same frame.
    expected = deploy.preprocess(frame, cnn["exported"])
    assert got.std() > 0.05
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.98
    assert np.corrcoef(got.ravel(), expected[:, ::-1].ravel())[0, 1] < 0.9  # (the check can fail)
    assert report["errors"] == [] and report["csp"] == [] and report["blocked"] == []


# Bug caught: the browser's error (NotAllowedError, NotFoundError, a DOMException) shown as it is, or one
# message for every failure, so a person cannot tell whether to change a setting or give up on the camera.
@pytest.mark.parametrize("options, expected", [
    # A real refusal: Chromium answers its permission prompt with "Block".
    ({"flags": ["--use-fake-device-for-media-stream", "--deny-permission-prompts"]},
     "The camera is blocked for this page. To use it, allow the camera"),
    ({"flags": FAKE_CAMERA, "deny_camera": "NotFoundError"}, "No camera was found on this device."),
    ({"flags": FAKE_CAMERA, "deny_camera": "NotReadableError"}, "The camera is busy or could not start"),
], ids=["permission-denied", "no-camera", "camera-busy"])
def test_a_refused_or_missing_camera_gets_a_plain_message(cnn, options, expected):
    with deploy.serve(cnn["site"]) as server:
        report = scenarios.run(server, "camera", **options)
    assert not report["camera_opened"] and report["status_is_error"]
    assert report["status"].startswith(expected), report["status"]
    assert "You can still choose an image file" in report["status"] or "choose an image file" in report["status"]
    assert not re.search(r"Error|DOMException|undefined", report["status"]), report["status"]
