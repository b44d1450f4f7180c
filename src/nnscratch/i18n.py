"""The words of the ``nnscratch reproduce`` table in English and Chinese (``--lang en|zh``).

Every label lives here once, as a template per language under a stable message id. An
experiment builds its row's text with :func:`t`, which returns a :class:`Text`: a plain ``str``
holding the English rendering (what ``results.json``, the tests and the web pages read), that
also remembers its id and parameters so :func:`render` can write it again in another language.
Numbers enter the templates as parameters with one format spec per message, so both languages
show the same digits. The Chinese wording follows the source articles (``shared/seeds``): 感知机,
均方误差, 交叉熵, 准确率, 学习率, 隐藏层, 迭代, 轮, 单调递减, 溢出, 爆炸, 正则化 ...

Terminal columns: a Chinese character takes two cells, so padding uses :func:`display_width`
(``unicodedata.east_asian_width``: "W" and "F" are two cells, combining marks none).

It sits beside the packages rather than in ``experiments`` because it imports nothing of
nnscratch: the article modules, which import only ``experiments.common``, may use it too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

LANGS = ("en", "zh")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # the runner: start line, row labels, verdicts, summary, Markdown report
        "run.mode.fast": "fast mode: fewer epochs on MNIST, said in each row",
        "run.mode.full": "full run",
        "run.start": "reproducing the articles ({mode}); figures go to {out}/",
        "run.summary": (
            "{passed} passed, {failed} failed, {skipped} skipped in {seconds:.0f}s; "
            "table in {table}"
        ),
        "label.article": "article:",
        "label.ours": "ours:",
        "label.note": "note:",
        "mark.pass": "ok",
        "mark.FAIL": "FAIL",
        "mark.skipped": "skip",
        "verdict.pass": "pass",
        "verdict.FAIL": "FAIL",
        "verdict.skipped": "skipped",
        "md.title": "# nnscratch reproduce",
        "md.fast": "Fast mode (fewer MNIST epochs). ",
        "md.time": "Run time {seconds:.0f} s.",
        "md.experiment": "experiment",
        "md.article": "article",
        "md.ours": "ours",
        "md.verdict": "verdict",
        "md.figures": "Figures:",
        # shared by several experiments
        "mnist.missing": "MNIST not available",
        "note.figures_skipped": "figures skipped: {error}",
        "note.figure_skipped": "figure skipped: {error}",
        "note.fast_subset": (
            "fast mode: {train:,} training samples, {epochs} epoch{plural}, {test:,} test "
            "images; checks >= {bar:.0%}"
        ),
        # seed 000
        "seed000.linear": "seed 000: linear multi-class perceptron, one-hot targets, quadratic cost",
        "seed000.linear.article": "about 50% accuracy",
        "seed000.linear.ours": "{acc:.1%} test accuracy",
        "seed000.hidden": "seed 000: one hidden ReLU layer (8 units), quadratic cost, eta 1e-5",
        "seed000.hidden.article": "about 70% accuracy",
        "seed000.softmax": "seed 000: softmax + cross-entropy (same network)",
        "seed000.softmax.article": "better than both",
        "seed000.large_lr": "seed 000: a larger learning rate (3e-4 per sample)",
        "seed000.large_lr.article": (
            "the quadratic-cost model explodes; softmax + cross-entropy stays stable"
        ),
        "seed000.large_lr.ours": (
            "quadratic cost diverged for {diverged}/3 widths; softmax + CE trained to {acc:.1%}"
        ),
        # seed 002
        "seed002.fast": "seed 002: sigmoid neuron, quadratic cost, eta 0.15, from w=0.6, b=0.9",
        "seed002.fast.article": "learns fast from the start",
        "seed002.fast.ours": "cost halves in {epochs} epochs ({first:.3f} -> {last:.4f})",
        "seed002.slow": "seed 002: same, from w=2, b=2 (a saturated neuron)",
        "seed002.slow.article": "a long plateau for roughly the first 150 epochs",
        "seed002.slow.ours": (
            "{share:.0%} of the total drop happens in the first 150 epochs; cost halves after "
            "{epochs} epochs"
        ),
        "seed002.ce": "seed 002: cross-entropy, eta 0.005, from w=2, b=2",
        "seed002.ce.article": "no plateau: fastest at the start",
        "seed002.ce.ours": "drop per 50 epochs {drops} (decreasing)",
        "seed002.mnist30": (
            "seed 002: Nielsen 784-30-10, sigmoid, cross-entropy, eta 0.5, mini-batch 10"
        ),
        "seed002.mnist30.article": "about 95.5% on validation data (95.49% in the book)",
        "seed002.mnist100": (
            "seed 002: Nielsen 784-100-10, cross-entropy + L2 (lambda 5.0), eta 0.5, mini-batch 10"
        ),
        "seed002.mnist100.article": "97.92% on validation data",
        "seed002.mnist.ours": "{last:.2%} (best {best:.2%})",
        "seed002.mnist.fast": "fast mode: {epochs} of the book's 30 epochs",
        # seed 003
        "seed003.table": "seed 003: 3-4-1 sigmoid network, SSE, 1500 full-batch iterations",
        "seed003.loss": "seed 003: the loss over the 1500 iterations",
        "seed003.loss.article": "decreases monotonically to a minimum",
        "seed003.loss.monotone": "{first:.3f} -> {last:.5f}, monotone",
        "seed003.loss.not_monotone": "{first:.3f} -> {last:.5f}, NOT monotone",
        # seed 004
        "seed004.forward": "seed 004: 3-layer forward pass with fixed weights",
        "seed004.softmax": "seed 004: softmax([0.3, 2.9, 4.0])",
        "seed004.overflow": "seed 004: softmax([1010, 1000, 990]) with the max subtracted",
        "seed004.overflow.article": "{values}, no overflow",
        "seed004.overflow.ours": "{values}, no warning",
        "seed004.pretrained": (
            "seed 004: pretrained 784-50-100-10 sigmoid network on the 10,000 MNIST test images"
        ),
        "seed004.weights_missing": "weights not found",
        "seed004.weights_where": ("{file} is looked for beside the MNIST folder and in {folder}"),
        # Nielsen, chapter 6
        "nielsen.conv1": (
            "Nielsen ch. 6: conv 20x5x5 + max-pool 2x2 + 100 sigmoid + softmax, eta 0.1"
        ),
        "nielsen.conv2": (
            "Nielsen ch. 6: two conv-pool layers (20, 40 filters) + 100 sigmoid, eta 0.1"
        ),
        "nielsen.relu": "Nielsen ch. 6: two conv-pool layers, ReLU, eta 0.03, lambda 0.1",
        "nielsen.expanded": (
            "Nielsen ch. 6: two conv-pool layers, ReLU, on the data expanded by 1-pixel shifts"
        ),
        "nielsen.article": "{figure:.2%} (best of {epochs} epochs by validation accuracy)",
        "nielsen.ours": (
            "{test:.2%} (epoch {epoch} of {epochs}, best validation {val:.2%}; last epoch "
            "{last:.2%})"
        ),
        "nielsen.full": (
            "{epochs} of the book's {book} epochs, mini-batch {batch}, samples reshuffled every "
            "epoch"
        ),
        # Saito, chapter 7
        "saito.name": (
            "Saito ch. 7: SimpleConvNet (conv 30x5x5, ReLU, max-pool 2x2, 100 ReLU), Adam lr 0.001"
        ),
        "saito.article": "about {figure:.1%} test accuracy after {epochs} epochs",
        "saito.ours": "{last:.2%} after {epochs} epochs (best {best:.2%}, epoch {epoch})",
        "saito.full": "{epochs} epochs as in the book; each epoch visits every sample once",
    },
    "zh": {
        "run.mode.fast": "快速模式：MNIST 上训练的轮数较少，每行注明",
        "run.mode.full": "完整运行",
        "run.start": "复现文章中的实验（{mode}）；图表保存到 {out}/",
        "run.summary": (
            "通过 {passed} 项，失败 {failed} 项，跳过 {skipped} 项，用时 {seconds:.0f}s；"
            "结果表见 {table}"
        ),
        "label.article": "文章结果：",
        "label.ours": "本库结果：",
        "label.note": "备注：",
        "mark.pass": "通过",
        "mark.FAIL": "失败",
        "mark.skipped": "跳过",
        "verdict.pass": "通过",
        "verdict.FAIL": "失败",
        "verdict.skipped": "跳过",
        "md.title": "# nnscratch reproduce 复现结果",
        "md.fast": "快速模式（MNIST 上训练的轮数较少）。",
        "md.time": "运行时间 {seconds:.0f} s。",
        "md.experiment": "实验",
        "md.article": "文章结果",
        "md.ours": "本库结果",
        "md.verdict": "结论",
        "md.figures": "图表：",
        "mnist.missing": "MNIST 数据不可用",
        "note.figures_skipped": "未画图表：{error}",
        "note.figure_skipped": "未画图表：{error}",
        "note.fast_subset": (
            "快速模式：{train:,} 个训练样本，{epochs} 轮，{test:,} 张测试集图像；检查 >= {bar:.0%}"
        ),
        "seed000.linear": "seed 000：线性多分类感知机，one-hot 目标值，均方误差",
        "seed000.linear.article": "正确率 50% 左右",
        "seed000.linear.ours": "测试集准确率 {acc:.1%}",
        "seed000.hidden": "seed 000：一个 ReLU 隐藏层（8 个神经元），均方误差，学习率 1e-5",
        "seed000.hidden.article": "准确率 70% 左右",
        "seed000.softmax": "seed 000：softmax + 交叉熵（同一网络）",
        "seed000.softmax.article": "比前两者都好",
        "seed000.large_lr": "seed 000：更大的学习率（每个样本 3e-4）",
        "seed000.large_lr.article": "均方误差模型爆炸；softmax + 交叉熵保持稳定",
        "seed000.large_lr.ours": (
            "均方误差在 {diverged}/3 种宽度下发散；softmax + 交叉熵训练到 {acc:.1%}"
        ),
        "seed002.fast": "seed 002：sigmoid 神经元，均方误差，学习率 0.15，初始 w=0.6, b=0.9",
        "seed002.fast.article": "一开始学习速度就很快",
        "seed002.fast.ours": "代价在 {epochs} 轮内减半（{first:.3f} -> {last:.4f}）",
        "seed002.slow": "seed 002：同上，初始 w=2, b=2（饱和的神经元）",
        "seed002.slow.article": "前 150 轮左右的迭代学习很缓慢",
        "seed002.slow.ours": ("前 150 轮只完成总下降量的 {share:.0%}；代价在 {epochs} 轮后减半"),
        "seed002.ce": "seed 002：交叉熵，学习率 0.005，初始 w=2, b=2",
        "seed002.ce.article": "没有缓慢期：一开始学习速度最快",
        "seed002.ce.ours": "每 50 轮的下降量 {drops}（递减）",
        "seed002.mnist30": "seed 002：Nielsen 784-30-10，sigmoid，交叉熵，学习率 0.5，小批量 10",
        "seed002.mnist30.article": "验证集上 95.5% 左右（书中为 95.49%）",
        "seed002.mnist100": (
            "seed 002：Nielsen 784-100-10，交叉熵 + L2 正则化（λ = 5.0），学习率 0.5，小批量 10"
        ),
        "seed002.mnist100.article": "验证集上 97.92%",
        "seed002.mnist.ours": "{last:.2%}（最佳 {best:.2%}）",
        "seed002.mnist.fast": "快速模式：书中 30 轮里的 {epochs} 轮",
        "seed003.table": "seed 003：3-4-1 sigmoid 网络，平方误差和，1500 次全批量迭代",
        "seed003.loss": "seed 003：1500 次迭代中的损失",
        "seed003.loss.article": "单调递减到最小值",
        "seed003.loss.monotone": "{first:.3f} -> {last:.5f}，单调递减",
        "seed003.loss.not_monotone": "{first:.3f} -> {last:.5f}，并非单调递减",
        "seed004.forward": "seed 004：固定权重的 3 层神经网络，前向计算",
        "seed004.softmax": "seed 004：softmax([0.3, 2.9, 4.0])",
        "seed004.overflow": "seed 004：softmax([1010, 1000, 990])，先减去最大值",
        "seed004.overflow.article": "{values}，没有溢出",
        "seed004.overflow.ours": "{values}，没有警告",
        "seed004.pretrained": (
            "seed 004：学习好的 784-50-100-10 sigmoid 网络，在 10,000 张 MNIST 测试集图像上推理"
        ),
        "seed004.weights_missing": "找不到权重文件",
        "seed004.weights_where": "在 MNIST 文件夹旁和 {folder} 中查找 {file}",
        "nielsen.conv1": (
            "Nielsen 第 6 章：卷积 20x5x5 + 最大池化 2x2 + 100 个 sigmoid 神经元 + softmax，"
            "学习率 0.1"
        ),
        "nielsen.conv2": (
            "Nielsen 第 6 章：两个卷积-池化层（20、40 个滤波器）+ 100 个 sigmoid 神经元，学习率 0.1"
        ),
        "nielsen.relu": "Nielsen 第 6 章：两个卷积-池化层，ReLU，学习率 0.03，λ = 0.1",
        "nielsen.expanded": "Nielsen 第 6 章：两个卷积-池化层，ReLU，训练数据用平移 1 像素扩充",
        "nielsen.article": "{figure:.2%}（{epochs} 轮中验证集准确率最高的一轮）",
        "nielsen.ours": (
            "{test:.2%}（第 {epoch} 轮，共 {epochs} 轮，验证集最佳 {val:.2%}；最后一轮 {last:.2%}）"
        ),
        "nielsen.full": "书中 {book} 轮里的 {epochs} 轮，小批量 {batch}，每轮重新打乱样本",
        "saito.name": (
            "Saito 第 7 章：SimpleConvNet（卷积 30x5x5，ReLU，最大池化 2x2，100 个 ReLU 神经元），"
            "Adam 学习率 0.001"
        ),
        "saito.article": "{epochs} 轮后测试集准确率 {figure:.1%} 左右",
        "saito.ours": "{epochs} 轮后 {last:.2%}（最佳 {best:.2%}，第 {epoch} 轮）",
        "saito.full": "与书中相同的 {epochs} 轮；每轮遍历每个样本一次",
    },
}


class Text(str):
    """A row's text: the English rendering as the ``str`` value, plus the message id and the
    parameters that render it again in another language."""

    key: str
    params: Mapping[str, Any]

    def __new__(cls, key: str, params: Mapping[str, Any]) -> Text:
        self = super().__new__(cls, _format("en", key, params))
        self.key, self.params = key, dict(params)
        return self

    # a Text is immutable: copies (``dataclasses.asdict`` deep-copies) may share it
    def __copy__(self) -> Text:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Text:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (self.key, self.params))


def t(key: str, **params: Any) -> Text:
    """The message ``key`` with its parameters, English as the string value."""
    return Text(key, params)


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; choose from {', '.join(LANGS)}")
    return lang


def message(key: str, lang: str, **params: Any) -> str:
    """The runner's own words (headers, verdicts, summary) in ``lang``."""
    return _format(check_lang(lang), key, params)


def render(text: str, lang: str) -> str:
    """``text`` in ``lang``: a :class:`Text` is rendered from its template, any other string
    (numbers, file names, an error message from outside the experiments) is returned as it is."""
    if isinstance(text, Text):
        return _format(check_lang(lang), text.key, text.params)
    return text


def _format(lang: str, key: str, params: Mapping[str, Any]) -> str:
    # a parameter may itself be a Text (a note inside a note): render it in the same language
    values = {k: render(v, lang) if isinstance(v, Text) else v for k, v in params.items()}
    return MESSAGES[lang][key].format(**values)


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: 2 per wide or full-width character (east Asian width "W"
    or "F", e.g. 汉字 and the full-width "："), 0 per combining mark, 1 otherwise."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` terminal cells (unchanged if already wider)."""
    return text + " " * max(0, width - display_width(text))
