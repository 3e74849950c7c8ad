"""OAuth 2.1 resource server: bearer tokens verified against the issuer's JWKS.

- ``jwks``: fetching and caching the issuer's signing keys, surviving rotation.
- ``verifier``: one token in, a verified principal (subject and scopes) out.
- ``middleware``: the Host/Origin guard and the bearer check in front of /mcp.
- ``discovery``: protected-resource metadata and the authorization-server metadata proxy.
"""

from __future__ import annotations
