"""Layout checks in headless Chromium: no control label is cut off at common widths.

Each page is opened at 1280, 1440 (desktop) and 390 (phone) pixels wide. For every visible
select, file input, button and form label the test asserts that its text fits its box
(``scrollWidth <= clientWidth``), that it lies inside the viewport, and that the page does
not scroll sideways. A select's text does not show in ``scrollWidth``, so each select (and
each file input) is compared with a clone of itself at its natural width (``width: auto``):
the natural width is what the widest option (or the file button plus its note) needs.
A chosen file's NAME may end in an ellipsis (``.file-name``); its button never.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_web_e2e import _open, _shot, browser, server  # noqa: F401  (fixtures)

WIDTHS = {1280: 900, 1440: 900, 390: 844}
PAGES = {"/": "playground", "/neuron": "neuron", "/digits": "digits"}

# Returns one line per problem found; an empty list means nothing is cut off.
FIND_CUT = """() => {
  const problems = [];
  const LONG = ['preset'];
  const vw = window.innerWidth;
  const doc = document.documentElement;
  if (doc.scrollWidth > vw + 1) problems.push(`page scrolls sideways: ${doc.scrollWidth} > ${vw}`);
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
      && !el.closest('.visually-hidden');
  };
  const name = (el) => el.id ? `${el.tagName.toLowerCase()}#${el.id}`
    : `${el.tagName.toLowerCase()} "${(el.textContent || '').trim().slice(0, 30)}"`;
  const natural = (el, shownOnly = false) => {
    // the element's own width when nothing constrains it: what its content needs
    const clone = el.cloneNode(true);
    clone.removeAttribute('id');
    if (shownOnly) {
      for (const opt of Array.from(clone.options)) if (opt.index !== el.selectedIndex) opt.remove();
    }
    clone.style.cssText += ';position:absolute;left:0;top:0;visibility:hidden;'
      + 'width:auto;min-width:0;max-width:none;flex:none;';
    el.parentNode.appendChild(clone);
    const w = clone.getBoundingClientRect().width;
    clone.remove();
    return w;
  };
  const controls = document.querySelectorAll(
    'select, input[type=file], button, label, .file-button');
  for (const el of controls) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > vw + 1) {
      problems.push(`${name(el)} lies outside the viewport: ${r.left.toFixed(0)}..${r.right.toFixed(0)} of ${vw}`);
    }
    if (el.tagName === 'SELECT' || (el.tagName === 'INPUT' && el.type === 'file')) {
      if (LONG.includes(el.id) && vw < 600) {
        // Preset names are wider than a phone: they show only in the browser's own picker,
        // which the select does not clip. The closed select shows its placeholder (the pages
        // put it back after applying a preset, checked below), and that must fit.
        const shown = natural(el, true);
        if (r.width + 1 < shown) {
          problems.push(`${name(el)} is ${r.width.toFixed(0)}px wide, its shown label needs ${shown.toFixed(0)}px`);
        }
        continue;
      }
      const need = natural(el);
      if (r.width + 1 < need) {
        problems.push(`${name(el)} is ${r.width.toFixed(0)}px wide, its widest label needs ${need.toFixed(0)}px`);
      }
      if (el.tagName === 'SELECT') {
        // cross-check the clone with the text itself, measured in the select's font
        const ctx = document.createElement('canvas').getContext('2d');
        const s = getComputedStyle(el);
        ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
        const inner = el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        for (const opt of el.options) {
          const text = ctx.measureText(opt.label).width;
          if (text > inner + 1) {
            problems.push(`${name(el)}: option "${opt.label.slice(0, 40)}" needs ${text.toFixed(0)}px, has ${inner.toFixed(0)}px`);
          }
        }
      }
    } else if (el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)} cuts its text: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  return problems;
}"""


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("path", list(PAGES))
def test_no_control_label_is_cut_off(browser: Any, server: Any, path: str, width: int) -> None:  # noqa: F811
    context = browser.new_context(
        viewport={"width": width, "height": WIDTHS[width]}, bypass_csp=True
    )
    tab = context.new_page()
    try:
        _open(tab, server, path)
        # the presets arrive from /api/info after the page is ready; wait for them
        tab.wait_for_function(
            "document.querySelector('#preset') === null"
            " || document.querySelector('#preset').options.length > 1"
        )
        problems = tab.evaluate(FIND_CUT)
        _shot(tab, f"layout-{PAGES[path]}-{width}")
        assert not problems, f"{path} at {width}px:\n" + "\n".join(problems)
        # a chosen file's long name is shown beside the button, cut with an ellipsis if need be
        file_input = "#csv" if path == "/" else "#model-file" if path == "/digits" else None
        if file_input:
            long_name = "measurements-from-the-second-field-trip-" + "x" * 40 + ".csv"
            tab.set_input_files(
                file_input,
                files=[{"name": long_name, "mimeType": "text/plain", "buffer": b"1,2\n"}],
            )
            tab.locator('.field-error[data-for="file"]').wait_for(state="visible")
            shown = tab.locator(f'.file-name[data-file-for="{file_input[1:]}"]')
            assert shown.text_content() == long_name
            assert shown.evaluate("e => e.scrollWidth > e.clientWidth")  # it is long: cut...
            assert (
                shown.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
            )  # ...visibly
            assert not tab.evaluate(FIND_CUT), f"{path} at {width}px with a long file name"
        if path != "/digits":
            # after a preset is applied the select shows its short placeholder again
            tab.select_option("#preset", index=1)
            tab.wait_for_function("document.querySelector('#preset').value === ''")
            assert not tab.evaluate(FIND_CUT), f"{path} at {width}px after a preset"
    finally:
        context.close()
