"""Fixtures for browser tests: one JupyterLab server and one headless Chromium per session,
a fresh browser context (``page``) per test.

Every test in this directory is marked ``browser``; ``pytest -m "not browser"`` leaves them out.
Without Chromium or Playwright they are skipped, except under ``CI=true``, where they fail:
CI must run them.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # any import mode finds `harness`
import harness  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NAVIGATION_TIMEOUT_MS = 60_000
ACTION_TIMEOUT_MS = 15_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives a real JupyterLab in headless Chromium (tests/browser)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    in_browser = {id(item) for item in items if here in Path(item.fspath).resolve().parents}
    for item in items:
        if id(item) in in_browser:
            item.add_marker(pytest.mark.browser)
    # Browser tests last: Playwright's sync API keeps an asyncio loop marked as running on the
    # main thread while the session's browser lives, and engine tests that look for a running
    # loop (to hand results to it, as in a kernel) would find that one.
    items.sort(key=lambda item: id(item) in in_browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # Let fixtures see how their test went, to keep artifacts of failures only.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _process_tracker():
    """Processes this session started; at the end, fail if any of them is still alive."""
    tracked: list[psutil.Process] = []
    yield tracked
    left = {}
    for proc in tracked:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left[proc.pid] = f"{proc.pid} {' '.join(proc.cmdline()[:3])}"
                proc.kill()  # only ever our own children, matched by pid and start time
        except psutil.Error:
            pass
    if left:
        pytest.fail(
            "processes left behind by the browser tests (now killed): " + "; ".join(left.values()),
            pytrace=False,
        )


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory, _process_tracker):
    """A JupyterLab server on a free loopback port, its state in a temporary directory."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _unavailable("jupyterlab is not installed")
    server = harness.start_server(tmp_path_factory.mktemp("jupyter"))
    yield server
    # Kernels are the server's children; note them all before it goes.
    _process_tracker.extend(_descendants(server.process.pid))
    harness.stop_server(server)


@pytest.fixture(scope="session")
def browser(_process_tracker):
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`)."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not os.access(harness.CHROMIUM, os.X_OK):
        _unavailable(f"{harness.CHROMIUM} not found (apt-get install chromium)")
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    before = {p.pid for p in psutil.Process().children()}
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS
        )
    except BaseException:
        playwright.stop()
        raise
    # Playwright's driver (and Chromium below it): started now, so other tests' worker
    # processes (joblib, multiprocessing) are not mistaken for the browser's.
    roots = [p for p in psutil.Process().children() if p.pid not in before]
    yield browser
    _process_tracker.extend(p for root in roots for p in _descendants(root.pid))
    browser.close()
    playwright.stop()


@pytest.fixture
def page(request, browser, jupyter_server):
    """A page in a fresh browser context. Its console and page errors are recorded; an error not
    allowed (see ``harness.NOTEBOOK7_KNOWN_ERRORS``) fails the test. On failure, a screenshot,
    the page's log and the server's log tail go to tests/browser/artifacts/<test>/."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    page = context.new_page()
    log = harness.PageLog()
    log.attach(page)
    sessions_before = {s["id"] for s in jupyter_server.api("GET", "/api/sessions")}
    yield page

    report = getattr(request.node, "rep_call", None)
    failed = report is None or report.failed
    unexpected = log.unexpected_errors()
    if failed or unexpected:
        _save_artifacts(request.node, page, log, jupyter_server)
    context.close()
    # Shut down the kernels this test started: two cores, and later tests want them.
    for session in jupyter_server.api("GET", "/api/sessions"):
        if session["id"] not in sessions_before:
            jupyter_server.api("DELETE", f"/api/sessions/{session['id']}")
    if unexpected and not failed:
        pytest.fail(
            "the page logged errors:\n  "
            + "\n  ".join(unexpected)
            + f"\n(artifacts in {_artifact_dir(request.node)})",
            pytrace=False,
        )


def _artifact_dir(node: pytest.Item) -> Path:
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", node.nodeid).strip("_")


def _save_artifacts(node, page, log: harness.PageLog, server: harness.JupyterServer) -> None:
    target = _artifact_dir(node)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        page.screenshot(path=str(target / "screenshot.png"), full_page=True)
    except Exception as exc:  # a crashed page must not hide the test's own failure
        (target / "screenshot-failed.txt").write_text(repr(exc))
    (target / "console.txt").write_text("\n".join(log.entries) + "\n")
    (target / "server-log-tail.txt").write_text(server.log_tail(300) + "\n")
