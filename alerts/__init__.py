"""The numpy rule core and alarm lifecycle (issue: vectorised alert core). No I/O, no clock."""

from alerts.alarm import Alarm
from alerts.engine import Engine
from alerts.rule import Audience, Family, Severity
from alerts.settings import AlertSettings, Cfk, SettingsError
from alerts.signals import Acknowledgement, Signal, Transition, Where
from alerts.site import SiteModel, compile_site_model
from alerts.status import HEALTH, EstateStatus, estate_status, level

__all__ = [
    "HEALTH",
    "Acknowledgement",
    "Alarm",
    "AlertSettings",
    "Audience",
    "Cfk",
    "Engine",
    "EstateStatus",
    "Family",
    "SettingsError",
    "Severity",
    "Signal",
    "SiteModel",
    "Transition",
    "Where",
    "compile_site_model",
    "estate_status",
    "level",
]
