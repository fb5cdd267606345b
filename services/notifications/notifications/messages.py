"""Rendering a message: Jinja2 templates per message and language.

Each `templates/<lang>/<event>.txt` has a `subject` and a `body` block (plain text,
the inbox's title and body and the email's text part); `templates/<lang>/email.html`
lays the same text out as the email's HTML part, autoescaped. `StrictUndefined`:
a template naming a field the context lacks fails the test suite, not a resident's email.
What a request's template can see is `MessageContext`: ids, dates, the service's name, the
officer's comment and the refusal ground, never form contents or the IIN. The message to
the owner of a disabled webhook subscription sees `SubscriptionContext`: its id, URL (no
query string, never its secret), why it was disabled and where to re-enable it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.schemas import Language

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The message the responsible agency's officers get when a request of theirs goes overdue.
OFFICER_OVERDUE = "overdue_officer"
# The request events a resident is told about (resubmitted and submitted are their own acts).
RESIDENT_EVENTS = (
    "accepted",
    "info_requested",
    "approved",
    "rejected",
    "completed",
    "cancelled",
    "overdue",
)
# Every request message there is a template of, in every language.
MESSAGES = (*RESIDENT_EVENTS, OFFICER_OVERDUE)
# The message a webhook subscription's owner gets when the portal disables it.
SUBSCRIPTION_DISABLED = "subscription_disabled"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    # HTML is escaped; the plain-text part and the inbox are not markup, so they are not.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)


@dataclass(frozen=True)
class MessageContext:
    """Everything a template may use."""

    number: str
    service_name: str
    due_date: date
    link: str
    comment: str | None = None
    ground: str | None = None

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["due_date"] = self.due_date.strftime("%d.%m.%Y")
        return values


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _block(template_name: str, block: str, values: dict[str, Any]) -> str:
    template = _ENV.get_template(template_name)
    context = template.new_context(values)
    return "".join(template.blocks[block](context)).strip()


@dataclass(frozen=True)
class SubscriptionContext:
    """Everything the disabled-subscription message may use. `reason` is `gone` (the
    endpoint answered 410) or `failing` (every delivery failed since `failing_since`)."""

    subscription_id: str
    url: str
    # The URL's host, for the subject line (the whole URL may be long).
    host: str
    reason: str
    link: str
    failing_since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        since = self.failing_since
        values["failing_since"] = (
            since.astimezone(UTC).strftime("%d.%m.%Y %H:%M UTC") if since else None
        )
        return values


def _render(name: str, language: Language, values: dict[str, Any], link: str) -> Rendered:
    template = f"{language}/{name}.txt"
    subject = " ".join(_block(template, "subject", values).split())
    text = _block(template, "body", values)
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    # The button's words, if the message has its own (else the email layout's default).
    label = None
    if "link_label" in _ENV.get_template(template).blocks:
        label = _block(template, "link_label", values)
    html = _ENV.get_template(f"{language}/email.html").render(
        subject=subject, paragraphs=paragraphs, link=link, link_label=label, language=language
    )
    return Rendered(subject=subject, text=text, html=html)


def render(event: str, language: Language, context: MessageContext) -> Rendered:
    """The subject, plain text and HTML of `event`'s message in `language`."""
    return _render(event, language, context.as_dict(), context.link)


def render_subscription_disabled(language: Language, context: SubscriptionContext) -> Rendered:
    """The message telling a webhook subscription's owner that the portal disabled it."""
    return _render(SUBSCRIPTION_DISABLED, language, context.as_dict(), context.link)
