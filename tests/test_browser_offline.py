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


# Bug caught: build_webapp's refusal to replace folders it did not make, broken by the new files (a site
# with sw.js and icons/ would count as "holding files radkit did not put there" and could not be rebuilt),
# or widened so far that it deletes a learner's own file.
def test_build_webapp_replaces_its_own_offline_files_but_nothing_else(cnn, tmp_path):
    site = deploy.build_webapp(cnn["exported"], tmp_path / "site")
    assert {"sw.js", "offline.js", "manifest.webmanifest", "icons"} <= {p.name for p in site.iterdir()}
    deploy.build_webapp(cnn["exported"], site)  # replaces its own site, new files included
    (site / "icons" / "mine.png").write_bytes(b"my own")
    (site / "notes.txt").write_text("mine")
    with pytest.raises(deploy.RadkitError, match="notes.txt"):
        deploy.build_webapp(cnn["exported"], site)
    assert (site / "notes.txt").read_text() == "mine" and (site / "icons" / "mine.png").is_file()
