"""The gateway: everything that touches the network, the disk or the clock."""

__all__: list[str] = []
"""The root holds the subpackages by role (docs/architecture in the README); each re-exports its own."""
