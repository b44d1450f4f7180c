"""The 2-D playground in headless Chromium: regression problems, TF Playground's view
controls (show test data, discretize output, regenerate, the batch-size slider) and the
settings kept in the page URL (a copied link, the back button).

Same real server and Chromium as tests/web/test_web_e2e.py (whose fixtures these reuse); with
``NNSCRATCH_UPDATE_SCREENSHOTS=1`` the trained multi-gaussian run is written to
docs/img/playground-regression.png.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import test_web_e2e as e2e
from test_web_e2e import _open, _shot, _unexpected

# the end-to-end tests' fixtures: the real server, Chromium, and a page that fails on errors
server, browser, page = e2e.server, e2e.browser, e2e.page

# The decision-region canvas, sampled on a coarse lattice: [r, g, b, r, g, b, ...].
SAMPLE = """() => {
  const c = document.querySelector('#heatmap');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const out = [];
  for (let i = 0; i < d.length; i += 4 * 53) out.push(d[i], d[i + 1], d[i + 2]);
  return out;
}"""


def _changed(before: list[int], after: list[int]) -> float:
    """The share of sampled pixels whose colour changed visibly."""
    pixels = len(before) // 3
    moved = sum(
        max(abs(before[3 * i + c] - after[3 * i + c]) for c in range(3)) > 12 for i in range(pixels)
    )
    return moved / pixels


def _set(page: Any, selector: str, value: str) -> None:
    page.fill(selector, value)
    page.dispatch_event(selector, "change")


def test_multi_gaussian_regression_trains_and_shows_values(page: Any, server: Any) -> None:
    _open(page, server, "/")
    page.select_option("#dataset", "multi_gaussian")
    page.wait_for_function(
        "window.__playground.data && window.__playground.data.task === 'regression'"
        " && window.__playground.heat && window.__playground.heat.task === 'regression'"
    )
    # regression: MSE on one linear output, no accuracy
    assert page.text_content("#test-loss-label") == "test MSE"
    assert page.locator("#acc-chart").is_hidden()
    assert page.locator("#test-acc-stat").is_hidden()
    assert page.locator("#loss").is_disabled()
    assert page.locator("#legend canvas.value-scale").count() == 1
    for selector, value in (("#learning_rate", "0.03"), ("#batch_size", "10")):
        _set(page, selector, value)
    page.wait_for_function(
        "window.__playground.config.learning_rate === 0.03"
        " && window.__playground.config.batch_size === 10"
    )
    page.fill("#speed", "0")
    page.dispatch_event("#speed", "change")
    page.wait_for_function("window.__playground.config.speed === 0")
    first = page.evaluate("window.__playground.history[0].test_loss")
    page.click("#play")
    page.wait_for_function("window.__playground.metrics.epoch >= 60", timeout=90_000)
    page.click("#play")
    page.wait_for_function("window.__playground.playing === false")
    page.wait_for_timeout(300)  # the last frame's heat map
    shown = float(page.text_content("#test-loss"))
    last = page.evaluate("window.__playground.metrics.test_loss")
    assert abs(shown - last) < 1e-3
    assert last < 0.3 * first, (first, last)
    # the heat map shows the predicted value on the diverging scale: orange where the
    # positive bumps are, blue at the negative ones (TF's bumps, scaled: see make_regression)
    colours = page.evaluate(
        """() => {
      const c = document.querySelector('#heatmap');
      const m = window.__playground.data.extent;
      const at = (x1, x2) => {
        const px = Math.round(((x1 + m) / (2 * m)) * c.width);
        const py = Math.round(((m - x2) / (2 * m)) * c.height);
        return Array.from(c.getContext('2d').getImageData(px, py, 1, 1).data.slice(0, 3));
      };
      return { plus: at(-1, 0.625), minus: at(0, 0.625) };
    }"""
    )
    r, g, b = colours["plus"]
    assert r > b + 60, colours  # orange: a positive value
    r, g, b = colours["minus"]
    assert b > r + 40, colours  # blue: a negative value
    _shot(page, "playground-regression", "playground-regression.png")


def test_view_toggles_regenerate_and_batch_slider(page: Any, server: Any) -> None:
    _open(page, server, "/")
    page.wait_for_function("window.__playground.heat !== null && window.__playground.data !== null")
    page.wait_for_timeout(200)
    before = page.evaluate(SAMPLE)
    draws = page.evaluate("window.__playground.draws")
    page.uncheck("#show_test")
    page.wait_for_function("window.__playground.config.show_test === false")
    page.wait_for_function(f"window.__playground.draws > {draws}")
    hidden = page.evaluate(SAMPLE)
    assert 0 < _changed(before, hidden) < 0.2  # only where the test points were
    page.check("#show_test")
    page.wait_for_function("window.__playground.config.show_test === true")
    # discretized: each pixel is its winning class's colour, so few distinct colours remain
    page.check("#discretize")
    page.wait_for_function("window.__playground.config.discretize === true")
    page.uncheck("#show_test")  # leave only the regions (and training points) to count
    page.wait_for_function("window.__playground.config.show_test === false")
    flat = page.evaluate(SAMPLE)
    assert _changed(hidden, flat) > 0.3
    assert page.is_checked("#discretize")
    # regenerate: new points from a new data seed, every other setting kept
    config = page.evaluate("window.__playground.config")
    points = page.evaluate("window.__playground.data.train.x.slice(0, 20)")
    page.click("#regenerate")
    page.wait_for_function(f"window.__playground.config.data_seed !== {config['data_seed']}")
    page.wait_for_function(f"window.__playground.data.train.x[0] !== {points[0]}")
    assert page.evaluate("window.__playground.data.train.x.slice(0, 20)") != points
    after = page.evaluate("window.__playground.config")
    assert {k: v for k, v in after.items() if k != "data_seed"} == {
        k: v for k, v in config.items() if k != "data_seed"
    }
    assert page.text_content("#data-seed-note") == f"data seed {after['data_seed']}"
    # the batch-size slider: 1..30 one by one, then larger steps, the last one the full set
    n_train = page.evaluate("window.__playground.metrics.n_train")
    assert page.get_attribute("#batch-slider", "max") is not None
    page.fill("#batch-slider", "4")  # the fifth step: 5
    page.wait_for_function("window.__playground.config.batch_size === 5")
    assert page.input_value("#batch_size") == "5"
    top = int(page.get_attribute("#batch-slider", "max"))
    page.fill("#batch-slider", str(top))
    page.wait_for_function(f"window.__playground.config.batch_size === {n_train}")
    assert page.input_value("#batch_size") == str(n_train)
    # the number readout moves the slider too
    _set(page, "#batch_size", "30")
    page.wait_for_function("window.__playground.config.batch_size === 30")
    assert page.input_value("#batch-slider") == "29"


# Every setting a user can change here, and the value the first page sets it to.
SETTINGS: dict[str, Any] = {
    "dataset": "circles",
    "noise": 0.35,
    "n_points": 320,
    "train_ratio": 0.6,
    "seed": 7,
    "dropout": 0.1,
    "loss": "mse",
    "optimizer": "rmsprop",
    "learning_rate": 0.02,
    "regularization": "l1",
    "reg_rate": 0.5,
    "batch_size": 12,
    "speed": 40,
    "show_test": False,
    "discretize": True,
    "activation": "relu",
}


def _change_everything(page: Any) -> None:
    for key, value in SETTINGS.items():
        selector = f"#{key}"
        if isinstance(value, bool):
            (page.check if value else page.uncheck)(selector)
        elif page.get_attribute(selector, "type") == "range":
            page.fill(selector, str(value))
        elif page.evaluate(f"document.querySelector('{selector}').tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            _set(page, selector, str(value))
        page.wait_for_function(
            f"JSON.stringify(window.__playground.config[{key!r}]) === {json.dumps(json.dumps(value))}"
        )
    page.click("#add-layer")
    page.wait_for_function("window.__playground.config.hidden.length === 3")
    page.click("#regenerate")
    page.wait_for_function("window.__playground.config.data_seed !== 0")


def test_a_copied_link_restores_every_setting(browser: Any, page: Any, server: Any) -> None:
    _open(page, server, "/")
    _change_everything(page)
    config = page.evaluate("window.__playground.config")
    # the URL follows (debounced): it holds every config key with its value
    page.wait_for_function(
        f"new URLSearchParams(location.search).get('data_seed') === '{config['data_seed']}'"
    )
    link = page.url
    query = parse_qs(urlsplit(link).query, keep_blank_values=True)
    assert set(query) == set(config), set(config) ^ set(query)
    # a fresh browser context (no session, no storage) opens the same experiment
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
    errors: list[str] = []
    try:
        tab = context.new_page()
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("console", lambda msg: errors.append(msg.text) if _unexpected(msg) else None)
        tab.goto(link)
        tab.wait_for_selector("body[data-ready=true]")
        restored = tab.evaluate("window.__playground.config")
        assert restored == config
        assert tab.evaluate("window.__playground.session.id") != page.evaluate(
            "window.__playground.session.id"
        )
        for key, value in SETTINGS.items():
            if isinstance(value, bool):
                assert tab.is_checked(f"#{key}") is value, key
            else:
                assert tab.input_value(f"#{key}") == str(value), key
        assert tab.locator('#layers input[type="number"]').count() == 3
        assert tab.input_value("#batch-slider") == "11"  # batch size 12 is the 12th step
        assert tab.text_content("#url-notice") == ""
        # the same points: the data seed travelled with the link
        assert tab.evaluate("window.__playground.data.train.x.slice(0, 8)") == page.evaluate(
            "window.__playground.data.train.x.slice(0, 8)"
        )
    finally:
        context.close()
    assert not errors, errors


def test_back_button_steps_back_through_changes(page: Any, server: Any) -> None:
    _open(page, server, "/")
    start = page.evaluate("window.__playground.config")
    page.select_option("#dataset", "xor")
    page.wait_for_function("new URLSearchParams(location.search).get('dataset') === 'xor'")
    page.fill("#noise", "0.6")
    page.wait_for_function("new URLSearchParams(location.search).get('noise') === '0.6'")
    page.select_option("#optimizer", "sgd")
    page.wait_for_function("new URLSearchParams(location.search).get('optimizer') === 'sgd'")
    page.go_back()
    page.wait_for_function("window.__playground.config.optimizer === 'adam'")
    assert page.input_value("#optimizer") == "adam"
    assert page.evaluate("window.__playground.config.noise") == 0.6
    page.go_back()
    page.wait_for_function(f"window.__playground.config.noise === {start['noise']}")
    assert page.input_value("#noise") == str(start["noise"])
    assert page.input_value("#dataset") == "xor"
    page.go_back()
    page.wait_for_function("window.__playground.config.dataset === 'spirals'")
    assert page.input_value("#dataset") == "spirals"
    page.go_forward()
    page.wait_for_function("window.__playground.config.dataset === 'xor'")


def test_invalid_link_values_are_ignored_with_a_notice(page: Any, server: Any) -> None:
    page.goto(server.url + "?noise=7&activation=bogus&zzz=1&seed=5&hidden=8,x&show_test=maybe")
    page.wait_for_selector("body[data-ready=true]")
    notice = page.text_content("#url-notice")
    for key in ("noise", "activation", "zzz", "hidden", "show_test"):
        assert key in notice, (key, notice)
    config = page.evaluate("window.__playground.config")
    assert config["seed"] == 5  # the valid value was applied
    assert config["noise"] == 0.2 and config["activation"] == "tanh" and config["show_test"]
    assert page.input_value("#seed") == "5"
    # the URL now says what the page shows
    query = parse_qs(urlsplit(page.url).query)
    assert query["noise"] == ["0.2"] and "zzz" not in query


def test_csv_with_a_numeric_target_is_a_regression(page: Any, server: Any) -> None:
    _open(page, server, "/")
    rows = "x1,x2,height\n" + "\n".join(
        f"{i % 7 - 3},{i % 5 - 2},{0.3 * (i % 7) - 0.2 * (i % 5) + 0.01 * i}" for i in range(60)
    )
    page.set_input_files(
        "#csv", files=[{"name": "heights.csv", "mimeType": "text/csv", "buffer": rows.encode()}]
    )
    page.wait_for_function(
        "window.__playground.config.dataset === 'upload'"
        " && window.__playground.data.task === 'regression'"
    )
    assert page.text_content("#test-loss-label") == "test MSE"
    page.click("#step")
    page.wait_for_function("window.__playground.metrics.epoch === 1")
    # the same file read as class labels is refused: too many distinct values, with a hint
    page.select_option("#csv_target", "classes")
    error = page.locator('.field-error[data-for="csv_target"]')
    error.wait_for(state="visible")
    assert "numeric target" in error.text_content()
    page.wait_for_function("document.querySelector('#csv_target').value === 'auto'")
    # text labels asked to be numbers: the line is named
    page.select_option("#csv_target", "values")
    page.wait_for_function("window.__playground.config.csv_target === 'values'")
    page.set_input_files(
        "#csv",
        files=[
            {"name": "bad.csv", "mimeType": "text/csv", "buffer": b"1,2,a\n2,3,b\n3,4,a\n4,5,b\n"}
        ],
    )
    error = page.locator('.field-error[data-for="file"]')
    error.wait_for(state="visible")
    assert "line 1" in error.text_content() and "not a finite number" in error.text_content()
    # back to a classification set: a clean rebuild
    page.select_option("#dataset", "moons")
    page.wait_for_function(
        "window.__playground.data.task === 'classification'"
        " && window.__playground.heat.task === 'classification'"
    )
    assert page.text_content("#test-loss-label") == "test loss"
    assert page.locator("#acc-chart").is_visible()
    assert page.locator("#loss").is_enabled()


def test_url_codec_round_trips_every_kind_of_value(page: Any, server: Any) -> None:
    _open(page, server, "/")
    result = page.evaluate(
        """async () => {
      const m = await import('/static/urlstate.js');
      const defaults = window.__playground.defaults;
      const config = { ...defaults, hidden: [5], activations: ['relu'], noise: 0.05,
                       show_test: false, dataset: 'multi_gaussian' };
      const query = m.encodeConfig(config);
      const back = m.decodeConfig(query, defaults);
      const empty = m.decodeConfig('?hidden=&activations=', defaults);
      const bad = m.decodeConfig('?n_points=ten&discretize=2&hidden=3,,4&nope=1', defaults);
      return { query, back: back.params, config,
               problems: back.problems, empty: empty.params, bad,
               steps: m.batchSteps(420), index: m.batchIndex(m.batchSteps(420), 100) };
    }"""
    )
    assert "hidden=5&" in result["query"] and "activations=relu&" in result["query"]
    assert result["back"] == result["config"] and result["problems"] == []
    assert result["empty"] == {"hidden": [], "activations": []}
    problems = " | ".join(result["bad"]["problems"])
    assert "n_points: expected a number" in problems
    assert "discretize: expected true or false" in problems
    assert "hidden: expected a number" in problems and "nope: not a setting" in problems
    assert result["bad"]["params"] == {}
    steps = result["steps"]
    assert steps[:30] == list(range(1, 31)) and steps[-1] == 420
    assert all(a < b for a, b in zip(steps, steps[1:], strict=False))
    assert steps[result["index"]] in (96, 104)  # the step nearest to 100
