"""The attention explorer as a clinician sees it: served by Voilà, driven in headless Chromium (Playwright).

Needs Debian's chromium (`make browser`); skipped with that message when /usr/bin/chromium is missing.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import papermill
import pytest
from explorer_fixture import build_outputs, write_video
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "attention_explorer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 60_000  # every wait in the browser is bounded by this

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, server: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Returns once the server answers `url` (any HTTP status); fails with its output when it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"voila exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"voila did not answer {url} within {timeout} s")


@pytest.fixture
def served_explorer(tmp_path):
    """Voilà serving the explorer notebook (fixture parameters) over a fake outputs tree; yields its URL."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed: run `make browser` (apt-get install chromium) for the browser test")
    notebook = tmp_path / NOTEBOOK.name  # the notebook as papermill prepares it (the clip spec is the models')
    papermill.execute_notebook(str(NOTEBOOK), str(notebook), parameters={}, prepare_only=True, progress_bar=False)
    defaults = {name: info["default"].strip("\"'") for name, info in papermill.inspect_notebook(str(NOTEBOOK)).items()}
    build_outputs(tmp_path / "outputs", profile=defaults["profile"], setting=defaults["setting"])
    port = free_port()
    env = {**os.environ, "PDLIB_OUTPUTS": str(tmp_path / "outputs"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path / "voila.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_server(url + "voila/static/", server, log)  # a 404 of the static files: starts no kernel
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_voila_page_shows_attention_and_reacts_to_the_head(served_explorer, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(served_explorer, wait_until="domcontentloaded")
            heatmap = page.locator("img.pdlib-attention-matrix")
            page.wait_for_function(
                "() => { const i = document.querySelector('img.pdlib-attention-matrix');"
                " return i && i.complete && i.naturalWidth > 0; }")
            assert "probability of severe" in page.locator(".pdlib-explorer").inner_text()
            before = heatmap.screenshot(path=str(tmp_path / "heatmap_mean_of_heads.png"))
            old_src = heatmap.get_attribute("src")
            page.locator(".pdlib-head select").select_option(label="head 1")
            page.wait_for_function(
                "(old) => { const i = document.querySelector('img.pdlib-attention-matrix');"
                " return i.src !== old && i.complete && i.naturalWidth > 0; }", arg=old_src)
            after = heatmap.screenshot(path=str(tmp_path / "heatmap_head_1.png"))
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            scored = score_in_the_browser(page, tmp_path)
        finally:
            browser.close()
    a, b = pixels(before), pixels(after)
    assert a.shape == b.shape
    changed = np.abs(a - b).max(axis=-1) > 30
    assert changed.mean() > 0.01, f"the heatmap hardly changed ({changed.mean():.4f} of its pixels)"
    assert scored["mistake"] == f"{tmp_path / 'nothing.mp4'} cannot be scored: missing file"
    assert "3.4 finger tapping" in scored["result"] and "call: " in scored["result"]
    p_severe = float(scored["result"].split("P(severe) = ")[1].split()[0])
    assert 0.0 <= p_severe <= 1.0
    strip = pixels(scored["filmstrip"])
    assert strip.shape[1] > 400 and strip.std() > 10, "the scored video's attention filmstrip is blank"


def score_in_the_browser(page, tmp_path: Path) -> dict:
    """The "Score a video" tab as a user drives it: a path that does not exist (the error is shown, no
    traceback), then a video no model saw; returns the two result texts and the filmstrip's PNG."""
    new = tmp_path / "new_patient" / "finger_R.mp4"
    write_video(new, seed=99)
    page.get_by_role("tab", name="Score a video").click()
    box, button = page.locator(".pdlib-score-path input"), page.locator("button.pdlib-score-button")
    result = page.locator(".pdlib-score-result")
    box.fill(str(tmp_path / "nothing.mp4"))
    box.press("Enter")
    button.click()
    result.get_by_text("cannot be scored").wait_for()
    mistake = result.inner_text().strip()
    box.fill(str(new))
    box.press("Enter")
    button.click()
    result.get_by_text("P(severe)").wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pdlib-explorer img')].some(i => i.offsetParent !== null"
        " && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 400)")
    strip = page.locator(".pdlib-explorer img:visible").last
    page.screenshot(path=str(tmp_path / "score_tab.png"), full_page=True)
    return {"mistake": mistake, "result": result.inner_text(), "filmstrip": strip.screenshot()}
