"""The digits page with convolutional networks, in headless Chromium as a user would use it.

A conv preset trains from the page to at least 97% on the bundled sample's 1,000 test images
(read from the accuracy the page shows); a digit drawn with the mouse is predicted and every
convolution's feature maps and the learned kernels are drawn; a conv model saved by
``nnscratch train --layers conv...`` is loaded from a file, and one that does not take 28 x 28
images is refused; a bad layer spec shows the parser's message next to the field. Needs
Playwright and Chromium (the tests skip with a reason otherwise, as ``test_web_e2e.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from test_web_e2e import _open, _shot, browser, page, server  # noqa: F401  (fixtures)

CONV_PRESET = "Small conv net: 16 + 32 filters of 5 x 5, Adam (97% in about 4 epochs)"

# Statistics of a canvas's pixels: how many distinct grey levels and the spread of the red
# channel, so that a blank (one-colour) canvas is told from a drawn one.
CANVAS_STATS = """(el) => {
  const d = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
  const seen = new Set();
  let lo = 255, hi = 0;
  for (let i = 0; i < d.length; i += 4) { seen.add(d[i]); lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
  return { width: el.width, height: el.height, levels: seen.size, spread: hi - lo };
}"""


def _draw_a_one(tab: Any) -> None:
    """A vertical stroke drawn with the mouse, as a user draws a 1."""
    box = tab.locator("#draw").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.18
    tab.mouse.move(x, y)
    tab.mouse.down()
    for i in range(1, 25):
        tab.mouse.move(x + i * 0.3, y + i * box["height"] * 0.027)
        tab.wait_for_timeout(15)
    tab.mouse.up()
    tab.wait_for_function("window.__digits.prediction && !window.__digits.prediction.blank")


def _shown_accuracy(tab: Any) -> float:
    return float(tab.text_content("#test-acc").rstrip("%"))


def _assert_feature_maps(tab: Any, layers: int) -> None:
    tab.wait_for_selector("#maps-card:not([hidden])")
    maps = tab.locator("#feature-maps canvas.feature-map")
    assert maps.count() == layers
    for i in range(layers):
        stats = maps.nth(i).evaluate(CANVAS_STATS)
        assert stats["width"] > 0 and stats["height"] > 0
        assert stats["levels"] >= 8 and stats["spread"] >= 128, stats


def test_conv_preset_reaches_97_percent_and_shows_feature_maps(page: Any, server: Any) -> None:  # noqa: F811
    _open(page, server, "/digits")
    assert page.locator("#maps-card").is_hidden()
    assert page.locator("#kernels-card").is_hidden()  # the default MLP has no kernels
    page.select_option("#preset", CONV_PRESET)
    page.wait_for_function("(window.__digits.config.layers || '').startsWith('conv:16x5')")
    assert page.input_value("#layers").startswith("conv:16x5,relu,maxpool:2,conv:32x5")
    assert page.is_disabled("#hidden")  # the spec describes the network now
    page.wait_for_selector("#kernels-card:not([hidden])")
    assert page.locator("#weights-card").is_hidden()  # no 784-input dense layer to draw
    # train with Step, one epoch a click, until the page shows at least 97% (Play would go on
    # with the epoch under way when paused, and the next epoch may score a little lower)
    shown, epoch = 0.0, 0
    while shown < 97.0 and epoch < 12:
        page.click("#step")
        epoch += 1
        page.wait_for_function(f"window.__digits.metrics.epoch === {epoch}", timeout=30_000)
        page.wait_for_function(f"document.querySelector('#epoch').textContent === '{epoch}'")
        shown = _shown_accuracy(page)
    print(f"conv preset: {shown}% test accuracy shown after {epoch} epochs")
    assert shown >= 97.0
    assert page.evaluate("window.__digits.metrics.test_accuracy") >= 0.97
    # the learned kernels: 16 of 5 x 5 for the first convolution, a norm table for the second
    kernels = page.evaluate("window.__digits.kernels")
    assert kernels["first"]["filters"] == 16 and kernels["first"]["kh"] == 5
    assert [t["name"] for t in kernels["later"]] == ["Conv2D(32, 5x5, relu)"]
    assert page.locator("#kernels").evaluate(CANVAS_STATS)["levels"] >= 8
    assert page.locator("#kernel-summary canvas").count() == 1
    # a drawn digit: predicted, with the maps of both convolutions
    _draw_a_one(page)
    page.wait_for_function("window.__digits.predictions >= 1")
    prediction = page.evaluate("window.__digits.prediction")
    assert prediction["digit"] == 1, prediction["probabilities"]
    assert [(m["channels"], m["height"]) for m in prediction["feature_maps"]] == [(16, 24), (32, 8)]
    _assert_feature_maps(page, 2)
    assert page.text_content("#digit") == "1"
    _shot(page, "digits-conv", "playground-conv-digits.png")


def test_a_conv_model_saved_by_the_cli_loads_and_shows_its_maps(  # noqa: F811
    page: Any,  # noqa: F811
    server: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    import numpy as np

    import nnscratch as nn
    from nnscratch.core.spec import build_network
    from nnscratch.data.mnist import load_mnist_sample

    run = tmp_path / "run"
    spec = "conv:8x5,relu,maxpool:2,flatten,dense:10"
    done = subprocess.run(
        [sys.executable, "-m", "nnscratch", "train", "--data", "mnist-sample", "--layers", spec]
        + ["--epochs", "1", "--out", str(run), "--quiet", "--no-plots"],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr
    saved = run / "model.npz"
    model = nn.Model.load(saved)
    data = load_mnist_sample(normalize=True)
    accuracy = model.evaluate(data.x_test.reshape(-1, 1, 28, 28), data.y_test)["accuracy"]

    _open(page, server, "/digits")
    page.set_input_files("#model-file", str(saved))
    page.wait_for_function("window.__digits.metrics.model_source === 'uploaded: model.npz'")
    page.wait_for_function(f"window.__digits.config.layers === '{spec}'")
    assert page.input_value("#layers") == spec
    assert page.text_content("#epoch") == "1"
    assert _shown_accuracy(page) == round(100 * accuracy, 1)
    _draw_a_one(page)
    _assert_feature_maps(page, 1)
    # downloaded again, it is the same conv model
    with page.expect_download() as download:
        page.click("#download")
    again = tmp_path / "again.npz"
    download.value.save_as(again)
    reloaded = nn.Model.load(again)
    assert reloaded.network.input_shape == (1, 28, 28)
    assert np.array_equal(reloaded.network.flat_parameter.value, model.network.flat_parameter.value)
    # a conv model for other images is refused, and the page keeps the model it had
    other = nn.Model(
        build_network("conv:4x3,relu,flatten,dense:10", (3, 16, 16), seed=0),
        loss="softmax_cross_entropy",
    )
    wrong = tmp_path / "rgb16.npz"
    other.save(wrong)
    page.set_input_files("#model-file", str(wrong))
    error = page.locator('.field-error[data-for="file"]')
    error.wait_for(state="visible")
    assert "784 inputs and 10 outputs" in error.text_content()
    assert "3x16x16" in error.text_content()
    assert page.evaluate("window.__digits.metrics.model_source") == "uploaded: model.npz"


def test_a_bad_layer_spec_shows_the_parsers_message(page: Any, server: Any) -> None:  # noqa: F811
    _open(page, server, "/digits")
    cases = [
        ("conv:16y5,relu,flatten,dense:10", "token 1 'conv:16y5': expected conv:CxK"),
        ("conv:8x5,relu,dense:10", "put flatten before it"),
        ("conv:8x5,relu,maxpool:2,flatten,dense:7", "end the spec with dense:10"),
    ]
    for spec, message in cases:
        page.fill("#layers", spec)
        page.dispatch_event("#layers", "change")
        page.wait_for_function(
            """(m) => document.querySelector('.field-error[data-for="layers"]')
                        .textContent.includes(m)""",
            arg=message,
        )
        assert page.get_attribute("#layers", "aria-invalid") == "true"
        # the field goes back to the server's value: the network did not change
        page.wait_for_function("document.querySelector('#layers').value === ''")
        assert page.evaluate("window.__digits.config.layers") == ""
    # a valid spec typed by hand is taken, written canonically
    page.fill("#layers", "Conv:8x5, ReLU, maxpool:2, flatten, dense:10")
    page.press("#layers", "Enter")  # Enter applies it
    page.wait_for_function(
        "window.__digits.config.layers === 'conv:8x5,relu,maxpool:2,flatten,dense:10'"
    )
    assert page.locator('.field-error[data-for="layers"]').is_hidden()


def test_the_conv_views_fit_a_phone_screen(browser: Any, server: Any) -> None:  # noqa: F811
    from test_page_layout import FIND_CUT

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, bypass_csp=True
    )
    tab = context.new_page()
    try:
        _open(tab, server, "/digits")
        tab.select_option("#preset", CONV_PRESET)
        tab.wait_for_function("(window.__digits.config.layers || '').startsWith('conv:16x5')")
        tab.click("#step")
        tab.wait_for_function("window.__digits.metrics.epoch === 1")
        _draw_a_one(tab)
        _assert_feature_maps(tab, 2)
        tab.wait_for_selector("#kernels-card:not([hidden])")
        problems = tab.evaluate(FIND_CUT)
        assert not problems, "\n".join(problems)
        for selector in ("#feature-maps canvas", "#kernels", "#kernel-summary canvas"):
            boxes = tab.locator(selector)
            for i in range(boxes.count()):
                box = boxes.nth(i).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, (selector, box)
        _shot(tab, "digits-conv-phone")
    finally:
        context.close()
