"""``?``: every key binding, grouped by where it works, with the keymap applied."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "Keys can be changed in the [keymap] table of the config file (binding id = keys).\n"
    "Every action is also in the command palette (ctrl+p).\n"
)


def key_names(app, binding: Binding, keymap: dict[str, str]) -> str:
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    shown = []
    for key in keys.split(","):
        key = key.strip()
        shown.append(app.get_key_display(Binding(key, binding.action)) if key else key)
    return ", ".join(dict.fromkeys(shown))


def help_text(app, sections: Iterable[tuple[str, Iterable[BindingType]]], keymap: dict[str, str]) -> Text:
    out = Text(INTRO, style="dim", end="")
    for title, bindings in sections:
        out.append(f"\n{title}\n", style="bold underline")
        for binding in bindings:
            assert isinstance(binding, Binding)  # our BINDINGS hold Binding objects only, no tuples
            out.append(f"  {key_names(app, binding, keymap):<12}", style="bold cyan")
            out.append(f"{binding.description or binding.action:<26}")
            if binding.id:
                out.append(f"  ({binding.id})", style="dim")
            out.append("\n")
    return out


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close help", id="help_close"),
        Binding("question_mark", "dismiss", "Close help", show=False),
        Binding("q", "dismiss", "Close help", show=False),
    ]

    def __init__(self, body: Text) -> None:
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        scroll = VerticalScroll()
        scroll.border_title = "Help: keys"
        scroll.border_subtitle = "esc: close"
        with scroll:
            yield Static(self.body)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
