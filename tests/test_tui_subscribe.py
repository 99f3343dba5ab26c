"""--subscribe names and patterns against events_list (no Textual)."""

from __future__ import annotations

from opensips_tui.subscribe import resolve, suggest

LISTED = ["E_CORE_LOG", "E_PIKE_BLOCKED", "E_UL_AOR_INSERT", "E_UL_AOR_DELETE", "E_UL_CONTACT_INSERT",
          "E_DLG_STATE_CHANGED"]


def test_names_patterns_and_suggestions() -> None:
    got = resolve(["E_UL_*", "E_PIKE_BLOCKED", "E_UL_AOR_INSERT", "e_dlg_*", "E_NOPE", "e_core_log",
                   "E_PIKE_BLOKED", "E_X*"], LISTED)
    assert got.events == ["E_UL_AOR_INSERT", "E_UL_AOR_DELETE", "E_UL_CONTACT_INSERT", "E_PIKE_BLOCKED",
                          "E_DLG_STATE_CHANGED"]
    assert got.problems == ["E_NOPE: not an event on this OpenSIPS",
                            "e_core_log: not an event on this OpenSIPS; did you mean E_CORE_LOG?",
                            "E_PIKE_BLOKED: not an event on this OpenSIPS; did you mean E_PIKE_BLOCKED?",
                            "E_X*: matches no event on this OpenSIPS"]
    assert resolve(["E_[x]"], [*LISTED, "E_[x]"]).events == ["E_[x]"]  # a listed name, not a pattern
    assert suggest("E_UL_AOR_INSRT", LISTED) == "E_UL_AOR_INSERT" and suggest("zzz", LISTED) is None
