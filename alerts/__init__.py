"""The numpy rule core and alarm lifecycle (issue: vectorised alert core). No I/O, no clock."""
