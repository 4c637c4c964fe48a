"""The gateway's exceptions, all of them, translated once at the boundary where a library raised them.

GuardianError
├── ConfigError               settings or registry unusable: refuse to start, say where
│   └── RosterError           a residents' CSV roster with problems (every problem listed)
├── SpoolError                the local durable spool failed (disk full, corrupt file)
├── StoreError                the relational store did not answer (a background read: keep what is
│                             held, read again later)
├── ShiftError                a duty shift that cannot be made or changed as asked (the message says
│                             why: it ends before it starts, overlaps that person's other shift...)
├── StorageError              InfluxDB said no
│   ├── StorageUnavailable    5xx, 429, timeout, refused: retry later (retry_after when given)
│   ├── StorageRejected       400/422: some lines are bad; split the batch to find them
│   ├── StorageTooLarge       413: split the batch
│   └── StorageConfigError    401/403/404: wrong credentials or database; hold and raise health
├── BrokerError               the MQTT broker or the bytes between us
│   ├── ProtocolError         the peer sent bytes that are not MQTT (5 or 3.1.1) as this client speaks it
│   └── ConnectRefusedError   CONNACK with a failure reason (also a ConnectionError: reconnect logic)
├── TokenError                a signed token (access token or link) forged, damaged, for another purpose,
│                             or no longer good; the message says which, for logs
├── EndpointRefused           a push endpoint the gateway will not send to (also a ValueError)
├── PreferenceRefused         a notification preference the gateway will not keep: `field` and `reason`
│                             (also a ValueError; the API's 422)
├── LeaseLost                 a district instance no longer owns a partition (its lease ran out or was
│                             taken): that partition stops, what it had not written is discarded
├── AckPending                an API replica's acknowledgement taken by the partition stream but not yet
│                             in the alarm book when the replica stopped waiting (the API's 202)
├── ProviderTokenUnavailable  a messaging platform gave no access token (WeChat, WeCom): `outcome` says
│                             what every send waiting on it answers
├── OrderRefused              a work-order action not allowed now: `status` is the API's answer (403 not
│                             for this caller, 409 not from this state, 422 something it needs is missing)
├── EnrolmentRefused          a Home Assistant broker the gateway will not send a household's data to (the
│                             estate's own); also a ValueError, the API's 422
├── ForkFailed                a forked child (the rule snapshot, the estate state) could not be made or did
│                             not finish: the work is done in place instead
└── AccountError              a sign-in account that cannot be made or changed as asked
    └── PasswordsBusy         more sign-ins in flight than the password worker takes: try again

The pure core's own errors stay `ValueError`s, `sensors.registry.RegistryError` and
`alerts.settings.SettingsError`, and are translated to ConfigError where settings and registries load.
"""

from __future__ import annotations

from typing import Any


class GuardianError(Exception):
    pass


class ConfigError(GuardianError):
    pass


class RosterError(ConfigError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class SpoolError(GuardianError):
    pass


class StoreError(GuardianError):
    pass


class ShiftError(GuardianError):
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


class BrokerError(GuardianError):
    pass


class ProtocolError(BrokerError):
    """The peer sent bytes that are not MQTT (5 or 3.1.1) as this client speaks it."""


class ConnectRefusedError(BrokerError, ConnectionError):
    """The broker answered CONNACK with a failure reason (bad credentials, not authorised…)."""


class TokenError(GuardianError, ValueError):
    """The token is forged, damaged, for another purpose, or expired; the message says which."""


class EndpointRefused(GuardianError, ValueError):
    """A push endpoint the gateway will not send to; the message says why."""


class PreferenceRefused(GuardianError, ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AccountError(GuardianError):
    pass


class PasswordsBusy(AccountError):
    """More sign-ins in flight than the password worker takes: try again in a second."""


class LeaseLost(GuardianError):
    """Raised by a partition worker about to act on a partition it no longer owns."""


class AckPending(GuardianError):
    """An acknowledgement published into its alarm's partition stream (it will be applied, in order, by the
    partition's owner) that the alarm book did not show within the API replica's wait."""


class ProviderTokenUnavailable(GuardianError):
    """No access token to send with; `outcome` (a `gateway.notify.channels.Outcome`) is what every send
    waiting for it answers: a refusal (bad secret) or a retry (the platform busy)."""

    def __init__(self, outcome: Any) -> None:
        super().__init__(getattr(outcome, "error", str(outcome)))
        self.outcome = outcome


class OrderRefused(GuardianError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ForkFailed(GuardianError):
    """The child could not be made, or did not finish its work (its exit status says how)."""


class EnrolmentRefused(GuardianError, ValueError):
    """A household's Home Assistant broker the gateway refuses (the estate's own broker); the message says
    why, for the resident."""
