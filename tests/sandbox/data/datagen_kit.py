"""Helpers for the data generator tests: build both states from one seed on a FakeClock."""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.clock import FakeClock
from ml_connector.sandbox.data import DataSet, populate
from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.servicetitan import STState


@dataclass(frozen=True, kw_only=True)
class World:
    fusion: FusionState
    st: STState
    ds: DataSet
    clock: FakeClock


def make_world(*, seed: int = 7, scale: float = 1.0, **kwargs: int) -> World:
    clock = FakeClock()
    fusion, st = FusionState(clock), STState(clock=clock)
    ds = populate(fusion, st, seed=seed, scale=scale, **kwargs)
    return World(fusion=fusion, st=st, ds=ds, clock=clock)
