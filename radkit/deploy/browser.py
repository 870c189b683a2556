"""Show a site at http://127.0.0.1:PORT from the notebook, and open it in a real (headless) Chromium.
Introduced in notebook 09_browser_app.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from radkit.errors import RadkitError

from radkit.deploy.site import WEBAPP_DIR, _node_modules_candidates


class Server:
    """A tiny web server for one folder, on this computer only (127.0.0.1), in a background thread."""

    def __init__(self, folder, port: int = 0):
        import functools
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        class Handler(SimpleHTTPRequestHandler):
            extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                              ".js": "text/javascript", ".json": "application/json",
                              ".webmanifest": "application/manifest+json"}

            def log_message(self, *args):  # keep the notebook quiet
                pass

        self.folder = Path(folder)
        try:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", port),
                                              functools.partial(Handler, directory=str(self.folder)))
        except OSError as error:
            raise RadkitError(f"Port {port} is already in use ({error}).",
                              "Choose another port, or use port=0 to let the computer pick a free one.") from error
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self) -> str:
        from radkit.config import display_path

        return f"Serving {display_path(self.folder)} at {self.url}"


def serve(folder, port: int = 0) -> Server:
    """Show a folder at http://127.0.0.1:PORT/ from a background thread; ``.stop()`` ends it.

    Introduced in notebook 09. Only this computer can open the address. ``port=0`` picks a free port.
    """
    if not (Path(folder) / "index.html").is_file():
        raise RadkitError(f"{folder} has no index.html.", "Build the site first with build_webapp(...).")
    return Server(folder, port)


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome browser on this computer, or None."""
    if os.environ.get("RADKIT_CHROMIUM"):
        return os.environ["RADKIT_CHROMIUM"]
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Why a headless browser cannot be driven here (None when it can)."""
    if shutil.which("node") is None:
        return "Node.js is not installed (https://nodejs.org)."
    if find_chromium() is None:
        return "no Chromium or Chrome was found (on Debian/Ubuntu: apt-get install -y chromium)."
    if not any((p / "playwright-core" / "package.json").is_file() for p in _node_modules_candidates()):
        return "the npm package playwright-core is missing (run `npm ci` in the radkit project folder)."
    return None


def try_in_browser(url: str, inputs: dict | None = None, files: list | None = None,
                   screenshot=None, repeat: int = 0, backend: str = "wasm",
                   width: int = 420, height: int = 860, timeout: float = 120) -> dict:
    """Open the web app in a headless Chromium and run it; returns what happened.

    Introduced in notebook 09. ``inputs`` maps a name to an array (already preprocessed, shape
    (1, H, W, C)) to run through the model; ``files`` are image files to open as a user would;
    ``screenshot`` is a PNG path saved after the last file; ``repeat`` times each input that many
    times. The result has ``requests`` (every URL the page asked for), ``load_ms``, ``backend``,
    ``outputs`` (name -> array), ``files`` (what the page showed for each file) and ``errors``.
    """
    why = browser_missing()
    if why:
        raise RadkitError(f"Cannot open a headless browser: {why}", "Install it, or open the URL yourself.")
    node_modules = next(p for p in _node_modules_candidates() if (p / "playwright-core" / "package.json").is_file())
    job = {"url": url, "chromium": find_chromium(), "node_modules": str(node_modules),
           "inputs": {k: {"shape": list(np.shape(v)), "data": np.asarray(v, np.float32).ravel().tolist()}
                      for k, v in (inputs or {}).items()},
           "files": [str(Path(f).resolve()) for f in (files or [])],
           "screenshot": str(Path(screenshot).resolve()) if screenshot else None,
           "repeat": repeat, "backend": backend, "width": width, "height": height,
           "timeout_ms": int(timeout * 1000)}
    if screenshot:
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        result = subprocess.run(["node", str(WEBAPP_DIR / "driver.mjs"), str(job_path)],
                                capture_output=True, text=True, timeout=timeout + 60)
    if result.returncode != 0:
        raise RadkitError(f"The headless browser failed:\n{(result.stderr or result.stdout)[-2000:]}",
                          "Check that Chromium starts (chromium --headless --no-sandbox --version).")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["outputs"] = {k: np.asarray(v["data"], np.float32).reshape(v["shape"])
                         for k, v in report.get("outputs", {}).items()}
    return report
