// A real OAuth 2.1 authorization server for tests/e2e/test_oauth_flow.py: oidc-provider
// (pinned in tests/conformance/package-lock.json) on 127.0.0.1, configured for that one test.
//
//   node oauth_provider.mjs <port> <resource URL>
//
// - open dynamic client registration (the MCP SDK client registers itself);
// - authorization code grant with PKCE (S256) required for every client;
// - RFC 8707 resource indicators: a request naming <resource URL> gets a JWT access token
//   (RFC 9068, RS256) whose aud is that URL and whose scope is at most
//   "pantry:read pantry:write"; any other resource is refused (invalid_target);
// - oidc-provider's built-in development login and consent pages (devInteractions): any
//   login name is accepted and becomes the token's sub;
// - a fresh RSA signing key and fresh cookie keys on every start; everything in memory.
//
// Prints "READY <issuer>" on stdout once listening; exits on SIGTERM or SIGINT.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// oidc-provider lives in tests/conformance/node_modules, not on this file's lookup path.
const require = createRequire(new URL('../conformance/package.json', import.meta.url));
const { default: Provider, errors } = await import(
  pathToFileURL(require.resolve('oidc-provider')).href
);

const [portArg, resource] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || !resource) {
  console.error('usage: node oauth_provider.mjs <port> <resource URL>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE_SCOPE = 'pantry:read pantry:write';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: `test-${randomBytes(4).toString('hex')}` };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // Client registrations may ask for these; the pantry ones are granted per resource below.
  scopes: ['openid', 'offline_access', 'pantry:read', 'pantry:write'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  // The account is whoever signed in on the development login page.
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The resource named at authorization is used at the token endpoint too.
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, indicator) {
        if (indicator !== resource) {
          throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        }
        return {
          scope: RESOURCE_SCOPE,
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 10 * 60,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: {
    AccessToken: 10 * 60,
    AuthorizationCode: 60,
    Grant: 10 * 60,
    IdToken: 10 * 60,
    Interaction: 10 * 60,
    RefreshToken: 60 * 60,
    Session: 10 * 60,
  },
});

provider.on('server_error', (ctx, error) => {
  console.error(`oidc-provider server_error on ${ctx.method} ${ctx.path}: ${error.stack}`);
});
for (const event of ['authorization.error', 'grant.error', 'registration_create.error']) {
  provider.on(event, (ctx, error) => {
    console.error(`${event}: ${error.error || error.name}: ${error.error_description || error.message}`);
  });
}

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
