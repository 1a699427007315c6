"""Drive real notebooks in a real JupyterLab from pytest.

``conftest.py`` turns these helpers into fixtures (a server and a browser per session, a fresh
browser context per test); tests call the helpers directly::

    nb = open_notebook(page, jupyter_server, ["w = MyWidget()\\nw"])
    nb.run_all()
    page.locator("button.my-widget").click()
    assert nb.eval("w.clicks") == 1

The page is only ever waited on through Playwright (``wait_for_function``, ``expect``), never slept
on. The notebook's state is read from ``window.jupyterapp`` (the server runs with
``expose_app_in_browser``), because Lab's own "idle" indicator shows before a kernel exists.
See shared/notes/BROWSER_TESTS.md for why each piece is the way it is.

Three parts, one module so that a test imports one thing: the server (start, stop, REST, the
websocket class below), the notebook in the page (open, run, restart, evaluate in the kernel),
and the page's log. Timeouts are in seconds throughout.

This module is also imported by the Jupyter server process, for
:class:`NoDelayKernelWebsocketConnection`; keep its top-level imports to what that process has.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:  # tests import `expect` from here: without Playwright, the fixtures skip them (or fail, in CI)
    from playwright.sync_api import expect
except ImportError:
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

# Debian's Chromium; elsewhere point HITL_CHROMIUM at a Chromium or Chrome binary.
CHROMIUM = os.environ.get("HITL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Any host but loopback fails at once instead of hanging on a DNS or CDN look-up.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

# Notebook 7 logs these two errors of its own on every load, even for a notebook holding `1+1`.
NOTEBOOK7_KNOWN_ERRORS = (
    re.compile(r"reading 'schema'"),
    re.compile(r"'filebrowser:open-path' not registered"),
)

# User settings written before the server starts; JupyterLab and Notebook 7 both read them.
USER_SETTINGS = {
    # A news or update toast would cover the page.
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    # Windowed notebooks detach cells outside the viewport; tests need every cell in the DOM.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}

NODELAY_LOG_MARK = "hitl-harness: kernel websocket TCP_NODELAY="


# --------------------------------------------------------------------------- server side

try:
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection,
    )
except ImportError:  # pragma: no cover - the tests skip without jupyterlab
    ZMQChannelsWebsocketConnection = None

if ZMQChannelsWebsocketConnection is not None:

    class NoDelayKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
        """The default kernel websocket, with Nagle's algorithm off.

        jupyter_server leaves TCP_NODELAY unset on kernel websockets and has no setting for it, so
        a small kernel message can wait ~40 ms for the browser's delayed ACK. Selected with
        ``--ServerApp.kernel_websocket_connection_class``.
        """

        def connect(self):
            self.websocket_handler.set_nodelay(True)
            stream = self.websocket_handler.ws_connection.stream
            value = stream.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            self.log.info("%s%d kernel=%s", NODELAY_LOG_MARK, value, self.kernel_id)
            return super().connect()


@dataclass
class JupyterServer:
    """A running JupyterLab server with all of its state in ``base_dir``."""

    process: subprocess.Popen
    url: str
    token: str
    base_dir: Path
    root_dir: Path
    runtime_dir: Path
    log_path: Path

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """Call the server's REST API; return the decoded JSON answer (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def page_url(self, path: str, frontend: str = "lab", workspace: str | None = None) -> str:
        """The URL that opens notebook ``path`` in ``frontend`` ("lab" or "notebook")."""
        quoted = urllib.parse.quote(path)
        if frontend == "lab":
            # A throw-away workspace, or Lab reopens whatever an earlier test left open.
            workspace = workspace or f"ws-{secrets.token_hex(6)}"
            return f"{self.url}/lab/workspaces/{workspace}/tree/{quoted}?token={self.token}"
        if frontend == "notebook":
            return f"{self.url}/notebooks/{quoted}?token={self.token}"
        raise ValueError(f"Unknown frontend {frontend!r}; expected 'lab' or 'notebook'")

    def log_tail(self, lines: int = 200) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def nodelay_values(self) -> list[int]:
        """TCP_NODELAY as read back on each kernel websocket opened so far."""
        text = self.log_path.read_text(errors="replace")
        return [int(m) for m in re.findall(re.escape(NODELAY_LOG_MARK) + r"(\d+)", text)]


def _write_user_settings(settings_dir: Path) -> None:
    for plugin, values in USER_SETTINGS.items():
        target = settings_dir / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values, indent=2))


def start_server(base_dir: Path, *, nodelay: bool = True, timeout: float = 60) -> JupyterServer:
    """Start JupyterLab on a free loopback port, with config, data and settings under ``base_dir``.

    The server runs in its own process session, so :func:`stop_server` can end it and everything
    it started without touching any other process. ``nodelay=False`` keeps jupyter_server's own
    kernel websocket (Nagle on), as users have it: for latency benchmarks.
    """
    dirs = {
        name: base_dir / name
        for name in ("root", "config", "data", "runtime", "settings", "workspaces", "ipython")
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    _write_user_settings(dirs["settings"])

    env = dict(os.environ)
    for var in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):  # a developer's own Jupyter set-up
        env.pop(var, None)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        # The checkout under test comes first for the kernel (not whatever an editable install
        # points at); this directory is there for the server's websocket class.
        PYTHONPATH=os.pathsep.join(
            [str(REPO_ROOT), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    token = secrets.token_hex(24)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={dirs['root']}",
        f"--IdentityProvider.token={token}",
        # If pytest is killed outright, the server still goes away on its own.
        "--ServerApp.shutdown_no_activity_timeout=900",
        "--MappingKernelManager.cull_idle_timeout=900",
        "--MappingKernelManager.cull_interval=60",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",
    ]
    if nodelay:
        cmd.append(
            "--ServerApp.kernel_websocket_connection_class=harness.NoDelayKernelWebsocketConnection"
        )
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = base_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd,
            cwd=dirs["root"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = JupyterServer(
        process=process,
        url="",
        token=token,
        base_dir=base_dir,
        root_dir=dirs["root"],
        runtime_dir=dirs["runtime"],
        log_path=log_path,
    )
    try:
        server.url = _wait_until_serving(server, timeout)
    except BaseException:
        stop_server(server)
        raise
    return server


def _wait_until_serving(server: JupyterServer, timeout: float) -> str:
    """Read the real port from ``jpserver-<pid>.json``, then poll ``/api/status``."""
    info_file = server.runtime_dir / f"jpserver-{server.process.pid}.json"
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {server.process.returncode} before serving; "
                f"its log ends:\n{server.log_tail(40)}"
            )
        if url is None and info_file.exists():
            try:
                url = f"http://127.0.0.1:{json.loads(info_file.read_text())['port']}"
            except (ValueError, KeyError):  # written but not yet complete
                pass
        if url is not None:
            server.url = url
            try:
                server.api("GET", "/api/status", timeout=2)
                return url
            except OSError:
                pass
        time.sleep(0.05)  # polling a process that is starting; no page is involved
    raise TimeoutError(
        f"JupyterLab did not serve within {timeout} s; its log ends:\n{server.log_tail(40)}"
    )


def stop_server(server: JupyterServer, timeout: float = 15) -> None:
    """REST shutdown, then SIGTERM and SIGKILL to the server's own process group only."""
    process = server.process
    if process.poll() is None and server.url:
        try:
            server.api("POST", "/api/shutdown", timeout=5)
        except OSError:
            pass
    for sig, wait in ((None, timeout), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if sig is not None:
            try:
                os.killpg(process.pid, sig)  # start_new_session: pgid == pid
            except ProcessLookupError:
                pass
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------------- notebooks


def write_notebook(server: JupyterServer, cells: list[str], name: str | None = None) -> str:
    """Write code ``cells`` as a new notebook in the server root; return its path there."""
    import nbformat

    name = name or f"nb-{secrets.token_hex(6)}"
    path = f"{name}.ipynb"
    nb = nbformat.v4.new_notebook()
    # Without a kernelspec, the front-end may ask which kernel to start.
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, server.root_dir / path)
    return path


# The notebook panel showing `path` (or the current one when path is null).
_FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  if (path === null) {
    const w = app.shell.currentWidget;
    return w && w.sessionContext && w.content ? w : null;
  }
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.sessionContext) return w;
  }
  return null;
}
"""

_READY_STATE = f"""
(path) => {{
  const panel = ({_FIND_PANEL})(path);
  if (!panel) return 'no notebook panel yet';
  if (!panel.context.isReady) return 'document not loaded';
  const sc = panel.sessionContext;
  if (!sc.isReady) return 'session not ready';
  const kernel = sc.session && sc.session.kernel;
  if (!kernel) return 'no kernel';
  if (kernel.connectionStatus !== 'connected') return 'kernel ' + kernel.connectionStatus;
  if (kernel.status !== 'idle') return 'kernel ' + kernel.status;
  const nb = panel.content;
  if (!nb.model || nb.widgets.length !== nb.model.cells.length) return 'cells not created';
  const detached = nb.widgets.filter((c) => !c.isAttached || !c.node.isConnected).length;
  if (detached) return detached + ' cells not attached';
  return 'ready';
}}
"""


def wait_until_ready(page: Page, path: str | None = None, timeout: float = 60) -> None:
    """Wait until the notebook's session is ready, its kernel connected and idle, cells attached.

    ``timeout`` is in seconds, as everywhere in this module (Playwright's own are milliseconds).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            f"(path) => ({_READY_STATE})(path) === 'ready'", arg=path, timeout=timeout * 1000
        )
    except PlaywrightTimeout:
        state = page.evaluate(_READY_STATE, path)
        raise TimeoutError(
            f"Notebook {path or '(current)'} not ready after {timeout:.0f} s: {state}"
        ) from None


@dataclass
class NotebookHandle:
    """A notebook open in a page; the module's helpers, bound to it."""

    page: Page
    server: JupyterServer
    path: str
    frontend: str

    def run_all(self, raise_on_error: bool = True) -> None:
        run_all(self.page, self.path, raise_on_error=raise_on_error)

    def restart_kernel(self) -> None:
        restart_kernel(self.page, self.path)

    @property
    def kernel_id(self) -> str:
        return kernel_id(self.page, self.path)

    def eval(self, expr: str, timeout: float = 10) -> Any:
        return eval_in_kernel(self.server, self.kernel_id, expr, timeout=timeout)


def open_notebook(
    page: Page,
    server: JupyterServer,
    cells: list[str],
    *,
    frontend: str = "lab",
    name: str | None = None,
    timeout: float = 60,
) -> NotebookHandle:
    """Write ``cells`` into a new notebook, open it in ``frontend`` and wait until it is usable.

    ``frontend`` is ``"lab"`` (JupyterLab, in a throw-away workspace) or ``"notebook"``
    (Notebook 7). Nothing is run: call :func:`run_all`.
    """
    path = write_notebook(server, cells, name)
    if frontend == "notebook":
        log = getattr(page, "_hitl_log", None)
        if log is not None:
            log.allow(*NOTEBOOK7_KNOWN_ERRORS)
    page.goto(server.page_url(path, frontend))
    wait_until_ready(page, path, timeout)
    return NotebookHandle(page=page, server=server, path=path, frontend=frontend)


class CellError(AssertionError):
    """A cell raised while running; the message carries the exception and the cell's source."""


def run_all(page: Page, path: str | None = None, *, raise_on_error: bool = True) -> None:
    """Run every cell with ``notebook:run-all-cells``; wait for the replies and an idle kernel.

    Outputs that arrive on IOPub after the reply (a widget's view) may still be rendering: wait
    for them with ``expect``. With ``raise_on_error``, an error output raises :class:`CellError`.
    """
    errors = page.evaluate(
        f"""
        async (path) => {{
          const panel = ({_FIND_PANEL})(path);
          window.jupyterapp.shell.activateById(panel.id);
          await window.jupyterapp.commands.execute('notebook:run-all-cells');
          const errors = [];
          const cells = panel.content.model.cells;
          for (let i = 0; i < cells.length; i++) {{
            const cell = cells.get(i);
            if (cell.type !== 'code') continue;
            for (const out of cell.outputs.toJSON()) {{
              if (out.output_type === 'error') {{
                errors.push({{index: i, source: cell.sharedModel.getSource(),
                              ename: out.ename, evalue: out.evalue}});
              }}
            }}
          }}
          return errors;
        }}
        """,
        path,
    )
    wait_until_ready(page, path)
    if errors and raise_on_error:
        first = errors[0]
        raise CellError(
            f"cell {first['index']} raised {first['ename']}: {first['evalue']}\n"
            f"--- its source ---\n{first['source']}"
        )


def restart_kernel(page: Page, path: str | None = None) -> None:
    """Restart the notebook's kernel as the page's own client does, minus the dialog; wait idle.

    The page's kernel connection marks itself "restarting" before the request goes out, so the
    wait that follows cannot be satisfied by the idle state from before the restart.
    """
    page.evaluate(
        f"""
        async (path) => {{
          const panel = ({_FIND_PANEL})(path);
          await panel.sessionContext.session.kernel.restart();
        }}
        """,
        path,
    )
    wait_until_ready(page, path)


def kernel_id(page: Page, path: str | None = None) -> str:
    """The id of the kernel behind the notebook in ``page``."""
    return page.evaluate(f"(path) => ({_FIND_PANEL})(path).sessionContext.session.kernel.id", path)


class KernelEvalError(Exception):
    """The expression raised in the kernel."""


def eval_in_kernel(server: JupyterServer, kernel_id: str, expr: str, timeout: float = 10) -> Any:
    """Evaluate ``expr`` in the kernel's namespace, without touching the page; return its value.

    The value travels as JSON, so it must be JSON-serialisable (use ``repr(...)`` otherwise).
    Uses a second client on the kernel's connection file with ``user_expressions``: nothing is
    added to the notebook or the kernel's history.
    """
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(
        connection_file=str(server.runtime_dir / f"kernel-{kernel_id}.json")
    )
    client.load_connection_file()
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = client.execute(
            "",
            silent=True,
            store_history=False,
            user_expressions={"value": f"__import__('json').dumps({expr})"},
        )
        deadline = time.monotonic() + timeout
        while True:
            reply = client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
    finally:
        client.stop_channels()
    result = reply["content"]["user_expressions"]["value"]
    if result["status"] != "ok":
        raise KernelEvalError(f"{expr!r} raised {result['ename']}: {result['evalue']}")
    return json.loads(ast.literal_eval(result["data"]["text/plain"]))


# --------------------------------------------------------------------------- the page's log


@dataclass
class PageLog:
    """Console messages and uncaught errors of one page; errors not allowed fail the test."""

    entries: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page._hitl_log = self  # open_notebook adds a front-end's known errors here
        page.on("console", self._on_console)
        page.on("pageerror", self._on_pageerror)
        page.on("requestfailed", self._on_requestfailed)

    def allow(self, *patterns: re.Pattern) -> None:
        self.allowed.extend(patterns)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def _on_console(self, msg) -> None:
        location = msg.location or {}
        where = f" ({location.get('url', '')}:{location.get('lineNumber', '')})" if location else ""
        line = f"console.{msg.type}: {msg.text}{where}"
        self.entries.append(line)
        if msg.type == "error":
            self.errors.append(line)

    def _on_pageerror(self, error) -> None:
        line = f"pageerror: {error}"
        self.entries.append(line)
        self.errors.append(line)

    def _on_requestfailed(self, request) -> None:
        self.entries.append(f"requestfailed: {request.method} {request.url} {request.failure}")
