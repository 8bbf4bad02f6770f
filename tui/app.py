"""The nnstep debugger app: ``nnstep FILE`` opens a scenario, ``nnstep`` alone opens the picker.

Run it with ``nnstep scenarios/classify_2_3_4.toml`` (or ``python -m nnstep FILE``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Iterable

from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from nnstep.engine.session import Session
from nnstep.tui.debugger import TRAINING_ONLY, DebuggerScreen
from nnstep.tui.keymap import keymap_path, read_keymap
from nnstep.tui.steps_pane import StepsPane
from nnstep.tui.values_pane import ValuesPane

if TYPE_CHECKING:
    from textual.app import SystemCommand

    from nnstep.tui.comparing import Overlay

# The picker, help and error screens (and the command palette) load when first opened: the first paint
# of ``nnstep FILE`` needs only the debugger.

KEY_NAMES = {"right": "→", "left": "←", "right_square_bracket": "]", "left_square_bracket": "[", "home": "Home",
             "end": "End", "plus": "+", "equals_sign": "=", "minus": "-", "question_mark": "?", "f1": "F1",
             "escape": "Escape", "enter": "Enter", "space": "space", "up": "↑", "down": "↓",
             "pagedown": "PgDn", "pageup": "PgUp", "full_stop": ".", "comma": ","}


class NNStepApp(App):
    """Step through the maths of a small network, one operation per key."""

    CSS_PATH = "app.tcss"
    TITLE = "nnstep"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="This help", id="help"),
        Binding("o", "open", "Open", show=False, tooltip="Open another scenario", id="open"),
        Binding("q", "quit", "Quit", tooltip="Quit nnstep", id="quit"),
    ]

    def __init__(self, session: Session | None = None, folder: Path | None = None,
                 keymap_file: Path | None = None, overlay: Overlay | None = None) -> None:
        super().__init__()
        self.first_session = session
        #: The user's own arrays to compare with the first scenario (``nnstep FILE --mine MINE``), read already.
        self.first_overlay = overlay
        self.folder = folder or Path.cwd()
        path = keymap_file or keymap_path()
        self.keymap_problems: list[str] = []
        self._key_names: dict[str, str] | None = None
        if path.is_file():
            from nnstep.tui.error_screen import ErrorScreen
            from nnstep.tui.help_screen import HelpScreen
            from nnstep.tui.picker import PickerScreen

            screens = [DebuggerScreen, StepsPane, ValuesPane, NNStepApp, PickerScreen, HelpScreen, ErrorScreen]
            defaults = {b.id: b.key for cls in screens for b in cls.BINDINGS if isinstance(b, Binding) and b.id}
            debugger_scope = [b.id for cls in (DebuggerScreen, StepsPane, NNStepApp) for b in cls.BINDINGS
                              if isinstance(b, Binding) and b.id]
            # The Values pane's keys come before the screen's while it has the focus (→ moves the cell cursor).
            values_scope = [b.id for b in ValuesPane.BINDINGS if isinstance(b, Binding) and b.id]
            keymap, self.keymap_problems = read_keymap(path, defaults, [debugger_scope, values_scope])
            self.set_keymap(keymap)

    def on_mount(self) -> None:
        if self.first_session is not None:
            self.push_screen(DebuggerScreen(self.first_session, self.first_overlay))
        else:
            from nnstep.tui.picker import PickerScreen

            self.push_screen(PickerScreen(self.folder, cancellable=False))
        if self.keymap_problems:
            self.notify("\n".join(self.keymap_problems), title="Keymap", severity="warning", timeout=10,
                        markup=False)

    # --- opening scenarios ----------------------------------------------------------------------------

    # By name rather than @on(PickerScreen.ScenarioChosen): the picker module loads only when first opened.
    def on_picker_screen_scenario_chosen(self, event) -> None:
        """The picker announced a file: open it."""
        self.open_scenario(event.path)

    def open_scenario(self, path: Path) -> None:
        """Load and run ``path``; on success show the debugger, else the engine's message."""
        from nnstep.engine.scenario import ScenarioError, load_scenario
        from nnstep.tui.picker import PickerScreen

        try:
            result = Session(load_scenario(path))
        except (ScenarioError, MemoryError) as exc:
            from nnstep.engine.cli import NO_MEMORY
            from nnstep.engine.limits import visible
            from nnstep.tui.error_screen import ErrorScreen

            message = str(exc) if isinstance(exc, ScenarioError) else f"{visible(str(path))}: {NO_MEMORY}"
            self.push_screen(ErrorScreen(message))
            return
        if isinstance(self.screen, PickerScreen) and len(self.screen_stack) > 2:
            self.pop_screen()  # the picker was opened over a debugger: replace that debugger
        self.switch_screen(DebuggerScreen(result))

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "open":
            return type(self.screen).__name__ != "PickerScreen"
        return True

    def action_open(self) -> None:
        from nnstep.tui.picker import PickerScreen

        self.push_screen(PickerScreen(self.folder, cancellable=True))

    def action_help(self) -> None:
        from nnstep.tui.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_bindings()))

    # --- keys -----------------------------------------------------------------------------------------

    def keys_of(self, binding: Binding) -> str:
        """The keys a binding answers to now (after any remap), as a person types them."""
        keys = self._keymap.get(binding.id, binding.key) if binding.id else binding.key
        return " / ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))

    def key_names(self) -> dict[str, str]:
        """Binding id → the keys it answers to now, e.g. ``{"next_step": "n / →"}`` (the keymap is set
        once, at start, so this is worked out once)."""
        if self._key_names is None:
            self._key_names = {binding.id: keys for keys, binding in self.key_bindings() if binding.id}
        return self._key_names

    def key_bindings(self) -> list[tuple[str, Binding]]:
        """Every binding a user can press in the debugger, with its current keys."""
        groups = [DebuggerScreen.BINDINGS, StepsPane.BINDINGS, ValuesPane.BINDINGS, self.BINDINGS]
        seen: set[str | None] = set()
        out = []
        for binding in (b for group in groups for b in group if isinstance(b, Binding)):
            if binding.id not in seen:
                seen.add(binding.id)
                out.append((self.keys_of(binding), binding))
        return out

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers every debugger action by name, with its key."""
        from textual.app import SystemCommand

        # Textual's "Keys" would be a second, different help (ours lists every key); "Maximize" would take
        # a pane out of the debugger's layout; our Quit says its key.
        yield from (c for c in super().get_system_commands(screen)
                    if c.title not in ("Keys", "Maximize", "Minimize", "Screenshot", "Quit"))
        yield SystemCommand("Quit", f"leave nnstep (key: {self.key_names()['quit']})", self.exit)
        if isinstance(screen, DebuggerScreen):
            for keys, binding in self.key_bindings():
                if binding in DebuggerScreen.BINDINGS and binding.id != "help" and \
                        (screen.training is not None or binding.id not in TRAINING_ONLY):
                    # Of the bindings that share an id (one listed in the Footer, one not), the one that applies now.
                    action = next((b.action for b in DebuggerScreen.BINDINGS if b.id == binding.id and
                                   screen.check_action(b.action, ())), binding.action)
                    yield SystemCommand(binding.tooltip or binding.description, f"key: {keys}",
                                        partial(screen.run_action, action))
        keys = self.key_names()
        yield SystemCommand("Help", f"every key and what each pane shows (key: {keys['help']})", self.action_help)
        if type(screen).__name__ != "PickerScreen":
            yield SystemCommand("Open scenario", f"choose another scenario (key: {keys['open']})", self.action_open)
