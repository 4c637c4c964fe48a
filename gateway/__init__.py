"""The gateway: everything that touches the network, the disk or the clock."""
