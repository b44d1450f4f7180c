"""The 2-D playground's network graph in headless Chromium, driven as a user would.

Input feature tiles change the network's input width (on the server) and the drawn graph;
a per-layer activation select changes that layer only; hovering a connection shows its
weight; clicking it and typing a value changes the model's weight and the output heat map;
a bad value is refused with a clear message. With ``NNSCRATCH_UPDATE_SCREENSHOTS=1`` the
last test writes docs/img/playground-graph.png (a trained spirals run with extra features).
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from test_web_e2e import (  # noqa: F401  (fixtures)
    HEATMAP_SAMPLE,
    SHOTS,
    _open,
    _publish,
    _shot,
    browser,
    page,
    server,
)

EDGES = "#graph path.edge"
ON_TILES = '#graph .graph-feature[aria-pressed="true"]'


def _state(running: Any, tab: Any) -> dict[str, Any]:
    """The session's state as the server reports it (GET /api/sessions/{id})."""
    sid = tab.evaluate("window.__playground.session.id")
    with urllib.request.urlopen(f"{running.url}api/sessions/{sid}", timeout=10) as answer:
        state: dict[str, Any] = json.loads(answer.read())
    return state


def _model(running: Any, tab: Any) -> Any:
    """The session's model itself (the server runs in this process)."""
    sid = tab.evaluate("window.__playground.session.id")
    return running.app.state.manager.get(sid).model


def _ready(tab: Any, running: Any) -> None:
    _open(tab, running, "/")
    tab.wait_for_function(
        "document.querySelectorAll('#graph path.edge').length > 0"
        " && window.__playground.heat !== null"
    )


def test_feature_tiles_change_the_input_width_and_the_graph(page: Any, server: Any) -> None:  # noqa: F811
    _ready(page, server)
    assert page.locator("#graph .graph-feature").count() == 7
    assert page.locator(ON_TILES).count() == 2
    # 2 inputs -> 16 -> 16 -> 3 classes
    assert page.locator(EDGES).count() == 2 * 16 + 16 * 16 + 16 * 3
    assert "input: 2 features" in _state(server, page)["architecture"]

    page.click('#graph .graph-feature[data-feature="x1sq"]')
    page.wait_for_function(f"document.querySelectorAll('{ON_TILES}').length === 3")
    page.wait_for_function(f"document.querySelectorAll('{EDGES}').length === {3 * 16 + 256 + 48}")
    state = _state(server, page)
    assert state["config"]["features"] == ["x1", "x2", "x1sq"]
    assert "input: 3 features" in state["architecture"]
    assert _model(server, page).network.layers[0].W.value.shape == (3, 16)

    # switching x1 and x1^2 off leaves x2 alone: one input, 16 lines out of it
    page.click('#graph .graph-feature[data-feature="x1"]')
    page.wait_for_function(f"document.querySelectorAll('{ON_TILES}').length === 2")
    page.click('#graph .graph-feature[data-feature="x1sq"]')
    page.wait_for_function(f"document.querySelectorAll('{EDGES}').length === {16 + 256 + 48}")
    assert _state(server, page)["config"]["features"] == ["x2"]
    # the last feature cannot go: the server says why and nothing changes
    page.click('#graph .graph-feature[data-feature="x2"]')
    error = page.locator('.field-error[data-for="features"]')
    error.wait_for(state="visible")
    assert "at least one input feature" in error.text_content()
    assert _state(server, page)["config"]["features"] == ["x2"]
    assert page.locator(ON_TILES).count() == 1
    assert page.locator(EDGES).count() == 16 + 256 + 48


def test_per_layer_activation_changes_that_layer_only(page: Any, server: Any) -> None:  # noqa: F811
    _ready(page, server)
    selects = page.locator("#graph select.graph-act")
    assert selects.count() == 2
    assert [selects.nth(i).input_value() for i in range(2)] == ["tanh", "tanh"]
    page.select_option('#graph select[aria-label="activation of hidden layer 2"]', "relu")
    page.wait_for_function("window.__playground.config.activations.join() === 'tanh,relu'")
    layers = _model(server, page).network.layers
    assert [layer.activation.name for layer in layers] == ["tanh", "relu", "identity"]
    assert _state(server, page)["config"]["activations"] == ["tanh", "relu"]
    page.wait_for_function(
        "document.querySelector('#graph select[aria-label=\"activation of hidden layer 2\"]')"
        ".value === 'relu'"
    )
    assert selects.nth(0).input_value() == "tanh"
    # the neuron maps come from the rebuilt model: layer 2's are ReLU outputs (never negative)
    assert page.text_content("#neurons .neuron-layer:nth-child(2) h3") == "layer 2: 16 relu"


def test_hover_shows_a_weight_and_editing_it_changes_the_model_and_heatmap(  # noqa: F811
    page: Any,  # noqa: F811
    server: Any,  # noqa: F811
) -> None:
    _ready(page, server)
    before = page.evaluate(HEATMAP_SAMPLE)
    # the last line drawn is on top: hidden layer 2's neuron 16 -> class 2
    line = page.locator("#graph path.edge-hit").last
    line.hover()
    tip = page.locator("#graph .graph-tip")
    tip.wait_for(state="visible")
    layer, row, col = (int(tip.get_attribute(f"data-{k}")) for k in ("layer", "row", "col"))
    assert (layer, row, col) == (2, 15, 2)
    weights = _model(server, page).network.layers[2].W.value
    shown = float(tip.get_attribute("data-value"))
    assert abs(shown - float(weights[row, col])) < 1e-6
    assert tip.text_content() == f"layer 2 neuron 16 → output 2: w = {float(weights[15, 2]):.4f}"

    line.click()
    editor = page.locator("#graph form.graph-edit")
    editor.wait_for(state="visible")
    value = page.locator('#graph input[aria-label="weight value"]')
    assert abs(float(value.input_value()) - float(weights[15, 2])) < 1e-5
    value.fill("6.5")
    value.press("Enter")
    editor.wait_for(state="hidden")
    page.wait_for_function(
        "window.__playground.lastWeightEdit && window.__playground.lastWeightEdit.value === 6.5"
    )
    assert float(_model(server, page).network.layers[2].W.value[15, 2]) == 6.5
    # the page is paused (never played): the heat map changes at once, at epoch 0 (waiting
    # for the change itself: the page may redraw for other reasons in between)
    page.wait_for_function(
        f"""(() => {{
      const before = {json.dumps(before)};
      const after = ({HEATMAP_SAMPLE})();
      return after.filter((a, i) => Math.abs(a - before[i]) > 12).length > 0.05 * before.length;
    }})()"""
    )
    assert page.evaluate("window.__playground.metrics.epoch") == 0
    assert page.evaluate("window.__playground.playing") is False

    # a bad value is refused with the server's message, in the editor; the weight stays
    line.click()
    editor.wait_for(state="visible")
    value.fill("")
    value.press("Enter")
    error = page.locator("#graph .graph-edit-error")
    error.wait_for(state="visible")
    assert error.text_content() == "value must be a number, got None"
    value.fill("5000")
    value.press("Enter")
    page.wait_for_function(
        "document.querySelector('#graph .graph-edit-error').textContent.includes('[-1000, 1000]')"
    )
    assert float(_model(server, page).network.layers[2].W.value[15, 2]) == 6.5
    page.click("#graph form.graph-edit button:text('Cancel')")
    editor.wait_for(state="hidden")


def test_trained_spirals_with_features_shows_the_graph(page: Any, server: Any) -> None:  # noqa: F811
    _ready(page, server)
    for name in ("x1sq", "x2sq", "sin_x1", "sin_x2"):
        page.click(f'#graph .graph-feature[data-feature="{name}"]')
        page.wait_for_function(f"window.__playground.config.features.includes('{name}')")
    page.wait_for_function(f"document.querySelectorAll('{EDGES}').length === {6 * 16 + 256 + 48}")
    page.evaluate("window.__playground.session.config({speed: 0})")
    first_loss = page.evaluate("window.__playground.history[0].test_loss")
    page.click("#play")
    page.wait_for_function("window.__playground.metrics.epoch >= 150", timeout=60_000)
    page.click("#play")
    page.wait_for_function("window.__playground.playing === false")
    history = page.evaluate("window.__playground.history")
    assert history[-1]["test_loss"] < 0.5 * first_loss
    # the lines follow the trained weights: thickness grows with |w|
    model = _model(server, page)
    weights = model.network.layers[0].W.value
    widths = page.evaluate(
        "Array.from(document.querySelectorAll('#graph .edges > g:first-child path.edge'),"
        " p => Number(p.getAttribute('stroke-width')))"
    )
    assert len(widths) == weights.size
    order = abs(weights).ravel().argsort()
    assert widths[order[-1]] > widths[order[0]]
    _shot(page, "playground-graph-full")
    # the picture for the docs: the graph and the decision regions
    main, top, bottom = page.evaluate(
        "['main', '#graph', '#legend'].map(s => { const r = document.querySelector(s)"
        ".getBoundingClientRect(); return [r.left, r.right, r.top + scrollY, r.bottom + scrollY]; })"
    )
    clip = {
        "x": main[0] - 4,
        "y": top[2] - 48,
        "width": main[1] - main[0] + 8,
        "height": bottom[3] - top[2] + 64,
    }
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / "playground-graph.png"
    page.screenshot(path=str(path), clip=clip, full_page=True)
    if os.environ.get("NNSCRATCH_UPDATE_SCREENSHOTS") == "1":
        _publish(path, "playground-graph.png")


def test_a_wide_layer_draws_its_strongest_connections_and_says_so(page: Any, server: Any) -> None:  # noqa: F811
    _ready(page, server)
    page.fill('#layers input[aria-label="neurons in layer 1"]', "100")
    page.dispatch_event('#layers input[aria-label="neurons in layer 1"]', "change")
    page.fill('#layers input[aria-label="neurons in layer 2"]', "40")
    page.dispatch_event('#layers input[aria-label="neurons in layer 2"]', "change")
    # inputs -> the first 64 of layer 1's 100 neurons: 128 lines; 64 x 40 = 2,560 connections
    # between layers 1 and 2: the 1,024 strongest; layer 2 -> 3 outputs: 120
    page.wait_for_function(f"document.querySelectorAll('{EDGES}').length === {128 + 1024 + 120}")
    note = page.text_content("#graph .graph-note")
    assert "layer 1: the first 64 of 100 neurons" in note
    assert "layer 1 → layer 2: the 1,024 strongest of 2,560 connections" in note
    assert page.locator("#graph canvas.graph-neuron").count() == 64 + 40
    # the lines drawn are the strongest: the thinnest drawn is at least as thick as any left out
    weights = abs(_model(server, page).network.layers[1].W.value[:64, :40])
    cutoff = sorted(weights.ravel())[-1024]
    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('#graph .hits > g:nth-child(2) path'),"
        " p => [Number(p.dataset.row), Number(p.dataset.col)])"
    )
    assert len(drawn) == 1024
    assert min(weights[r, c] for r, c in drawn) >= cutoff


def test_quick_edits_of_the_layer_sizes_build_on_each_other(page: Any, server: Any) -> None:  # noqa: F811
    """Edits made before the server answers the previous one are not lost: each builds on the
    sizes already sent, not on the last confirmed ones."""
    _ready(page, server)
    sid = page.evaluate("window.__playground.session.id")
    session = server.app.state.manager.get(sid)
    # three clicks on the graph's + of layer 1 and two on the panel's - of layer 2, at once
    page.evaluate(
        """() => {
          const plus = document.querySelector('#graph button[aria-label="more neurons in layer 1"]');
          const minus = document.querySelector('#layers button[aria-label="fewer neurons in layer 2"]');
          plus.click(); plus.click(); plus.click(); minus.click(); minus.click();
        }"""
    )
    page.wait_for_function(
        "document.querySelectorAll('#graph canvas.graph-neuron').length === 19 + 14"
    )
    assert session.config["hidden"] == [19, 14]


# -- drawing cost: the graph is updated in place ----------------------------------------------------
COUNT_PAINTS = """() => {
  // counts putImageData per kind of canvas: graph neurons, the hidden-neuron panel, the rest
  window.__paints = { graph: 0, panel: 0, other: 0 };
  const put = CanvasRenderingContext2D.prototype.putImageData;
  CanvasRenderingContext2D.prototype.putImageData = function (...args) {
    const c = this.canvas;
    const kind = c.classList.contains('graph-neuron') ? 'graph' : c.closest('#neurons') ? 'panel' : 'other';
    window.__paints[kind] += 1;
    return put.apply(this, args);
  };
  window.__nodes = Array.from(document.querySelectorAll('#graph path, #graph canvas, #neurons canvas'));
}"""
SAME_NODES = """() => {
  const now = Array.from(document.querySelectorAll('#graph path, #graph canvas, #neurons canvas'));
  return now.length === window.__nodes.length && now.every((n, i) => n === window.__nodes[i]);
}"""


def test_frames_update_the_graph_in_place_and_repaint_only_what_changed(  # noqa: F811
    page: Any,  # noqa: F811
    server: Any,  # noqa: F811
) -> None:
    _ready(page, server)
    page.wait_for_timeout(300)  # the first frames drawn
    lines = 2 * 16 + 16 * 16 + 16 * 3
    assert page.locator(EDGES).count() == lines
    page.evaluate(COUNT_PAINTS)
    draws = page.evaluate("window.__playground.draws")
    # an output weight: the heat map and that line change, the hidden neurons' maps do not
    page.evaluate(
        "window.__playground.session.send({type: 'set_weight', layer: 2, row: 0, col: 0, value: 3})"
    )
    page.wait_for_function(f"window.__playground.draws > {draws}")
    line = "#graph .edges > g:nth-child(3) path.edge:first-child"
    page.wait_for_function(
        f"document.querySelector('{line}').getAttribute('stroke-width') === '4.0'"
    )
    assert page.evaluate("window.__paints.graph + window.__paints.panel") == 0
    assert page.evaluate(SAME_NODES)
    # training: every frame moves the maps and the weights, on the same elements
    page.evaluate("window.__playground.session.config({speed: 0})")
    widths = page.evaluate(
        f"Array.from(document.querySelectorAll('{EDGES}'), p => p.getAttribute('stroke-width'))"
    )
    page.click("#play")
    page.wait_for_function("window.__playground.metrics.epoch >= 40", timeout=60_000)
    page.click("#play")
    page.wait_for_function("window.__playground.playing === false")
    page.wait_for_timeout(300)
    assert page.evaluate(SAME_NODES)
    assert page.locator(EDGES).count() == lines
    assert page.evaluate("window.__paints.graph") >= 48  # every neuron's map at least once
    after = page.evaluate(
        f"Array.from(document.querySelectorAll('{EDGES}'), p => p.getAttribute('stroke-width'))"
    )
    assert sum(a != b for a, b in zip(widths, after, strict=True)) > lines // 4


# -- neurons: hover shows the map in the big view, click edits the bias -----------------------------
def _neuron(tab: Any, layer: int, unit: int) -> Any:
    return tab.locator(f'#graph canvas.graph-neuron[data-layer="{layer}"][data-unit="{unit}"]')


CLASS_1_SHARE = """() => {
  // the share of the heat map's pixels in class 1's colour, paled towards white (how far from
  // white varies with the confidence; the direction from white, the hue, does not)
  const c = document.querySelector('#heatmap');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const [r1, g1, b1] = window.__classColor1;
  const er = 255 - r1, eg = 255 - g1, eb = 255 - b1;
  let near = 0, n = 0;
  for (let i = 0; i < d.length; i += 4 * 53) {
    n++;
    const dr = 255 - d[i], dg = 255 - d[i + 1], db = 255 - d[i + 2];
    const t = (dr * er + dg * eg + db * eb) / (er * er + eg * eg + eb * eb);
    if (t > 0.3 && Math.abs(dr - t * er) + Math.abs(dg - t * eg) + Math.abs(db - t * eb) < 30) near++;
  }
  return near / n;
}"""


def test_clicking_a_neuron_edits_its_bias_and_the_model_changes_at_once(  # noqa: F811
    page: Any,  # noqa: F811
    server: Any,  # noqa: F811
) -> None:
    _ready(page, server)
    page.wait_for_timeout(300)
    before = page.evaluate(HEATMAP_SAMPLE)
    neuron = _neuron(page, 0, 4)
    neuron.hover()
    tip = page.locator("#graph .graph-tip")
    tip.wait_for(state="visible")
    assert tip.text_content() == "layer 1 neuron 5: bias b = 0.0000 (click to edit)"
    neuron.click()
    editor = page.locator("#graph form.graph-edit")
    editor.wait_for(state="visible")
    assert page.text_content("#graph .graph-edit-title") == "bias of layer 1 neuron 5"
    value = page.locator('#graph input[aria-label="bias value"]')
    assert float(value.input_value()) == 0.0
    value.fill("2.5")
    value.press("Enter")
    editor.wait_for(state="hidden")
    page.wait_for_function(
        "window.__playground.lastBiasEdit && window.__playground.lastBiasEdit.value === 2.5"
    )
    model = _model(server, page)
    assert float(model.network.layers[0].b.value[4]) == 2.5
    assert page.evaluate("window.__playground.metrics.epoch") == 0
    # the output bias of class 1: most of the plane turns to class 1
    page.mouse.move(5, 5)
    page.wait_for_function("document.querySelector('#heatmap').dataset.shows === 'output'")
    page.evaluate(
        "import('/static/common.js').then(m => { window.__classColor1 = m.classColor(1); })"
    )
    page.wait_for_function("window.__classColor1 !== undefined")
    assert page.evaluate(f"({CLASS_1_SHARE})()") < 0.5
    output = page.locator('#graph .graph-output[data-unit="1"]')
    output.click()
    editor.wait_for(state="visible")
    assert page.text_content("#graph .graph-edit-title") == "bias of output 1"
    value.fill("6")
    value.press("Enter")
    editor.wait_for(state="hidden")
    assert float(model.network.layers[2].b.value[1]) == 6.0
    # most of the plane turns to class 1's colour (waited for: the redraw comes with a frame)
    page.wait_for_function(f"({CLASS_1_SHARE})() > 0.8")
    assert page.evaluate(HEATMAP_SAMPLE) != before

    # a bad value is refused with the server's message; the bias stays
    output.click()
    editor.wait_for(state="visible")
    value.fill("")
    value.press("Enter")
    error = page.locator("#graph .graph-edit-error")
    error.wait_for(state="visible")
    assert error.text_content() == "value must be a number, got None"
    assert float(model.network.layers[2].b.value[1]) == 6.0
    page.keyboard.press("Escape")
    editor.wait_for(state="hidden")


NEURON_COLOURS = """() => {
  // the big view's mean colour where the hovered neuron's map is high and where it is low
  const info = window.__playground.neurons;
  const { layer, unit } = window.__playground.preview;
  const bytes = Uint8Array.from(atob(info.layers[layer].maps[unit]), ch => ch.charCodeAt(0));
  const c = document.querySelector('#heatmap');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const sums = { high: [0, 0, 0, 0], low: [0, 0, 0, 0] };
  for (let y = 0; y < c.height; y += 3) {
    for (let x = 0; x < c.width; x += 3) {
      const v = bytes[Math.floor(y * info.res / c.height) * info.res + Math.floor(x * info.res / c.width)];
      const part = v > 160 ? sums.high : v < 96 ? sums.low : null;
      if (!part) continue;
      const i = 4 * (y * c.width + x);
      part[0] += d[i]; part[1] += d[i + 1]; part[2] += d[i + 2]; part[3] += 1;
    }
  }
  const mean = (s) => s[3] ? [s[0] / s[3], s[1] / s[3], s[2] / s[3], s[3]] : null;
  return { high: mean(sums.high), low: mean(sums.low) };
}"""


def test_hovering_a_neuron_shows_its_map_in_the_big_view(page: Any, server: Any) -> None:  # noqa: F811
    _ready(page, server)
    page.wait_for_timeout(300)
    output = page.evaluate(HEATMAP_SAMPLE)
    assert page.text_content("#h-out") == "Decision regions"
    neuron = _neuron(page, 1, 2)
    neuron.hover()
    page.wait_for_function("document.querySelector('#heatmap').dataset.shows === 'neuron'")
    assert page.text_content("#h-out") == "Layer 2, neuron 3: its activation"
    shown = page.evaluate(HEATMAP_SAMPLE)
    changed = sum(abs(a - b) > 12 for a, b in zip(output, shown, strict=True)) / len(output)
    assert changed > 0.3, f"only {changed:.0%} of the big view changed"
    colours = page.evaluate(NEURON_COLOURS)
    assert colours["high"] and colours["low"], colours  # a tanh unit: both signs on the plane
    r, g, b, _ = colours["high"]
    assert r > b + 40, colours  # orange where the neuron's output is high (positive)
    r, g, b, _ = colours["low"]
    assert b > r + 15, colours  # blue where it is low (negative)
    # mouse out: back to the decision regions, exactly as before
    page.mouse.move(5, 5)
    page.wait_for_function("document.querySelector('#heatmap').dataset.shows === 'output'")
    assert page.text_content("#h-out") == "Decision regions"
    assert page.evaluate(HEATMAP_SAMPLE) == output
    # the neuron maps of the panel below do the same
    page.hover('#neurons canvas[data-layer="0"][data-unit="7"]')
    page.wait_for_function("document.querySelector('#heatmap').dataset.shows === 'neuron'")
    assert page.text_content("#h-out") == "Layer 1, neuron 8: its activation"
    page.mouse.move(5, 5)
    page.wait_for_function("document.querySelector('#heatmap').dataset.shows === 'output'")
