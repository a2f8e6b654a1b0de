"""`sms_outreach`: send a text to a customer (through the outbox), and read its history and campaign numbers.

The database's side (`sms.outreach`, `crm.rows`, SQLAlchemy) is imported by the methods that use it: a process
whose calls never text anyone starts without it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, AwareDatetime, BaseModel, Field, field_validator, model_validator

from salesboost.clock import as_utc, local_zone
from salesboost.config import Settings, SettingsError
from salesboost.sales.action_output import ActionOutput
from salesboost.sales.compliance.tool import ComplianceEngine
from salesboost.sales.crm.customers import CustomerId, customer_number, format_customer_id
from salesboost.sales.crm.tool import CUSTOMER_NOT_FOUND
from salesboost.sales.replay import IDEMPOTENCY_KEY_REUSED, claim_of
from salesboost.sales.sms.codes import SMS_DAILY_LIMIT, SMS_NO_CONSENT, SMS_OPTED_OUT
from salesboost.sales.sms.numbers import InvalidPhoneError, is_fictional, recipient_e164
from salesboost.sales.sms.quiet_hours import QuietHours, QuietHoursError
from salesboost.sales.sms.segments import count_segments
from salesboost.tools.base import StoredText, Tool, ToolBackends, ToolContext, ToolInput, ToolPolicy
from salesboost.tools.errors import ToolDomainError

if TYPE_CHECKING:
    from salesboost.store.customers import Customer
    from salesboost.store.sms import SmsMessage

SMS_INVALID_PHONE = "SMS_INVALID_PHONE"
SMS_COMPLIANCE_BLOCKED = "SMS_COMPLIANCE_BLOCKED"
SMS_INVALID_SEND_AT = "SMS_INVALID_SEND_AT"
SMS_NO_SENDING_WINDOW = "SMS_NO_SENDING_WINDOW"
SEND_SCOPE = "sms_outreach.send"
MAX_SCHEDULE_AHEAD = timedelta(days=35)
MAX_SEGMENTS = 10
# The compliance pack knows the stages of a live conversation; won and lost deals are checked without one.
_COMPLIANCE_STAGES = frozenset({"opening", "discovery", "presentation", "objection_handling", "closing", "follow_up"})

Action = Literal["send", "history", "campaign_stats"]


class SmsInput(ToolInput):
    action: Action = Field("send", description="send (the default), history or campaign_stats.")
    phone_number: StoredText | None = Field(
        None,
        max_length=40,
        validation_alias=AliasChoices("phone_number", "phone"),
        description=(
            "Recipient, international (+14155550123) or national in the default region; 40 characters. "
            "`phone` is accepted as another name for it."
        ),
    )
    customer_id: CustomerId | None = Field(None, description="Or the customer to text (its phone on file).")
    message: StoredText | None = Field(
        None, min_length=1, max_length=1600, description="For send: the text, at most 1600 characters."
    )
    campaign: StoredText | None = Field(
        None, min_length=1, max_length=100,
        description="Campaign tag, at most 100 characters (marks a marketing text); required for campaign_stats.",
    )
    marketing: bool = Field(
        False, description="For send: a marketing text (as any text with a campaign is); never sent in quiet hours."
    )
    send_at: AwareDatetime | None = Field(
        None,
        description=(
            "For send: deliver at this moment (ISO 8601 with its offset), at most 35 days ahead; moved to the "
            "next moment inside the recipient's sending hours when it falls outside them."
        ),
    )
    limit: int = Field(20, ge=1, le=100, description="For history: at most this many messages, newest first.")

    @model_validator(mode="before")
    @classmethod
    def _one_phone_field(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("phone") is not None and data.get("phone_number") is not None:
            raise ValueError("give the recipient as phone_number or as phone, not both")
        return data

    @field_validator("message")
    @classmethod
    def _fits(cls, value: str | None) -> str | None:
        if value is not None and (segments := count_segments(value).segments) > MAX_SEGMENTS:
            raise ValueError(f"is {segments} SMS segments long; at most {MAX_SEGMENTS} are allowed")
        return value

    @model_validator(mode="after")
    def _fields_for_action(self) -> SmsInput:
        if self.action in ("send", "history") and self.phone_number is None and self.customer_id is None:
            raise ValueError(f"action {self.action!r} needs phone_number or customer_id")
        if self.action == "send" and self.message is None:
            raise ValueError("action 'send' needs message")
        if self.action == "campaign_stats" and self.campaign is None:
            raise ValueError("action 'campaign_stats' needs campaign")
        return self


class SmsView(BaseModel):
    message_id: int
    phone: str
    customer_id: str | None
    campaign: str | None
    body: str
    encoding: str
    segments: int
    characters: int
    test_number: bool = Field(
        description="A reserved fictional number (NANP 555): accepted by the log provider only, it reaches nobody."
    )
    status: str = Field(description="scheduled (held until send_at), queued, sent, delivered or failed.")
    send_at: datetime | None = Field(description="When a scheduled message is delivered.")
    sender: str | None = Field(description="The number it was sent from (once sent).")
    messaging_service_sid: str | None = Field(
        description="The provider's messaging service it was sent through (where a US 10DLC campaign is registered)."
    )
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: SmsMessage) -> SmsView:
        return cls(
            message_id=row.id,
            phone=row.phone,
            test_number=is_fictional(row.phone),
            customer_id=format_customer_id(row.customer_number) if row.customer_number is not None else None,
            campaign=row.campaign,
            body=row.body,
            encoding=row.encoding,
            segments=row.segments,
            characters=row.characters,
            status=row.status,
            send_at=as_utc(row.send_at) if row.send_at else None,
            sender=row.sender,
            messaging_service_sid=row.messaging_service_sid,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=as_utc(row.created_at),
            sent_at=as_utc(row.sent_at) if row.sent_at else None,
            delivered_at=as_utc(row.delivered_at) if row.delivered_at else None,
        )


class SmsOutput(ActionOutput):
    keys_by_action: ClassVar[Mapping[str, frozenset[str]]] = {
        "send": frozenset({"message", "duplicate", "sent_today", "daily_limit", "compliance_warnings"}),
        "history": frozenset({"messages", "count"}),
        "campaign_stats": frozenset({"campaign", "total_sent", "unique_recipients", "total_segments", "by_status"}),
    }

    action: Action
    message: SmsView | None = Field(None, description="send: the queued message (or the first one, on a retry).")
    duplicate: bool | None = Field(None, description="send: true when the idempotency key replayed an earlier send.")
    sent_today: int | None = Field(
        None,
        description="send: messages for this phone on the day this one is sent (today, or send_at's), this one "
        "included.",
    )
    daily_limit: int | None = None
    compliance_warnings: list[str] | None = Field(None, description="send: rule ids that warned but did not block.")
    messages: list[SmsView] | None = None
    count: int | None = None
    campaign: str | None = None
    total_sent: int | None = None
    unique_recipients: int | None = None
    total_segments: int | None = None
    by_status: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class SmsRules:
    default_region: str
    zone: ZoneInfo
    daily_limit: int
    provider: str  # "log" texts nobody; any other reaches real phones
    quiet_hours: QuietHours
    transactional_any_hour: bool


class SmsOutreachTool(Tool[SmsInput, SmsOutput]):
    name = "sms_outreach"
    description = (
        "Text a customer. action=send (default) with phone_number or customer_id and message queues an SMS for "
        "delivery and returns its encoding (GSM-7 or UCS-2), segments and status; a number gets at most 5 "
        "texts per day, numbers that replied STOP are refused, and messages breaking the compliance rules "
        "are refused. A text is only delivered from 8:00 to 21:00 in the recipient's local time (stricter in "
        "some states): outside that it is scheduled (status scheduled, send_at), not refused; send_at schedules "
        "one (at most 35 days ahead). Set campaign or marketing=true for marketing texts (they need opt-out "
        "wording such as 'Reply STOP to opt out') and the recipient's written consent on record (else "
        "SMS_NO_CONSENT). action=history lists the texts sent to a phone or customer; "
        "action=campaign_stats counts a campaign's texts by status."
    )
    Input = SmsInput
    Output = SmsOutput
    policy = ToolPolicy(
        read_only=False, action_field="action", write_actions=frozenset({"send"}), timeout=10.0, open_world=True
    )
    error_codes = (
        SMS_INVALID_PHONE, SMS_OPTED_OUT, SMS_DAILY_LIMIT, SMS_COMPLIANCE_BLOCKED, SMS_INVALID_SEND_AT,
        SMS_NO_SENDING_WINDOW, SMS_NO_CONSENT, CUSTOMER_NOT_FOUND, IDEMPOTENCY_KEY_REUSED,
    )
    examples = (
        {"phone_number": "+15550001000", "message": "Test"},
        {"action": "send", "customer_id": "CUST001", "message": "Hi John, does Tuesday 10am work for a demo?"},
        {"action": "send", "phone_number": "+14155550101",
         "message": "Spring offer: 2 months free. Reply STOP to opt out.", "campaign": "spring-2026"},
        {"action": "history", "customer_id": "CUST001", "limit": 10},
        {"action": "campaign_stats", "campaign": "spring-2026"},
    )

    def __init__(self, rules: SmsRules, compliance: ComplianceEngine) -> None:
        self.rules = rules
        self.compliance = compliance

    async def run(self, args: SmsInput, ctx: ToolContext) -> SmsOutput:
        if args.action == "send":
            return await self._send(args, ctx)
        if args.action == "history":
            return await self._history(args, ctx)
        return await self._campaign_stats(args, ctx)

    async def _send(self, args: SmsInput, ctx: ToolContext) -> SmsOutput:
        from salesboost.sales.sms.outreach import Outgoing, accept

        assert args.message is not None
        customer = await self._customer(args, ctx)
        phone = self._recipient(args, customer)
        if is_fictional(phone) and self.rules.provider != "log":
            raise ToolDomainError(
                SMS_INVALID_PHONE,
                f"cannot text {phone}: it is a fictional number (NANP 555, reserved for examples) and the "
                f"{self.rules.provider!r} provider reaches real phones; use a real number",
                details={"phone": phone, "reason": "fictional number"},
            )
        marketing = args.campaign is not None or args.marketing
        now = ctx.backends.clock()
        send_at = self._send_at(args, phone, customer, marketing, now)
        verdict = self.compliance.check(
            args.message,
            channel="sms",
            stage=customer.stage if customer is not None and customer.stage in _COMPLIANCE_STAGES else None,
            marketing=marketing,
        )
        if verdict.risk_level == "BLOCK":
            rules = sorted({v.rule_id for v in verdict.violations})
            raise ToolDomainError(
                SMS_COMPLIANCE_BLOCKED,
                "the message breaks compliance rules " + ", ".join(rules) + ": "
                + "; ".join(dict.fromkeys(v.message for v in verdict.violations)),
                details={"rules": rules, "violations": [v.model_dump() for v in verdict.violations]},
            )
        payload = args.model_dump(mode="json", exclude={"limit"})
        payload["phone_number"] = phone
        outgoing = Outgoing(
            phone=phone,
            body=args.message,
            count=count_segments(args.message),
            customer_number=customer.number if customer is not None else None,
            campaign=args.campaign,
            marketing=marketing,
            send_at=send_at,
        )
        accepted = await accept(
            ctx.backends.sessions(), outgoing, claim_of(ctx, SEND_SCOPE, payload), now,
            self.rules.zone, self.rules.daily_limit,
        )
        return SmsOutput(
            action="send",
            message=SmsView.of(accepted.message),
            duplicate=accepted.duplicate,
            sent_today=accepted.sent_today,
            daily_limit=self.rules.daily_limit,
            compliance_warnings=sorted({v.rule_id for v in verdict.violations}),
        )

    def _send_at(
        self, args: SmsInput, phone: str, customer: Customer | None, marketing: bool, now: datetime
    ) -> datetime:
        """When the text may go out: the asked moment (or now), moved past the recipient's quiet hours (in the
        customer's own time zone when the CRM has it, else in every zone of the number). A test number reaches
        nobody, and a transactional text may be exempt (SALESBOOST_SMS_TRANSACTIONAL_ANY_HOUR)."""
        asked = now if args.send_at is None else args.send_at.astimezone(UTC)
        if asked < now or asked > now + MAX_SCHEDULE_AHEAD:
            raise ToolDomainError(
                SMS_INVALID_SEND_AT,
                f"send_at {asked.isoformat()} is not between now ({now.isoformat()}) and "
                f"{MAX_SCHEDULE_AHEAD.days} days ahead; omit it to send now",
                details={"send_at": asked.isoformat(), "now": now.isoformat()},
            )
        if is_fictional(phone) or (not marketing and self.rules.transactional_any_hour):
            return asked
        own = customer.time_zone if customer is not None and customer.phone == phone else None
        recipient = self.rules.quiet_hours.recipient(phone, None if own is None else local_zone(own))
        allowed = self.rules.quiet_hours.next_allowed(recipient, asked)
        if allowed is None:
            zones = ", ".join(z.key for z in recipient.zones)
            raise ToolDomainError(
                SMS_NO_SENDING_WINDOW,
                f"{phone} maps to the time zones {zones}, whose sending hours ({recipient.week.name}) never overlap; "
                "set the customer's time_zone with crm_integration update and text it by customer_id, or call instead",
                details={"phone": phone, "zones": [z.key for z in recipient.zones], "hours": recipient.week.name},
            )
        return allowed

    async def _customer(self, args: SmsInput, ctx: ToolContext) -> Customer | None:
        """The customer named by id, or else the one whose phone this is (so history by customer finds it)."""
        from salesboost.sales.crm.rows import find_by_phone, load

        async with ctx.backends.sessions()() as session:
            if args.customer_id is not None:
                customer = await load(session, customer_number(args.customer_id))
                if customer is None:
                    raise ToolDomainError(
                        CUSTOMER_NOT_FOUND, f"no customer {args.customer_id}", details={"customer_id": args.customer_id}
                    )
                return customer
            phone = self._parse(args.phone_number or "")
            return await find_by_phone(session, phone)

    def _recipient(self, args: SmsInput, customer: Customer | None) -> str:
        if args.phone_number is not None:
            return self._parse(args.phone_number)
        if customer is None or customer.phone is None:
            raise ToolDomainError(
                SMS_INVALID_PHONE,
                f"customer {args.customer_id} has no phone number on file; add one with crm_integration update",
                details={"customer_id": args.customer_id, "reason": "no phone on file"},
            )
        return customer.phone

    def _parse(self, raw: str) -> str:
        try:
            return recipient_e164(raw, self.rules.default_region)
        except InvalidPhoneError as exc:
            raise ToolDomainError(
                SMS_INVALID_PHONE,
                f"cannot text {raw!r}: {exc} (default region {self.rules.default_region})",
                details={"phone": raw, "reason": str(exc)},
            ) from None

    async def _history(self, args: SmsInput, ctx: ToolContext) -> SmsOutput:
        from salesboost.sales.sms.outreach import history

        phone = self._parse(args.phone_number) if args.phone_number is not None else None
        number = customer_number(args.customer_id) if args.customer_id is not None and phone is None else None
        async with ctx.backends.sessions()() as session:
            rows = await history(session, phone=phone, customer_number=number, limit=args.limit)
        views = [SmsView.of(r) for r in rows]
        return SmsOutput(action="history", messages=views, count=len(views))

    async def _campaign_stats(self, args: SmsInput, ctx: ToolContext) -> SmsOutput:
        from salesboost.sales.sms.outreach import campaign_stats

        assert args.campaign is not None
        async with ctx.backends.sessions()() as session:
            stats = await campaign_stats(session, args.campaign)
        return SmsOutput(
            action="campaign_stats",
            campaign=args.campaign,
            total_sent=stats.total_sent,
            unique_recipients=stats.unique_recipients,
            total_segments=stats.total_segments,
            by_status=stats.by_status,
        )

    def preview(self, output: SmsOutput) -> str:
        if output.message is not None:
            m = output.message
            again = " (earlier send)" if output.duplicate else ""
            return f"SMS {m.message_id} {m.status}{again}: {m.segments} {m.encoding} segment(s) to {m.phone}"
        if output.action == "history":
            return f"{output.count} SMS in history"
        return f"Campaign {output.campaign}: {output.total_sent} SMS to {output.unique_recipients} recipients"


def rules_from_settings(settings: Settings) -> SmsRules:
    try:
        zone = ZoneInfo(settings.sms_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"SALESBOOST_SMS_TIMEZONE={settings.sms_timezone!r}: not a known IANA time zone") from None
    try:
        quiet_hours = QuietHours.load(settings.sms_quiet_hours_file, zone)
    except QuietHoursError as exc:
        raise SettingsError(f"SALESBOOST_SMS_QUIET_HOURS_FILE: {exc}") from None
    return SmsRules(
        settings.phone_default_region, zone, settings.sms_daily_limit, settings.sms_provider, quiet_hours,
        settings.sms_transactional_any_hour,
    )


def build(backends: ToolBackends) -> SmsOutreachTool:
    settings = backends.settings
    return SmsOutreachTool(rules_from_settings(settings), ComplianceEngine.from_settings(settings))
