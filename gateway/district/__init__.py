"""The district tier in flow order: sites into partitions (one JetStream stream each), leases on them in a
NATS KV bucket, the partition worker (stream -> rules -> store, with snapshots; alarm book and notifier over
the fenced outbox in the district's store), acknowledgements into the partition streams, the instance that
claims and hands over its share, and the status an operator reads (docs/deploying.md)."""

from gateway.district.acks import publish_ack, publish_ack_link
from gateway.district.instance import Instance, run_cluster
from gateway.district.lease import Lease, Leases
from gateway.district.partitions import partition_of, share
from gateway.district.status import district_status
from gateway.district.worker import PartitionWorker

__all__ = [
    "Instance",
    "Lease",
    "Leases",
    "PartitionWorker",
    "district_status",
    "partition_of",
    "publish_ack",
    "publish_ack_link",
    "run_cluster",
    "share",
]
