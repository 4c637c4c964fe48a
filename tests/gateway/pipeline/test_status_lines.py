"""The estate's state lines count each building's households and devices through their units."""

from __future__ import annotations

from alerts.engine import Engine
from alerts.site import compile_site_model
from alerts.status import estate_status
from gateway.pipeline.status_lines import StatusEncoder
from sensors.index import compile_index
from sensors.registry import SiteRegistry
from simulators import scenarios


def test_building_lines_count_households_and_devices_of_every_unit() -> None:
    reg = scenarios.registry()
    b1 = reg["buildings"][0]
    b1["units"].append(
        {"id": "b1-u2", "doors": [], "households": [{"id": "b1-u2-101", "residents": [], "contacts": []}]}
    )
    sensor = {"kind": "co", "power": "battery"}
    reg["buildings"].append(
        {
            "id": "b2",
            "units": [
                {
                    "id": "b2-u1",
                    "doors": ["d-2", "d-3"],
                    "households": [
                        {"id": f"b2-u1-{n}", "sensors": [{**sensor, "id": f"s-2{n}"}], "residents": []}
                        for n in (101, 102, 103)
                    ],
                }
            ],
        }
    )
    registries = [SiteRegistry.model_validate(reg)]
    model = compile_site_model(registries, compile_index(registries))
    lines = StatusEncoder(model).encode(estate_status(Engine(model), 1.7e9))
    counts = {}
    for line in lines:
        if line.startswith(b"building_state,"):
            key, fields, _ = line.decode().split(" ")
            tags = dict(t.split("=") for t in key.split(",")[1:])
            values = dict(f.split("=") for f in fields.split(","))
            counts[tags["building"]] = (tags.get("grid", ""), values["households"], values["devices"])
    assert counts == {"b1": ("g1", "2i", "2i"), "b2": ("", "3i", "5i")}


async def test_lines_made_in_a_child_carry_what_was_written_back_to_the_encoder() -> None:
    """The alarm stage works the minute's lines out in a forked child: a device that recovers is still
    written once more the minute after, as when the encoder runs in place."""
    import pickle

    from gateway.pipeline.forked import in_fork

    registries = [SiteRegistry.model_validate(scenarios.registry())]
    model = compile_site_model(registries, compile_index(registries))
    engine = Engine(model)
    here, there = StatusEncoder(model), StatusEncoder(model)

    async def in_child(now: float) -> list[bytes]:
        def work() -> bytes:
            return pickle.dumps((there.encode(estate_status(engine, now)), there.written))

        lines, written = pickle.loads(await in_fork(work))
        there.adopt(written)
        return list(lines)

    minutes = []
    for n, fault in enumerate((True, False, False)):  # faulty, recovered (written once more), quiet
        engine.core.health.fault[0] = fault
        now = 1.7e9 + 60 * n
        minutes.append((here.encode(estate_status(engine, now)), await in_child(now)))
    for inline, forked in minutes:
        assert inline == forked
    device = [sum(line.startswith(b"device_state,") for line in inline) for inline, _ in minutes]
    assert device[0] >= 1 and device[1] >= 1 and device[2] == 0
