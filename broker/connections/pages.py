"""The consent and result pages of the browser flow: plain HTML, every value escaped, no
script, not frameable, not cached, no referrer (the link is a credential for ten minutes)."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from broker.connections.grants import Ticket
from connectors.auth import UserOAuth

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "dt{font-weight:600;margin-top:.6rem}dd{margin:0}button{font-size:1rem;padding:.5rem 1.2rem;"
    "margin:1.2rem .6rem 0 0}.note{color:#555;font-size:.9rem}"
)


def page(title: str, body: str, status: int = 200, form_to: str = "") -> HTMLResponse:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<meta name=viewport content='width=device-width'><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    csp = (
        f"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self' {form_to}"
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": csp.strip(),
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def consent(ticket: Ticket, config: UserOAuth, description: str) -> HTMLResponse:
    server = urlsplit(config.authorization_url)
    scopes = ", ".join(config.scopes) or "(none named: what the upstream grants by default)"
    about = f"<dd>{escape(description)}</dd>" if description else ""
    body = (
        f"<p>Your assistant <b>{escape(ticket.agent)}</b>, acting for <b>{escape(ticket.end_user)}</b>, "
        f"asks to use the upstream <b>{escape(ticket.connector)}</b> with your own account there.</p><dl>"
        f"<dt>Upstream</dt><dd>{escape(ticket.connector)}</dd>{about}"
        f"<dt>Sign-in at</dt><dd>{escape(server.scheme)}://{escape(server.netloc)}</dd>"
        f"<dt>Access asked for (scopes)</dt><dd>{escape(scopes)}</dd>"
        f"<dt>Agent</dt><dd>{escape(ticket.agent)}</dd><dt>You</dt><dd>{escape(ticket.end_user)}</dd></dl>"
        "<form method=post><button name=decision value=allow>Allow and sign in</button>"
        "<button name=decision value=deny>Deny</button></form>"
        f"<p class=note>Continue only if you are {escape(ticket.end_user)} and you asked your assistant "
        "for this. The gateway keeps the upstream's tokens encrypted for you alone; you can disconnect "
        "at any time.</p>"
    )
    return page(f"Connect {ticket.connector}", body, form_to=f"{server.scheme}://{server.netloc}")


def done(ticket: Ticket) -> HTMLResponse:
    return page(
        f"Connected to {ticket.connector}",
        f"<p>{escape(ticket.end_user)} is connected to <b>{escape(ticket.connector)}</b>. Go back to your "
        "assistant and call again.</p>",
    )


def refused(message: str, status: int = 400) -> HTMLResponse:
    return page("Not connected", f"<p>{escape(message)}</p>", status=status)
