"""The course's print_vec printout read back (engine/printout.py): blocks, numbers and the resolution they
were printed at, headings, shortened arrays, and the reading of labels for a network (by label, by order,
by numbers), with the malformed printouts it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from nnstep.engine import printout
from nnstep.engine.bundled import find_bundled
from nnstep.engine.compare import _differing, _align
from nnstep.engine.scenario import load_scenario
from nnstep.engine.session import Session


def iteration(name: str):
    return Session(load_scenario(find_bundled(name))).iteration(1)


def agrees_with(it):
    """The callback the compare engine gives: is ``given`` our array ``name``?"""
    ours = {s.name: s.value for s in it.steps if s.kind != "update"}

    def agrees(name, given):
        aligned = _align(ours[name].shape, given.value, given.resolution, given.shown)
        return aligned is not None and not np.any(_differing(ours[name], *aligned, rtol=1e-9))

    return agrees


def only_block(text: str) -> printout.Block:
    (section,) = printout.parse(text).sections
    (block,) = section.blocks
    return block


def given(text: str, shape=None) -> printout.Given:
    parsed = printout.parse(text)
    return printout.placed(parsed.sections[0].blocks[0], parsed.precision, shape)


# --- numbers and their resolution --------------------------------------------------------------------


def test_a_matrix_with_its_leading_spaces_lost():
    g = given("*** 重み1 ***\n[[0.1002612 0.3002612 0.5002612 ]\n[0.20130599 0.40130599 0.60130599]]\n")
    assert g.value.shape == (2, 3)
    assert g.value[1, 0] == 0.20130599
    # 8 decimals printed somewhere, so every number is within half of the 8th decimal (numpy trims zeros)
    assert np.all(g.resolution == 0.5e-8)


def test_the_resolution_of_each_number_comes_from_its_text():
    parsed = printout.parse("*** a ***\n[1.5 2. ]\n\n*** b ***\n0.09109144089484147\n\n*** c ***\n[0 0 1]\n\n"
                            "*** d ***\n[1.23456789e-05 2.00000000e-01]\n")
    a, b, c, d = (printout.placed(blk, parsed.precision, None) for blk in parsed.sections[0].blocks)
    assert parsed.precision == 8  # the most decimals of a float in an array
    assert np.all(a.resolution == 0.5e-8)  # "2." and "1.5" were trimmed from 8 digits
    assert b.value.shape == () and b.resolution == pytest.approx(0.5e-17)  # a scalar is printed in full
    assert np.all(c.resolution == 0)  # integers print exactly
    assert d.resolution == pytest.approx([0.5e-13, 0.5e-9])  # exponent notation: per number
    assert given("*** e ***\n[0.00000000e+00 1.00000000e-05]\n").resolution.tolist() == [0.0, 0.5e-13]


def test_a_printout_of_short_numbers_only_is_read_at_the_digits_it_shows():
    g = given("*** 総入力 ***\n[1.3]\n")
    assert g.resolution == pytest.approx([0.05])


def test_numpy_reprs_and_lists_with_commas_are_read_too():
    g = given("*** x ***\narray([[1., 2.],\n       [3., 4.]])\n")
    assert g.value.tolist() == [[1, 2], [3, 4]]
    assert given("*** x ***\n[0.5, 1.5]\n").value.tolist() == [0.5, 1.5]
    assert given("*** 誤差 ***\nnp.float64(0.25)\n").value == 0.25


def test_a_shortened_array_is_placed_in_our_shape_with_the_cells_it_printed():
    text = "*** u ***\n" + np.array2string(np.arange(2000.).reshape(100, 20) / 7) + "\n"
    block = only_block(text)
    assert block.shortened
    g = given(text, (100, 20))
    assert g.value.shape == (100, 20) and int(g.shown.sum()) == 36
    assert g.value[99, 19] == pytest.approx(1999 / 7, abs=1e-5) and np.isnan(g.value[50, 10])
    assert given(text, (5, 20)).shown is None  # 6 rows printed cannot be 5: kept as printed
    assert given(text, (5, 20)).value.shape == (6, 6)


# --- sections and headings ---------------------------------------------------------------------------


def test_iteration_headings_and_the_updated_parameters():
    text = ("##### 繰り返し 2 (iteration) #####\n*** 重み1 ***\n[1.]\n\n##### 更新後パラメータ #####\n*** 重み1 ***\n"
            "[2.]\n\n##### 繰り返し 3 開始時のパラメータ (the parameters after iteration 2) #####\n"
            "##### 繰り返し 3 (iteration) #####\n出力合計: 3.9\n*** 総入力1 ***\n[0.5]\n")
    sections = printout.parse(text).sections
    assert [s.iteration for s in sections] == [2, 3]
    assert [b.after_update for b in sections[0].blocks] == [False, True]
    assert sections[1].sums[0][0].value == 3.9


@pytest.mark.parametrize("text, message", [
    ("*** 総入力1 ***\n\n*** 中間層出力1 ***\n[1.]\n", "has no numbers under it"),
    ("*** 総入力1 ***\n[[1. 2.]\n[3. 4.]\n*** 中間層出力1 ***\n[1.]\n", "brackets are not closed"),
    ("*** 総入力1 ***\n[1. two 3.]\n", "unexpected text 'two'"),
    ("*** 総入力1 ***\n[[1. 2.]\n [3.]]\n", "rows of different lengths"),
    ("*** 総入力1 ***\n[[[1.]]]\n", "3-D array"),
    ("*** 総入力1 ***\n[1. nan]\n", "holds nan"),
    ("*** 誤差 ***\ninf\n", "holds inf"),
    ("*** 総入力1 ***\n[]\n", "empty array"),
    ("just some text\n", "found no *** label *** blocks"),
    ("##### 繰り返し 1 #####\n*** a ***\n[1.]\n##### 繰り返し 1 #####\n", "two iteration headings"),
    ("*** 総入力1 ***\n" + "[" * 100000, "brackets are not closed"),
])
def test_malformed_printouts_are_refused_in_one_line(text, message):
    with pytest.raises(printout.PrintoutError) as exc:
        printout.parse(text)
    assert message in str(exc.value) and "\n" not in str(exc.value)


# --- reading the labels for a network ----------------------------------------------------------------


def test_labels_are_read_as_nnsteps_names():
    it = iteration("backprop_2_3_2")
    text = ("*** 入力 ***\n[[1. 5.]]\n\n*** 重み1 ***\n[[0.1 0.3 0.5]\n [0.2 0.4 0.6]]\n\n*** 総入力1 ***\n"
            "[[1.2 2.5 3.8]]\n\n*** 偏微分_重み2 ***\n[[1. 2.]]\n\n*** 重み1 ***\n[[1. 1. 1.]\n [1. 1. 1.]]\n")
    r = printout.read(printout.parse(text), it, agrees_with(it))
    assert set(r.arrays) == {"u1", "grad_W2", "W1"}  # W1 after a backward block is the updated one
    assert set(r.inputs) == {"x", "W1"}  # the W1 before the forward pass is the one it starts from
    assert r.inputs["W1"].value[0, 1] == 0.3 and r.arrays["W1"].value[0, 1] == 1.0


def test_the_doubled_delta_label_of_notebook_1_2_is_read_by_order():
    it = iteration("backprop_2_3_2")
    text = "*** 偏微分_dE/du2 ***\n[[ 0.08706577 -0.08706577]]\n\n*** 偏微分_dE/du2 ***\n[[-0.02611973 -0.02611973 -0.02611973]]\n"
    r = printout.read(printout.parse(text), it, agrees_with(it))
    assert r.arrays["delta2"].value.shape == (1, 2) and r.arrays["delta1"].value.shape == (1, 3)
    assert any("taken by their order" in note and "delta2, delta1" in note for note in r.notes)


def test_output_1_holding_z1_and_the_sum_of_z1_are_recognised_by_their_numbers():
    it = iteration("three_layer")
    text = ("*** 総入力1 ***\n[0.6 1.3 2. ]\n\n*** 中間層出力1 ***\n[0.6 1.3 2. ]\n\n*** 総入力2 ***\n[1.02 2.29]\n\n"
            "*** 出力1 ***\n[0.6 1.3 2. ]\n\n出力合計: 3.9\n")
    r = printout.read(printout.parse(text), it, agrees_with(it))
    assert set(r.arrays) == {"u1", "z1", "u2"}
    assert any("holds z1, not y" in note for note in r.notes)
    assert any("is sum(z1), not sum(y) = 4.782" in note for note in r.notes)


def test_output_1_holding_y_is_y():
    it = iteration("three_layer")
    r = printout.read(printout.parse("*** 出力1 ***\n[1.56  3.222]\n\n出力合計: 4.782\n"), it, agrees_with(it))
    assert set(r.arrays) == {"y"} and not [n for n in r.notes if n]


def test_unknown_labels_are_listed_with_a_did_you_mean():
    it = iteration("backprop_2_3_2")
    r = printout.read(printout.parse("*** 総入力 1 ***\n[1.]\n\n*** 総入力1 ***\n[[1.2 2.5 3.8]]\n"), it, agrees_with(it))
    assert r.unknown == {"総入力 1": "総入力1"}


@pytest.mark.parametrize("text, message", [
    ("*** 総入力2 ***\n[[1.86 4.21]]\n\n*** 総入力1 ***\n[[1.2 2.5 3.8]]\n", "comes after *** 総入力2 ***"),
    ("*** 偏微分_重み1 ***\n[[1. 1. 1.]\n [1. 1. 1.]]\n\n*** 総入力1 ***\n[[1.2 2.5 3.8]]\n", "then backward"),
    ("##### 更新後パラメータ #####\n*** 重み1 ***\n[[1. 1. 1.]\n [1. 1. 1.]]\n\n*** 偏微分_重み1 ***\n[[1. 1. 1.]\n [1. 1. 1.]]\n",
     "then prints the updated parameters"),
    ("*** 総入力1 ***\n[[1.2 2.5 3.8]]\n\n*** 総入力1 ***\n[[1.25 2.5 3.8]]\n", "with different numbers"),
    ("*** 偏微分_dE/du2 ***\n[[1. 1.]]\n\n*** 偏微分_dE/du2 ***\n[[1. 1. 1.]]\n\n*** 偏微分_dE/du2 ***\n[[1. 1.]]\n",
     "3 偏微分_dE/du blocks, but the network has 2 deltas"),
])
def test_labels_in_the_wrong_order_or_contradicting_are_refused(text, message):
    it = iteration("backprop_2_3_2")
    with pytest.raises(printout.PrintoutError) as exc:
        printout.read(printout.parse(text), it, agrees_with(it))
    assert message in str(exc.value)


def test_the_iteration_asked_for_must_be_in_the_printout():
    it = iteration("backprop_2_3_2")  # iteration 1
    parsed = printout.parse("##### 繰り返し 2 (iteration) #####\n*** 総入力1 ***\n[[1.2 2.5 3.8]]\n")
    with pytest.raises(printout.PrintoutError, match="not of iteration 1; compare it with --iteration 2"):
        printout.read(parsed, it, agrees_with(it))


def test_blocks_labelled_with_nnsteps_own_names_are_read():
    it = iteration("backprop_2_3_2")
    text = ("*** W1 ***\n[[0.1 0.3 0.5]\n [0.2 0.4 0.6]]\n\n*** u1 ***\n[[1.2 2.5 3.8]]\n\n*** y ***\n"
            "[[0.08706577 0.91293423]]\n\n*** delta2 ***\n[[ 0.08706577 -0.08706577]]\n\n*** delta1 ***\n"
            "[[-0.02611973 -0.02611973 -0.02611973]]\n\n*** grad_W1 ***\n[[-0.02611973 -0.02611973 -0.02611973]\n"
            " [-0.13059866 -0.13059866 -0.13059866]]\n\n*** grad_b2 ***\n[ 0.08706577 -0.08706577]\n")
    r = printout.read(printout.parse(text), it, agrees_with(it))
    assert set(r.arrays) == {"u1", "y", "delta2", "delta1", "grad_W1", "grad_b2"} and r.unknown == {}
    assert set(r.inputs) == {"W1"}


def test_a_full_width_digit_is_read_as_its_ascii_digit_with_a_note():
    it = iteration("backprop_2_3_2")
    r = printout.read(printout.parse("*** 総入力１ ***\n[[1.2 2.5 3.8]]\n"), it, agrees_with(it))
    assert set(r.arrays) == {"u1"} and r.unknown == {}
    assert any("*** 総入力１ *** (line 1) read as *** 総入力1 ***" in note for note in r.notes)


DELTA2 = "*** 偏微分_dE/du2 ***\n[[ 0.08706577 -0.08706577]]\n\n"
DELTA1_AS_DU2 = "*** 偏微分_dE/du2 ***\n[[-0.02611973 -0.02611973 -0.02611973]]\n\n"


@pytest.mark.parametrize("text, names", [(DELTA1_AS_DU2, ["delta1"]), (DELTA1_AS_DU2 + DELTA2, ["delta1", "delta2"])])
def test_deltas_labelled_alike_are_taken_by_their_shapes_when_the_order_does_not_fit(text, names):
    it = iteration("backprop_2_3_2")  # delta2 is (1×2), delta1 (1×3)
    r = printout.read(printout.parse(text), it, agrees_with(it))
    assert set(r.arrays) == set(names)
    assert r.arrays["delta1"].value.shape == (1, 3)
    (note,) = [n for n in r.notes if "deltas were taken by their shapes" in n]
    assert note.endswith(": " + ", ".join(names))


def test_deltas_that_the_order_fits_are_still_taken_by_order():
    it = iteration("backprop_2_3_2")
    r = printout.read(printout.parse(DELTA2 + DELTA1_AS_DU2), it, agrees_with(it))
    assert any("taken by their order" in n for n in r.notes)
    assert not any("by their shapes" in n for n in r.notes)
