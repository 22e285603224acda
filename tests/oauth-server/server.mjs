// A real, strict OpenID provider for credvault's OAuth tests: panva's
// oidc-provider (OpenID Certified), pinned in package-lock.json.
//
//   node server.mjs CERT.pem KEY.pem [ACCESS_TOKEN_TTL_SECONDS]
//
// Serves https://127.0.0.1:<ephemeral port> and prints one line
// `listening https://127.0.0.1:PORT` on stdout once it accepts requests.
// What the test configuration changes from the defaults:
//
// - one native public client, `credvault-test` (no secret, so PKCE S256 is
//   required; any loopback port on http://127.0.0.1/callback, RFC 8252 §7.3),
//   allowed the authorization code, refresh token and device code grants;
// - refresh tokens rotate with reuse detection (the default for public
//   clients), revocation (RFC 7009) and the device flow (RFC 8628) are on;
// - login and consent are approved at once for the account `test-user`
//   (the interaction routes below), so a headless client can play the
//   browser: it keeps cookies and follows the redirects;
// - access tokens live ACCESS_TOKEN_TTL_SECONDS (default 120) and there is
//   no clock tolerance;
// - GET /test/stats answers {"refresh":N,"authorization_code":N,"device_code":N}:
//   successful token grants by type, so tests count refreshes server-side;
// - OAUTH_SERVER_DEBUG=1 logs why a token request failed (on stderr).
import https from 'node:https';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const [certFile, keyFile, ttlArg] = process.argv.slice(2);
if (!certFile || !keyFile) {
  console.error('usage: node server.mjs CERT.pem KEY.pem [ACCESS_TOKEN_TTL_SECONDS]');
  process.exit(2);
}
const accessTtl = Number(ttlArg || 120);

const stats = { refresh: 0, authorization_code: 0, device_code: 0 };
let provider;

const server = https.createServer(
  { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
  (req, res) => {
    if (req.method === 'GET' && req.url === '/test/stats') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(stats));
      return;
    }
    if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
      approve(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
      return;
    }
    provider.callback()(req, res);
  },
);

// Login and consent, approved without a page.
async function approve(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: 'test-user' } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
  } else {
    grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  }
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId } },
    { mergeWithLastSubmission: true },
  );
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'credvault-test',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        response_types: ['code'],
        grant_types: [
          'authorization_code',
          'refresh_token',
          'urn:ietf:params:oauth:grant-type:device_code',
        ],
      },
    ],
    cookies: { keys: ['credvault-test-cookie-key'] },
    clockTolerance: 0,
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    scopes: ['openid', 'offline_access', 'profile'],
    ttl: {
      AccessToken: accessTtl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
    },
    findAccount: async (_ctx, id) => ({
      accountId: id,
      async claims() {
        return { sub: id };
      },
    }),
  });
  if (process.env.OAUTH_SERVER_DEBUG) {
    provider.on('grant.error', (_ctx, err) => console.error('grant.error', err.error, err.error_detail));
  }
  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params.grant_type;
    if (type === 'refresh_token') stats.refresh += 1;
    else if (type === 'authorization_code') stats.authorization_code += 1;
    else if (type === 'urn:ietf:params:oauth:grant-type:device_code') stats.device_code += 1;
  });
  console.log(`listening ${issuer}`);
});
