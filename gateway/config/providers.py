"""The messaging providers' settings (Aliyun SMS and voice, WeChat, WeCom, JPush): accounts, templates and
limits, validated where settings load. The channels that use them live in `gateway/notify/channels/`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

OA_BASE_URL = "https://api.weixin.qq.com"
WECOM_BASE_URL = "https://qyapi.weixin.qq.com"
SEVERITIES = ("P1", "P2", "P3", "P4")
JPUSH_SEVERITY_KEYS = ("P1", "P2", "P3", "P4", "*")
JPUSH_TIME_TO_LIVE = {"P1": 3600, "P2": 3600, "P3": 6 * 3600, "P4": 24 * 3600}
"""Seconds JPush and the makers keep a push for a phone that is off: an hour-old P1 is still worth showing."""


Fill = Literal["place", "what", "link", "severity", "site", "building", "household", "time"]
"""What fills a template variable: the place (household, else building, else site), what happened (the
title without its severity and place), the acknowledgement link, or one of the message's own fields."""

SEVERITY_KEYS = ("P1", "P2", "P3", "P4", "*")


class SmsTemplate(BaseModel):
    """An approved SMS template: its code and, per variable in it, what fills the variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(min_length=1, description="the template code, e.g. SMS_123456789")
    params: dict[str, Fill] = Field(
        default_factory=lambda: dict[str, Fill](place="place", what="what", link="link"),
        description="template variable name -> what fills it",
    )


class AliyunSettings(BaseModel):
    """One Aliyun account's SMS and voice notification settings (a RAM user's AccessKey with only
    AliyunDysmsFullAccess and AliyunDyvmsFullAccess is enough)."""

    model_config = ConfigDict(extra="forbid")
    access_key_id: str = Field(min_length=1)
    access_key_secret: SecretStr
    region: str = "cn-hangzhou"
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    voice_endpoint: str = "https://dyvmsapi.aliyuncs.com/"
    sign_name: str = Field(default="", description="the approved SMS signature, e.g. 燃气卫士")
    sms_templates: dict[str, SmsTemplate] = Field(
        default_factory=dict,
        description="per severity (P1..P4) or for all ('*'): the template; a bare code is one for all",
    )
    voice_tts_template: str = Field(
        default="", description="the approved text-to-speech template code, TTS_..."
    )
    voice_tts_params: dict[str, Fill] = Field(
        default_factory=lambda: dict[str, Fill](place="place", what="what"),
        description="TTS template variable -> what fills it (public-mode templates take at most two)",
    )
    called_show_number: str = Field(
        default="",
        description="the number calls show (dedicated mode); empty for Aliyun's public number pool",
    )
    voice_play_times: int = Field(default=3, ge=1, le=3, description="how often the call repeats its text")
    voice_report_wait_s: float = Field(
        default=180.0,
        gt=0,
        description="after a call request got no answer, how long to wait for its call report before calling "
        "again (a call that rang reports within about a minute of ending; none if it never left)",
    )
    site_daily_cap_sms: int | None = Field(
        default=1000,
        ge=0,
        description="SMS per site per local day before P3/P4 wait for the next day (P1/P2 are never held; "
        "past it they raise SYS-COST); 1,000 is a bad day for ~2,000 households; null: no cap",
    )
    site_daily_cap_voice: int | None = Field(
        default=300,
        ge=0,
        description="voice calls per site per local day, likewise (calls are only for P1/P2 by default, "
        "so past it they go out and raise SYS-COST); null: no cap",
    )
    daily_cap_per_number: int = Field(
        default=40,
        ge=1,
        description="SMS per number per China day before P3/P4 wait for the next day (Aliyun refuses "
        "about 50 per number, signature and day; P1/P2 are never held)",
    )

    @field_validator("sms_templates", mode="before")
    @classmethod
    def _one_code(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"*": {"code": value}}
        if isinstance(value, Mapping):
            return {k: {"code": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("sms_templates")
    @classmethod
    def _severities(cls, value: dict[str, SmsTemplate]) -> dict[str, SmsTemplate]:
        unknown = sorted(set(value) - set(SEVERITY_KEYS))
        if unknown:
            raise ValueError(f"sms_templates are keyed by P1..P4 or '*', not {unknown}")
        return value

    @field_validator("voice_tts_params")
    @classmethod
    def _no_links(cls, value: dict[str, Fill]) -> dict[str, Fill]:
        if "link" in value.values():
            raise ValueError("a voice call cannot carry a link (Aliyun refuses URLs in TTS variables)")
        return value

    def sms_template(self, severity: str) -> SmsTemplate | None:
        return self.sms_templates.get(severity) or self.sms_templates.get("*")


class WeChatTemplateFields(BaseModel):
    """Which of the template's fields carries what; None leaves it out. The defaults fit a category
    template laid out thing/thing/time/thing; they must match the template chosen in the console."""

    model_config = ConfigDict(extra="forbid")

    what: str | None = Field(default="thing1", description="the alarm and its state: 'P1 燃气泄漏（一级）'")  # noqa: RUF001
    where: str | None = Field(default="thing2", description="the household, unit or building")
    when: str | None = Field(default="time3", description="the transition's time in the site's zone")
    action: str | None = Field(default="thing4", description="what to do first")
    alarm_id: str | None = Field(
        default=None, description="the alarm's id, for staff (a character_string field)"
    )


class WeChatMiniProgram(BaseModel):
    """Open the resident app's mini program instead of the page (WeChat falls back to `url` when the
    client cannot open mini programs)."""

    model_config = ConfigDict(extra="forbid")

    appid: str = Field(pattern=r"^wx[0-9A-Za-z]{16}$")
    pagepath: str = Field(
        default="pages/alarm/index?alarm={alarm_id}&ack={ack_url}",
        description="{alarm_id} and {ack_url} are filled in, URL-encoded",
    )


class WeChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appid: str = Field(pattern=r"^wx[0-9A-Za-z]{16}$", description="the Official Account's AppID")
    secret: SecretStr = Field(description="its AppSecret")
    template_id: str | dict[Literal["P1", "P2", "P3", "P4"], str] = Field(
        description="one template for every severity, or one per severity (P1..P4, all four)"
    )
    fields: WeChatTemplateFields = WeChatTemplateFields()
    miniprogram: WeChatMiniProgram | None = None
    base_url: str = OA_BASE_URL
    stable_token: bool = Field(
        default=True, description="getStableAccessToken, which other systems on the account do not invalidate"
    )
    callback_token: SecretStr | None = Field(
        default=None,
        description="the server configuration's Token: set it when the server URL is the gateway's",
    )
    encoding_aes_key: SecretStr | None = Field(
        default=None, min_length=43, max_length=43, description="the EncodingAESKey, for safe-mode callbacks"
    )
    forget_hours: float = Field(
        default=24.0,
        gt=0,
        description="how long an openid that unfollowed is not sent to (unless it follows again)",
    )

    @model_validator(mode="after")
    def _every_severity(self) -> WeChatSettings:
        if isinstance(self.template_id, dict) and set(self.template_id) != set(SEVERITIES):
            raise ValueError("template_id per severity needs P1, P2, P3 and P4")
        return self


class WeComSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corpid: str = Field(min_length=1, pattern=r"^[0-9A-Za-z]+$", description="the company's CorpID")
    corpsecret: SecretStr = Field(description="the app's Secret (each app has its own)")
    agentid: int = Field(ge=1, description="the app's AgentId")
    base_url: str = WECOM_BASE_URL
    duplicate_check_interval: int = Field(
        default=14400,
        ge=1,
        le=14400,
        description="seconds WeCom keeps one request's copies from showing twice",
    )
    button: str = Field(default="确认处理", min_length=1, max_length=4, description="the card's button text")


ReportApi = Literal["received", "status"]
Platform = Literal["android", "ios", "hmos"]


class JPushSettings(BaseModel):
    """One JPush app (the residents' app): its AppKey and Master Secret, and how its messages are
    classified on each phone maker's channel."""

    model_config = ConfigDict(extra="forbid")
    app_key: str = Field(min_length=1, description="the app's AppKey (JPush console, 应用设置)")
    master_secret: SecretStr = Field(description="the app's Master Secret: HTTP Basic password of the API")
    base_url: str = Field(
        "https://api.jpush.cn",
        description="Push API host; https://bjapi.push.jiguang.cn for apps in JPush's Beijing room",
    )
    report_url: str = Field(
        "https://report.jpush.cn",
        description="Report API host (its /v3 is added); https://bjapi.push.jiguang.cn/v3/report in Beijing",
    )
    apns_production: bool = Field(
        True, description="iOS: APNs production (the App Store build) rather than development"
    )
    platforms: list[Platform] = Field(
        default_factory=lambda: list[Platform](["android", "ios"]),
        min_length=1,
        description="platforms the app is configured for in JPush (add hmos for HarmonyOS NEXT phones)",
    )
    android_channel_ids: dict[str, str] = Field(
        default_factory=dict,
        description="per severity (P1..P4, '*'): the app's own Android NotificationChannel id",
    )
    android_category: str = Field(
        "alarm",
        description="notification.android.category: Android's CATEGORY_ALARM, which Do Not Disturb lets "
        "through when alarms are allowed",
    )
    android_intent: str = Field(
        "intent:#Intent;action=android.intent.action.MAIN;end",
        description="what a tap opens (JPush's form for the app's main screen); the alarm page's link is in "
        "the extras",
    )
    xiaomi_channel_ids: dict[str, str] = Field(
        default_factory=dict,
        description="per severity: a Xiaomi 私信 (private message) channel id; Xiaomi has no default channel",
    )
    xiaomi_template_id: str | None = Field(
        None,
        description="Xiaomi's message template for private messages (mi_template_id), where Xiaomi requires "
        "one; filled with {title, content}",
    )
    huawei_importance: Literal["LOW", "NORMAL", "HIGH"] = Field(
        "NORMAL", description="Huawei cloud notification importance: NORMAL = service and communication"
    )
    huawei_category: str = Field(
        "DEVICE_REMINDER",
        description="Huawei (and HarmonyOS) category under the app's self-classification right",
    )
    honor_importance: Literal["LOW", "NORMAL"] = Field("NORMAL", description="NORMAL: Honor's 重要消息")
    oppo_channel_ids: dict[str, str] = Field(
        default_factory=dict, description="per severity: an OPPO channel registered in OPPO's console"
    )
    oppo_category: str = Field("DEVICE_REMINDER", description="OPPO's category (its 2024-11-20 rules)")
    vivo_category: str = Field("DEVICE_REMINDER", description="vivo's category for system messages")
    ios_critical_alerts: bool = Field(
        False,
        description="the iOS app holds Apple's Critical Alerts entitlement: P1 plays through the mute switch",
    )
    time_to_live: dict[str, int] = Field(
        default_factory=lambda: dict(JPUSH_TIME_TO_LIVE),
        description="per severity: seconds JPush keeps a message for an offline phone (<= 3 days; VIP 10)",
    )
    cid_batch: int = Field(10, ge=1, le=1000, description="cids fetched at once (non-VIP apps get 10)")
    report: ReportApi = Field(
        "received",
        description="received: /v3/received/detail (every app); status: /v3/status/message (VIP apps)",
    )

    @field_validator("android_channel_ids", "xiaomi_channel_ids", "oppo_channel_ids", "time_to_live")
    @classmethod
    def _severities(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(JPUSH_SEVERITY_KEYS))
        if unknown:
            raise ValueError(f"keyed by P1..P4 or '*', not {unknown}")
        return value

    @field_validator("time_to_live")
    @classmethod
    def _ttl(cls, value: dict[str, int]) -> dict[str, int]:
        if any(not 0 <= v <= 10 * 86400 for v in value.values()):
            raise ValueError("time_to_live is 0..864000 seconds (10 days, for VIP apps; 3 days otherwise)")
        return value
