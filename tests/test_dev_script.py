"""`./dev demo`, the README's first command, starts JupyterLab on the quickstart, quietly.

It runs the real script from this checkout (whose set-up ``./dev test`` already did, so this
only re-checks it), as whoever runs the tests: as root, Jupyter needs ``--allow-root``, which the
script must add itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_dev_demo_starts_jupyterlab_on_the_quickstart_and_names_the_torch_build(tmp_path):
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["./dev", "demo", "--no-browser", "--ServerApp.port=0", "--ServerApp.token=t0k"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = _wait_for_url(proc, log)
        with urllib.request.urlopen(f"{url}api/contents/01_quickstart.ipynb?token=t0k&content=0",
                                    timeout=30) as resp:
            assert json.load(resp)["type"] == "notebook"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert re.search(r"==> torch: \d+\.\d+\.\d+\S* \((CPU|CUDA [\d.]+) build\)", text), text[:2000]
    assert "allow-root" not in text.replace("--allow-root", "")  # no "running as root" refusal
    # Quiet: no tool's failure dumped as pages of minified JavaScript.
    assert "yarn" not in text.lower(), text[:2000]
    assert "Node.js v" not in text, text[:2000]  # a Node stack trace ends with Node's version
    assert max(map(len, text.splitlines())) < 1000


def _wait_for_url(proc: subprocess.Popen, log: Path, limit_s: float = 300) -> str:
    # The set-up may reinstall the package first; the server prints its URL when it is up.
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        match = re.search(r"(http://127\.0\.0\.1:\d+/)lab", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        if proc.poll() is not None:
            pytest.fail(f"./dev demo exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"./dev demo printed no URL in {limit_s} s:\n{log.read_text()[-3000:]}")
