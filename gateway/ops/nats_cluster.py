"""A NATS cluster with JetStream (and MQTT 3.1.1 on each node) as child processes, for the district demo,
the tests and the benchmarks: the settings that matter for losing nothing are written once, here.

Each node: its own store folder, client port, cluster route port and MQTT port; routes to every node; a
`server_name` (JetStream's Raft groups need one). Three nodes let replicated streams (R3) keep a quorum
through the loss of any one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.ops.services import ChildServer, find_binary, free_port

CLUSTER_CONF = """\
cluster {{
  name: guardian
  listen: 127.0.0.1:{route}
  routes: [{routes}]
}}"""
"""Left out for a single node (JetStream then runs standalone, with R1 streams)."""

NODE_CONF = """\
# Written by gateway/ops/nats_cluster.py (docs/deploying.md).
server_name: {name}
listen: 127.0.0.1:{port}
http: 127.0.0.1:{monitor}
jetstream {{
  store_dir: "{store}"
  max_memory_store: 256MB
  max_file_store: 4GB
}}
{cluster}
mqtt {{
  listen: 127.0.0.1:{mqtt}
  # a QoS 1 message not acknowledged by a subscriber within this is sent again
  ack_wait: "30s"
  max_ack_pending: 1024
}}
{extra}
"""


def _include(auth: Path | None, folder: Path) -> str:
    if auth is None:
        return ""
    return f"\ninclude {json.dumps(os.path.relpath(auth.resolve(), folder.resolve()))}\n"


@dataclass(slots=True)
class NatsCluster:
    directory: Path
    size: int = 3
    extra: str = ""
    """More configuration for every node."""
    auth: Path | None = None
    """The users and permissions `guardian devices provision --nats` wrote (`nats-auth.conf`), included by
    every node. NATS resolves an include against the including file's folder, so it is written relative."""
    nodes: list[ChildServer] = field(default_factory=list)
    mqtt_ports: list[int] = field(default_factory=list)
    monitor_ports: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        ports = [free_port() for _ in range(self.size)]
        routes = [free_port() for _ in range(self.size)]
        self.mqtt_ports = [free_port() for _ in range(self.size)]
        self.monitor_ports = [free_port() for _ in range(self.size)]
        route_urls = ", ".join(f"nats-route://127.0.0.1:{r}" for r in routes)
        for i in range(self.size):
            d = self.directory / f"n{i + 1}"
            d.mkdir(parents=True, exist_ok=True)
            conf = d / "nats.conf"
            conf.write_text(
                NODE_CONF.format(
                    name=f"n{i + 1}",
                    port=ports[i],
                    monitor=self.monitor_ports[i],
                    store=d / "jetstream",
                    cluster=CLUSTER_CONF.format(route=routes[i], routes=route_urls) if self.size > 1 else "",
                    mqtt=self.mqtt_ports[i],
                    extra=self.extra + _include(self.auth, d),
                )
            )
            self.nodes.append(
                ChildServer(
                    name=f"nats-n{i + 1}",
                    directory=d,
                    port=ports[i],
                    argv=[find_binary("nats-server"), "-c", str(conf)],
                    log=d / "nats.log",
                )
            )

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{n.port}" for n in self.nodes]

    def start(self, timeout: float = 60.0) -> None:
        for n in self.nodes:
            n.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every running node says JetStream is up with a meta leader (`/healthz?js-enabled-only`)."""
        import urllib.request

        deadline = time.monotonic() + timeout
        for node, monitor in zip(self.nodes, self.monitor_ports, strict=True):
            if not node.running:
                continue
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{node.name}: JetStream not ready after {timeout} s")
                time.sleep(0.2)

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
