"""JupyterHub for a RadKit workshop on one server (the way The Littlest JupyterHub runs one).

Each learner logs in with their own account and gets their own JupyterLab, running as
their own system user, so nobody can read anybody else's files. An nbgitpuller link
copies the course into each learner's home (see INSTRUCTORS.md), idle servers are
stopped after an hour, and every server gets the memory the course was measured to need.

Start it (as root, on the server, inside the course's environment):

    jupyterhub -f workshop/jupyterhub_config.py

Every choice can be changed with an environment variable, so the same file serves a
real workshop and the project's own test (tests/test_hub.py):

| variable | default | what it sets |
|---|---|---|
| RADKIT_HUB_IP / RADKIT_HUB_PORT | 0.0.0.0 / 8000 | where learners connect |
| RADKIT_HUB_AUTHENTICATOR | pam | "pam": the server's own accounts; "native": learners sign up and you approve; "dummy": any name, one shared password (testing only) |
| RADKIT_HUB_PASSWORD | (none) | the shared password of the "dummy" authenticator |
| RADKIT_HUB_USERS | (none) | comma-separated learner names allowed in (empty: anyone the authenticator accepts) |
| RADKIT_HUB_ADMINS | (none) | comma-separated instructor names |
| RADKIT_HUB_SPAWNER | systemd if installed, else localprocess | "systemd" enforces the memory and CPU limits (what TLJH uses); "localprocess" runs each server as its system user without limits; "simple" runs every server as the hub's own user (testing only: no isolation) |
| RADKIT_MEM_LIMIT / RADKIT_CPU_LIMIT | 4G / 1 | per learner; see INSTRUCTORS.md for the measured peak memory per notebook |
| RADKIT_IDLE_TIMEOUT | 3600 | seconds without activity before a learner's server is stopped (their files stay) |
| RADKIT_LOCAL_DATA | (none) | the workshop data pack every learner reads (`python3 run.py pack PATH`) |
| RADKIT_HUB_STATE | /srv/radkit-hub | the hub's database and cookie secret |
"""

import os
import runpy
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (JupyterHub provides get_config when it reads this file)

env = os.environ.get
bin_dir = Path(sys.executable).parent  # the course's environment: jupyterhub-singleuser lives beside python
state = Path(env("RADKIT_HUB_STATE", "/srv/radkit-hub"))
state.mkdir(parents=True, exist_ok=True, mode=0o700)

c.JupyterHub.ip = env("RADKIT_HUB_IP", "0.0.0.0")
c.JupyterHub.port = int(env("RADKIT_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("RADKIT_HUB_INTERNAL_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(env('RADKIT_HUB_PROXY_API_PORT', '8001'))}"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
proxy = shutil.which("configurable-http-proxy") or str(
    Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "configurable-http-proxy")
c.ConfigurableHTTPProxy.command = [proxy]

# Who may log in.
authenticator = env("RADKIT_HUB_AUTHENTICATOR", "pam")
c.JupyterHub.authenticator_class = {"pam": "pam", "native": "native", "dummy": "dummy"}[authenticator]
if authenticator == "dummy":
    c.DummyAuthenticator.password = env("RADKIT_HUB_PASSWORD") or sys.exit(
        "RADKIT_HUB_PASSWORD must be set with the dummy authenticator (testing only).")
users = {u.strip() for u in env("RADKIT_HUB_USERS", "").split(",") if u.strip()}
if users:
    c.Authenticator.allowed_users = users
else:
    c.Authenticator.allow_all = True
c.Authenticator.admin_users = {u.strip() for u in env("RADKIT_HUB_ADMINS", "").split(",") if u.strip()}
c.LocalAuthenticator.create_system_users = True  # PAM: an account is made the first time a learner is added

# One JupyterLab per learner, as their own system user, in their own home.
spawner = env("RADKIT_HUB_SPAWNER", "")
if not spawner:
    try:
        import systemdspawner  # noqa: F401

        spawner = "systemd"
    except ImportError:
        spawner = "localprocess"
c.JupyterHub.spawner_class = {"systemd": "systemdspawner.SystemdSpawner", "localprocess": "localprocess",
                              "simple": "simple"}[spawner]
c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
# The course promises nothing is sent anywhere: JupyterLab's news feed and update checks stay off (run.py's options).
c.Spawner.args = list(runpy.run_path(str(Path(__file__).resolve().parent.parent / "run.py"))["LAB_OPTIONS"])
c.Spawner.default_url = "/lab"
c.Spawner.mem_limit = env("RADKIT_MEM_LIMIT", "4G")  # notebook 04 peaks at about 3.1 GB (INSTRUCTORS.md)
c.Spawner.cpu_limit = float(env("RADKIT_CPU_LIMIT", "1"))
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# The learner's environment: the data pack, and nothing of the hub's own environment.
learner_env = {"RADKIT_OFFLINE": env("RADKIT_OFFLINE", ""), "RADKIT_FAST": env("RADKIT_FAST", "")}
if env("RADKIT_LOCAL_DATA"):
    learner_env["RADKIT_LOCAL_DATA"] = env("RADKIT_LOCAL_DATA")
c.Spawner.environment = {k: v for k, v in learner_env.items() if v}


def private_home(spawner_) -> None:
    """Before a learner's server starts: their home is theirs alone (mode 0700), whatever useradd's default."""
    if spawner == "simple":
        # Testing only: every server runs as the hub's own user; give each learner a folder of their own.
        (state / "homes" / spawner_.user.name).mkdir(parents=True, exist_ok=True)
        return
    import pwd

    home = Path(pwd.getpwnam(spawner_.user.name).pw_dir)
    if home.is_dir():
        home.chmod(0o700)


c.Spawner.pre_spawn_hook = private_home
if spawner == "simple":
    c.Spawner.notebook_dir = str(state / "homes" / "{username}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        c.Spawner.args.append("--allow-root")  # the hub's own user is root here (a test container)

# Stop servers nobody has used for an hour (files are kept); the learner restarts theirs by logging in.
c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
                            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]
c.JupyterHub.services = [{"name": "idle-culler",
                          "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                                      f"--timeout={int(env('RADKIT_IDLE_TIMEOUT', '3600'))}"]}]

# An instructor's API token (optional): start and check every learner's server from a script
# (`tests/test_hub.py` does exactly this). Keep it secret; unset, there is none.
if env("RADKIT_HUB_API_TOKEN"):
    c.JupyterHub.services.append({"name": "instructor", "api_token": env("RADKIT_HUB_API_TOKEN")})
    c.JupyterHub.load_roles.append({"name": "instructor", "services": ["instructor"],
                                    "scopes": ["admin:users", "admin:servers", "access:servers", "tokens"]})
