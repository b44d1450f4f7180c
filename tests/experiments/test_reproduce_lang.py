"""`nnscratch reproduce --lang zh`: the table, its labels and the summary in Chinese, with the
same numbers as in English and columns that line up by terminal cells."""

import json
import os
import re
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from tests.conftest import REPO_ROOT, mnist_dir, shared_data_dir

from nnscratch.experiments import nielsen_ch6, runner, saito_ch7, seed002
from nnscratch.experiments.common import Context
from nnscratch.i18n import MESSAGES, Text, display_width, pad, render

#: The rows the CLI test runs: every row of these needs no training on MNIST (a few seconds).
SUBSET = ["seed000", "seed002-neuron", "seed003", "seed004"]
#: Words the Chinese table keeps as the seed articles write them: names of people, data sets,
#: functions and the program; everything else in Latin letters is a (single-letter) symbol.
KEPT = {"seed", "MNIST", "ReLU", "sigmoid", "softmax", "Nielsen", "Saito", "SimpleConvNet", "Adam"}
KEPT_PHRASES = ("one-hot", "nnscratch reproduce")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:e[-+]?\d+)?%?")


def english_words(text: str) -> list[str]:
    """Words of two or more Latin letters in ``text`` that are not kept identifiers."""
    for phrase in KEPT_PHRASES:
        text = text.replace(phrase, " ")
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in KEPT]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    paths = [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    base = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "nnscratch", "reproduce", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO_ROOT,
        timeout=300,
        env={**base, **(env or {})},
    )


def blocks(stdout: str) -> list[list[str]]:
    """The printed rows: a ``[mark] experiment`` line and its indented label lines."""
    found: list[list[str]] = []
    for line in stdout.splitlines():
        if line.startswith("["):
            found.append([line])
        elif found and line.startswith("       ") and not line.strip().startswith("("):
            found[-1].append(line)
    return found


@pytest.fixture(scope="module")
def zh_run(tmp_path_factory):
    folder, shared = mnist_dir(), shared_data_dir()
    if folder is None or shared is None:
        pytest.skip("needs full MNIST and the chapter-3 weights (../shared/data)")
    out = tmp_path_factory.mktemp("zh")
    done = cli(
        "--fast", "--lang", "zh", "--only", ",".join(SUBSET), "--out", str(out),
        "--data-dir", str(folder), env={"NNSCRATCH_DATA": str(folder)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout


def test_display_width_counts_wide_characters_as_two_cells():
    assert display_width("ours:") == 5
    assert display_width("本库结果：") == 10  # four characters and a full-width colon
    assert display_width("e\u0301") == 1  # a combining accent takes no cell
    assert pad("通过", 6) == "通过  " and pad("FAIL", 6) == "FAIL  "
    assert pad("文章结果：", 4) == "文章结果："  # wider than asked: unchanged


def test_every_message_has_a_chinese_template_with_the_same_numbers():
    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()

    def fields(template: str) -> set[tuple[str, str]]:
        return {(f, spec) for _, f, spec, _ in string.Formatter().parse(template) if f}

    for key, en in MESSAGES["en"].items():
        zh = MESSAGES["zh"][key]
        # "plural" is the English "s" of "epochs"; Chinese has none
        assert fields(zh) == {f for f in fields(en) if f[0] != "plural"}, key
        assert english_words(re.sub(r"\{[^}]*\}", " ", zh)) == [], (key, zh)


def test_cli_prints_the_table_in_chinese(zh_run):
    out, stdout = zh_run
    shown = stdout.replace(str(out / "results.md"), " ").replace(str(out), " ")  # file names
    for name in SUBSET:  # the per-experiment timing lines name them as --only does
        shown = shown.replace(f"({name}:", "(")
    assert english_words(shown) == [], shown
    assert "复现文章中的实验（快速模式：MNIST 上训练的轮数较少，每行注明）" in stdout
    assert "[通过] seed 000：线性多分类感知机，one-hot 目标值，均方误差" in stdout
    assert "       文章结果： 正确率 50% 左右\n" in stdout
    assert re.search(r"\n通过 13 项，失败 0 项，跳过 0 项，用时 \d+s；结果表见 ", stdout)
    table = (out / "results.md").read_text(encoding="utf-8")
    assert (
        "| 实验 | 文章结果 | 本库结果 | 结论 |" in table and "| 93.52% | 93.52% | 通过 |" in table
    )
    text = "\n".join(ln for ln in table.splitlines() if not ln.startswith("- ["))  # figure links
    assert english_words(text) == [], text


def test_chinese_and_english_show_the_same_numbers(zh_run):
    out, stdout = zh_run
    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]  # the JSON stays English, keys and texts
    assert set(rows[0]) == {"experiment", "article", "ours", "verdict", "note"}
    assert rows[0]["experiment"].startswith("seed 000: linear multi-class perceptron")
    assert [r["verdict"] for r in rows] == ["pass"] * 13
    printed = blocks(stdout)
    assert len(printed) == len(rows) == 13
    for block, row in zip(printed, rows, strict=True):
        english = " ".join(row[k] for k in ("experiment", "article", "ours", "note"))
        assert Counter(NUMBER.findall("\n".join(block))) == Counter(NUMBER.findall(english)), (
            block,
            english,
        )
    assert printed[-1][-1] == "       本库结果： 93.52%"


def test_columns_line_up_by_display_width(zh_run):
    _, stdout = zh_run
    for block in blocks(stdout):
        head, *labelled = block
        text_at = display_width(head[: head.index("] ") + 2])  # after "[通过] "
        assert text_at == 7, head
        starts = set()
        for line in labelled:
            assert display_width(line[: len(line) - len(line.lstrip())]) == text_at, line
            label_end = line.index("：") + 1
            value = line[label_end:].lstrip(" ")
            starts.add(display_width(line[: len(line) - len(value)]))
        # "文章结果：", "本库结果：" and "备注：" padded to one column: 7 + 10 + 1
        assert starts == {18}, block


def test_one_result_set_formats_in_both_languages(tmp_path):
    ctx = Context(tmp_path, True, None)
    rows = runner.REGISTRY["seed002-neuron"](ctx) + runner.REGISTRY["seed003"](ctx)
    en = [runner.format_row(r, "en") for r in rows]
    zh = [runner.format_row(r, "zh") for r in rows]
    # English is printed as before: labels padded to "article: ", text under the experiment
    assert en[3].splitlines() == [
        "[ok  ] seed 003: 3-4-1 sigmoid network, SSE, 1500 full-batch iterations",
        f"       article: {rows[3].article}",
        f"       ours:    {rows[3].ours}",
    ]
    assert (
        zh[3].splitlines()[0]
        == "[通过] seed 003：3-4-1 sigmoid 网络，平方误差和，1500 次全批量迭代"
    )
    for a, b in zip(en, zh, strict=True):
        assert Counter(NUMBER.findall(a)) == Counter(NUMBER.findall(b)), (a, b)
        assert english_words(b) == [], b
    md_en = runner.markdown(rows, [], 2.0, True, "en")
    md_zh = runner.markdown(rows, [], 2.0, True, "zh")
    assert "| experiment | article | ours | verdict |" in md_en and "| pass |" in md_en
    assert "Fast mode (fewer MNIST epochs). Run time 2 s." in md_en
    assert "快速模式（MNIST 上训练的轮数较少）。运行时间 2 s。" in md_zh
    assert runner.summary(rows, 2.0, Path("t.md"), "en") == (
        "5 passed, 0 failed, 0 skipped in 2s; table in t.md"
    )
    assert runner.summary(rows, 2.0, Path("t.md"), "zh") == (
        "通过 5 项，失败 0 项，跳过 0 项，用时 2s；结果表见 t.md"
    )


def test_book_rows_are_labelled_in_both_languages(tmp_path):
    """The MNIST rows (not in the CLI subset) carry their labels as messages too."""
    ctx = Context(tmp_path, True, str(tmp_path / "nowhere"))
    rows = seed002.run_mnist(ctx) + nielsen_ch6.run_relu(ctx) + saito_ch7.run(ctx)
    assert [r.verdict for r in rows] == ["skipped"] * 4
    for row in rows:
        for text in (row.experiment, row.ours) + ((row.article,) if row.article != "-" else ()):
            assert isinstance(text, Text), text
            assert english_words(render(text, "zh")) == [], render(text, "zh")
    assert render(rows[3].article, "zh") == "20 轮后测试集准确率 98.9% 左右"
    assert rows[3].article == "about 98.9% test accuracy after 20 epochs"


def test_unknown_language_is_refused_with_the_choices():
    done = cli("--lang", "xx", "--only", "seed003")
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [
        "nnscratch reproduce: error: argument --lang: invalid choice: 'xx' (choose from 'en', 'zh') "
        "(see 'nnscratch reproduce --help')"
    ]
    with pytest.raises(ValueError, match="unknown language 'xx'; choose from en, zh"):
        runner.run_all(Path("unused"), lang="xx")


def test_chinese_on_an_ascii_terminal_is_a_clear_error(tmp_path):
    done = cli("--lang", "zh", "--only", "seed003", "--out", str(tmp_path / "r"),
               env={"PYTHONIOENCODING": "ascii"})  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "nnscratch: error: --lang zh needs an output that can show its characters, and "
        "stdout's encoding is ascii; set PYTHONIOENCODING=utf-8 (or a UTF-8 locale) and run again"
    ]
    assert not (tmp_path / "r").exists()  # refused before anything ran or was written
