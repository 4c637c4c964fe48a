"""The gateway's exceptions, translated once at the boundary where a library raised them.

GuardianError
├── ConfigError               settings or registry unusable: refuse to start, say where
├── SpoolError                the local durable spool failed (disk full, corrupt file)
└── StorageError              InfluxDB said no
    ├── StorageUnavailable    5xx, 429, timeout, refused: retry later (retry_after when given)
    ├── StorageRejected       400/422: some lines are bad; split the batch to find them
    ├── StorageTooLarge       413: split the batch
    └── StorageConfigError    401/403/404: wrong credentials or database; hold and raise health
"""

from __future__ import annotations


class GuardianError(Exception):
    pass


class ConfigError(GuardianError):
    pass


class SpoolError(GuardianError):
    pass


class StorageError(GuardianError):
    pass


class StorageUnavailable(StorageError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageRejected(StorageError):
    pass


class StorageTooLarge(StorageError):
    pass


class StorageConfigError(StorageError):
    pass
