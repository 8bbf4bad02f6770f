"""The debugger's moves as pure functions over a View: every key's effect, without a terminal or Pilot."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from nnstep.tui import navigation as nav
from nnstep.tui.navigation import START, TEXT, Context, Notice, View

#: A plain run of 8 steps (0…7) in phases starting at 0, 3 and 5.
PLAIN = Context(last=7, phase_starts=(0, 3, 5), formulas=tuple(f"f{i}" for i in range(8)),
                keys={"previous_step": "p / ←", "first_step": "g / Home", "goto_iteration": "i",
                      "toggle_breakpoint": "b"})
#: The same steps in a training run of 100 iterations, 40 of them computed.
TRAINING = Context(last=7, total=100, computed=40, phase_starts=(0, 3, 5), formulas=PLAIN.formulas,
                   training=True, keys=PLAIN.keys)
DONE = Context(last=7, total=100, computed=100, phase_starts=(0, 3, 5), formulas=PLAIN.formulas,
               training=True, keys=PLAIN.keys)


def texts(moved) -> list[str]:
    return [n.text for n in moved.notices]


def test_importing_the_navigation_module_loads_no_textual():
    code = textwrap.dedent("""
        import json, sys
        import nnstep.tui.navigation
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_a_view_is_immutable():
    with pytest.raises(AttributeError):
        View().position = 3  # type: ignore[misc]


# --- steps --------------------------------------------------------------------------------------------


def test_next_and_previous_step_inside_an_iteration():
    view, notices = nav.next_step(View(), PLAIN)
    assert (view.position, notices) == (0, ())
    view, _ = nav.next_step(view, PLAIN)
    assert view.position == 1
    view, _ = nav.previous_step(view, PLAIN)
    assert view.position == 0
    view, _ = nav.previous_step(nav.previous_step(view, PLAIN).view, PLAIN)
    assert view.position == START  # no step before the start


def test_the_last_step_of_a_plain_run_stays_and_names_the_keys():
    moved = nav.next_step(View(position=7), PLAIN)
    assert moved.view.position == 7
    assert texts(moved) == ["This is the last step. p steps back, g goes to the start."]


def test_the_last_step_names_remapped_keys():
    ctx = Context(last=7, keys={"previous_step": "h / ←", "first_step": "0", "goto_iteration": "x / y"})
    assert texts(nav.next_step(View(position=7), ctx)) == ["This is the last step. h steps back, 0 goes to the start."]
    training = Context(last=7, total=3, computed=3, training=True, keys=ctx.keys)
    assert texts(nav.next_step(View(iteration=3, position=7), training)) == [
        "This is the last step of the last iteration. h steps back, x / y goes to any iteration."]


def test_stepping_crosses_iteration_boundaries_both_ways():
    view, notices = nav.next_step(View(iteration=4, position=7), TRAINING)
    assert (view.iteration, view.position, notices) == (5, START, ())
    view, _ = nav.previous_step(view, TRAINING)
    assert (view.iteration, view.position) == (4, 7)
    view, _ = nav.previous_step(View(iteration=1, position=START), TRAINING)
    assert (view.iteration, view.position) == (1, START)  # no iteration 0


def test_first_and_last_step_stay_in_the_iteration():
    assert nav.first_step(View(iteration=9, position=4), TRAINING).view == View(iteration=9, position=START)
    assert nav.last_step(View(iteration=9, position=4), TRAINING).view == View(iteration=9, position=7)


def test_a_jump_is_clamped_to_the_run():
    assert nav.jump(View(), PLAIN, 5).view.position == 5
    assert nav.jump(View(), PLAIN, 99).view.position == 7
    assert nav.go(View(), PLAIN, -5).view.position == START


def test_a_move_pauses_the_replay_and_clears_its_note():
    view = View(position=2, playing=True, replay_note="■ stopped at breakpoint 3")
    moved = nav.next_step(view, PLAIN)
    assert moved.view == View(position=3)


# --- phases -------------------------------------------------------------------------------------------


def test_next_and_previous_phase():
    view = View()
    seen = []
    for _ in range(4):
        view, _ = nav.next_phase(view, PLAIN)
        seen.append(view.position)
    assert seen == [0, 3, 5, 7]  # after the last phase: the last step
    assert nav.previous_phase(View(position=4), PLAIN).view.position == 3
    assert nav.previous_phase(View(position=3), PLAIN).view.position == 0
    assert nav.previous_phase(View(position=0), PLAIN).view.position == START


def test_phases_cross_into_the_next_and_previous_iteration():
    view, _ = nav.next_phase(View(iteration=2, position=6), TRAINING)
    assert (view.iteration, view.position) == (3, START)
    view, _ = nav.previous_phase(view, TRAINING)
    assert (view.iteration, view.position) == (2, 5)  # the last phase of the iteration before
    assert nav.next_phase(View(iteration=100, position=6), DONE).view == View(iteration=100, position=7)


# --- iterations ---------------------------------------------------------------------------------------


def test_next_and_previous_iteration_keep_the_step():
    view, _ = nav.next_iteration(View(iteration=3, position=5), TRAINING)
    assert (view.iteration, view.position) == (4, 5)
    view, _ = nav.previous_iteration(view, TRAINING)
    assert (view.iteration, view.position) == (3, 5)


def test_there_is_no_iteration_before_the_first_or_after_the_last():
    first = View(iteration=1, position=2, playing=True)
    moved = nav.previous_iteration(first, TRAINING)
    assert moved.view == first and texts(moved) == ["This is the first iteration."]  # the replay goes on
    moved = nav.next_iteration(View(iteration=100), DONE)
    assert moved.view == View(iteration=100) and texts(moved) == ["This is the last iteration (100)."]


def test_go_to_a_computed_iteration():
    moved = nav.goto_iteration(View(iteration=1, position=3), TRAINING, 41)  # computed + 1 can be shown
    assert moved == (View(iteration=41, position=3), ())


def test_go_to_an_iteration_not_yet_computed_waits_for_it():
    moved = nav.goto_iteration(View(iteration=1, position=3), TRAINING, 90)
    assert moved.view == View(iteration=1, position=3, pending=(90, 3))
    assert texts(moved) == ["Iteration 90 is still being computed (40 of 100 done): going there when it is "
                            "ready. Any move cancels this."]
    assert nav.status(moved.view) == "⧗ going to iteration 90 when computed"


def test_any_move_cancels_a_waiting_jump_and_says_so():
    waiting = View(iteration=1, position=3, pending=(90, 3))
    for move in (nav.next_step, nav.previous_step, nav.next_phase, nav.previous_phase, nav.first_step,
                 nav.last_step, nav.next_iteration, nav.continue_run):
        moved = move(waiting, TRAINING)
        assert moved.view.pending is None, move.__name__
        assert texts(moved)[0] == "No longer waiting to go to iteration 90.", move.__name__
    assert nav.jump(waiting, TRAINING, 6).view == View(iteration=1, position=6)


def test_asking_again_for_the_iteration_waited_for_does_not_say_it_is_dropped():
    moved = nav.goto_iteration(View(iteration=1, position=3, pending=(90, 3)), TRAINING, 90)
    assert moved.view.pending == (90, 3)
    assert texts(moved) == [TEXT["still_computing"].format(iteration=90, computed=40, total=100)]


def test_a_waiting_jump_goes_once_the_straight_run_gets_there():
    waiting = View(iteration=1, position=3, pending=(90, 3))
    assert nav.progressed(waiting, TRAINING) == (waiting, ())  # 40 computed: still waiting
    ctx = Context(last=7, total=100, computed=89, training=True)
    moved = nav.progressed(waiting, ctx)
    assert moved.view == View(iteration=90, position=3)
    assert texts(moved) == ["At iteration 90: it has been computed."]


def test_progress_without_a_waiting_jump_changes_nothing():
    view = View(iteration=3, position=2, playing=True)
    assert nav.progressed(view, DONE) == (view, ())


# --- breakpoints --------------------------------------------------------------------------------------


def test_a_breakpoint_needs_a_step():
    moved = nav.toggle_breakpoint(View(), PLAIN)
    assert moved.view == View()
    assert moved.notices == (Notice("Breakpoints go on steps: move to a step first.", "warning"),)


def test_toggle_a_breakpoint_and_say_so_only_when_the_list_is_hidden():
    view, notices = nav.toggle_breakpoint(View(position=4), PLAIN)
    assert view.breakpoints == {4} and notices == ()
    assert nav.status(view) == "replay 1 step/s · 1 breakpoint"
    moved = nav.toggle_breakpoint(view, PLAIN, listed=False)
    assert moved.view.breakpoints == frozenset() and texts(moved) == ["Breakpoint cleared on step 5."]
    moved = nav.toggle_breakpoint(View(position=1), PLAIN, listed=False)
    assert texts(moved) == ["Breakpoint set on step 2."]


def test_toggling_a_breakpoint_leaves_the_replay_playing():
    view = View(position=4, playing=True)
    assert nav.toggle_breakpoint(view, PLAIN).view == View(position=4, playing=True, breakpoints=frozenset({4}))


def test_continue_stops_at_the_next_breakpoint_then_the_last_step():
    view = View(breakpoints=frozenset({2, 5}))
    view, notices = nav.continue_run(view, PLAIN)
    assert view.position == 2 and [n.text for n in notices] == ["Stopped at the breakpoint on step 3: f2"]
    view, notices = nav.continue_run(view, PLAIN)
    assert view.position == 5 and [n.text for n in notices] == ["Stopped at the breakpoint on step 6: f5"]
    view, notices = nav.continue_run(view, PLAIN)
    assert view.position == 7 and [n.text for n in notices] == ["No breakpoint ahead: at the last step."]


def test_continue_without_breakpoints_names_the_key_that_sets_one():
    moved = nav.continue_run(View(), PLAIN)
    assert moved.view.position == 7
    assert texts(moved) == ["No breakpoints set (b sets one): at the last step."]
    moved = nav.continue_run(View(iteration=3), TRAINING)
    assert moved.view == View(iteration=3, position=7)
    assert texts(moved) == ["No breakpoints set (b sets one): at the last step of this iteration."]


def test_breakpoints_hold_in_every_iteration_and_continue_runs_into_the_next():
    view = View(iteration=1, position=5, breakpoints=frozenset({5}))
    view, notices = nav.continue_run(view, TRAINING)
    assert (view.iteration, view.position) == (2, 5)
    assert [n.text for n in notices] == ["Stopped at the breakpoint on step 6 of iteration 2: f5"]
    view, _ = nav.continue_run(view, TRAINING)
    assert (view.iteration, view.position) == (3, 5)
    view, notices = nav.continue_run(View(iteration=100, position=5, breakpoints=frozenset({5})), DONE)
    assert view.position == 7 and [n.text for n in notices] == ["No breakpoint ahead: at the last step of this "
                                                                "iteration."]


def test_continue_into_an_iteration_not_yet_computed_waits_for_it():
    # Today's words: the stop names the iteration still shown, after the notice that the jump waits.
    moved = nav.continue_run(View(iteration=41, position=6, breakpoints=frozenset({2})), TRAINING)
    assert moved.view == View(iteration=41, position=6, breakpoints=frozenset({2}), pending=(42, 2))
    assert texts(moved)[-1] == "Stopped at the breakpoint on step 3 of iteration 41: f2"


# --- replay -------------------------------------------------------------------------------------------


def test_play_pause_faster_slower_and_the_status_line():
    view = View(position=2)
    assert nav.status(view) == "replay 1 step/s"
    view, _ = nav.play(view, PLAIN)
    assert view.playing and view.position == 2 and nav.status(view) == "▶ playing 1 step/s"
    assert nav.play(view, PLAIN).view is view  # already playing
    for _ in range(6):
        view, _ = nav.faster(view)
    assert view.speed == len(nav.SPEEDS) - 1 and nav.status(view) == "▶ playing 8 steps/s"
    for _ in range(6):
        view, _ = nav.slower(view)
    assert view.speed == 0 and nav.status(view) == "▶ playing 0.5 steps/s"
    view, _ = nav.pause(view)
    assert not view.playing and nav.status(view) == "replay 0.5 steps/s"


def test_the_status_counts_breakpoints_and_shows_the_replays_note():
    view = View(breakpoints=frozenset({1, 2}), replay_note="■ finished", speed=2)
    assert nav.status(view) == "■ finished · replay 2 steps/s · 2 breakpoints"
    assert nav.status(View(pending=(9, 1), playing=True, breakpoints=frozenset({1}))) == \
        "⧗ going to iteration 9 when computed · 1 breakpoint"


def test_play_clears_the_note_and_starts_over_from_the_very_end():
    view, _ = nav.play(View(position=7, replay_note="■ finished"), PLAIN)
    assert view == View(position=START, playing=True)
    view, _ = nav.play(View(iteration=100, position=7, replay_note="■ finished"), DONE)
    assert view == View(iteration=1, position=START, playing=True)  # a training run starts from iteration 1
    view, _ = nav.play(View(iteration=5, position=7), DONE)
    assert view == View(iteration=5, position=7, playing=True)  # not the very end: it runs on from here


def test_a_replay_tick_steps_and_stops_at_a_breakpoint():
    view = View(position=0, playing=True, breakpoints=frozenset({2}))
    view, notices = nav.replay_tick(view, PLAIN)
    assert (view.position, view.playing, notices) == (1, True, ())
    moved = nav.replay_tick(view, PLAIN)
    assert moved.view == View(position=2, breakpoints=frozenset({2}), replay_note="■ stopped at breakpoint 3")
    assert texts(moved) == ["Replay paused at the breakpoint on step 3."]
    assert nav.status(moved.view) == "■ stopped at breakpoint 3 · replay 1 step/s · 1 breakpoint"


def test_a_replay_tick_finishes_at_the_last_step():
    moved = nav.replay_tick(View(position=6, playing=True), PLAIN)
    assert moved.view == View(position=7, replay_note="■ finished")
    assert texts(moved) == ["Replay finished: this is the last step."]


def test_a_replay_runs_on_into_the_next_iteration_once_it_is_computed():
    view, notices = nav.replay_tick(View(iteration=3, position=6, playing=True), TRAINING)
    assert (view.iteration, view.position, view.playing, notices) == (3, 7, True, ())  # not the very end
    view, notices = nav.replay_tick(view, TRAINING)
    assert (view.iteration, view.position, view.playing, notices) == (4, START, True, ())
    view, _ = nav.replay_tick(view, TRAINING)
    assert (view.iteration, view.position) == (4, 0)
    # At the last step of the first iteration not yet reachable, the replay stops there, without a note.
    frontier = Context(last=7, total=100, computed=3, training=True)
    assert nav.replay_tick(View(iteration=4, position=7, playing=True), frontier).view == View(iteration=4, position=7)


def test_a_replay_stops_at_breakpoints_in_later_iterations_and_finishes_at_the_very_end():
    view = View(iteration=99, position=7, playing=True, breakpoints=frozenset({1}))
    view, _ = nav.replay_tick(view, DONE)
    assert (view.iteration, view.position) == (100, START)
    view, _ = nav.replay_tick(view, DONE)
    view, notices = nav.replay_tick(view, DONE)
    assert (view.iteration, view.position, view.playing) == (100, 1, False)
    assert [n.text for n in notices] == ["Replay paused at the breakpoint on step 2."]
    view, _ = nav.play(view, DONE)
    for _ in range(6):
        view, notices = nav.replay_tick(view, DONE)
    assert view == View(iteration=100, position=7, breakpoints=frozenset({1}), replay_note="■ finished")
    assert [n.text for n in notices] == ["Replay finished: this is the last step."]


def test_every_sentence_comes_from_the_text_table():
    """Outside TEXT (and docstrings) the module holds no words a user reads: a translation replaces TEXT."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(nav))
    tables = [node.value for node in tree.body if isinstance(node, ast.Assign)
              and node.targets[0].id in ("TEXT", "DEFAULT_KEYS")]
    inside = {id(n) for table in tables for n in ast.walk(table)}
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    words = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and id(n) not in inside | docstrings and " " in n.value.strip()]
    assert words == []
