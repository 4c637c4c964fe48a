"""The district tier: partitions on NATS JetStream, leases, hand-over (docs/deploying.md)."""
