"""The FastAPI app: sign-up (``/s/{initiative}``), confirmation (``/c/{token}``), unsubscribe
(``/u/{token}``), the consent text (``/consent/{initiative}``) and ``/healthz``.

Confirming and unsubscribing take a POST: ``GET /c/{token}`` and ``GET /u/{token}`` only show a
page with a button, because mail scanners follow every link in a mail, and a GET that acted would
confirm or unsubscribe people who never clicked. Mail clients that honour
``List-Unsubscribe-Post`` (RFC 8058) send the POST ``List-Unsubscribe=One-Click`` themselves.
Endpoints are plain ``def``: FastAPI runs them in its thread pool, each with its own database
session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import text

from campaigns.schema import Initiative
from campaigns.workspace import Workspace
from config.db import session_scope
from config.settings import Settings
from workers.addresses import InvalidAddress
from workers.confirmation_mail import send_confirmation
from workers.consent import consent_text, consent_version, record_consent_text
from workers.subscriber_models import CONFIRMED, UNSUBSCRIBED, Subscriber
from workers.subscribers import (
    audience_choices,
    confirm,
    confirmation_due,
    refuses_confirmation_mail,
    sign_up,
    unsubscribe,
)
from workers.tokens import BadToken, read_confirm_token, read_unsubscribe_token, require_secret

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings, workspace: Workspace, *, clock: Callable[[], datetime] = _utcnow
) -> FastAPI:
    """The app for one workspace; fails at once when DEPESCHE_SECRET_KEY is missing."""
    require_secret(settings.secret_key)
    database_url = settings.resolved_database_url
    templates = Jinja2Templates(directory=str(TEMPLATES))
    audiences = audience_choices(workspace.campaigns.values())
    app = FastAPI(title="Depesche", docs_url=None, redoc_url=None, openapi_url=None)

    def page(
        request: Request,
        title: str,
        *paragraphs: str,
        initiative: Initiative | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "message.html",
            {"title": title, "paragraphs": paragraphs, "initiative": initiative},
            status_code=status,
        )

    def bad_link(request: Request, error: BadToken) -> HTMLResponse:
        if error.expired:
            return page(
                request,
                "Der Link ist abgelaufen",
                "Bestätigungslinks gelten sieben Tage. Bitte melden Sie sich erneut an; Sie "
                "erhalten dann einen neuen Link.",
                status=400,
            )
        return page(
            request,
            "Der Link ist ungültig",
            "Dieser Link ist unvollständig oder wurde verändert. Bitte kopieren Sie den Link "
            "vollständig aus der E-Mail in die Adresszeile Ihres Browsers.",
            status=400,
        )

    def unknown(request: Request, slug: str) -> HTMLResponse:
        return page(
            request,
            "Seite nicht gefunden",
            f"Eine Initiative mit der Kennung „{slug}“ gibt es nicht.",
            status=404,
        )

    def client_ip(request: Request) -> str | None:
        return request.client.host if request.client else None

    def signup_form(
        request: Request,
        initiative: Initiative,
        *,
        status: int = 200,
        error: str | None = None,
        values: dict[str, str] | None = None,
    ) -> HTMLResponse:
        wording = consent_text(initiative)
        shown = values or {}
        return templates.TemplateResponse(
            request,
            "signup.html",
            {
                "title": "Newsletter bestellen",
                "initiative": initiative,
                "audiences": audiences,
                "consent": wording,
                "consent_version": consent_version(wording),
                "error": error,
                "email": shown.get("email", ""),
                "name": shown.get("name", ""),
                "audience": shown.get("audience", ""),
            },
            status_code=status,
        )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        with session_scope(database_url) as session:
            session.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok"})

    @app.get("/s/{slug}", response_class=HTMLResponse)
    def signup_page(request: Request, slug: str) -> HTMLResponse:
        initiative = workspace.initiatives.get(slug)
        if initiative is None:
            return unknown(request, slug)
        return signup_form(request, initiative)

    @app.post("/s/{slug}", response_class=HTMLResponse)
    def signup_submit(
        request: Request,
        slug: str,
        email: Annotated[str, Form()] = "",
        name: Annotated[str, Form()] = "",
        audience: Annotated[str, Form()] = "",
        consent: Annotated[str, Form()] = "",
        consent_version_shown: Annotated[str, Form(alias="consent_version")] = "",
    ) -> HTMLResponse:
        initiative = workspace.initiatives.get(slug)
        if initiative is None:
            return unknown(request, slug)
        values = {"email": email, "name": name, "audience": audience}
        wording = consent_text(initiative)
        if consent_version_shown and consent_version_shown != consent_version(wording):
            return signup_form(
                request,
                initiative,
                status=409,
                values=values,
                error="Der Einwilligungstext wurde inzwischen geändert. Bitte lesen Sie ihn "
                "und bestätigen Sie ihn erneut.",
            )
        if consent != "yes":
            return signup_form(
                request,
                initiative,
                status=400,
                values=values,
                error="Bitte willigen Sie ein, damit wir Ihnen den Newsletter senden dürfen.",
            )
        if audiences and audience not in audiences:
            return signup_form(
                request,
                initiative,
                status=400,
                values=values,
                error="Bitte wählen Sie eine Ausgabe.",
            )
        now = clock()
        try:
            with session_scope(database_url) as session:
                version = record_consent_text(session, slug, wording, now)
                subscriber = sign_up(
                    session,
                    initiative=slug,
                    address=email,
                    name=name.strip() or None,
                    audience=audience or None,
                    source="web",
                    ip=client_ip(request),
                    consent_version=version,
                    now=now,
                )
                due = confirmation_due(subscriber, now) and not refuses_confirmation_mail(
                    session, subscriber.address
                )
                subscriber_id = subscriber.id
        except InvalidAddress:
            return signup_form(
                request,
                initiative,
                status=400,
                values=values,
                error="Bitte prüfen Sie die E-Mail-Adresse: So kann sie nicht stimmen.",
            )
        if due:
            try:
                send_confirmation(
                    database_url, subscriber_id, initiative=initiative, settings=settings, now=now
                )
            except Exception:
                return page(
                    request,
                    "Die E-Mail konnte nicht gesendet werden",
                    "Wir konnten die Bestätigungs-E-Mail gerade nicht versenden. Bitte "
                    "versuchen Sie es in einigen Minuten noch einmal.",
                    initiative=initiative,
                    status=503,
                )
        # The same answer whether the address was new, pending or already confirmed: the form
        # must not tell a stranger who is on the list.
        return page(
            request,
            "Fast geschafft",
            "Wir haben Ihnen eine E-Mail mit einem Bestätigungslink geschickt. Bitte klicken "
            "Sie auf den Link, um die Anmeldung abzuschließen.",
            "Ohne Bestätigung erhalten Sie keinen Newsletter.",
            initiative=initiative,
        )

    @app.get("/c/{token}", response_class=HTMLResponse)
    def confirm_page(request: Request, token: str) -> HTMLResponse:
        """Only ask: mail scanners open links, and their visit is nobody's consent."""
        try:
            read_confirm_token(settings.secret_key, token, now=clock())
        except BadToken as error:
            return bad_link(request, error)
        context: dict[str, Any] = {"title": "Anmeldung bestätigen", "token": token}
        return templates.TemplateResponse(request, "confirm.html", context)

    @app.post("/c/{token}", response_class=HTMLResponse)
    def confirm_link(request: Request, token: str) -> HTMLResponse:
        now = clock()
        try:
            data = read_confirm_token(settings.secret_key, token, now=now)
        except BadToken as error:
            return bad_link(request, error)
        with session_scope(database_url) as session:
            subscriber = confirm(
                session, data.subscriber_id, data.consent_version, ip=client_ip(request), now=now
            )
            status = subscriber.status if subscriber else None
            slug = subscriber.initiative if subscriber else None
        initiative = workspace.initiatives.get(slug) if slug else None
        if status == CONFIRMED:
            return page(
                request,
                "Anmeldung bestätigt",
                "Vielen Dank: Ihre Anmeldung ist bestätigt. Sie erhalten den Newsletter ab der "
                "nächsten Ausgabe.",
                "Abbestellen können Sie ihn jederzeit über den Link am Ende jeder Ausgabe.",
                initiative=initiative,
            )
        if status == UNSUBSCRIBED:
            return page(
                request,
                "Sie haben den Newsletter abbestellt",
                "Sie haben den Newsletter nach dieser Anmeldung abbestellt. Wenn Sie ihn wieder "
                "erhalten möchten, melden Sie sich bitte erneut an.",
                initiative=initiative,
            )
        return page(
            request,
            "Anmeldung nicht gefunden",
            "Diese Anmeldung gibt es nicht mehr, vermutlich wurde sie nach Ablauf der Frist "
            "gelöscht. Bitte melden Sie sich erneut an.",
            status=404,
        )

    def _unsubscribe_target(token: str) -> tuple[int, str]:
        data = read_unsubscribe_token(settings.secret_key, token)
        return data.subscriber_id, data.initiative

    @app.get("/u/{token}", response_class=HTMLResponse)
    def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
        try:
            subscriber_id, slug = _unsubscribe_target(token)
        except BadToken as error:
            return bad_link(request, error)
        initiative = workspace.initiatives.get(slug)
        with session_scope(database_url) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            address = subscriber.address if subscriber else None
            status = subscriber.status if subscriber else None
        if address is None or status == UNSUBSCRIBED or initiative is None:
            return page(
                request,
                "Bereits abgemeldet",
                "Diese Adresse erhält den Newsletter nicht mehr.",
                initiative=initiative,
            )
        context: dict[str, Any] = {
            "title": "Newsletter abbestellen",
            "initiative": initiative,
            "address": address,
            "token": token,
        }
        return templates.TemplateResponse(request, "unsubscribe.html", context)

    @app.post("/u/{token}", response_class=HTMLResponse)
    def unsubscribe_post(request: Request, token: str) -> HTMLResponse:
        try:
            subscriber_id, slug = _unsubscribe_target(token)
        except BadToken as error:
            return bad_link(request, error)
        with session_scope(database_url) as session:
            unsubscribe(session, subscriber_id, slug, now=clock())
        return page(
            request,
            "Abmeldung erfolgreich",
            "Sie erhalten den Newsletter nicht mehr. Schade, dass Sie gehen.",
            "Falls das ein Versehen war, können Sie ihn jederzeit neu bestellen.",
            initiative=workspace.initiatives.get(slug),
        )

    @app.get("/consent/{slug}", response_class=HTMLResponse)
    def consent_page(request: Request, slug: str) -> HTMLResponse:
        initiative = workspace.initiatives.get(slug)
        if initiative is None:
            return unknown(request, slug)
        wording = consent_text(initiative)
        return templates.TemplateResponse(
            request,
            "consent.html",
            {
                "title": "Einwilligung in den Newsletter-Versand",
                "initiative": initiative,
                "consent": wording,
                "consent_version": consent_version(wording),
            },
        )

    return app
