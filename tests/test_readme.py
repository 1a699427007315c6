"""Every Python block of the README runs, in order, in a real kernel, as a new user pastes it.

Each fenced ``python`` block becomes one notebook cell, executed top to bottom in a fresh kernel
in a scratch folder (project files land there, not in the checkout). A block must define what
it uses, so a block that leans on an undefined name, a data set the install does not bring, or a
``...`` placeholder fails here before a user meets it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

README = Path(__file__).parent.parent / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
WIDGET = "application/vnd.jupyter.widget-view+json"


def readme_blocks(text: str) -> list[str]:
    """The README's ``python`` blocks, in order.

    >>> readme_blocks("intro\\n```python\\nx = 1\\n```\\n```bash\\nls\\n```\\n")
    ['x = 1\\n']
    """
    return FENCE.findall(text)


def test_readme_has_blocks():
    assert len(readme_blocks(README.read_text(encoding="utf-8"))) >= 4


@pytest.mark.slow
def test_every_readme_block_runs_in_a_fresh_kernel(tmp_path):
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(b) for b in blocks])
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    for k, cell in enumerate(nb.cells):
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, f"README block {k + 1} raised {errors[0]['ename']}: {errors[0]['evalue']}"
        stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        # A widget message that cannot be serialised (NaN, inf) is logged, not raised.
        assert "serialization failed" not in stderr.lower(), f"README block {k + 1}: {stderr}"

    # A block whose last line is a widget shows it; one that shows nothing is a lie in the README.
    for k, (block, cell) in enumerate(zip(blocks, nb.cells, strict=True)):
        last = block.strip().splitlines()[-1]
        if re.match(r"(hw\.)?(Labeler|LFStudio|Dashboard|live_plots)\(|(studio|dash)$", last):
            shown = [o for o in cell.outputs if WIDGET in o.get("data", {})]
            assert shown, f"README block {k + 1} ends with a widget but displayed none"
    # Nothing non-finite travelled as text into an output either.
    text = json.dumps([c.outputs for c in nb.cells])
    assert '"nan"' not in text.lower()
