"""The relational store: registry, people, accounts, alarm state and its history (docs/store.md)."""
