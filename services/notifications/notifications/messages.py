"""Rendering a request event into a message: Jinja2 templates per event type and language.

Each `templates/<lang>/<event>.txt` has a `subject` and a `body` block (plain text,
the inbox's title and body and the email's text part); `templates/<lang>/email.html`
lays the same text out as the email's HTML part, autoescaped. `StrictUndefined`:
a template naming a field the context lacks fails the test suite, not a resident's email.
What a template can see is `MessageContext`: ids, dates, the service's name, the
officer's comment and the refusal ground, never form contents or the IIN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
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
# Every message there is a template of, in every language.
MESSAGES = (*RESIDENT_EVENTS, OFFICER_OVERDUE)

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


def render(event: str, language: Language, context: MessageContext) -> Rendered:
    """The subject, plain text and HTML of `event`'s message in `language`."""
    values = context.as_dict()
    name = f"{language}/{event}.txt"
    subject = " ".join(_block(name, "subject", values).split())
    text = _block(name, "body", values)
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    html = _ENV.get_template(f"{language}/email.html").render(
        subject=subject, paragraphs=paragraphs, link=context.link, language=language
    )
    return Rendered(subject=subject, text=text, html=html)
