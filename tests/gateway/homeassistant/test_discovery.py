"""Every discovery message the gateway builds is one Home Assistant takes, by Home Assistant's own rules
(tests/gateway/homeassistant/ha_discovery.py), and those rules refuse what Home Assistant refuses."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gateway.homeassistant.discovery import DeviceCard, config_topic, discovery, gateway_topic
from tests.gateway.homeassistant.ha_discovery import Discovered, Refused, available, parse, state_of

CARDS = [
    DeviceCard("t1", "b1-u1-101", "s-00001", "co_gas", mains=True, model="JT-CO-GAS"),
    DeviceCard("t1", "b1-u1-101", "s-00009", "co"),
    DeviceCard("t1", "b1-u1-101", "s-00010", "gas"),
    DeviceCard("t1", "b1-u1-101", "d-b1-u1", "door"),
]


def _message(card: DeviceCard, payload: dict[str, Any] | None = None) -> tuple[str, bytes]:
    body = discovery(card) if payload is None else payload
    return config_topic("homeassistant", card), json.dumps(body, ensure_ascii=False).encode()


def test_every_kind_of_device_is_discovered_with_the_entities_it_should_have() -> None:
    seen = Discovered()
    by_device = {c.device: {e.component_id: e for e in parse(*_message(c), seen)} for c in CARDS}
    gas_co = by_device["s-00001"]
    assert {k: (e.platform, e.config.get("device_class")) for k, e in gas_co.items()} == {
        "co": ("binary_sensor", "carbon_monoxide"),
        "co_ppm": ("sensor", "carbon_monoxide"),
        "gas": ("binary_sensor", "gas"),
        "gas_lel": ("sensor", None),  # HA's `gas` sensor class is a volume (m³): %LEL has none
        "health": ("binary_sensor", "problem"),
        "acknowledge": ("button", None),
    }, "mains powered: no battery"
    assert gas_co["co_ppm"].config["unit_of_measurement"] == "ppm"
    assert gas_co["gas_lel"].config["unit_of_measurement"] == "%LEL"
    assert set(by_device["s-00009"]) == {"co", "co_ppm", "health", "battery", "acknowledge"}
    assert by_device["s-00009"]["battery"].config["device_class"] == "battery"
    assert set(by_device["s-00010"]) == {"gas", "gas_lel", "health", "battery", "acknowledge"}
    assert set(by_device["d-b1-u1"]) == {"health"}
    assert len(seen.entities) == sum(len(d) for d in by_device.values()), "unique ids are unique"
    button = gas_co["acknowledge"].config
    assert button["command_topic"] == CARDS[0].command_topic and button["payload_press"] == "PRESS"
    for e in gas_co.values():  # expanded from abbreviations, shared availability merged, origin named
        assert e.config["device"]["identifiers"] == ["gas_guardian_t1_s-00001"]
        assert e.config["device"]["manufacturer"] == "Gas Guardian"
        assert e.config["origin"]["name"] == "Gas Guardian"
        assert e.config["availability_mode"] == "all"
        assert [a["topic"] for a in e.config["availability"]] == [
            gateway_topic("t1", "b1-u1-101"),
            CARDS[0].availability_topic,
        ]


def test_states_and_availability_read_as_home_assistant_reads_them() -> None:
    seen = Discovered()
    ents = {e.component_id: e for e in parse(*_message(CARDS[0]), seen)}
    assert state_of(ents["co"], b"ON") is True and state_of(ents["co"], b"OFF") is False
    assert state_of(ents["co_ppm"], b"35.0") == 35.0
    with pytest.raises(Refused):
        state_of(ents["co"], b"on")
    retained = {gateway_topic("t1", "b1-u1-101"): b"online", CARDS[0].availability_topic: b"online"}
    assert available(ents["co"], retained)
    assert not available(ents["co"], {**retained, CARDS[0].availability_topic: b"offline"})
    assert not available(ents["co"], {**retained, gateway_topic("t1", "b1-u1-101"): b"offline"})


def _broken(change) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    payload = copy.deepcopy(discovery(CARDS[0]))
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda p: p.pop("o"), "`origin` is required"),
        (lambda p: p["o"].pop("name"), "`name` is required"),
        (lambda p: p.pop("dev"), "`device` is required"),
        (lambda p: p["dev"].pop("ids"), "at least one identifier"),
        (lambda p: p["cmps"]["co"].pop("stat_t"), "`state_topic` is required"),
        (lambda p: p["cmps"]["acknowledge"].pop("cmd_t"), "`command_topic` is required"),
        (lambda p: p["cmps"]["acknowledge"].update(cmd_t="a/+/press"), "wildcards"),
        (lambda p: p["cmps"]["co"].pop("uniq_id"), "`unique_id` is required"),
        (lambda p: p["cmps"]["co"].update(uniq_id=p["cmps"]["gas"]["uniq_id"]), "twice"),
        (lambda p: p["cmps"]["gas"].update(dev_cla="lpg"), "no binary_sensor device class"),
        (lambda p: p["cmps"]["gas_lel"].update(dev_cla="gas"), "not one of device class 'gas'"),
        (lambda p: p["cmps"]["co_ppm"].update(unit_of_meas="mg/m³"), "not one of device class"),
        (lambda p: p["cmps"]["co"].update(p="smoke_alarm"), "not supported"),
        (lambda p: p["cmps"]["co"].update(stat_tt="x/y"), "does not have"),
        (lambda p: p.update(avty_mode="most"), "availability_mode"),
        (lambda p: p["avty"][0].pop("t"), "`topic` is required"),
        (lambda p: p.update(avty_t="x/avail"), "exclusive"),
        (lambda p: p["cmps"]["health"].update(ent_cat="config"), "entity category config"),
    ],
)
def test_the_rules_refuse_what_home_assistant_refuses(change, why) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match=why):
        parse(*_message(CARDS[0], _broken(change)), Discovered())


def test_topics_and_unique_ids_across_devices() -> None:
    seen = Discovered()
    parse(*_message(CARDS[0]), seen)
    with pytest.raises(Refused, match="illegal discovery topic"):
        parse("homeassistant/device/bad.id/config", json.dumps(discovery(CARDS[1])), Discovered())
    other = copy.deepcopy(discovery(CARDS[1]))
    other["cmps"]["co"]["uniq_id"] = discovery(CARDS[0])["cmps"]["co"]["uniq_id"]
    with pytest.raises(Refused, match="already taken"):
        parse(config_topic("homeassistant", CARDS[1]), json.dumps(other), seen)
    assert parse(*_message(CARDS[0]), seen), "the same device again is an update, not a clash"
    assert parse(config_topic("homeassistant", CARDS[0]), b"", seen) == [] and not seen.entities
