"""The HTML of the sign-in page and its message pages, with their security headers.

Every value that reaches the page goes through :func:`html.escape`; the pages need no
JavaScript, and their only inline CSS is allowed by its hash in the CSP.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from starlette.responses import HTMLResponse, RedirectResponse, Response

TITLE = "Sign in to Pantry"
NO_MATCH = "That email and password do not match."
_STYLE = (
    "body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f4f2ee;color:#1d1d1b}"
    "main{max-width:24rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:.5rem;"
    "box-shadow:0 1px 4px rgba(0,0,0,.2)}"
    "h1{margin-top:0;font-size:1.5rem}"
    "label{display:block;margin-top:1rem;font-weight:600}"
    "input{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;"
    "border:1px solid #6b6b6b;border-radius:.25rem}"
    "button{width:100%;margin-top:1.5rem;padding:.6rem;font:inherit;font-weight:600;"
    "color:#fff;background:#1f5c3a;border:0;border-radius:.25rem;cursor:pointer}"
    "input:focus,button:focus,a:focus{outline:3px solid #c77700;outline-offset:2px}"
    ".problem{padding:.75rem;border-left:4px solid #b3261e;background:#fdecea}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# Why form-action is wider than 'self': browsers apply it to the redirects that follow a
# form post too, and a good sign-in redirects to the AuthKit domain WorkOS names at run time.
_LOOPBACK_HTTP = "http://127.0.0.1:* http://localhost:*"


class Pages:
    def __init__(self, *, loopback_redirects: bool) -> None:
        form_action = "'self' https:" + (f" {_LOOPBACK_HTTP}" if loopback_redirects else "")
        self.headers = {
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
                f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    def _page(
        self, title: str, body: str, status: int, headers: dict[str, str] | None = None
    ) -> HTMLResponse:
        document = (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
        )
        return HTMLResponse(
            document, status_code=status, headers={**self.headers, **(headers or {})}
        )

    def form(
        self,
        *,
        action: str,
        external_auth_id: str,
        csrf: str,
        email: str = "",
        problem: str | None = None,
        status: int = 200,
        signed_in_as: str | None = None,
    ) -> HTMLResponse:
        """The sign-in form; with ``signed_in_as``, first a one-click "Continue as" form."""
        alert = (
            f'<p class="problem" role="alert" id="problem">{escape(problem)}</p>\n'
            if problem
            else ""
        )
        described = ' aria-describedby="problem"' if problem else ""
        hidden = (
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">\n'
            f'<input type="hidden" name="external_auth_id" value="{escape(external_auth_id)}">\n'
        )
        again = (
            f"<p>You are signed in as <strong>{escape(signed_in_as)}</strong>.</p>\n"
            f'<form method="post" action="{escape(action)}">\n{hidden}'
            '<input type="hidden" name="continue" value="1">\n'
            f'<button type="submit">Continue as {escape(signed_in_as)}</button>\n</form>\n'
            "<h2>Or sign in as someone else</h2>\n"
            if signed_in_as
            else ""
        )
        body = (
            f"<h1>{TITLE}</h1>\n{alert}{again}"
            f'<form method="post" action="{escape(action)}">\n{hidden}'
            '<label for="email">Email</label>\n'
            f'<input id="email" name="email" type="email" autocomplete="username" required'
            f' maxlength="254" value="{escape(email)}"{described}>\n'
            '<label for="password">Password</label>\n'
            '<input id="password" name="password" type="password"'
            f' autocomplete="current-password" required maxlength="1024"{described}>\n'
            '<button type="submit">Sign in</button>\n</form>\n'
        )
        return self._page(TITLE, body, status)

    def message(
        self,
        *,
        title: str,
        text: str,
        status: int,
        retry_link: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        link = f'<p><a href="{escape(retry_link)}">Start again</a></p>\n' if retry_link else ""
        body = f'<h1>{escape(title)}</h1>\n<p role="alert">{escape(text)}</p>\n{link}'
        return self._page(title, body, status, headers)

    def redirect(self, url: str, *, status: int) -> Response:
        return RedirectResponse(url, status_code=status, headers=self.headers)
