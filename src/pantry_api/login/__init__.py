"""The sign-in page AuthKit Standalone Connect sends people to (the Login URI).

It is for browsers, not API callers: HTML, cookies and CSRF tokens, no service token, and
no place in the OpenAPI document. ``routes`` wires it; the other modules each do one job.
"""
