"""The filter language: words, key=value, key~regex, numeric comparisons and -term (no Textual)."""

from __future__ import annotations

import pytest

from opensips_tui.feed import Feed
from opensips_tui.filters import LogFilter

PARAMS = {"ip": "203.0.113.7", "ua": "Linphone/5.2.5", "time": 1500, "expires": "60",
          "nested": {"code": 486}, "flag": True}
HAYSTACK = "E_UL_CONTACT_INSERT ip=203.0.113.7 ua=Linphone/5.2.5 time=1500"


@pytest.mark.parametrize("text, kept", [
    ("", True),
    ("contact", True), ("-contact", False), ("pike", False),
    ("ip=203.0.113.7", True), ("IP=203.0.113.7", False), ("ip=203.0.113", False), ("-ip=203.0.113.7", False),
    ("ua=linphone/5.2.5", True), ("ip!=10.0.0.1", True), ("ip!=203.0.113.7", False),
    ("ua~^linphone/5", True), ("ua~^zoiper", False), ("ua~[", False), ("missing~.", False),
    ("time>1000", True), ("time>2000", False), ("time>=1500", True), ("time<1500", False),
    ("expires<=60", True), ("ip>1", False), ("nested.code=486", True), ("nested.code>=500", False),
    ("flag=true", True), ("-time>1000", False), ("contact time>1000 -ua~zoiper", True),
    ("a>b", False),
])
def test_terms(text: str, kept: bool) -> None:
    assert LogFilter(text).matches(HAYSTACK, PARAMS) is kept


def test_feed_applies_conditions_to_params() -> None:
    feed = Feed()
    for i, t in enumerate((500, 1500, 2500)):
        feed.push("E_X", {"method": "E_X", "params": {"time": t, "i": i}})
    assert [e.params["time"] for e in feed.set_filter(LogFilter("time>1000"))] == [1500, 2500]
    feed.push("E_X", {"method": "E_X", "params": {"time": 9000}})
    feed.push("E_X", {"method": "E_X", "params": {"time": 10}})
    assert [e.params["time"] for e in feed.drain().entries] == [9000]
