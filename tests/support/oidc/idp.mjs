// A real OpenID provider for the player's SSO tests (tests/support/oidc_provider.py runs it).
//
// One process, several providers (one per entry of the configuration: the customer's IdP and
// "another provider" for the mix-up test), each on its loopback port. The configuration is
// JSON in argv[2]: {providers: [{port, clients: [...]}], users: {login: claims}}.
// Prints "ready" once every provider listens.
//
// Test hooks under /_test/ (never part of a real IdP):
//   GET  /_test/token-requests  what reached the token endpoint, as sent: the Authorization
//                               header and the form parameters (the client authentication
//                               is asserted on the wire, not inferred from the answer)
//   POST /_test/reset           forget them, and the delay
//   POST /_test/delay?ms=N      hold every token and userinfo answer N ms (a slow IdP)
//   POST /_test/hold            the next redirect back to a client becomes a page with the
//                               link instead (<a id="held" href=...>): a test gets the
//                               callback URL without the browser using it
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const users = config.users || {};
// The resource whose access tokens are JWTs (RFC 9068), chosen by asking the scope "player".
const RESOURCE = 'urn:campaign-player';

function claimsOf(accountId) {
  const known = users[accountId] || {};
  return { sub: accountId, ...known };
}

async function start(entry) {
  const issuer = `http://127.0.0.1:${entry.port}`;
  const state = { tokenRequests: [], delay: 0, hold: false };
  const provider = new Provider(issuer, {
    clients: entry.clients,
    // Any login is accepted by the dev interactions; its claims come from `users`.
    async findAccount(_ctx, id) {
      return { accountId: id, async claims() { return claimsOf(id); } };
    },
    claims: {
      openid: ['sub'],
      profile: ['given_name', 'family_name', 'birthdate', 'nickname'],
      email: ['email', 'email_verified'],
    },
    // The profile in the ID token too (profile_source id_token), not only at userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        async defaultResource(ctx, _client, oneOf) {
          if (oneOf) return oneOf;
          const scope = String(ctx.oidc.params?.scope || '').split(' ');
          return scope.includes('player') ? RESOURCE : undefined;
        },
        async getResourceServerInfo(_ctx, resource, client) {
          if (resource !== RESOURCE) throw new Error('unknown resource');
          return {
            scope: 'player',
            audience: client.clientId,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
        async useGrantedResource() { return true; },
      },
    },
    // The profile in the JWT access token (profile_source access_token).
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken' || !token.resourceServer) return undefined;
      const { sub, ...profile } = claimsOf(token.accountId);
      return profile;
    },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  });
  provider.proxy = false;

  provider.use(async (ctx, next) => {
    if (ctx.path.startsWith('/_test/')) {
      ctx.set('Cache-Control', 'no-store');
      if (ctx.path === '/_test/token-requests' && ctx.method === 'GET') {
        ctx.body = state.tokenRequests;
      } else if (ctx.path === '/_test/reset' && ctx.method === 'POST') {
        state.tokenRequests = [];
        state.delay = 0;
        state.hold = false;
        ctx.status = 204;
      } else if (ctx.path === '/_test/hold' && ctx.method === 'POST') {
        state.hold = true;
        ctx.status = 204;
      } else if (ctx.path === '/_test/delay' && ctx.method === 'POST') {
        state.delay = Number(ctx.query.ms || 0);
        ctx.status = 204;
      } else {
        ctx.status = 404;
      }
      return;
    }
    const slow = ctx.path === '/token' || ctx.path === '/me';
    if (slow && state.delay > 0) {
      await new Promise((resolve) => setTimeout(resolve, state.delay));
    }
    await next();
    const location = ctx.response.get('location');
    if (state.hold && ctx.status >= 300 && ctx.status < 400 && location.includes('/oauth/callback')) {
      state.hold = false;
      const href = location.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
      ctx.status = 200;
      ctx.remove('location');
      ctx.type = 'html';
      ctx.body = `<!doctype html><p><a id="held" href="${href}">back to the client</a></p>`;
    }
    if (ctx.path === '/token' && ctx.method === 'POST') {
      state.tokenRequests.push({
        authorization: ctx.get('authorization') || null,
        params: { ...(ctx.oidc?.body || {}) },
        status: ctx.status,
      });
    }
  });

  await new Promise((resolve) => provider.listen(entry.port, '127.0.0.1', resolve));
}

await Promise.all(config.providers.map(start));
process.stdout.write('ready\n');
