"""Every template renders in every language with the sample data of every event type, says
what the resident needs (number, comment, refusal ground, link), and nothing it must not;
the message to a disabled webhook subscription's owner says which URL, why, and how to
re-enable it, for both reasons, in every language."""

# ruff: noqa: RUF001  (Kazakh and Russian texts)

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import jinja2
import pytest

from notifications.messages import (
    _ENV,
    MESSAGES,
    SUBSCRIPTION_DISABLED,
    TEMPLATES,
    MessageContext,
    SubscriptionContext,
    render,
    render_subscription_disabled,
)
from notifications.schemas import LANGUAGES, Language

SAMPLE = MessageContext(
    number="BKR-2026-000042",
    service_name="Регистрация по месту жительства",
    due_date=date(2026, 12, 15),
    link="http://localhost:8000/requests/8d4f6f0e-0000-4000-8000-000000000042",
    comment='Приложите копию договора <аренды> & "печать"',
    ground="Недостоверность представленных документов",
)
SUBSCRIPTION = SubscriptionContext(
    subscription_id="5b0e7d1c-0000-4000-8000-000000000007",
    url="https://agency.example.kz/portal-events?…",
    host="agency.example.kz",
    reason="gone",
    link="http://localhost:8000/api/v1/subscriptions/5b0e7d1c-0000-4000-8000-000000000007",
)
FAILING_SINCE = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
CYRILLIC = re.compile("[а-яёәғқңөұүһі]", re.IGNORECASE)
KAZAKH_ONLY = re.compile("[әғқңөұүһі]", re.IGNORECASE)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", MESSAGES)
def test_every_template_renders_in_every_language(event: str, language: Language) -> None:
    rendered = render(event, language, SAMPLE)
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert SAMPLE.number in rendered.subject
    assert SAMPLE.link in rendered.text
    assert f'href="{SAMPLE.link}"' in rendered.html
    assert f'lang="{language}"' in rendered.html
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "{{" not in part
        assert "{%" not in part
    if language == "en":
        assert not CYRILLIC.search(rendered.subject)
    else:
        assert CYRILLIC.search(rendered.subject)
    assert bool(KAZAKH_ONLY.search(rendered.subject)) == (language == "kk")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_request_for_information_quotes_the_officer_and_a_refusal_names_its_ground(
    language: Language,
) -> None:
    asked = render("info_requested", language, SAMPLE)
    assert SAMPLE.comment is not None
    assert SAMPLE.comment in asked.text
    # Markup in an officer's words is shown, never interpreted, in the HTML part.
    assert "&lt;аренды&gt; &amp; &#34;печать&#34;" in asked.html
    assert "<аренды>" not in asked.html
    refused = render("rejected", language, SAMPLE)
    assert SAMPLE.ground is not None
    assert SAMPLE.ground in refused.text
    assert SAMPLE.ground in refused.html


def test_optional_fields_may_be_absent() -> None:
    bare = MessageContext(
        number="BKR-1", service_name="", due_date=date(2026, 1, 5), link="http://x/r/1"
    )
    for event in MESSAGES:
        for language in LANGUAGES:
            rendered = render(event, language, bare)
            assert "None" not in rendered.text
            assert "«»" not in rendered.text


def test_a_field_the_context_lacks_fails_loudly() -> None:
    with pytest.raises(jinja2.UndefinedError):
        _ENV.from_string("{{ applicant_iin }}").render(number="BKR-1")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("reason", ["gone", "failing"])
def test_a_disabled_subscriptions_owner_learns_which_why_and_how_to_re_enable_it(
    reason: str, language: Language
) -> None:
    since = FAILING_SINCE if reason == "failing" else None
    context = replace(SUBSCRIPTION, reason=reason, failing_since=since)
    rendered = render_subscription_disabled(language, context)
    assert SUBSCRIPTION.host in rendered.subject
    assert "\n" not in rendered.subject
    assert SUBSCRIPTION.url in rendered.text
    assert SUBSCRIPTION.url in rendered.html
    assert SUBSCRIPTION.subscription_id in rendered.text
    # How to re-enable it: the PATCH to its address, the body that resumes it, If-Match.
    assert f"PATCH {SUBSCRIPTION.link}" in rendered.text
    assert '{"status": "active"}' in rendered.text
    assert "If-Match" in rendered.text
    assert f'href="{SUBSCRIPTION.link}"' in rendered.html
    assert f'lang="{language}"' in rendered.html
    if reason == "gone":
        assert "410" in rendered.text
    else:
        assert "26.11.2026 09:30 UTC" in rendered.text
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "{{" not in part
        assert "{%" not in part
        assert "None" not in part
    if language == "en":
        assert not CYRILLIC.search(rendered.subject + rendered.text)
        assert "Open the subscription" in rendered.html
    else:
        assert CYRILLIC.search(rendered.subject)
    assert bool(KAZAKH_ONLY.search(rendered.subject)) == (language == "kk")


def test_every_template_file_is_one_of_the_messages() -> None:
    messages = (*MESSAGES, SUBSCRIPTION_DISABLED)
    expected = {f"{lang}/{event}.txt" for lang in LANGUAGES for event in messages}
    expected |= {f"{lang}/email.html" for lang in LANGUAGES}
    found = {str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*") if p.is_file()}
    assert found == expected
