"""End-to-end tests: the real server on 127.0.0.1 and the three pages in headless Chromium.

Needs Playwright for Python and a Chromium binary (Debian's ``chromium`` package at
/usr/bin/chromium, or the path in ``NNSCRATCH_CHROMIUM``); the tests skip with a reason when
either is missing. Screenshots go to tests/web/screenshots/; with
``NNSCRATCH_UPDATE_SCREENSHOTS=1`` one per page is also copied to docs/img/ for the README.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nnscratch.web import Settings, missing_web_dependencies

HERE = Path(__file__).resolve().parent
SHOTS = HERE / "screenshots"
DOCS_IMG = HERE.parents[1] / "docs" / "img"
CHROMIUM = os.environ.get("NNSCRATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _publish(path: Path, docs_name: str) -> None:
    """Copy a screenshot to docs/img/ as a 256-colour PNG: it looks the same (a page has few
    colours) at a third of the bytes, which keeps the repository and the sdist small."""
    from PIL import Image

    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(DOCS_IMG / docs_name, optimize=True)


def _shot(page: Any, name: str, docs_name: str | None = None) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs_name and os.environ.get("NNSCRATCH_UPDATE_SCREENSHOTS") == "1":
        _publish(path, docs_name)
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    missing = missing_web_dependencies()
    if missing:
        pytest.skip(f"the playground's packages are missing ({', '.join(missing)})")
    from nnscratch.web import start_server

    with start_server(host="127.0.0.1", port=0, settings=Settings()) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NNSCRATCH_CHROMIUM)"
        )
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
        yield instance
        instance.close()


def _unexpected(message: Any) -> bool:
    """Console errors other than Chromium's note about a refused (4xx) API request."""
    return message.type == "error" and "responded with a status of 4" not in message.text


@pytest.fixture
def page(browser: Any, server: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True, bypass_csp=True
    )
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if _unexpected(msg) else None)
    yield tab
    context.close()
    assert not errors, f"the page reported errors: {errors}"


# Playwright evaluates its wait conditions with eval(), which the pages' Content-Security-Policy
# forbids; the test contexts bypass the CSP (the pages themselves never need eval).


def _open(page: Any, server: Any, path: str) -> None:
    page.goto(server.url + path.lstrip("/"))
    page.wait_for_selector("body[data-ready=true]")


HEATMAP_SAMPLE = """() => {
  const c = document.querySelector('#heatmap');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const out = [];
  for (let i = 0; i < d.length; i += 4 * 97) out.push(d[i], d[i + 1], d[i + 2]);
  return out;
}"""


def test_spirals_train_live_test_loss_falls_and_heatmap_changes(page: Any, server: Any) -> None:
    _open(page, server, "/")
    page.wait_for_function("window.__playground.heat !== null && window.__playground.data !== null")
    assert page.input_value("#dataset") == "spirals"
    before = page.evaluate(HEATMAP_SAMPLE)
    first_loss = page.evaluate("window.__playground.history[0].test_loss")
    page.click("#play")
    page.wait_for_function("window.__playground.metrics.epoch >= 60", timeout=60_000)
    page.click("#play")
    page.wait_for_function("window.__playground.playing === false")
    history = page.evaluate("window.__playground.history")
    assert history[0]["epoch"] == 0
    assert history[-1]["test_loss"] < 0.5 * first_loss
    after = page.evaluate(HEATMAP_SAMPLE)
    changed = sum(abs(a - b) > 12 for a, b in zip(before, after, strict=True)) / len(before)
    assert changed > 0.1, f"only {changed:.1%} of the sampled heatmap pixels changed"
    assert page.locator("#neurons canvas").count() == 32
    assert page.text_content("#epoch") == str(history[-1]["epoch"])
    _shot(page, "playground", "playground-2d.png")


def test_learning_rate_changes_mid_run_without_reset(page: Any, server: Any) -> None:
    _open(page, server, "/")
    page.click("#play")
    page.wait_for_function("window.__playground.metrics.epoch >= 10", timeout=60_000)
    page.fill("#learning_rate", "0.05")
    page.dispatch_event("#learning_rate", "change")
    page.wait_for_function("window.__playground.metrics.learning_rate === 0.05")
    at_change = page.evaluate("window.__playground.metrics.epoch")
    page.wait_for_function(f"window.__playground.metrics.epoch >= {at_change + 10}", timeout=60_000)
    epochs = [p["epoch"] for p in page.evaluate("window.__playground.history")]
    assert epochs == list(range(len(epochs))), "the run was reset instead of continuing"
    # an invalid value is refused by the server, shown next to the field and reverted
    page.fill("#learning_rate", "-1")
    page.dispatch_event("#learning_rate", "change")
    error = page.locator('.field-error[data-for="learning_rate"]')
    error.wait_for(state="visible")
    assert "learning_rate" in error.text_content()
    page.wait_for_function("document.querySelector('#learning_rate').value === '0.05'")
    page.click("#play")
    page.wait_for_function("window.__playground.playing === false")


def test_architecture_change_and_model_download(page: Any, server: Any, tmp_path: Path) -> None:
    import nnscratch as nn

    _open(page, server, "/")
    page.select_option("#dataset", "xor")
    page.wait_for_function("window.__playground.config.dataset === 'xor'")
    page.click("#add-layer")
    page.wait_for_function("window.__playground.config.hidden.length === 3")
    page.click("#step")
    page.wait_for_function("window.__playground.metrics.epoch === 1")
    with page.expect_download() as download:
        page.click("#download")
    path = tmp_path / "model.npz"
    download.value.save_as(path)
    model = nn.Model.load(path)
    assert model.epoch == 1
    assert model.network.input_dim == 2 and model.network.output_dim == 2
    # a preset sets everything at once
    page.select_option("#preset", index=3)  # circles
    page.wait_for_function("window.__playground.config.dataset === 'circles'")
    assert page.input_value("#optimizer") == "momentum"
    # the user's own CSV
    rows = "\n".join(f"{i % 7 - 3},{i % 5 - 2},{'ab'[i % 2]}" for i in range(40))
    page.set_input_files(
        "#csv", files=[{"name": "mine.csv", "mimeType": "text/csv", "buffer": rows.encode()}]
    )
    page.wait_for_function("window.__playground.config.dataset === 'upload'")
    page.wait_for_function("window.__playground.data.upload_name === 'mine.csv'")
    assert "class b" in page.text_content("#legend")
    page.set_input_files(
        "#csv", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": b"1,2\n"}]
    )
    error = page.locator('.field-error[data-for="file"]')
    error.wait_for(state="visible")
    assert "line 1" in error.text_content()


def test_draw_a_digit_and_get_a_prediction(page: Any, server: Any, tmp_path: Path) -> None:
    _open(page, server, "/digits")
    page.click("#step")
    page.wait_for_function("window.__digits.metrics.epoch >= 1")
    page.click("#step")
    page.wait_for_function("window.__digits.metrics.epoch >= 2")
    box = page.locator("#draw").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.18
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 25):
        page.mouse.move(x + i * 0.3, y + i * box["height"] * 0.027)
        page.wait_for_timeout(15)
    page.mouse.up()
    page.wait_for_function("window.__digits.prediction && !window.__digits.prediction.blank")
    page.wait_for_function("window.__digits.predictions >= 2")  # it updated while drawing
    prediction = page.evaluate("window.__digits.prediction")
    assert prediction["digit"] == 1, prediction["probabilities"]
    assert abs(sum(prediction["probabilities"]) - 1) < 1e-3
    assert page.text_content("#digit") == "1"
    assert page.locator("#inside canvas").count() == 2  # the hidden layer and the output
    assert page.locator("#grads tbody tr").count() == 2
    _shot(page, "digits", "playground-digits.png")
    # the same drawing through a saved model uploaded from a file
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "digits.npz"
    download.value.save_as(saved)
    page.click("#reset")
    page.wait_for_function("window.__digits.metrics.epoch === 0")
    page.set_input_files("#model-file", str(saved))
    page.wait_for_function("window.__digits.metrics.model_source.startsWith('uploaded')")
    page.wait_for_function("window.__digits.metrics.epoch === 2")
    page.click("#clear")
    page.wait_for_function("document.querySelector('#digit').textContent === '?'")


def test_single_neuron_page_runs_nielsens_experiment(page: Any, server: Any) -> None:
    _open(page, server, "/neuron")
    page.select_option("#speed", "1000")
    page.select_option("#preset", index=2)  # quadratic cost from w = b = 2: the slow start
    page.wait_for_function("window.__neuron.done === true")
    assert page.text_content("#epoch") == "300"
    slow = page.evaluate("window.__neuron.run.cost_values")
    assert slow[0] - slow[150] < 0.15 * (slow[0] - slow[300])
    page.select_option("#preset", index=3)  # cross-entropy: no plateau
    page.wait_for_function(
        "window.__neuron.done === true && window.__neuron.run.cost === 'cross_entropy'"
    )
    fast = page.evaluate("window.__neuron.run.cost_values")
    assert fast[0] - fast[50] > fast[250] - fast[300] > 0
    assert page.locator("#runs span.swatch").count() == 1  # the earlier run stays for comparison
    _shot(page, "neuron", "playground-neuron.png")
    page.fill("#learning_rate", "-1")
    page.click("#run")
    error = page.locator('.field-error[data-for="learning_rate"]')
    error.wait_for(state="visible")
    assert "learning_rate" in error.text_content()


@pytest.mark.parametrize("path", ["/", "/neuron", "/digits"])
def test_pages_fit_a_phone_screen(browser: Any, server: Any, path: str) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, bypass_csp=True
    )
    tab = context.new_page()
    try:
        _open(tab, server, path)
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
        if path == "/":
            _shot(tab, "playground-phone")
    finally:
        context.close()
