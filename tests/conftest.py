"""Shared fixtures: a running simulated OpenSIPS per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from opensips.sim import SimulatedOpenSIPS


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimulatedOpenSIPS]]:
    """Start simulators with any options (e.g. ``version="3.6.8"``); all stopped at teardown."""
    started: list[SimulatedOpenSIPS] = []

    def make(**kwargs) -> SimulatedOpenSIPS:
        sim = SimulatedOpenSIPS(**kwargs)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory) -> SimulatedOpenSIPS:
    """A running OpenSIPS 4.0.1 simulator with every MI endpoint on ephemeral addresses."""
    return sim_factory()


@pytest.fixture
def sim36(sim_factory) -> SimulatedOpenSIPS:
    """A running OpenSIPS 3.6.8 simulator."""
    return sim_factory(version="3.6.8")
