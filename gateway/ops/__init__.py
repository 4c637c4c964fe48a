"""Operator tools, never imported by the running gateway: broker accounts and certificates, the demo and its
inbox, and the daily report with its charts."""

from gateway.ops.broker_access import Broker, BrokerAccess
from gateway.ops.certs import LocalCA
from gateway.ops.demo import DemoOptions, run_demo
from gateway.ops.report import collect, render

__all__ = ["Broker", "BrokerAccess", "DemoOptions", "LocalCA", "collect", "render", "run_demo"]
