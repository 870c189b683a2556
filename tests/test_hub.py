"""A real JupyterHub on 127.0.0.1, configured by workshop/jupyterhub_config.py, as in a workshop.

Three learners log in, an nbgitpuller link copies the course into each home (served from
this checkout over local HTTP, as a git host would serve it), and each learner runs
notebook 00 in their own server at the same time, through the hub's proxy and the
server's kernel API. Then: each learner's outputs are right, each server ran as that
learner, and no learner can reach another's server or files.

On CI (CI=true, as root) each learner is a real system user, as on a single-server hub,
so file isolation is checked by the operating system; the users are removed afterwards.
Elsewhere the servers run as the current user ("simple" spawner) and only the hub's own
isolation (tokens, URLs) is checked, so that the test suite never creates accounts on a
person's computer. Skipped without Node.js' configurable-http-proxy or JupyterHub.
Everything is bounded in time and stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "workshop" / "jupyterhub_config.py"
PROXY = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
BIN = Path(sys.executable).parent
LEARNERS = ["radkit-hub-ana", "radkit-hub-ben", "radkit-hub-cai"]
SYSTEM_USERS = os.environ.get("CI") == "true" and hasattr(os, "geteuid") and os.geteuid() == 0

pytestmark = pytest.mark.skipif(
    not PROXY.exists() or shutil.which("node") is None or not (BIN / "jupyterhub").exists(),
    reason="needs JupyterHub (pip) and configurable-http-proxy (npm ci) and Node.js")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, token: str, method: str = "GET", body=None, timeout: float = 60):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:  # not listening yet, or closed
        return 0, str(error)


def _wait(what: str, check, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@contextlib.contextmanager
def _git_host(tmp: Path):
    """This checkout's committed state as a git repository served over HTTP on 127.0.0.1 (dumb protocol)."""
    bare = tmp / "git" / "radkit.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--no-local", str(ROOT), str(bare)], check=True, timeout=120)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    subprocess.run(["git", "-C", str(bare), "update-ref", "refs/heads/workshop", head], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)
    for path in [tmp, tmp / "git", *bare.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp / "git"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/radkit.git"
    finally:
        server.shutdown()
        server.server_close()


def _reachable_by_others(path: Path) -> list[Path]:
    """The folders above ``path`` that other users cannot pass through (so their Python would not start)."""
    return [p for p in [path, *path.parents] if p.is_dir() and not p.stat().st_mode & 0o001]


@contextlib.contextmanager
def _learner_accounts():
    """System accounts for the learners (CI only), and passage to the course's Python for them."""
    if not SYSTEM_USERS:
        yield
        return
    closed = sorted({p for target in (Path(sys.base_prefix), ROOT) for p in _reachable_by_others(target)})
    modes = {p: p.stat().st_mode for p in closed}
    try:
        for name in LEARNERS:
            subprocess.run(["userdel", "-r", name], capture_output=True)
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        for path in closed:  # pass-through only (no listing), undone below
            path.chmod(modes[path] | 0o001)
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
        for name in LEARNERS:
            subprocess.run(["pkill", "-u", name], capture_output=True)
            subprocess.run(["userdel", "-r", name], capture_output=True)


@contextlib.contextmanager
def _hub(tmp: Path):
    port, token = _free_port(), secrets.token_hex(24)
    env = {**os.environ,
           "RADKIT_HUB_IP": "127.0.0.1", "RADKIT_HUB_PORT": str(port),
           "RADKIT_HUB_INTERNAL_PORT": str(_free_port()), "RADKIT_HUB_PROXY_API_PORT": str(_free_port()),
           "RADKIT_HUB_AUTHENTICATOR": "dummy", "RADKIT_HUB_PASSWORD": secrets.token_hex(8),
           "RADKIT_HUB_USERS": ",".join(LEARNERS), "RADKIT_HUB_SPAWNER": "localprocess" if SYSTEM_USERS else "simple",
           "RADKIT_HUB_STATE": str(tmp / "hub"), "RADKIT_HUB_API_TOKEN": token, "RADKIT_FAST": "1",
           "PATH": f"{BIN}{os.pathsep}{PROXY.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(tmp / "hub.log", "w")
    hub = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(CONFIG)], cwd=tmp, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def answering():
            if hub.poll() is not None:
                raise AssertionError("the hub stopped:\n" + (tmp / "hub.log").read_text()[-3000:])
            return _request(f"{base}/hub/api/", token, timeout=5)[0] == 200

        _wait("the hub to answer", answering, 90)
        yield base, token
    finally:
        for name in LEARNERS:
            with contextlib.suppress(Exception):
                _request(f"{base}/hub/api/users/{name}/server", token, "DELETE", timeout=30)
        hub.terminate()
        try:
            hub.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, 9)
        log.close()


async def _run_cells(server: str, token: str, path: str, cells: list[str]) -> list[list[dict]]:
    """Run code cells one after another in a new kernel of a learner's server; each cell's outputs."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    status, session = await asyncio.to_thread(
        _request, f"{server}/api/sessions", token, "POST",
        {"path": path, "type": "notebook", "name": Path(path).name, "kernel": {"name": "python3"}})
    assert status == 201, session
    kernel = session["kernel"]["id"]
    ws = await websocket_connect(HTTPRequest(f"{server.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels",
                                             headers={"Authorization": f"token {token}"}), max_message_size=1 << 26)
    results = []
    try:
        for code in cells:
            msg_id = uuid.uuid4().hex
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                           "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            outputs = []
            while True:
                raw = await asyncio.wait_for(ws.read_message(), 300)
                assert raw is not None, "the kernel's connection closed"
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != msg_id or message["channel"] != "iopub":
                    continue
                kind = message["header"]["msg_type"]
                if kind == "status" and message["content"]["execution_state"] == "idle":
                    break
                if kind in ("stream", "error", "execute_result", "display_data"):
                    outputs.append({"type": kind, **message["content"]})
            results.append(outputs)
    finally:
        ws.close()
        await asyncio.to_thread(_request, f"{server}/api/sessions/{session['id']}", token, "DELETE")
    return results


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") or "".join(o.get("data", {}).get("text/plain", "")) for o in outputs)


# Catches: a hub config that does not start, servers that do not spawn for several learners at once,
# an nbgitpuller link that does not copy the course, notebook 00 failing inside a learner's server,
# a server running as the wrong user, and one learner reaching another's server or files.
def test_three_learners_run_notebook_00_through_a_real_hub(tmp_path):
    tmp_path.chmod(0o755)
    started = time.monotonic()
    with _learner_accounts(), _git_host(tmp_path) as repo, _hub(tmp_path) as (base, admin):
        tokens = {}
        for name in LEARNERS:
            status, reply = _request(f"{base}/hub/api/users/{name}/server", admin, "POST")
            assert status in (201, 202), reply
            status, reply = _request(f"{base}/hub/api/users/{name}/tokens", admin, "POST",
                                     {"note": "workshop test", "expires_in": 900})
            assert status == 201, reply
            tokens[name] = reply["token"]
        for name in LEARNERS:
            _wait(f"{name}'s server", lambda n=name: _request(f"{base}/hub/api/users/{n}", admin)[1]
                  .get("servers", {}).get("", {}).get("ready"), 120)

        # The nbgitpuller link an instructor hands out, called as each learner (depth=0: a full clone, because
        # this test serves git over plain HTTP, which cannot make shallow clones; real git hosts can).
        for name in LEARNERS:
            status, events = _request(f"{base}/user/{name}/git-pull/api?repo={repo}&branch=workshop&targetpath=radkit&depth=0",
                                      tokens[name], timeout=180)
            assert status == 200 and '"phase": "finished"' in events, events[-2000:]

        notebook = json.loads((ROOT / "solutions" / "00_start_here.ipynb").read_text())
        cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
        cells = [c for c in cells if not c.lstrip().startswith("%")]
        probe = ("import getpass, pathlib\nprint('user:', getpass.getuser())\n"
                 "print('course copied:', pathlib.Path('00_start_here.ipynb').is_file())\n"
                 "others = [p for p in pathlib.Path.home().parent.glob('radkit-hub-*') if p != pathlib.Path.home()]\n"
                 "def can_read(p):\n    try:\n        list(p.iterdir())\n        return True\n"
                 "    except PermissionError:\n        return False\n"
                 "print('can read others:', any(can_read(p) for p in others))")

        async def everyone():
            return await asyncio.gather(*(
                _run_cells(f"{base}/user/{name}", tokens[name], "radkit/solutions/00_start_here.ipynb",
                           cells + [probe]) for name in LEARNERS))

        results = asyncio.run(everyone())
        for name, outputs in zip(LEARNERS, results):
            errors = [o for cell in outputs for o in cell if o["type"] == "error"]
            assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
            everything = "\n".join(_text(cell) for cell in outputs)
            assert "RadKit" in everything and "ready" in everything, everything[:2000]
            probe_out = _text(outputs[-1])
            assert "course copied: True" in probe_out, probe_out
            if SYSTEM_USERS:
                assert f"user: {name}" in probe_out and "can read others: False" in probe_out, probe_out

        # The hub keeps learners apart: one learner's token opens neither another's server nor their files.
        ana, ben = LEARNERS[0], LEARNERS[1]
        assert _request(f"{base}/user/{ben}/api/contents", tokens[ana])[0] in (403, 404)
        assert _request(f"{base}/user/{ben}/api/contents/radkit/README.md", tokens[ana])[0] in (403, 404)
        assert _request(f"{base}/user/{ana}/api/contents/radkit/README.md", tokens[ana])[0] == 200
        assert _request(f"{base}/hub/api/users/{ben}/server", tokens[ana], "DELETE")[0] in (403, 404)
    assert time.monotonic() - started < 180, "the workshop hub test should take under 3 minutes"
