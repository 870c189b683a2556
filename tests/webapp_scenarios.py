"""Run one scenario of webapp_scenarios.mjs (offline, a11y, zoom, camera) against a served site.

Used by tests/test_browser_offline.py and benchmarks/browser_inference.py.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from radkit import deploy

HERE = Path(__file__).resolve().parent


def node_modules() -> Path:
    return next(p for p in deploy._node_modules_candidates() if (p / "playwright-core" / "package.json").is_file())


def axe_missing() -> str | None:
    """Why axe-core cannot be injected (None when it can)."""
    if not (node_modules() / "axe-core" / "axe.min.js").is_file():
        return "the npm package axe-core is missing (run `npm ci` in the radkit project folder)."
    return None


def run(server, scenario: str, files=(), timeout: float = 120, when: dict | None = None, **options) -> dict:
    """Open ``server.url`` in a fresh headless Chromium and play ``scenario``; returns its report.

    For "offline", the server is stopped once the service worker is ready, before the reload. ``when``
    maps a line the scenario prints (e.g. "rebuild-the-site") to what to do before it goes on.
    """
    when = {"stop-the-server": server.stop, **(when or {})}
    job = {"url": server.url, "scenario": scenario, "chromium": deploy.find_chromium(),
           "node_modules": str(node_modules()), "axe": str(node_modules() / "axe-core" / "axe.min.js"),
           "files": [str(Path(f).resolve()) for f in files], "timeout_ms": int(timeout * 1000), **options}
    with tempfile.TemporaryDirectory() as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        log = open(Path(tmp) / "stderr.txt", "w+", encoding="utf-8")  # a file: a full pipe would stall the browser
        process = subprocess.Popen(["node", str(HERE / "webapp_scenarios.mjs"), str(job_path)], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        try:
            lines = []
            while line := process.stdout.readline():
                lines.append(line)
                if line.strip() in when:
                    when[line.strip()]()
                    process.stdin.write("stopped\n")
                    process.stdin.close()  # (an open pipe would keep node waiting at the end)
            process.wait(timeout=timeout + 60)
        finally:
            if process.poll() is None:
                process.kill()
            log.seek(0)
            stderr = log.read()
            log.close()
    if process.returncode != 0:
        raise RuntimeError(f"the browser scenario {scenario} failed:\n{(stderr or ''.join(lines))[-3000:]}")
    return json.loads(lines[-1])
