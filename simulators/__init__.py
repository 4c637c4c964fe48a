"""Simulated estates and devices: registries to match, and fleets publishing the v1 wire contract."""

from simulators.estate import dump
from simulators.evaluate import evaluate
from simulators.library import SCENARIOS
from simulators.live import run_live
from simulators.pilot import pilot_estate, summary
from simulators.world import World

__all__ = ["SCENARIOS", "World", "dump", "evaluate", "pilot_estate", "run_live", "summary"]
