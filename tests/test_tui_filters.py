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


@pytest.mark.parametrize("text, node, kept", [
    ("node:edge1", "edge1", True), ("node:edge1", "edge2", False), ("node:EDGE*", "edge12", True),
    ("node:edge?", "edge12", False), ("node:edge[12]", "Edge2", True), ("-node:edge*", "edge1", False),
    ("-node:edge*", "core1", True), ("node:edge1", None, False), ("-node:edge1", None, True),
    ("NODE:core*", "core-b", True), ("node:*", "x", True),
    ("node:edge1 contact", "edge1", True), ("node:edge1 pike", "edge1", False),
    ("node:edge1 ip=203.0.113.7", "edge2", False),
    ("node:", "edge1", False),    # no pattern: the word "node:" (not in the haystack)
    ("node:a[", "a[", True),      # an unclosed bracket is a literal, not an error
    ("node:e.*", "edge1", False),  # shell patterns, not regular expressions
])
def test_node_terms(text: str, node: str | None, kept: bool) -> None:
    assert LogFilter(text).matches(HAYSTACK, PARAMS, node) is kept


def test_feed_filters_by_node_and_counts_per_node() -> None:
    feed = Feed(clock=lambda: 1000.5)
    for node in ("edge1", "edge2", "edge1", "core1", None):
        feed.push("E_X", {"method": "E_X", "params": {"n": 1}}, node=node)
    assert feed.node_summary() == {"edge1": (2, 0.4), "edge2": (1, 0.2), "core1": (1, 0.2)}
    assert feed.nodes() == ["edge1", "edge2", "core1"]
    batch = feed.drain()
    assert batch.new_nodes == ["edge1", "edge2", "core1"] and batch.arrived == 5
    assert [e.node for e in feed.set_filter(LogFilter("node:edge*"))] == ["edge1", "edge2", "edge1"]
    feed.push("E_X", {"method": "E_X", "params": {}}, node="edge3")
    feed.push("E_X", {"method": "E_X", "params": {}}, node="core1")
    batch = feed.drain()
    assert [e.node for e in batch.entries] == ["edge3"] and batch.new_nodes == ["edge3"]
    assert [e.node for e in feed.entries()] == ["edge1", "edge2", "edge1", "edge3"]
    assert feed.node_summary()["core1"][0] == 2  # counted whatever the filter
