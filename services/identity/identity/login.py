# ruff: noqa: RUF001, E501  -- Cyrillic is the point of the translations; the HTML template keeps its lines whole.
"""The sign-in page of the authorize endpoint: plain, accessible HTML in Kazakh, Russian, English.

The form posts back to /auth/authorize with `username`, `password`, a CSRF
token and the authorization request's parameters as hidden inputs. The CSRF
token is an HMAC of a random cookie (double submit, bound to this browser), so
a page on another site cannot sign a victim in. Every answer forbids framing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import quote

from jinja2 import Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from portal_shared.i18n import negotiate

CSRF_COOKIE = "identity_csrf"
LANGUAGES = ("kk", "ru", "en")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Sign in to the Baikonur state-services portal",
        "username": "IIN, email or username",
        "password": "Password",
        "submit": "Sign in",
        "failed": "The username or password is wrong, or the account cannot sign in right now.",
        "throttled": "Too many failed sign-ins from your network. Wait a few minutes and try again.",
        "csrf": "This page has expired. Please sign in again.",
        "error": "The sign-in request is not valid",
        "signed_out": "You are signed out.",
        "language": "Language",
    },
    "ru": {
        "title": "Вход на портал государственных услуг Байконура",
        "username": "ИИН, электронная почта или имя пользователя",
        "password": "Пароль",
        "submit": "Войти",
        "failed": "Неверное имя пользователя или пароль, либо вход сейчас невозможен.",
        "throttled": "Слишком много неудачных попыток входа из вашей сети. Подождите несколько минут.",
        "csrf": "Срок действия страницы истёк. Войдите снова.",
        "error": "Запрос на вход недействителен",
        "signed_out": "Вы вышли из системы.",
        "language": "Язык",
    },
    "kk": {
        "title": "Байқоңыр мемлекеттік қызметтер порталына кіру",
        "username": "ЖСН, электрондық пошта немесе пайдаланушы аты",
        "password": "Құпиясөз",
        "submit": "Кіру",
        "failed": "Пайдаланушы аты немесе құпиясөз қате, не қазір кіру мүмкін емес.",
        "throttled": "Желіңізден сәтсіз кіру әрекеттері тым көп. Бірнеше минут күтіңіз.",
        "csrf": "Беттің мерзімі өтті. Қайта кіріңіз.",
        "error": "Кіру сұрауы жарамсыз",
        "signed_out": "Сіз жүйеден шықтыңыз.",
        "language": "Тіл",
    },
}

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

_PAGE = _env.from_string(
    """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{{ t.title }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}
.error{border:2px solid #b00020;padding:.5rem;color:#b00020}
nav a{margin-right:.75rem}
</style>
</head>
<body>
<main>
<nav aria-label="{{ t.language }}">{% for code, url in languages %}<a href="{{ url }}" lang="{{ code }}"{% if code == lang %} aria-current="true"{% endif %}>{{ code|upper }}</a>{% endfor %}</nav>
<h1>{{ t.title }}</h1>
{% if message %}<p class="error" role="alert" id="form-error">{{ message }}</p>{% endif %}
{% if show_form %}
<form method="post" action="{{ action }}" novalidate{% if message %} aria-describedby="form-error"{% endif %}>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
{% for name, value in hidden %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<label for="username">{{ t.username }}</label>
<input type="text" id="username" name="username" value="{{ username }}" autocomplete="username" required autofocus>
<label for="password">{{ t.password }}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">{{ t.submit }}</button>
</form>
{% endif %}
</main>
</body>
</html>
"""
)

SECURITY_HEADERS = {
    # No form-action: after the POST the browser follows a redirect to the client,
    # which some browsers check against form-action.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The page's <meta name="referrer" content="same-origin"> overrides this (and the
    # gateway's no-referrer) for the form: under no-referrer a browser posts it with
    # `Origin: null`, which the gateway must refuse; same-origin still sends nothing elsewhere.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def language(request: Request, params: dict[str, str]) -> str:
    """ui_locales (OIDC) first, then Accept-Language, then Kazakh, the state language."""
    for tag in params.get("ui_locales", "").split():
        base = tag.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    # The negotiation every problem uses (q-values, Kazakh by default).
    return negotiate(request.headers.get("accept-language"))


def csrf_token(secret: str, cookie: str) -> str:
    return hmac.new(("csrf:" + secret).encode(), cookie.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: str, cookie: str | None, token: str | None) -> bool:
    if not cookie or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie), token)


def render(
    request: Request,
    *,
    secret: str,
    lang: str,
    action: str,
    hidden: Sequence[tuple[str, str]],
    message_key: str | None = None,
    username: str = "",
    status: int = 200,
    show_form: bool = True,
    detail: str | None = None,
    secure: bool = False,
) -> HTMLResponse:
    cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    t = TEXT[lang]
    message = t[message_key] if message_key else None
    if detail:
        message = f"{message}: {detail}" if message else detail
    query = [(k, v) for k, v in hidden if k != "ui_locales"]
    languages = [
        (code, action + "?" + "&".join(f"{k}={_q(v)}" for k, v in [*query, ("ui_locales", code)]))
        for code in LANGUAGES
    ]
    html = _PAGE.render(
        lang=lang,
        t=t,
        message=message,
        show_form=show_form,
        action=action,
        csrf_token=csrf_token(secret, cookie),
        hidden=hidden,
        username=username,
        languages=languages,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    response.set_cookie(
        CSRF_COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/auth",
        max_age=3600,
    )
    return response


def _q(value: str) -> str:
    return quote(value, safe="")
