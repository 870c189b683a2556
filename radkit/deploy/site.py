"""Build the static web site: the page, TensorFlow.js and dicom-parser copied in, the model, its card, and
what makes it work offline and install on a phone. Introduced in notebook 09_browser_app.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from radkit.errors import RadkitError


TFJS_VERSION = "4.22.0"


DICOM_PARSER_VERSION = "1.8.21"  # npm dicom-parser: reads DICOM files in the page (notebook 09)


WEBAPP_DIR = Path(__file__).resolve().parent.parent / "webapp"  # radkit/webapp: the page and its scripts


# build_webapp writes this file into every site it makes; only such a folder is ever replaced.
SITE_MARKER = ".radkit-site"


# What build_webapp writes (only such a folder is ever replaced); offline.js, sw.js, the manifest and icons are
# what _make_installable adds (offline use and "Add to home screen").
SITE_ENTRIES = {SITE_MARKER, "index.html", "app.js", "app.css", "app.json", "model", "vendor", "dicom.js",
                "model_card.json", "offline.js", "sw.js", "manifest.webmanifest", "icons"}


def _node_modules_candidates() -> list[Path]:
    from radkit.config import data_dir

    places = []
    if os.environ.get("RADKIT_NODE_MODULES"):
        places.append(Path(os.environ["RADKIT_NODE_MODULES"]))
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        places += [p / "node_modules" for p in (start, *start.parents)]
    places.append(data_dir() / "tfjs" / "node_modules")
    return places


def tfjs_files(install: bool = True) -> dict[str, Path]:
    """Find (or install with npm) TensorFlow.js, its WASM backend and dicom-parser; returns {file name: path}.

    Introduced in notebook 09. Looks in the project's ``node_modules`` (made by ``npm ci``), then in
    RadKit's data folder; if absent and ``install`` is True, runs ``npm install`` into the data folder.
    """
    # The ES2017 builds: smaller, and unlike the ES5 ones they never call eval (which the page forbids).
    wanted = {"tf.es2017.min.js": "@tensorflow/tfjs/dist/tf.es2017.min.js",
              "tf-backend-wasm.es2017.min.js": "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js"}
    wasm = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"]
    wanted.update({w: f"@tensorflow/tfjs-backend-wasm/dist/{w}" for w in wasm})
    wanted["dicomParser.min.js"] = "dicom-parser/dist/dicomParser.min.js"  # reads DICOM files in the page
    versions = {"@tensorflow/tfjs": TFJS_VERSION, "dicom-parser": DICOM_PARSER_VERSION}
    for base in _node_modules_candidates():
        if all((base / rel).is_file() for rel in wanted.values()) and all(
                (base / pkg / "package.json").is_file()
                and json.loads((base / pkg / "package.json").read_text())["version"] == version
                for pkg, version in versions.items()):
            return {name: base / rel for name, rel in wanted.items()}
    if not install:
        raise RadkitError(f"TensorFlow.js {TFJS_VERSION} was not found.",
                          "Run `npm ci` in the radkit project folder (needs Node.js), or call tfjs_files(install=True).")
    npm = shutil.which("npm")
    if npm is None:
        raise RadkitError("TensorFlow.js is needed to build the web app, and npm (Node.js) is not installed.",
                          "Install Node.js from https://nodejs.org (it includes npm), then run this cell again.")
    from radkit.config import data_dir, display_path

    target = data_dir() / "tfjs"
    target.mkdir(parents=True, exist_ok=True)
    print(f"Installing TensorFlow.js {TFJS_VERSION} with npm into {display_path(target)} (once; about 20 s)...")
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(target),
                             f"@tensorflow/tfjs@{TFJS_VERSION}", f"@tensorflow/tfjs-backend-wasm@{TFJS_VERSION}",
                             f"dicom-parser@{DICOM_PARSER_VERSION}"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RadkitError(f"npm could not install TensorFlow.js:\n{result.stderr[-800:]}",
                          "Check the internet connection (npm needs registry.npmjs.org), then try again.")
    return tfjs_files(install=False)


DEFAULT_NOTICE = ("For teaching only: this model has not been validated for clinical use. "
                  "Do not use it to make decisions about patients.")


def build_webapp(model_folder, site, title: str | None = None, learn_more: dict | None = None,
                 notice: str = DEFAULT_NOTICE, about: str = "", model_card=None) -> Path:
    """Make a static web site that runs an exported model in the browser. Returns the site folder.

    Introduced in notebook 09. ``model_folder`` is what ``export_tfjs`` wrote. ``learn_more`` maps a
    label to a web page about that finding (shown as a link; nothing is fetched from it).
    Copy the site folder to any static host (GitHub Pages, a hospital intranet server) as it is.
    ``model_card`` (a ``radkit.report.ModelCard`` or its ``.md`` file) is shown under "About this model":
    intended use, not for use, and the measured metrics with their intervals. Left out, a card saved beside
    the exported model (``card.save_beside(model_folder)``, i.e. ``<folder>.model_card.md``) is used.
    After one visit the app also opens with the network off, and a phone can install it (home screen).

    >>> build_webapp("export/pneumonia_cnn", "site", learn_more={"pneumonia": "https://radiopaedia.org/articles/pneumonia"})
    """
    model_folder, site = Path(model_folder), Path(site)
    if not (model_folder / "model.json").is_file() or not (model_folder / "radkit.json").is_file():
        raise RadkitError(f"{model_folder} does not hold an exported model (model.json and radkit.json).",
                          "Run radkit.deploy.export_tfjs(model, folder) first and pass that folder.")
    files = tfjs_files()
    meta = json.loads((model_folder / "radkit.json").read_text(encoding="utf-8"))
    unknown = sorted(set(learn_more or {}) - set(meta["labels"]))
    if unknown:
        raise RadkitError(f"learn_more names labels the model does not have: {unknown}.",
                          f"Use the model's labels: {meta['labels']}.")
    card = _model_card_summary(model_folder, model_card)
    _clear_old_site(site, model_folder)
    site.mkdir(parents=True, exist_ok=True)
    (site / SITE_MARKER).write_text("Made by radkit.deploy.build_webapp; build_webapp may replace this folder.\n",
                                    encoding="utf-8")
    (site / "vendor").mkdir()
    shutil.copytree(model_folder, site / "model")
    for name, path in files.items():
        shutil.copy2(path, site / "vendor" / name)
    shutil.copytree(WEBAPP_DIR / "codecs", site / "vendor", dirs_exist_ok=True)  # dicom.js's decompressors
    for name in ("index.html", "app.js", "app.css", "dicom.js"):
        shutil.copy2(WEBAPP_DIR / name, site / name)
    if card is not None:
        (site / "model_card.json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    app = {"title": title or meta.get("title") or "RadKit model", "notice": notice, "about": about,
           "learn_more": learn_more or {}, "model_card": card is not None, "max_pixels": _max_pixels()}
    (site / "app.json").write_text(json.dumps(app, indent=1), encoding="utf-8")
    html = (site / "index.html").read_text(encoding="utf-8")
    (site / "index.html").write_text(html.replace("{{TITLE}}", _escape(app["title"])), encoding="utf-8")
    _make_installable(site, app["title"])  # last: its list of files to keep offline is what is in the site now
    return site


def _max_pixels() -> int:
    """The largest picture RadKit reads (Pillow's limit): the page refuses larger ones, as Python does."""
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS)


ICON_SIZES = (192, 512)


_ICON_FILES = {f"icon-{size}.png" for size in ICON_SIZES}


def _icon(size: int):
    """The app's icon: a phantom chest film on the app's blue, inside the safe zone of a round mask."""
    from PIL import Image

    from radkit import phantoms

    icon = Image.new("RGB", (size, size), (11, 110, 153))
    inner = round(size * 0.56)
    film = phantoms.chest_xray(size=inner, seed=0)["image"]
    icon.paste(Image.fromarray(film), ((size - inner) // 2, (size - inner) // 2))
    return icon


def _make_installable(site: Path, title: str) -> None:
    """Add what makes the site installable and usable offline: icons, a web app manifest and the
    service worker (sw.js, from webapp/sw.js) with the list of every file in the site and their hash."""
    import hashlib

    (site / "icons").mkdir()
    for size in ICON_SIZES:
        _icon(size).save(site / "icons" / f"icon-{size}.png", optimize=False)
    manifest = {"name": title, "short_name": title if len(title) <= 12 else "RadKit app",
                "description": "Runs a teaching model on this device; images are never uploaded. Not for diagnosis.",
                "start_url": "./", "scope": "./", "display": "standalone",
                "background_color": "#f7f9fa", "theme_color": "#0b6e99",
                "icons": [{"src": f"icons/icon-{s}.png", "sizes": f"{s}x{s}", "type": "image/png",
                           "purpose": "any maskable"} for s in ICON_SIZES]}
    (site / "manifest.webmanifest").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    shutil.copy2(WEBAPP_DIR / "offline.js", site / "offline.js")
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*")
                   if p.is_file() and p.name not in (SITE_MARKER, "sw.js"))
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (site / name).read_bytes() + b"\0")
    worker = (WEBAPP_DIR / "sw.js").read_text(encoding="utf-8")
    worker = worker.replace("{{VERSION}}", digest.hexdigest()[:16]).replace("['{{FILES}}']", json.dumps(["./", *files]))
    (site / "sw.js").write_text(worker, encoding="utf-8")


def _model_card_summary(model_folder: Path, model_card) -> dict | None:
    """What the page shows from a model card (given, or saved beside the exported model), or None."""
    from radkit import report

    if model_card is None:
        beside = model_folder.with_name(model_folder.name + ".model_card.md")
        if not beside.is_file():
            return None
        model_card = beside
    if isinstance(model_card, report.ModelCard):
        return report.card_summary(model_card.markdown)
    path = Path(model_card)
    if not path.is_file():
        raise RadkitError(f"There is no model card at {path.name}.",
                          "Pass the card itself (what report.model_card returns) or the .md file it was saved to.")
    return report.card_summary(path.read_text(encoding="utf-8"))


def _clear_old_site(site: Path, model_folder: Path) -> None:
    """Remove an earlier site that build_webapp made; refuse any other folder (radkit never deletes your files).

    A folder counts as a site radkit made when it holds the marker file (or, for sites built before the
    marker existed, exactly the files build_webapp writes) and nothing else.
    """
    from radkit.config import display_path

    shown = display_path(site)
    fix = ("Give build_webapp a new folder name for the site, for example "
           "build_webapp(exported, 'my_site'); or move your own files out of that folder first.")
    site_r, model_r = site.resolve(), model_folder.resolve()
    if site_r == model_r or site_r in model_r.parents or model_r in site_r.parents:
        raise RadkitError(f"The site folder {shown} and the model folder {display_path(model_folder)} overlap "
                          "(one is inside the other), so building the site would destroy the model.", fix)
    if not site.exists():
        return
    if not site.is_dir():
        raise RadkitError(f"{shown} is a file, not a folder; build_webapp will not replace it.", fix)
    entries = {p.name for p in site.iterdir()}
    if not entries:
        return
    legacy = {"index.html", "app.json", "model", "vendor"} <= entries and entries <= SITE_ENTRIES
    if SITE_MARKER not in entries and not legacy:
        listing = ", ".join(sorted(entries)[:4]) + (" ..." if len(entries) > 4 else "")
        raise RadkitError(f"The folder {shown} already exists and was not made by build_webapp (it holds "
                          f"{listing}). RadKit never deletes files it did not make.", fix)
    foreign = sorted(entries - SITE_ENTRIES)
    if (site / "icons").is_dir():  # the icons folder holds only the icons build_webapp draws
        foreign += sorted(f"icons/{p.name}" for p in (site / "icons").iterdir() if p.name not in _ICON_FILES)
    if foreign:
        raise RadkitError(f"The site folder {shown} was made by build_webapp, but it now also holds files radkit "
                          f"did not put there ({', '.join(foreign[:4])}), so it will not be replaced.", fix)
    for name in sorted(entries):  # only what build_webapp itself writes
        path = site / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
