from __future__ import annotations

import pytest

from sensors import RegistryError, parse_registry
from simulators import estate

GOOD = """\
site: yanghe
name: Yanghe Community
timezone: Asia/Shanghai
co_profile: EN50291
grids:
  - {id: g1, buildings: [b1], officers: [{id: o-zhao, name: Zhao Jianguo, notify: ["mailto:zhao@example.org"]}]}
property: [{id: pm-1, name: Estate control room, notify: ["json://127.0.0.1:9000/pm"]}]
buildings:
  - id: b1
    units:
      - id: b1-u1
        doors: [d-b1-u1]
        households:
          - id: b1-u1-301
            sensors: [{id: s-0001, kind: co_gas, power: battery, installed: 2025-01-10}]
            residents: [{id: p-0001, lives_alone: true, vulnerable: true, away: false}]
            contacts: [{id: c-0001, name: Li Na, notify: ["mailto:li@example.org"]}]
"""


def test_the_documented_example_loads():
    reg = parse_registry(GOOD, "yanghe.yaml")
    assert reg.site == "yanghe" and reg.buildings[0].units[0].households[0].sensors[0].kind == "co_gas"


def test_errors_name_file_line_and_field():
    bad = GOOD.replace("kind: co_gas", "kind: smoke")
    with pytest.raises(RegistryError) as err:
        parse_registry(bad, "yanghe.yaml")
    (problem,) = err.value.problems
    assert problem.startswith("yanghe.yaml:15: buildings.0.units.0.households.0.sensors.0.kind:")


def test_duplicate_device_and_unknown_grid_building_are_reported():
    bad = GOOD.replace("doors: [d-b1-u1]", "doors: [s-0001]").replace(
        "buildings: [b1]", "buildings: [b1, b9]"
    )
    with pytest.raises(RegistryError) as err:
        parse_registry(bad, "x.yaml")
    text = str(err.value)
    assert "device id 's-0001' is used twice" in text and "no building 'b9'" in text
    assert "x.yaml:6:" in text


def test_ids_that_could_inject_line_protocol_are_refused():
    with pytest.raises(RegistryError, match="pattern"):
        parse_registry(GOOD.replace("id: b1-u1-301", "id: 'b1 u1,301'"), "x.yaml")


def test_the_property_desk_phone_is_a_number_or_nothing():
    with_phone = GOOD.replace("co_profile: EN50291\n", "co_profile: EN50291\nphone: 0731-8888 1234\n")
    assert parse_registry(with_phone, "x.yaml").phone == "0731-8888 1234"
    assert parse_registry(GOOD, "x.yaml").phone == ""
    with pytest.raises(RegistryError) as err:
        parse_registry(with_phone.replace("0731-8888 1234", "'call Mr Li'"), "x.yaml")
    assert str(err.value).startswith("x.yaml:5: phone:")


def test_simulated_estate_is_valid():
    parse_registry(estate.dump(estate.small_estate()), "sim.yaml")
