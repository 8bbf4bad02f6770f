"""Golden values: every number the seed notebook prints for the bundled scenarios comes out of our trace.

The seed's printouts are copied below as the notebook printed them (the report lost numpy's leading
spaces, so whitespace is compared loosely). ``nnstep trace --format seed`` must print each block, in
the same order, with the same numbers, its 誤差 included: the course's own value, 1e-7 inside the log
(nnstep's exact losses are checked against the course's formula separately). Arrays are compared as
text at numpy's 8 digits, which no CPU's last bits change (no value lies near a rounding boundary); the
numbers the seed prints with every digit (its 誤差) agree to 12 digits.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nnstep.engine.formats import render_seed
from nnstep.engine.ops import seed_cross_entropy
from nnstep.engine.scenario import load_scenario
from nnstep.engine.session import run

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

SEED_PRINTOUTS = {
    "single_unit": """
*** 重み ***
[[0.1]
[0.2]]
*** バイアス ***
[0.5]
*** 入力 ***
[2 3]
*** 総入力 ***
[1.3]
*** 中間層出力 ***
[1.3]
""",
    "single_layer": """
*** 重み ***
[[0.1 0.2 0.3]
[0.2 0.3 0.4]
[0.3 0.4 0.5]
[0.4 0.5 0.6]]
*** バイアス ***
[0.1 0.2 0.3]
*** 入力 ***
[ 1. 5. 2. -1.]
*** 総入力 ***
[1.4 2.2 3. ]
*** 中間層出力 ***
[0.80218389 0.90024951 0.95257413]
""",
    "three_layer": """
*** 入力 ***
[1. 2.]
*** 重み1 ***
[[0.1 0.3 0.5]
[0.2 0.4 0.6]]
*** 重み2 ***
[[0.1 0.4]
[0.2 0.5]
[0.3 0.6]]
*** 重み3 ***
[[0.1 0.3]
[0.2 0.4]]
*** バイアス1 ***
[0.1 0.2 0.3]
*** バイアス2 ***
[0.1 0.2]
*** バイアス3 ***
[1 2]
*** 総入力1 ***
[0.6 1.3 2. ]
*** 中間層出力1 ***
[0.6 1.3 2. ]
*** 総入力2 ***
[1.02 2.29]
""",
    "classify_2_3_4": """
*** 重み1 ***
[[0.1 0.3 0.5]
[0.2 0.4 0.6]]
*** 重み2 ***
[[0.1 0.4 0.7 1. ]
[0.2 0.5 0.8 1.1]
[0.3 0.6 0.9 1.2]]
*** バイアス1 ***
[0.1 0.2 0.3]
*** バイアス2 ***
[0.1 0.2 0.3 0.4]
*** 総入力1 ***
[0.6 1.3 2. ]
*** 中間層出力1 ***
[0.6 1.3 2. ]
*** 総入力2 ***
[1.02 2.29 3.56 4.83]
*** 出力1 ***
[0.01602796 0.05707321 0.20322929 0.72366954]
*** 出力 ***
[0.01602796 0.05707321 0.20322929 0.72366954]
*** 訓練データ ***
[0 0 0 1]
*** 誤差 ***
0.3234202933601941
""",
    "regress_2_3_2": """
*** 重み1 ***
[[0.1 0.3 0.5]
[0.2 0.4 0.6]]
*** 重み2 ***
[[0.1 0.4]
[0.2 0.5]
[0.3 0.6]]
*** バイアス1 ***
[0.1 0.2 0.3]
*** バイアス2 ***
[0.1 0.2]
*** 総入力1 ***
[0.6 1.3 2. ]
*** 中間層出力1 ***
[0.6 1.3 2. ]
*** 総入力2 ***
[1.02 2.29]
*** 出力1 ***
[1.02 2.29]
*** 出力 ***
[1.02 2.29]
*** 訓練データ ***
[2. 4.]
*** 誤差 ***
0.9711249999999999
""",
    "binary_2_3_1": """
*** 総入力1 ***
[0.6 1.3 2. ]
*** 中間層出力1 ***
[0.6 1.3 2. ]
*** 総入力2 ***
[1.94]
*** 出力1 ***
[0.87435214]
*** 出力 ***
[0.87435214]
*** 訓練データ ***
[1]
*** 誤差 ***
0.13427195993720972
""",
    "backprop_2_3_2": """
*** 重み1 ***
[[0.1 0.3 0.5]
[0.2 0.4 0.6]]
*** 重み2 ***
[[0.1 0.4]
[0.2 0.5]
[0.3 0.6]]
*** バイアス1 ***
[0.1 0.2 0.3]
*** バイアス2 ***
[0.1 0.2]
*** 総入力1 ***
[[1.2 2.5 3.8]]
*** 中間層出力1 ***
[[1.2 2.5 3.8]]
*** 総入力2 ***
[[1.86 4.21]]
*** 出力1 ***
[[0.08706577 0.91293423]]
*** 偏微分_dE/du2 ***
[[ 0.08706577 -0.08706577]]
*** 偏微分_dE/du1 ***
[[-0.02611973 -0.02611973 -0.02611973]]
*** 偏微分_重み1 ***
[[-0.02611973 -0.02611973 -0.02611973]
[-0.13059866 -0.13059866 -0.13059866]]
*** 偏微分_重み2 ***
[[ 0.10447893 -0.10447893]
[ 0.21766443 -0.21766443]
[ 0.33084994 -0.33084994]]
*** 偏微分_バイアス1 ***
[-0.02611973 -0.02611973 -0.02611973]
*** 偏微分_バイアス2 ***
[ 0.08706577 -0.08706577]
*** 重み1 ***
[[0.1002612 0.3002612 0.5002612 ]
[0.20130599 0.40130599 0.60130599]]
*** 重み2 ***
[[0.09895521 0.40104479]
[0.19782336 0.50217664]
[0.2966915 0.6033085 ]]
*** バイアス1 ***
[0.1002612 0.2002612 0.3002612]
*** バイアス2 ***
[0.09912934 0.20087066]
""",
}


def _blocks(text: str) -> list[tuple[str, str]]:
    """``*** label ***`` blocks as (label, body with whitespace folded)."""
    found = re.findall(r"^\*\*\* (.+?) \*\*\*\n(.*?)(?=^\*\*\* |^#####|^出力合計|\Z)", text, re.M | re.S)
    return [(label, " ".join(body.split())) for label, body in found]


def _same(wanted: tuple[str, str], ours: tuple[str, str]) -> bool:
    """The same block: the same label and text, except that a number the seed prints with every digit
    (a 誤差) must be ours written in full and agree to 12 digits: its last digits depend on the CPU's
    kernels that computed y."""
    if wanted[0] != ours[0]:
        return False
    if wanted[1] == ours[1]:
        return True
    try:
        seed, mine = float(wanted[1]), float(ours[1])
    except ValueError:  # an array: compared as text, at numpy's 8 digits
        return False
    return ours[1] == repr(mine) and mine == pytest.approx(seed, rel=1e-12)


def _is_subsequence(wanted: list, have: list) -> bool:
    it = iter(have)
    return all(any(_same(w, h) for h in it) for w in wanted)


@pytest.mark.parametrize("name", sorted(SEED_PRINTOUTS))
def test_seed_format_prints_every_block_the_seed_prints(name):
    ours = _blocks(render_seed(run(load_scenario(SCENARIOS / f"{name}.toml"))))
    wanted = _blocks(SEED_PRINTOUTS[name])
    assert wanted, "the golden printout parsed into no blocks"
    missing = [w for w in wanted if not any(_same(w, o) for o in ours)]
    assert not missing, f"blocks the seed prints that we do not: {missing}\nours: {ours}"
    # Each network's prints come in the seed's order (the single-layer notebooks print W, b, x first).
    assert _is_subsequence(wanted, ours)


def _values(name: str) -> dict[str, np.ndarray]:
    r = run(load_scenario(SCENARIOS / f"{name}.toml"))
    return {s.name if s.phase != "update" else f"new_{s.name}": s.value for s in r.steps}


def test_full_precision_values_the_seed_prints():
    # The seed prints these with every digit; ours agree to 1e-12 relative (the issue asks 1e-8).
    assert _values("regress_2_3_2")["loss"] == pytest.approx(0.9711249999999999, rel=1e-12)
    assert np.sum(_values("three_layer")["z1"]) == pytest.approx(3.9, rel=1e-12)
    assert np.sum(_values("classify_2_3_4")["y"]) == pytest.approx(1.0, rel=1e-12)
    assert np.sum(_values("backprop_2_3_2")["y"]) == pytest.approx(0.9999999999999999, rel=1e-12)


@pytest.mark.parametrize("name, printed", [("classify_2_3_4", 0.3234202933601941),
                                           ("binary_2_3_1", 0.13427195993720972)])
def test_course_losses_with_epsilon_match_the_course_formula_and_the_exact_loss_differs(name, printed):
    v = _values(name)
    assert seed_cross_entropy(v["y"], np.array(load_scenario(SCENARIOS / f"{name}.toml").d)) == \
        pytest.approx(printed, rel=1e-12)
    # The exact loss differs from the printed one around the 7th significant digit, as documented.
    exact = float(v["loss"])
    assert exact == pytest.approx(-np.log(v["y"][-1]), rel=1e-12)
    assert 1e-8 < abs(exact - printed) / printed < 1e-5


def test_backprop_numbers_to_eight_digits():
    v = _values("backprop_2_3_2")
    np.testing.assert_allclose(v["y"], [[0.08706577, 0.91293423]], atol=5e-9)
    np.testing.assert_allclose(v["delta2"], [[0.08706577, -0.08706577]], atol=5e-9)
    np.testing.assert_allclose(v["delta1"], [[-0.02611973] * 3], atol=5e-9)
    np.testing.assert_allclose(v["grad_W2"], [[0.10447893, -0.10447893], [0.21766443, -0.21766443],
                                              [0.33084994, -0.33084994]], atol=5e-9)
    np.testing.assert_allclose(v["new_W1"], [[0.1002612, 0.3002612, 0.5002612],
                                             [0.20130599, 0.40130599, 0.60130599]], atol=5e-9)
    np.testing.assert_allclose(v["new_b2"], [0.09912934, 0.20087066], atol=5e-9)
