"""Webhook and delivery schemas (docs/api.md, Webhooks): the URL rule is here, once,
for the API and the pages alike."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from typing import Any, ClassVar
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from doable.schemas import (
    HIDDEN_CHARACTERS,
    PageOf,
    PageQuery,
    Timestamp,
    no_control_characters,
)
from doable.webhooks.addresses import Address, refusal
from doable.webhooks.models import DELIVERY_STATUSES, EVENT_TYPES

MAX_URL_LENGTH = 2048
#: Subscribes to every event type, present and future.
ALL_EVENTS = "*"
#: A host name as DNS spells it (after IDNA): labels of letters, digits, ``-`` and
#: ``_``, up to 63 characters each, an optional final dot.
_HOST_NAME = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]{1,63}\.?")
#: What resolvers read as an IPv4 address in any of its old forms (``127.1``,
#: ``0x7f000001``, ``2130706433``), which are no host names.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")
#: What the document says of a URL (JSON Schema's dialect): every URL accepted matches
#: it; some that match are still refused (a literal address not allowed, a bad port).
_UNSEEN = f"\\s{HIDDEN_CHARACTERS}"  # spaces, controls and invisible characters
_HAS_UNSEEN = re.compile(f"[{_UNSEEN}]")
URL_PATTERN = f"^[Hh][Tt][Tt][Pp][Ss]?://[^{_UNSEEN}/?#@]+(?:[/?][^{_UNSEEN}#]*)?(?![\\s\\S])"
#: A description: no control or invisible formatting characters (as ``no_control_characters``).
DESCRIPTION_PATTERN = f"^[^{HIDDEN_CHARACTERS}]*(?![\\s\\S])"
#: ``["*"]`` stands alone: said in the document as well as checked (``check_events``).
ALL_EVENTS_ALONE = {
    "if": {"required": ["events"], "properties": {"events": {"contains": {"const": "*"}}}},
    "then": {"properties": {"events": {"maxItems": 1}}},
}


def check_url(url: str) -> None:
    """The URL a webhook may be sent to: absolute http(s), with a host, no credentials
    and no fragment, and, when its host is a literal address, one that may be sent to
    (``addresses.refusal``). Host names are checked after DNS, on every attempt."""
    if _HAS_UNSEEN.search(url):
        raise ValidationError("Must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced "[" or "]" around the host
        raise ValidationError("Must be a valid URL (check the brackets around the host).") from None
    scheme = parts.scheme  # urlsplit gives it in lower case
    if scheme not in ("http", "https") or url[: len(scheme) + 3].lower() != f"{scheme}://":
        raise ValidationError("Must be an absolute http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("Must not contain a user name or password (user:password@).")
    if parts.fragment or "#" in url:
        raise ValidationError("Must not contain a fragment (#…).")
    if not parts.hostname:
        raise ValidationError("Must name a host, like https://example.com/hook.")
    try:
        port = parts.port  # out of range or not a number: ValueError
    except ValueError:
        port = 0
    if port == 0:
        raise ValidationError("The port must be a number from 1 to 65535.")
    address = _literal_address(parts.hostname)
    reason = refusal(address) if address is not None else None
    if reason is not None:
        raise ValidationError(f"Refused: {reason}. Webhooks are sent to public addresses only.")


def _literal_address(host: str) -> Address | None:
    """The address ``host`` is, when it is one; ValidationError when it is neither an
    address nor a valid host name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host) and not host.endswith("."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    if len(ascii_host) > 253 or not _HOST_NAME.fullmatch(ascii_host):
        raise ValidationError(f"'{host}' is not a valid host name or IP address.")
    return None


def check_events(events: list[str]) -> None:
    if len(set(events)) != len(events):
        raise ValidationError("List each event type once.")
    if ALL_EVENTS in events and len(events) > 1:
        raise ValidationError('Send ["*"] alone for every event, or list event types.')


class WebhookUrl(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        description = "Absolute http or https URL without credentials or fragment"
        super().__init__(
            validate=[validate.Length(min=1, max=MAX_URL_LENGTH), check_url],
            metadata={"format": "uri", "pattern": URL_PATTERN, "description": description},
            **kwargs,
        )


class Events(fields.List[str]):
    def __init__(self, **kwargs: Any) -> None:
        choices = validate.OneOf([*EVENT_TYPES, ALL_EVENTS])
        at_least_one = validate.Length(min=1, error="Choose at least one event type.")
        super().__init__(
            fields.String(validate=choices),
            validate=[at_least_one, check_events],
            metadata={"description": 'Event types, or ["*"] for all of them', "uniqueItems": True},
            **kwargs,
        )


class StrictBoolean(fields.Boolean):
    """``true`` or ``false`` only (marshmallow's also takes ``1``, ``"yes"``...)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class Description(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=[validate.Length(max=500), no_control_characters],
            metadata={"pattern": DESCRIPTION_PATTERN},
            **kwargs,
        )


class WebhookCreate(Schema):
    url = WebhookUrl(required=True)
    events = Events(required=True)
    description = Description(load_default="")

    json_schema_rules: ClassVar[dict[str, Any]] = ALL_EVENTS_ALONE


class WebhookUpdate(Schema):
    url = WebhookUrl()
    events = Events()
    description = Description()
    active = StrictBoolean(
        metadata={"description": "false pauses it; true resumes it, a disabled one too"}
    )

    json_schema_rules: ClassVar[dict[str, Any]] = {"minProperties": 1, **ALL_EVENTS_ALONE}

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send url, events, description or active to change.", "body")


class WebhookRead(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String()
    active = fields.Boolean()
    disabled_reason = fields.String(
        allow_none=True, metadata={"description": "Why Doable turned it off, if it did"}
    )
    failing_since = Timestamp(
        allow_none=True, metadata={"description": "Its deliveries have failed since then"}
    )
    created_at = Timestamp()
    updated_at = Timestamp()


class NewWebhookRead(WebhookRead):
    """A webhook just created, with its signing secret: shown this once."""

    secret = fields.String(metadata={"description": "whsec_…: verify signatures with it"})


class WebhookList(Schema):
    webhooks = fields.List(fields.Nested(WebhookRead))


class RotatedSecretRead(Schema):
    secret = fields.String(metadata={"description": "The new secret: shown this once"})
    previous_secret_expires_at = Timestamp(
        metadata={"description": "Until then the old secret signs too"}
    )


class AttemptRead(Schema):
    number = fields.Integer()
    started_at = Timestamp()
    outcome = fields.String()
    duration_ms = fields.Integer(allow_none=True)
    request_headers = fields.Dict(keys=fields.String(), values=fields.String())
    response_status = fields.Integer(allow_none=True)
    response_headers = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    response_body = fields.String(
        allow_none=True, metadata={"description": "The first 4 KB of the response"}
    )
    error = fields.String(allow_none=True)


class DeliveryRead(Schema):
    """A delivery (``service.DeliveryLog``) with every attempt made for it."""

    id = fields.Integer()
    event_type = fields.String()
    message_id = fields.String(metadata={"description": "Its webhook-id header"})
    status = fields.String(metadata={"enum": list(DELIVERY_STATUSES)})
    attempts = fields.Integer()
    created_at = Timestamp()
    next_attempt_at = Timestamp(allow_none=True)
    last_attempt_at = Timestamp(allow_none=True)
    payload = fields.Function(
        lambda log: json.loads(log.delivery.payload),
        metadata={"type": "object", "description": "The body every attempt sends"},
    )
    attempts_log = fields.List(fields.Nested(AttemptRead))

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr == "attempts_log":
            return obj.attempts_log
        return super().get_attribute(obj.delivery, attr, default)


class DeliveryListQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


class DeliveryPage(PageOf):
    deliveries = fields.List(fields.Nested(DeliveryRead))
