"""`runyard-server local`: the whole stack on one machine from one data folder.

Order: check the two public ports -> PostgreSQL, Redis, S3 -> migrations -> ingest, front door and the
copy-job worker as child processes configured only through RUNYARD_* variables -> wait for GET /api/v1/server-info ->
banner -> wait. Ctrl-C or SIGTERM stops the services, then the storage, and exits 0. A service that
dies on its own is reported (how it ended, the end of its log) and started again, at most
`--max-restarts` times (default 5) within 60 seconds; a service that keeps dying stops everything with
exit 1. Clients ride through a restart: the SDK reconnects and replays, the browser retries.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from .coro import run_coro
from .processes import Cancelled, Child, RestartBudget, StartupError, port_in_use, spawn, tail, wait_until
from .stack import EmbeddedStack

__all__ = ["DEFAULT_DATA_DIR", "run_local", "service_env", "web_dist"]

# readiness probes go straight to 127.0.0.1, never through an http_proxy from the environment
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

DEFAULT_DATA_DIR = Path("~/.runyard/local")
SERVICE_STOP_GRACE_S = 20.0
SERVICE_READY_TIMEOUT_S = 90.0
RESTART_LIMIT = 5
RESTART_WINDOW_S = 60.0


def _say(message: str) -> None:
    print(message, flush=True)


def _fail(message: str) -> int:
    print(f"runyard-server: {message}", file=sys.stderr, flush=True)
    return 1


def web_dist() -> str:
    """services/web/dist next to this package (a source checkout) when it was built, else ''."""
    dist = Path(__file__).resolve().parents[2] / "web" / "dist"
    return str(dist) if dist.is_dir() else ""


def _client_host(host: str) -> str:
    """The name a client on this machine uses for a listening address."""
    if host in ("127.0.0.1", "0.0.0.0", "::", "", "localhost", "::1"):
        return "localhost"
    return f"[{host}]" if ":" in host else host


def _probe_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "localhost") else ("::1" if host == "::" else host)


def service_env(
    stack: EmbeddedStack, *, host: str, port: int, ingest_port: int, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of the ingest and front-door children."""
    env = dict(os.environ if base is None else base)
    env.update(stack.service_env())
    public_ingest = "" if host in ("0.0.0.0", "::", "") else f"{_client_host(host)}:{ingest_port}"
    env.update(
        {
            "RUNYARD_INGEST_HOST": host,
            "RUNYARD_INGEST_PORT": str(ingest_port),
            "RUNYARD_HTTP_HOST": host,
            "RUNYARD_HTTP_PORT": str(port),
            "RUNYARD_PUBLIC_INGEST_ADDRESS": public_ingest,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if not env.get("RUNYARD_WEB_DIST"):
        env["RUNYARD_WEB_DIST"] = web_dist()
    return env


def _server_info_ready(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tcp_ready(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


class _Services:
    """The service children, stopped in reverse start order."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self._how: dict[str, tuple[str, Path, Mapping[str, str]]] = {}

    def start(self, name: str, command: str, log: Path, env: Mapping[str, str]) -> Child:
        child = spawn(name, [sys.executable, "-m", "runyard_server.cli", command], log, env=env)
        self.children.append(child)
        self._how[name] = (command, log, env)
        return child

    def restart(self, old: Child) -> Child:
        """Start a dead child again, in its place (the stop order stays the start order)."""
        command, log, env = self._how[old.name]
        child = spawn(old.name, [sys.executable, "-m", "runyard_server.cli", command], log, env=env)
        self.children[self.children.index(old)] = child
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.alive():
                child.stop(SERVICE_STOP_GRACE_S)

    def dead(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)


def run_local(args: argparse.Namespace) -> int:
    """Run the local stack in the foreground until Ctrl-C/SIGTERM (exit 0) or a service dies (exit 1)."""
    host: str = args.host
    port: int = args.port
    ingest_port: int = args.ingest_port
    data_dir = Path(args.data_dir or DEFAULT_DATA_DIR).expanduser().resolve()

    if port == ingest_port:
        return _fail(f"--port and --ingest-port are both {port}; choose two different ports")
    for number, flag in ((port, "--port"), (ingest_port, "--ingest-port")):
        try:
            taken = port_in_use(host, number)
        except OSError as exc:
            return _fail(f"cannot listen on {host}:{number} ({exc.strerror}); check --host")
        if taken:
            return _fail(f"port {number} is already in use (choose another with {flag})")

    # Signals only set this event: the start checks it between steps and while waiting, so no
    # exception lands in the middle of starting a child (which could leave one untracked).
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = EmbeddedStack(
        data_dir, host="127.0.0.1", progress=_say, exclude_ports=(port, ingest_port), cancel=stopping
    )
    services = _Services()
    atexit.register(services.stop)
    failed: Child | None = None
    try:
        _say(f"runyard-server local: data in {data_dir}")
        stack.start()
        _check(stopping)
        _say("applying migrations...")
        from ..common.migrate import apply_migrations

        applied = run_coro(apply_migrations(stack.database_url))
        if applied:
            _say(f"  applied {len(applied)} migration(s)")
        _check(stopping)
        env = service_env(stack, host=host, port=port, ingest_port=ingest_port)
        env.setdefault("RUNYARD_TENSORBOARD_CACHE_DIR", str(data_dir / "tensorboard-cache"))  # docs/tensorboard.md
        _sdk_wheels(env, data_dir)
        probe = _probe_host(host)
        _transfer_env(env, data_dir, f"http://{'[' + probe + ']' if ':' in probe else probe}:{port}")
        _say(f"starting ingest (gRPC on {host}:{ingest_port})...")
        ingest = services.start("ingest", "ingest", stack.log_path("ingest"), env)
        _say(f"starting front door (HTTP on {host}:{port})...")
        front = services.start("frontdoor", "frontdoor", stack.log_path("frontdoor"), env)
        _say("starting the copy-job worker...")
        services.start("transfer-worker", "transfer-worker", stack.log_path("transfer-worker"), env)
        wait_until(
            ingest,
            lambda: _tcp_ready(probe, ingest_port),
            timeout=SERVICE_READY_TIMEOUT_S,
            what=f"the ingest service ({probe}:{ingest_port})",
            interval=0.2,
            cancel=stopping,
        )
        info_url = f"http://{'[' + probe + ']' if ':' in probe else probe}:{port}/api/v1/server-info"
        wait_until(
            front,
            lambda: _server_info_ready(info_url),
            timeout=SERVICE_READY_TIMEOUT_S,
            what=f"the front door ({info_url})",
            interval=0.2,
            cancel=stopping,
        )
        _banner(host, port, ingest_port, data_dir, stack)
        if not getattr(args, "no_browser", False):
            open_browser(f"http://{_client_host(host)}:{port}")
        budget = RestartBudget(int(getattr(args, "max_restarts", RESTART_LIMIT)), RESTART_WINDOW_S)
        probes = {"ingest": lambda: _tcp_ready(probe, ingest_port), "frontdoor": lambda: _server_info_ready(info_url),
                  "transfer-worker": lambda: True}
        coming_back: set[str] = set()
        while not stopping.wait(0.5):
            for name in sorted(coming_back):
                if _answers(probes[name]):
                    coming_back.discard(name)
                    _say(f"{name} is back")
            dead = services.dead()
            if dead is None:
                continue
            count = budget.take(dead.name)
            if count is None:
                failed = dead
                break
            _report_death(dead)
            _say(f"restarting {dead.name} (restart {count} of at most {budget.limit} "
                 f"within {budget.window_s:.0f} s)...")
            services.restart(dead)
            coming_back.add(dead.name)
    except (Cancelled, KeyboardInterrupt):
        stopping.set()
    except StartupError as exc:
        _stop_all(services, stack, quiet=True)
        return _fail(str(exc))
    except Exception as exc:  # migrations and the like: one clear message, everything stopped
        _stop_all(services, stack, quiet=True)
        return _fail(f"could not start: {type(exc).__name__}: {exc}")
    finally:
        try:
            _stop_all(services, stack, quiet=failed is not None)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            atexit.unregister(services.stop)
    if failed is not None:
        print(f"runyard-server: {failed.describe_exit()}", file=sys.stderr)
        print(tail(failed.log_path, 20), file=sys.stderr, flush=True)
        print(f"runyard-server: {failed.name} died more than {getattr(args, 'max_restarts', RESTART_LIMIT)} "
              f"times within {RESTART_WINDOW_S:.0f} s; stopped everything", file=sys.stderr, flush=True)
        return 1
    _say("stopped")
    return 0


def _answers(probe: Callable[[], bool]) -> bool:
    try:
        return probe()
    except OSError:
        return False


def _report_death(child: Child) -> None:
    print(f"runyard-server: {child.describe_exit()}", file=sys.stderr)
    print(_indent_lines(tail(child.log_path, 10)), file=sys.stderr, flush=True)


def _indent_lines(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())

def _sdk_wheels(env: dict[str, str], data_dir: Path) -> None:
    """Serve the SDK at /pypi/simple/: wheels built from this source checkout into <data dir>/wheels
    (skipped when they are up to date, or when RUNYARD_SDK_WHEELS_DIR names another folder)."""
    if env.get("RUNYARD_SDK_WHEELS_DIR"):
        return
    from ..query.sdk_wheels import build_sdk_wheels, source_checkout

    if source_checkout() is None:
        _say("  SDK wheels: not served (no source checkout; set RUNYARD_SDK_WHEELS_DIR)")
        return
    folder = data_dir / "wheels"
    _say("building the SDK wheels served at /pypi/simple/...")
    try:
        build_sdk_wheels(folder)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        _say(f"  SDK wheels: not served ({exc})")
        return
    env["RUNYARD_SDK_WHEELS_DIR"] = str(folder)


def _transfer_env(env: dict[str, str], data_dir: Path, source_url: str) -> None:
    """Copy jobs (docs/transfer.md): the secret key that encrypts remote instances' keys (made once, mode
    0600, in the data folder), where the worker reaches this instance, and its journals."""
    from ..transfer_jobs.crypto import generate_key_file

    if not env.get("RUNYARD_SECRET_KEY") and not env.get("RUNYARD_SECRET_KEY_FILE"):
        env["RUNYARD_SECRET_KEY_FILE"] = str(generate_key_file(data_dir / "secret.key"))
    env.setdefault("RUNYARD_TRANSFER_SOURCE_URL", source_url)
    env.setdefault("RUNYARD_TRANSFER_STATE_DIR", str(data_dir / "transfers"))


def _check(stopping: threading.Event) -> None:
    if stopping.is_set():
        raise Cancelled("stop requested")


def _stop_all(services: _Services, stack: EmbeddedStack, *, quiet: bool) -> None:
    if any(c.alive() for c in services.children) or stack.pids():
        if not quiet:
            _say("stopping...")
    services.stop()
    stack.stop()


def open_browser(url: str) -> bool:
    """Open `url` in the desktop's browser when there is a desktop; never a console browser (it would
    take over the terminal), never on a headless machine or in CI. True when a browser was asked."""
    import webbrowser

    desktop = sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not desktop or os.environ.get("CI"):
        return False
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if isinstance(browser, webbrowser.GenericBrowser) and browser.name in ("www-browser", "links", "elinks", "lynx", "w3m"):
        return False
    try:
        return bool(browser.open(url, new=2))
    except Exception:
        return False


def _banner(host: str, port: int, ingest_port: int, data_dir: Path, stack: EmbeddedStack) -> None:
    url = f"http://{_client_host(host)}:{port}"
    lines = [
        "",
        f"Runyard is running at {url}",
        f"  gRPC ingest   {host}:{ingest_port}",
        f"  data folder   {data_dir}",
        f"  logs          {stack.logs_dir}",
        "",
        "The first visit asks for the admin account and then shows your API key. Then, for scripts:",
        f"  pip install --index-url {url}/pypi/simple --extra-index-url https://pypi.org/simple runyard",
        f"  runyard login --host {url} YOUR_API_KEY",
        f"  wandb login --host {url} YOUR_API_KEY     (the real wandb client works too)",
        "",
        "Press Ctrl-C to stop.",
    ]
    if host in ("0.0.0.0", "::"):
        lines.insert(2, f"  (listening on every interface: {host})")
    _say("\n".join(lines))
