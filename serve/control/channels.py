"""The channels notifications go out by, for the notifier (``serve.control.notifier``):
each makes its message from an ended execution's summary and sends it once.

- e-mail: through the SMTP server of the settings (``smtp_url``, ...), as plain text;
- Slack: a JSON ``{"text": ...}`` POSTed to an incoming-webhook URL (the notification's,
  else ``slack_webhook_url``), else e-mail to its recipients (Slack channels' addresses);
- PagerDuty: an Events API v2 ``trigger`` event POSTed to ``pagerduty_events_url`` with a
  routing key (the notification's, else ``pagerduty_routing_key``), else e-mail to its
  recipients (PagerDuty's e-mail integration, as Flyte does). Its ``dedup_key`` names
  the execution and phase, so a repeated attempt does not page twice;
- webhook: the summary (JSON, with the console link) POSTed to the notification's URL.

Every message says which execution, launch plan and phase, how long it ran, the first line
of its error, and its console link. A send returns an :class:`Outcome`: no error, or one
that says what failed where (URLs shortened to their host: a Slack URL is a secret), and
whether another attempt could help.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Any
from urllib.parse import urlsplit

from engine.config import Settings
from engine.dag.spec.notification import NotificationKind
from serve.store.notifications import Delivery

# HTTP answers worth another attempt, besides 5xx: timeout, too early, too many requests.
_RETRIED_HTTP = (408, 425, 429)
_SEVERITY = {"SUCCEEDED": "info", "ABORTED": "warning", "FAILED": "error",
             "TIMED_OUT": "error"}


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: sent (no error), or why not and whether to give up."""

    error: str | None = None
    # Another attempt cannot help (a setting is missing, the receiver refused the message).
    permanent: bool = False


SENT = Outcome()


def send(delivery: Delivery, settings: Settings, timeout_s: float) -> Outcome:
    """Send ``delivery`` once, by its notification's channel."""
    spec, kind = delivery.notification, delivery.notification.kind
    subject, text = message(delivery, settings)
    if kind is NotificationKind.WEBHOOK:
        assert spec.url is not None  # a webhook's spec always has one
        payload = {**delivery.summary, "console_url": console_url(delivery, settings)}
        return post_json(spec.url, payload, timeout_s)
    if kind is NotificationKind.SLACK and (spec.url or settings.slack_webhook_url):
        return post_json(spec.url or settings.slack_webhook_url or "",
                         {"text": f"*{subject}*\n{text}"}, timeout_s)
    key = spec.routing_key or settings.pagerduty_routing_key
    if kind is NotificationKind.PAGER_DUTY and key:
        return post_json(settings.pagerduty_events_url,
                         pagerduty_event(delivery, settings, key, subject), timeout_s)
    return mail(settings, spec.recipients_email, subject, text, timeout_s)


def console_url(delivery: Delivery, settings: Settings) -> str:
    ident = delivery.execution
    return (f"{settings.admin_endpoint.rstrip('/')}/console/projects/{ident.project}"
            f"/domains/{ident.domain}/executions/{ident.name}")


def message(delivery: Delivery, settings: Settings) -> tuple[str, str]:
    """The subject and plain-text body of a notification."""
    summary, ident = delivery.summary, delivery.execution
    plan = summary.get("launch_plan") or {}
    plan_text = f"{plan['name']} (version {plan['version']})" if plan else "none"
    subject = (f"Flyray execution {ident.project}/{ident.domain}/{ident.name} "
               f"{delivery.phase.value}" + (f" (launch plan {plan['name']})" if plan else ""))
    lines = [f"Execution: {ident.project}/{ident.domain}/{ident.name}",
             f"Launch plan: {plan_text}",
             f"Phase: {delivery.phase.value}",
             f"Duration: {_duration(summary.get('duration_s'))}"]
    error = summary.get("error")
    if error:
        lines.append(f"Error: {error['kind']}: {_first_line(error['message'])}")
    if summary.get("abort_cause"):
        lines.append(f"Abort cause: {_first_line(summary['abort_cause'])}")
    lines.append(f"Console: {console_url(delivery, settings)}")
    return subject, "\n".join(lines) + "\n"


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "never started"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {rest} s" if hours else f"{minutes} min {rest} s"


def pagerduty_event(delivery: Delivery, settings: Settings, routing_key: str,
                    subject: str) -> dict[str, Any]:
    """An Events API v2 ``trigger`` event for ``delivery``."""
    ident, link = delivery.execution, console_url(delivery, settings)
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"flyray/{ident.project}/{ident.domain}/{ident.name}/"
                     f"{delivery.phase.value}",
        "payload": {
            "summary": subject[:1024],
            "source": "flyray",
            "severity": _SEVERITY[delivery.phase.value],
            "custom_details": {**delivery.summary, "console_url": link,
                               "recipients_email": list(
                                   delivery.notification.recipients_email)},
        },
        "links": [{"href": link, "text": "Flyray console"}],
    }


# --- transports --------------------------------------------------------------------------


def mail(settings: Settings, recipients: tuple[str, ...], subject: str, text: str,
         timeout_s: float) -> Outcome:
    """Send a plain-text e-mail to ``recipients`` through the settings' SMTP server."""
    if not settings.smtp_url:
        return Outcome("no SMTP server is configured for e-mail to "
                       f"{', '.join(recipients)}: set smtp_url (FLYRAY_SMTP_URL), e.g. "
                       "smtp://mail.example.com:587, and restart the admin", permanent=True)
    parts = urlsplit(settings.smtp_url)
    tls = parts.scheme == "smtps"
    host, port = parts.hostname or "", parts.port or (465 if tls else 25)
    # Headers folded only past SMTP's own line limit: Python folds a long subject of few
    # spaces before its first word, which readers then show with a leading blank.
    email = EmailMessage(policy=SMTP_POLICY.clone(max_line_length=998))
    email["Subject"], email["From"], email["To"] = subject, settings.mail_from, \
        ", ".join(recipients)
    email.set_content(text)
    where = f"SMTP server {host}:{port}"
    try:
        client = (smtplib.SMTP_SSL if tls else smtplib.SMTP)(host, port, timeout=timeout_s)
        with client:
            if settings.smtp_starttls and not tls:
                client.starttls()
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            refused = client.send_message(email)
    except smtplib.SMTPRecipientsRefused as e:
        return _refused(where, e.recipients)
    except smtplib.SMTPResponseException as e:
        detail = e.smtp_error.decode(errors="replace") if isinstance(
            e.smtp_error, bytes) else str(e.smtp_error)
        return Outcome(f"{where} answered {e.smtp_code}: {detail}",
                       permanent=500 <= e.smtp_code < 600)
    except (smtplib.SMTPException, OSError) as e:
        return Outcome(f"{where}: {type(e).__name__}: {e}")
    return _refused(where, refused) if refused else SENT


def _refused(where: str, refused: dict[str, tuple[int, bytes]]) -> Outcome:
    listed = "; ".join(f"{address}: {code} {reply.decode(errors='replace')}"
                       for address, (code, reply) in refused.items())
    return Outcome(f"{where} refused recipient(s) {listed}",
                   permanent=all(500 <= code < 600 for code, _ in refused.values()))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to record, not to follow: urllib would resend a POST as
    a GET without its body."""

    def redirect_request(self, *_: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_json(url: str, payload: dict[str, Any], timeout_s: float) -> Outcome:
    """POST ``payload`` as JSON to ``url``; any 2xx answer is success."""
    where = _host_of(url)
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "flyray-notifier"})
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            response.read(4096)
    except urllib.error.HTTPError as e:
        body = e.read(300).decode(errors="replace").strip() if e.fp is not None else ""
        permanent = e.code < 500 and e.code not in _RETRIED_HTTP
        moved = f" (redirect to {e.headers.get('Location')}: give that URL)" \
            if 300 <= e.code < 400 else ""
        return Outcome(f"{where} answered HTTP {e.code}{moved}"
                       + (f": {body}" if body else ""), permanent=permanent)
    except (urllib.error.URLError, OSError) as e:
        reason = e.reason if isinstance(e, urllib.error.URLError) else e
        return Outcome(f"{where}: {type(reason).__name__}: {reason}")
    return SENT


def _host_of(url: str) -> str:
    """The URL's scheme and host only: the rest of a Slack webhook URL is its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
