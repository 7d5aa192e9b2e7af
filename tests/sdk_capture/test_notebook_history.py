"""Session history recorded inside a real Jupyter kernel (jupyter_client), no server needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
nbformat = pytest.importorskip("nbformat")


@pytest.fixture()
def kernel() -> Iterator[Any]:
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc: Any, code: str) -> dict[str, Any]:
    reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
    return reply["content"]


def test_every_executed_cell_is_recorded_in_order_with_outputs(kernel: Any) -> None:
    run(kernel, "import runyard.capture.notebook as nb\nhist = nb.SessionHistory.install()")
    run(kernel, "units = 64\nprint('dense', units)")
    run(kernel, "units = 128\nprint('dense', units)")
    run(kernel, "units * 2")
    run(kernel, "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))")
    assert run(kernel, "1 / 0")["status"] == "error"
    captured: list[dict[str, Any]] = []
    reply = kernel.execute_interactive(
        "import json\nprint(json.dumps(hist.to_notebook()))", timeout=60,
        output_hook=lambda msg: captured.append(msg),
    )
    assert reply["content"]["status"] == "ok"
    text = "".join(m["content"].get("text", "") for m in captured if m["msg_type"] == "stream")
    notebook = json.loads(text)
    nbformat.validate(nbformat.from_dict(notebook))

    sources = [c["source"] for c in notebook["cells"]]
    assert sources[1:6] == [
        "units = 64\nprint('dense', units)",
        "units = 128\nprint('dense', units)",
        "units * 2",
        "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))",
        "1 / 0",
    ]
    cells = notebook["cells"]
    counts = [c["execution_count"] for c in cells[:6]]
    assert counts == sorted(counts) and len(set(counts)) == 6
    assert cells[1]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "dense 64\n"}]
    assert cells[2]["outputs"][0]["text"] == "dense 128\n"
    assert cells[3]["outputs"][0]["data"]["text/plain"] == "256"
    assert cells[4]["outputs"][0]["data"]["text/html"] == "<b>hi</b>"
    assert cells[5]["outputs"][0]["ename"] == "ZeroDivisionError"
