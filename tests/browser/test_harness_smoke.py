"""The harness itself, proven on a tiny inline anywidget: clicks in the page reach the kernel."""

from __future__ import annotations

import sys

import pytest
from harness import KernelEvalError, eval_in_kernel, expect, kernel_id, open_notebook, run_all

CLICKER_CELL = '''
import anywidget
import traitlets


class Clicker(anywidget.AnyWidget):
    _esm = """
    export default {
      render({ model, el }) {
        const button = document.createElement("button");
        button.className = "smoke-clicker";
        const draw = () => { button.textContent = `count: ${model.get("count")}`; };
        const click = () => model.send({ type: "click" });
        button.addEventListener("click", click);
        model.on("change:count", draw);
        draw();
        el.appendChild(button);
        return () => {
          model.off("change:count", draw);
          button.removeEventListener("click", click);
        };
      },
    };
    """
    count = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._on_msg)

    def _on_msg(self, widget, content, buffers):
        if content.get("type") == "click":
            self.count += 1


w = Clicker()
w
'''


@pytest.mark.parametrize("frontend", ["lab", "notebook"])
def test_clicks_on_an_anywidget_reach_the_kernel(page, jupyter_server, frontend):
    nb = open_notebook(page, jupyter_server, [CLICKER_CELL], frontend=frontend)
    nb.run_all()
    button = page.locator("button.smoke-clicker")
    expect(button).to_have_text("count: 0")

    for _ in range(3):
        button.click()

    expect(button).to_have_text("count: 3")
    assert nb.eval("w.count") == 3


def test_kernel_runs_the_test_interpreter_with_nodelay_websocket(page, jupyter_server):
    open_notebook(page, jupyter_server, ["import sys"])
    run_all(page)
    kid = kernel_id(page)
    assert eval_in_kernel(jupyter_server, kid, "sys.executable") == sys.executable
    assert jupyter_server.nodelay_values() and set(jupyter_server.nodelay_values()) == {1}


def test_restart_kernel_forgets_state_and_widgets_render_again(page, jupyter_server):
    nb = open_notebook(page, jupyter_server, [CLICKER_CELL])
    nb.run_all()
    page.locator("button.smoke-clicker").click()
    expect(page.locator("button.smoke-clicker")).to_have_text("count: 1")
    before = nb.kernel_id

    nb.restart_kernel()

    assert nb.kernel_id == before
    with pytest.raises(KernelEvalError, match="NameError"):
        nb.eval("w.count")
    nb.run_all()
    expect(page.locator("button.smoke-clicker")).to_have_text("count: 0")
    assert nb.eval("w.count") == 0
