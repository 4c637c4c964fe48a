"""Operator tools, never imported by the running gateway: broker accounts and certificates, the demo and its
inbox, and the daily report with its charts."""
