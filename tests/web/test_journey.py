"""The whole journey in the browser, as a resident on a phone and an officer on a desktop:
register (the IIN checked as typed), sign in, consent to email, browse and search the
catalog, apply (a double click makes one application), the officer accepts and asks for
information, the resident answers, the officer approves and completes with a result
document, the resident downloads it and reads the journey's notifications. axe-core checks
every page on the way; no page loads anything from another origin or breaks the CSP.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from portal_testing.documents_corpus import jpegs, pdfs
from portal_testing.oidc import valid_iin

from .conftest import DESKTOP, PHONE, WEB, new_page

AXE = (WEB / "node_modules" / "axe-core" / "axe.min.js").read_text()
KK = json.loads((WEB / "src" / "i18n" / "kk.json").read_text())
PASSWORD = "resident-browser-password-1"
# Messages reach the inbox through Kafka a moment after each action: on a loaded machine,
# while consumers join their groups, that moment can be long.
MESSAGES_WITHIN_MS = 120_000


class Watch:
    """What a page did that a user should never suffer: other origins, CSP violations."""

    def __init__(self, page: Page, origin: str) -> None:
        self.foreign: list[str] = []
        self.csp: list[str] = []
        page.on("request", self._request(origin))
        page.on("console", self._console)

    def _request(self, origin: str) -> Any:
        def seen(request: Any) -> None:
            url: str = request.url
            if not url.startswith((origin + "/", "data:", "blob:")):
                self.foreign.append(url)

        return seen

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp.append(message.text)

    def check(self) -> None:
        assert self.foreign == []
        assert self.csp == []


def axe(page: Page, where: str) -> None:
    """No serious or critical accessibility violation on the page as it is now."""
    page.wait_for_load_state("networkidle")
    # Evaluated through the DevTools protocol, so the page's CSP does not apply to it.
    page.evaluate(AXE)
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.html).slice(0, 3)}))"
    )
    assert found == [], f"{where}: {found}"


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_role("button", name=KK["nav.signIn"], exact=True).first.click()
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit]").click()


def confirm(page: Page, action: str) -> None:
    label = KK["officer.confirm"].replace("{action}", KK[f"action.{action}"])
    page.get_by_role("button", name=label, exact=True).click()


def renews_silently(page: Page) -> None:
    """An access token about to expire is renewed with the refresh token, which the provider
    rotates: the tab gets a new access token and a new refresh token, no sign-in page."""
    key = page.evaluate("Object.keys(sessionStorage).find(k => k.startsWith('oidc.user:'))")
    before = page.evaluate("k => JSON.parse(sessionStorage.getItem(k))", key)
    assert before["refresh_token"]
    page.evaluate(
        "k => { const u = JSON.parse(sessionStorage.getItem(k));"
        " u.expires_at = Math.floor(Date.now() / 1000) + 30;"
        " sessionStorage.setItem(k, JSON.stringify(u)); }",
        key,
    )
    page.reload()
    page.wait_for_function(
        "([k, old]) => JSON.parse(sessionStorage.getItem(k)).refresh_token !== old",
        arg=[key, before["refresh_token"]],
    )
    after = page.evaluate("k => JSON.parse(sessionStorage.getItem(k))", key)
    assert after["access_token"] != before["access_token"]


def attach_documents(page: Page, folder: Path) -> None:
    """Residence registration asks for an identity document and the owner's consent: a
    genuine PDF and a genuine JPEG, each uploaded as it is chosen, its name then shown."""
    identity = folder / "identity-card.pdf"
    identity.write_bytes(pdfs()[0].data)
    consent = folder / "owner-consent.jpg"
    consent.write_bytes(jpegs()[0].data)
    for label, file in (
        ("Жеке басын куәландыратын құжат", identity),
        ("Тұрғын үй иесінің келісімі", consent),
    ):
        page.get_by_label(label, exact=True).set_input_files(file)
        expect(page.get_by_role("status").filter(has_text=file.name)).to_be_visible()


def status_is(page: Page, status: str) -> None:
    expect(page.get_by_test_id("status")).to_contain_text(KK[f"status.{status}"])


def open_notifications(page: Page) -> None:
    # The link's name carries the unread count when there is one.
    name = re.compile(rf"^{re.escape(KK['nav.notifications'])}")
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(KK["notifications.title"])


def consent_to_email(page: Page) -> None:
    """The resident's inbox is empty yet; they ask for the messages by email too."""
    open_notifications(page)
    expect(page.get_by_text(KK["notifications.none"], exact=True)).to_be_visible()
    consent = page.get_by_label(KK["preferences.email"], exact=True)
    expect(consent).not_to_be_checked()
    consent.check()
    page.get_by_role("button", name=KK["preferences.save"], exact=True).click()
    expect(page.get_by_role("status").filter(has_text=KK["preferences.saved"])).to_be_visible()
    axe(page, "notifications (empty) and preferences")


def complete_with_result(officer: Page, folder: Path) -> bytes:
    """The officer completes with a result text and a PDF, uploaded as it is chosen."""
    certificate = folder / "registration-certificate.pdf"
    certificate.write_bytes(pdfs()[1].data)
    officer.get_by_role("button", name=KK["action.complete"], exact=True).click()
    officer.get_by_label(KK["officer.result"]).fill("Тіркеу туралы мәлімет берілді")
    label = f"{KK['officer.resultFile']} ({KK['documents.optional']})"
    officer.get_by_label(label, exact=True).set_input_files(certificate)
    expect(officer.get_by_role("status").filter(has_text=certificate.name)).to_be_visible()
    axe(officer, "complete with a result document")
    confirm(officer, "complete")
    status_is(officer, "completed")
    expect(officer.get_by_test_id("result-document")).to_contain_text(certificate.name)
    return certificate.read_bytes()


def download_result(resident: Page, expected: bytes, folder: Path) -> None:
    """The resident saves the result document: its name and bytes as the officer sent them."""
    section = resident.get_by_test_id("result-document")
    expect(section).to_contain_text("registration-certificate.pdf")
    name = KK["documents.downloadNamed"].replace("{name}", "registration-certificate.pdf")
    with resident.expect_download() as info:
        section.get_by_role("button", name=name, exact=True).click()
    download = info.value
    assert download.suggested_filename == "registration-certificate.pdf"
    saved = folder / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == expected


def read_notifications(resident: Page, number: str) -> None:
    """Every step of the journey the resident is told of is in their inbox, newest first, in
    Kazakh; marking one read lowers the count in the header and drops it from "unread"."""
    open_notifications(resident)
    notes = resident.get_by_test_id("notifications").locator(":scope > li")
    titles = [
        f"№ {number} өтінім бойынша қызмет көрсетілді",
        f"№ {number} өтінім мақұлданды",
        f"№ {number} өтінім бойынша қосымша мәліметтер қажет",
        f"№ {number} өтінім қарауға қабылданды",
    ]
    # The page asks again by itself: auto-waiting sees the messages as they arrive.
    expect(notes).to_have_count(len(titles), timeout=MESSAGES_WITHIN_MS)
    for index, title in enumerate(titles):
        expect(notes.nth(index).get_by_role("heading", level=2)).to_contain_text(title)
    completed = notes.filter(has_text=titles[0])
    # The resident consented before applying: the last message went by email too.
    expect(completed.get_by_test_id("email-status")).to_have_text(
        KK["email.delivered"], timeout=MESSAGES_WITHIN_MS
    )
    expect(resident.get_by_test_id("unread-count")).to_have_text("4")
    axe(resident, "notifications")
    completed.get_by_role("button", name=KK["notifications.markRead"], exact=True).click()
    expect(completed.get_by_role("button", name=KK["notifications.markRead"])).to_have_count(0)
    expect(resident.get_by_test_id("unread-count")).to_have_text("3")
    resident.get_by_label(KK["notifications.unreadOnly"], exact=True).check()
    expect(notes).to_have_count(3)
    expect(notes.filter(has_text=titles[0])).to_have_count(0)


def test_resident_and_officer_journey(browser: Browser, origin: str, tmp_path: Path) -> None:
    resident = new_page(browser, PHONE)
    watch_resident = Watch(resident, origin)
    # Not 4000-7000: the API journeys (tests/e2e) register those on the same portal.
    iin = valid_iin(random.randrange(1, 4000))

    # The catalog, in Kazakh by default.
    resident.goto(origin + "/")
    expect(resident.get_by_role("heading", level=1)).to_have_text(KK["catalog.title"])
    assert resident.evaluate("document.documentElement.lang") == "kk"
    axe(resident, "catalog")

    # Registration: a wrong check digit is flagged as it is typed, then the right IIN passes.
    resident.get_by_role("link", name=KK["nav.register"], exact=True).click()
    iin_box = resident.get_by_label(KK["register.iin"], exact=True)
    wrong = iin[:11] + str((int(iin[11]) + 1) % 10)
    iin_box.fill(wrong)
    expect(resident.locator("#iin-error")).to_have_text(KK["iin.check"])
    axe(resident, "register with an error")
    iin_box.fill(iin)
    expect(resident.locator("#iin-error")).to_have_count(0)
    resident.get_by_label(KK["register.given_name"]).fill("Айгерім")
    resident.get_by_label(KK["register.family_name"]).fill("Сейітова")
    resident.get_by_label(KK["register.email"]).fill(f"aigerim.{iin}@example.kz")
    resident.get_by_label(KK["register.phone"]).fill("+77011234567")
    resident.get_by_label(KK["register.password"]).fill(PASSWORD)
    resident.get_by_role("button", name=KK["register.submit"], exact=True).click()
    expect(resident.get_by_role("heading", level=1)).to_have_text(KK["register.doneTitle"])

    # Sign in with the IIN (code flow + PKCE through the identity's login form).
    sign_in(resident, iin, PASSWORD)
    expect(resident.get_by_role("heading", level=1)).to_have_text(KK["myRequests.title"])
    axe(resident, "my applications (empty)")
    consent_to_email(resident)

    # Search the catalog, read the standard, apply.
    resident.get_by_role("link", name=KK["nav.catalog"], exact=True).first.click()
    resident.get_by_label(KK["catalog.search"]).fill("Тұрғылықты")
    resident.get_by_role("button", name=KK["catalog.searchButton"], exact=True).click()
    resident.get_by_role("link", name="Тұрғылықты жері бойынша тіркеу", exact=True).click()
    grounds = resident.get_by_role("heading", level=2, name=KK["service.refusalGrounds"])
    expect(grounds).to_be_visible()
    expect(resident.get_by_text("Тұрғын үй иесінің келісімі жоқ")).to_be_visible()
    axe(resident, "service standard")
    resident.get_by_role("link", name=KK["service.apply"], exact=True).click()
    resident.get_by_label("Өтініш берушінің ЖСН").fill(iin)
    resident.get_by_label("Тұрғын үй иесінің ЖСН").fill(iin)
    resident.get_by_label("Көше").fill("Королев көшесі")
    resident.get_by_label(re.compile(r"^Үй\*?$")).fill("12")
    resident.get_by_label("Көшіп келген күні").fill("2026-11-20")
    attach_documents(resident, tmp_path)
    axe(resident, "apply form")
    # A double click is one application: one Idempotency-Key for the attempt.
    resident.get_by_role("button", name=KK["apply.submit"], exact=True).dblclick()
    expect(resident.get_by_role("status").filter(has_text=KK["apply.created"])).to_be_visible()
    status_is(resident, "submitted")
    request_url = resident.url
    heading = resident.get_by_role("heading", level=1).inner_text()
    number = heading.removeprefix(KK["request.title"]).strip()
    axe(resident, "application")
    resident.get_by_role("link", name=KK["myRequests.title"], exact=True).first.click()
    expect(resident.locator(".cards > li")).to_have_count(1)

    # The officer, on a desktop: the queue, accept, ask for information.
    officer = new_page(browser, DESKTOP)
    watch_officer = Watch(officer, origin)
    officer.goto(origin + "/")
    sign_in(officer, "officer-migration", "officer-demo-password")
    expect(officer.get_by_role("heading", level=1)).to_have_text(KK["queue.title"])
    officer.get_by_label(KK["queue.status"]).select_option("submitted")
    axe(officer, "queue")
    officer.get_by_role("link", name=number, exact=True).click()
    status_is(officer, "submitted")
    # The officer sees what the resident attached, each under the name of its kind.
    attached = officer.get_by_test_id("attached-documents")
    expect(attached).to_contain_text("Жеке басын куәландыратын құжат: identity-card.pdf")
    expect(attached).to_contain_text("Тұрғын үй иесінің келісімі: owner-consent.jpg")
    axe(officer, "officer request")
    officer.get_by_role("button", name=KK["action.accept"], exact=True).click()
    status_is(officer, "in_review")
    officer.get_by_role("button", name=KK["action.request_info"], exact=True).click()
    officer.get_by_label(KK["officer.comment"]).fill("Пәтер нөмірін көрсетіңіз")
    axe(officer, "officer action form")
    confirm(officer, "request_info")
    status_is(officer, "needs_info")

    # The resident answers.
    resident.goto(request_url)
    status_is(resident, "needs_info")
    expect(resident.get_by_test_id("question")).to_have_text("Пәтер нөмірін көрсетіңіз")
    axe(resident, "answer a request for information")
    resident.get_by_label("Пәтер").fill("4")
    resident.get_by_role("button", name=KK["request.resubmit"], exact=True).click()
    status_is(resident, "in_review")

    # The officer approves and completes; a stale page is told so, not overwritten.
    officer.reload()
    status_is(officer, "in_review")
    officer.get_by_role("button", name=KK["action.approve"], exact=True).click()
    status_is(officer, "approved")
    result = complete_with_result(officer, tmp_path)
    axe(officer, "completed request")

    # The resident sees the result and the whole history, and downloads the result document.
    resident.reload()
    status_is(resident, "completed")
    expect(resident.get_by_text("Тіркеу туралы мәлімет берілді")).to_be_visible()
    expect(resident.locator(".history > li")).to_have_count(6)
    attached = resident.get_by_test_id("attached-documents")
    expect(attached).to_contain_text("identity-card.pdf")
    axe(resident, "completed application")
    download_result(resident, result, tmp_path)

    # The notifications of the journey, read on the phone.
    read_notifications(resident, number)
    resident.screenshot(path=str(tmp_path / "resident-phone.png"), full_page=True)
    officer.screenshot(path=str(tmp_path / "officer-desktop.png"), full_page=True)

    watch_resident.check()
    watch_officer.check()


def test_stale_version_is_a_clear_message(browser: Browser, origin: str, tmp_path: Path) -> None:
    """Two officers on one request: the second one's action is refused with 412, and the
    page says someone else changed it rather than overwriting their decision. (On the way,
    an email the API refuses is flagged next to its field, and the token is renewed silently.)"""
    resident = new_page(browser, PHONE)
    iin = valid_iin(random.randrange(7001, 9000))
    resident.goto(origin + "/register")
    resident.get_by_label(KK["register.iin"], exact=True).fill(iin)
    resident.get_by_label(KK["register.given_name"]).fill("Ерлан")
    resident.get_by_label(KK["register.family_name"]).fill("Омаров")
    resident.get_by_label(KK["register.email"]).fill("erlan-at-example.kz")
    resident.get_by_label(KK["register.phone"]).fill("+77017654321")
    resident.get_by_label(KK["register.password"]).fill(PASSWORD)
    resident.get_by_role("button", name=KK["register.submit"], exact=True).click()
    # The API's verdict on a field is shown next to that field, which is marked invalid.
    expect(resident.locator("#email-error")).to_be_visible()
    expect(resident.get_by_label(KK["register.email"])).to_have_attribute("aria-invalid", "true")
    resident.get_by_label(KK["register.email"]).fill(f"erlan.{iin}@example.kz")
    resident.get_by_role("button", name=KK["register.submit"], exact=True).click()
    sign_in(resident, iin, PASSWORD)
    expect(resident.get_by_role("heading", level=1)).to_have_text(KK["myRequests.title"])
    renews_silently(resident)
    expect(resident.get_by_role("heading", level=1)).to_have_text(KK["myRequests.title"])
    resident.goto(origin + "/")
    resident.get_by_role("link", name="Тұрғылықты жері бойынша тіркеу", exact=True).click()
    resident.get_by_role("link", name=KK["service.apply"], exact=True).click()
    resident.get_by_label("Өтініш берушінің ЖСН").fill(iin)
    resident.get_by_label("Тұрғын үй иесінің ЖСН").fill(iin)
    resident.get_by_label("Көше").fill("Гагарин көшесі")
    resident.get_by_label(re.compile(r"^Үй\*?$")).fill("3")
    resident.get_by_label("Көшіп келген күні").fill("2026-11-21")
    attach_documents(resident, tmp_path)
    resident.get_by_role("button", name=KK["apply.submit"], exact=True).click()
    status_is(resident, "submitted")
    request_id = resident.url.rsplit("/", 1)[1]

    # Two officers' browsers (each signed in on its own) open the same request.
    first, second = new_page(browser, DESKTOP), new_page(browser, DESKTOP)
    for officer in (first, second):
        officer.goto(origin + "/")
        sign_in(officer, "officer-migration", "officer-demo-password")
        expect(officer.get_by_role("heading", level=1)).to_have_text(KK["queue.title"])
        officer.goto(f"{origin}/officer/requests/{request_id}")
        status_is(officer, "submitted")

    first.get_by_role("button", name=KK["action.accept"], exact=True).click()
    status_is(first, "in_review")
    second.get_by_role("button", name=KK["action.accept"], exact=True).click()
    expect(second.get_by_role("alert")).to_contain_text(KK["request.stale"])
    second.get_by_role("button", name=KK["request.reload"], exact=True).click()
    status_is(second, "in_review")


def no_raw_keys(page: Page, keys: set[str], where: str) -> None:
    text = page.locator("body").inner_text()
    raw = sorted(k for k in keys if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", text))
    assert raw == [], f"{where}: untranslated {raw}"


def test_every_label_is_translated(browser: Browser, origin: str) -> None:
    """The three translation files have the same keys, and kk, ru and en pages show each
    label's own translation, never a key."""
    folder = WEB / "src" / "i18n"
    files = {lang: json.loads((folder / f"{lang}.json").read_text()) for lang in ("kk", "ru", "en")}
    assert set(files["ru"]) == set(files["kk"]) == set(files["en"])
    for lang, labels in files.items():
        assert all(value.strip() for value in labels.values()), lang
    keys = set(files["kk"])
    for lang, labels in files.items():
        page = new_page(browser, PHONE, lang=lang)
        page.goto(origin + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text(labels["catalog.title"])
        assert page.evaluate("document.documentElement.lang") == lang
        no_raw_keys(page, keys, f"{lang} catalog")
        page.locator(".cards a").first.click()
        standard = page.get_by_role("heading", level=2, name=labels["service.standard"])
        expect(standard).to_be_visible()
        no_raw_keys(page, keys, f"{lang} service")
        page.goto(origin + "/register")
        expect(page.get_by_role("heading", level=1)).to_have_text(labels["register.title"])
        no_raw_keys(page, keys, f"{lang} register")
        page.goto(origin + "/officer")
        expect(page.get_by_role("heading", level=1)).to_have_text(labels["queue.title"])
        no_raw_keys(page, keys, f"{lang} queue (signed out)")
        page.goto(origin + "/notifications")
        expect(page.get_by_role("heading", level=1)).to_have_text(labels["notifications.title"])
        no_raw_keys(page, keys, f"{lang} notifications (signed out)")
        page.goto(origin + "/no-such-page")
        expect(page.get_by_role("heading", level=1)).to_have_text(labels["notFound.title"])
        axe(page, f"{lang} not found")
        page.context.close()
