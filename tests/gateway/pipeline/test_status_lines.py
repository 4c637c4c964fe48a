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
