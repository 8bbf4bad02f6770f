"""``nnstep trace --format seed``: the course notebook's printout, block for block, and a closing block on
where the two differ.

For every bundled scenario the printout must be the notebook's own sequence of blocks (COURSE.md: labels,
headings, order), once the blocks nnstep prints beyond the notebook are set aside and the labels the
notebook gets wrong are put back as it writes them; every block must hold the array its label means; and
the closing block must name each of those places. Numbers are read back from the text and compared with
the engine's at the precision printed, never as CPU-dependent last digits.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnstep.engine.bundled import find_bundled
from nnstep.engine.formats import course_loss, notebook, render_seed
from nnstep.engine.numbers import exact
from nnstep.engine.ops import LOSSES, seed_cross_entropy
from nnstep.engine.scenario import load_scenario, parse_scenario
from nnstep.engine.session import Session, run

ROOT = Path(__file__).resolve().parent.parent
INIT, FORWARD, RESULT, BACKWARD, UPDATED = ("##### ネットワークの初期化 #####", "##### 順伝播開始 #####",
                                            "##### 結果表示 #####", "##### 誤差逆伝播開始 #####",
                                            "##### 更新後パラメータ #####")
CLOSING = "##### ノートブックとの違い (how this printout differs from the course's notebook) #####"
TOTAL = "出力合計"
PARAMS_2 = ["重み1", "重み2", "バイアス1", "バイアス2"]
FORWARD_2 = ["総入力1", "中間層出力1", "総入力2", "出力1", TOTAL]
BACKPROP_2 = [BACKWARD, "偏微分_dE/du2", "偏微分_dE/du1", "偏微分_重み1", "偏微分_重み2", "偏微分_バイアス1",
              "偏微分_バイアス2", RESULT, UPDATED] + PARAMS_2

#: What each notebook cell prints (COURSE.md, the seed's printouts): its labels, headings and 出力合計, in order.
NOTEBOOK = {
    "single_unit": ["重み", "バイアス", "入力", "総入力", "中間層出力"],
    "single_layer": ["重み", "バイアス", "入力", "総入力", "中間層出力"],
    "three_layer": ["入力", INIT, "重み1", "重み2", "重み3", "バイアス1", "バイアス2", "バイアス3", FORWARD,
                    "総入力1", "中間層出力1", "総入力2", "出力1", TOTAL],
    "classify_2_3_4": [INIT] + PARAMS_2 + [FORWARD] + FORWARD_2 + [RESULT, "出力", "訓練データ", "誤差"],
    "regress_2_3_2": [INIT] + PARAMS_2 + [FORWARD] + FORWARD_2 + [RESULT, "中間層出力", "出力", "訓練データ", "誤差"],
    "binary_2_3_1": [INIT, FORWARD] + FORWARD_2 + [RESULT, "中間層出力", "出力", "訓練データ", "誤差"],
    # 1_2 labels both deltas 偏微分_dE/du2.
    "backprop_2_3_2": [INIT] + PARAMS_2 + [FORWARD] + FORWARD_2
    + [l.replace("dE/du1", "dE/du2") for l in BACKPROP_2],
}
#: What nnstep prints beyond each notebook (the scenario's own loss and update, the steps the notebook
#: computes without printing): slices of our sequence (None: to the end), set aside to compare.
BEYOND = {
    "three_layer": [(12, 14), (16, None)],  # 中間層出力2, 総入力3; then 結果表示 … the updated parameters
    "classify_2_3_4": [(15, None)],         # 誤差逆伝播開始 … the updated parameters
    "regress_2_3_2": [(16, None)],
    "binary_2_3_1": [(12, None)],
    "backprop_2_3_2": [(11, 12)],           # 誤差, which 1_2 computes but never prints
}
#: Labels nnstep writes as they are meant where the notebook writes another: (index in ours, the notebook's).
RELABELLED = {"backprop_2_3_2": [(14, "偏微分_dE/du2")]}
#: What the closing block must say for each scenario (beside the line on its layout).
CLOSING_SAYS = {
    "single_unit": ["- バイアス: the notebook's b is a Python number"],
    "single_layer": ["; nothing differs."],
    "three_layer": ["- 中間層出力2, 総入力3: the notebook computes them but does not print them.",
                    "- 出力1: the notebook prints z1 under this label", "- 出力合計: the notebook prints the sum of z1 "
                    "(np.sum(z1) = 3.9)", "- 結果表示 (出力, 訓練データ, 誤差): the notebook has no target and no loss",
                    "- 誤差逆伝播開始 to 更新後パラメータ: the notebook stops before the backward pass"],
    "classify_2_3_4": ["- 出力合計: each row of probabilities sums to 1 only up to rounding",
                       "- 誤差: the course's cross_entropy_error(d, y), as the notebook prints it, adds 1e-7",
                       "- 誤差逆伝播開始 to 更新後パラメータ"],
    "regress_2_3_2": ["- 出力合計: the notebook prints the sum of z1 (np.sum(z1) = 3.9)", "- 誤差逆伝播開始 to 更新後パラメータ"],
    "binary_2_3_1": ["- 出力合計: the notebook prints the sum of z1", "on one sigmoid unit it reads only y, so the label "
                     "makes no difference", "- 誤差逆伝播開始 to 更新後パラメータ"],
    "backprop_2_3_2": ["- 誤差: the notebook computes the loss but never prints it",
                       "- 誤差: the course's cross_entropy_error(d, y)", "- 偏微分_dE/du1: the notebook labels delta1 "
                       "偏微分_dE/du2", "- 出力合計: each row of probabilities"],
}
#: The one number each notebook prints in full (COURSE.md): its 誤差, the course's own value.
PRINTED_LOSS = {"classify_2_3_4": 0.3234202933601941, "regress_2_3_2": 0.9711249999999999,
                "binary_2_3_1": 0.13427195993720972, "backprop_2_3_2": 0.09109133135793156}


def printout(name: str) -> str:
    return render_seed(run(load_scenario(find_bundled(name))))


def sequence(text: str) -> list[str]:
    """The printout's labels, ##### headings and 出力合計 lines, in order, up to the closing block."""
    body = text.split(CLOSING)[0]
    out = []
    for line in body.splitlines():
        m = re.fullmatch(r"\*\*\* (.+) \*\*\*", line)
        if m:
            out.append(m.group(1))
        elif line.startswith("#####"):
            out.append(line)
        elif line.startswith(TOTAL + ": "):
            out.append(TOTAL)
    return out


def blocks(text: str) -> list[tuple[str, str]]:
    """Each ``*** label ***`` block: (label, the printed value up to the blank line)."""
    found = re.findall(r"^\*\*\* (.+?) \*\*\*\n(.*?)\n\n", text.split(CLOSING)[0], re.M | re.S)
    return [(label, body) for label, body in found]


def numbers(body: str) -> tuple[int, np.ndarray]:
    """A numpy-printed value read back: its depth of brackets and its numbers in order."""
    depth = len(body) - len(body.lstrip("["))
    return depth, np.array([float(v) for v in re.findall(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf)", body)])


def meant(name: str) -> list[tuple[str, np.ndarray]]:
    """(label, array) for every block, by what each label means, from the engine's own steps."""
    r = run(load_scenario(find_bundled(name)))
    L = len(r.layers)
    value = {(s.kind, s.layer, s.param): s.value for s in r.steps}
    n = (lambda l: "") if L == 1 else str
    book = notebook(r.scenario)
    out = []
    if book.input == "first":
        out.append(("入力", r.x))
    params = [(f"{label}{n(l)}", getattr(r.layers[l - 1], p)) for p, label in (("W", "重み"), ("b", "バイアス"))
              for l in range(1, L + 1)]
    out += params if book.parameters else []
    if book.input == "after_parameters":
        out.append(("入力", r.x))
    for l in range(1, L + 1):
        out.append((f"総入力{n(l)}", value[("affine", l, None)]))
        out.append(("中間層出力" if L == 1 else "出力1" if l == L else f"中間層出力{l}", value[("activation", l, None)]))
    if r.scenario.loss is None:
        return out
    # The course computes every classifier's loss with its cross_entropy_error; its mean_squared_error is ours.
    classifier = LOSSES[r.scenario.loss].classifier
    loss = np.float64(float(seed_cross_entropy(r.output.value, r.d)) if classifier else r.loss)
    if book.loss_unprinted:
        out.append(("誤差", loss))
    else:
        out += ([("中間層出力", value[("activation", 1, None)])] if book.result_hidden else []) + \
            [("出力", r.output.value), ("訓練データ", r.d), ("誤差", loss)]
    out += [(f"偏微分_dE/du{n(l)}", value[("delta", l, None)]) for l in range(L, 0, -1)]
    out += [(f"偏微分_{label}{n(l)}", value[(kind, l, p)]) for kind, p, label in
            (("grad_W", "W", "重み"), ("grad_b", "b", "バイアス")) for l in range(1, L + 1)]
    out += [(f"{label}{n(l)}", value[("update", l, p)]) for p, label in (("W", "重み"), ("b", "バイアス"))
            for l in range(1, L + 1)]
    return out


@pytest.mark.parametrize("name", sorted(NOTEBOOK))
def test_the_printout_is_the_notebooks_once_what_nnstep_adds_is_set_aside(name):
    ours = sequence(printout(name))
    for at, label in RELABELLED.get(name, []):
        ours[at] = label
    for start, stop in sorted(BEYOND.get(name, []), reverse=True):
        del ours[start:stop]
    assert ours == NOTEBOOK[name]


@pytest.mark.parametrize("name", sorted(NOTEBOOK))
def test_every_block_holds_the_array_its_label_means(name):
    got, want = blocks(printout(name)), meant(name)
    assert [label for label, _ in got] == [label for label, _ in want]
    for (label, body), (_, array) in zip(got, want):
        depth, values = numbers(body)
        assert depth == np.ndim(array), (label, body)
        np.testing.assert_allclose(values, np.ravel(array), rtol=1e-7, atol=1e-8, err_msg=label)


@pytest.mark.parametrize("name", sorted(PRINTED_LOSS))
def test_the_printed_loss_is_the_courses_value_as_its_notebook_prints_it(name):
    text = printout(name)
    printed = dict(blocks(text))["誤差"]
    r = run(load_scenario(find_bundled(name)))
    assert printed == exact(course_loss(r))
    assert float(printed) == pytest.approx(PRINTED_LOSS[name], rel=1e-12)


def test_the_2_3_1_notebooks_loss_ignores_the_label_as_the_course_does(tmp_path):
    text = Path(find_bundled("binary_2_3_1")).read_text(encoding="utf-8").replace("d = [1]", "d = [0]")
    r = run(parse_scenario(text, tmp_path / "s.toml"))
    printed = dict(blocks(render_seed(r)))["誤差"]
    assert float(printed) == pytest.approx(PRINTED_LOSS["binary_2_3_1"], rel=1e-12)
    assert r.loss == pytest.approx(2.074272074307599, rel=1e-12)  # nnstep's depends on it


@pytest.mark.parametrize("name", sorted(NOTEBOOK))
def test_the_closing_block_names_every_difference_and_holds_no_block(name):
    text = printout(name)
    assert text.count(CLOSING) == 1
    body, closing = text.split(CLOSING)
    assert body.endswith("\n\n") and closing.endswith("\n")
    lines = closing.strip("\n").splitlines()
    assert lines and all(line.startswith("- ") for line in lines), lines
    assert lines[0].startswith("- Laid out as notebook 1_")
    assert not any(re.search(r"\*\*\*", line) or line.lstrip().startswith("[") for line in lines)
    for said in CLOSING_SAYS[name]:
        assert said in closing, (said, closing)
    # Said exactly when it differs.
    assert ("; nothing differs." in closing) == (len(lines) == 1)


def test_the_closing_block_gives_the_exact_loss_beside_the_courses():
    r = run(load_scenario(find_bundled("classify_2_3_4")))
    closing = printout("classify_2_3_4").split(CLOSING)[1]
    assert f"{exact(course_loss(r))}; nnstep's exact loss is {exact(r.loss)}" in closing


@pytest.mark.parametrize("name, cell", [("single_unit", "順伝播（単層・単ユニット）"),
                                        ("single_layer", "順伝播（単層・複数ユニット）"),
                                        ("three_layer", "順伝播（3層・複数ユニット）"),
                                        ("classify_2_3_4", "多クラス分類（2-3-4ネットワーク）"),
                                        ("regress_2_3_2", "回帰（2-3-2ネットワーク）"),
                                        ("binary_2_3_1", "2値分類（2-3-1ネットワーク）"),
                                        ("backprop_2_3_2", "1_2_back_propagation, cell メインプログラム")])
def test_each_bundled_network_is_printed_as_its_notebook_cell(name, cell):
    assert cell in printout(name).split(CLOSING)[1].splitlines()[1]


# --- networks the notebooks do not have, and training runs -------------------------------------------------

HEADER = 'loss = "{loss}"\nlearning_rate = 0.1\nx = {x}\nd = {d}\n'


def network(tmp_path: Path, widths: list[int], acts: list[str], loss: str | None, x: str, d: str) -> str:
    """A scenario of random layers (``units``), traced in the seed format."""
    text = (HEADER.format(loss=loss, x=x, d=d) if loss else f"x = {x}\n") + "seed = 1\n"
    for units, act in zip(widths, acts):
        text += f'\n[[layers]]\nunits = {units}\nactivation = "{act}"\n'
    return render_seed(run(parse_scenario(text, tmp_path / "s.toml")))


def test_a_3_5_4_variant_is_printed_as_the_multi_class_cell(tmp_path):
    text = network(tmp_path, [5, 4], ["relu", "softmax"], "cross_entropy", "[1.0, 2.0, 3.0]", "[0, 1, 0, 0]")
    assert "多クラス分類" in text.split(CLOSING)[1]
    assert sequence(text)[:15] == NOTEBOOK["classify_2_3_4"]


def test_a_5_10_1_variant_is_printed_as_the_binary_cell(tmp_path):
    text = network(tmp_path, [10, 1], ["relu", "sigmoid"], "binary_cross_entropy", "[1.0, 2.0, 3.0, 4.0, 5.0]", "[1]")
    assert "2値分類" in text.split(CLOSING)[1]
    assert sequence(text)[:12] == NOTEBOOK["binary_2_3_1"]


def test_a_batch_is_printed_as_1_2_and_a_deeper_network_in_the_courses_layout(tmp_path):
    batch = network(tmp_path, [3, 2], ["relu", "identity"], "mse", "[[1.0, 2.0], [3.0, 4.0]]", "[[1.0, 0.0], [0.0, 1.0]]")
    assert "1_2_back_propagation" in batch.split(CLOSING)[1]
    deep = network(tmp_path, [3, 3, 3, 2], ["relu", "tanh", "relu", "softmax"], "cross_entropy", "[1.0, 2.0]", "[0, 1]")
    closing = deep.split(CLOSING)[1]
    assert "- No notebook of the course prints a 2-3-3-3-2 network like this one" in closing
    assert sequence(deep)[:2] == ["入力", INIT] and "総入力4" in sequence(deep) and "偏微分_dE/du4" in sequence(deep)
    single = network(tmp_path, [2], ["sigmoid"], "mse", "[1.0, 2.0]", "[0.5, 0.5]")
    assert "No notebook of the course" in single and "偏微分_重み" in sequence(single)  # one layer: no numbers


def test_a_forward_only_two_layer_network_says_the_notebook_goes_on_to_a_loss(tmp_path):
    text = network(tmp_path, [3, 4], ["relu", "softmax"], None, "[1.0, 2.0]", "")
    assert sequence(text) == NOTEBOOK["classify_2_3_4"][:11]
    assert "- 結果表示: the notebook goes on to the loss (出力, 訓練データ, 誤差); the scenario has no loss key" in text


def test_a_training_run_prints_each_iteration_under_its_heading_and_the_closing_block_once():
    session = Session(load_scenario(find_bundled("digits_minibatch")))
    session.advance(2)
    text = render_seed([session.iteration(i) for i in (2, 3)])
    assert text.startswith("##### 繰り返し 2 (iteration) #####\n*** 入力 ***\n")
    assert "\n##### 繰り返し 3 (iteration) #####\n*** 入力 ***\n" in text
    assert text.count(CLOSING) == 1 and text.index(CLOSING) > text.index("繰り返し 3 (iteration)")
    closing = text.split(CLOSING)[1]
    assert "- A training run: the course's training notebooks (1_3, 1_4) print no arrays." in closing
    assert "- 誤差 of iteration 2: the course's cross_entropy_error(d, y)" in closing
    per_iteration = text.split("##### 繰り返し 3 (iteration) #####")[1].split(CLOSING)[0]
    assert sequence(per_iteration)[:3] == ["入力", "##### 繰り返し 3 開始時のパラメータ (the parameters after iteration 2) #####",
                                           "重み1"]
    printed = [b for label, b in blocks(text) if label == "誤差"]
    assert printed == [exact(course_loss(session.iteration(i))) for i in (2, 3)]


def test_the_command_line_prints_what_render_seed_renders():
    result = subprocess.run([sys.executable, "-m", "nnstep.engine.cli", "trace", "three_layer", "--format", "seed"],
                            capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == printout("three_layer")


def test_the_readme_example_is_what_nnstep_prints():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n\$ nnstep trace backprop_2_3_2 --format seed\n(.*?)```", readme, re.S)
    assert block, "README has no example of the seed format"
    def same_on_every_cpu(line: str) -> str:
        # sum(y) of a softmax row is 1.0 on one CPU and 0.9999999999999999 on another (the course saw both).
        if line.startswith("出力合計: "):
            return f"出力合計: {float(line.split(': ', 1)[1]):.10g}"
        return line

    out = [same_on_every_cpu(line) for line in printout("backprop_2_3_2").splitlines()]
    chunks = [[same_on_every_cpu(line) for line in chunk.strip("\n").splitlines()]
              for chunk in block.group(1).split("…")]
    position = 0
    for chunk in filter(None, chunks):
        starts = [i for i in range(position, len(out)) if out[i:i + len(chunk)] == chunk]
        assert starts, "README example lines not in the output:\n" + "\n".join(chunk)
        position = starts[0] + len(chunk)
