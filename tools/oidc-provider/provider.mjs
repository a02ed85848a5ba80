// An OpenID provider on loopback that looks like one Entra ID tenant, for the tests of pdf-seal's
// token validation (tests/support/oidc_provider.rs starts it).
//
// oauth2-mock-server does the OpenID work: discovery, the JWKS, RS256 signing and the token
// endpoint. This script adds what makes it Entra-shaped:
//   - paths under a tenant prefix: the issuer is http://127.0.0.1:PORT/<tenant>/v2.0, with the
//     discovery document, the JWKS and the token endpoint below it;
//   - tokens from the token endpoint (grant_type client_credentials, a JSON body) that carry the
//     Entra claims named in the request: tid, aud, azp, appid, oid, scp, roles, ver, and iss
//     (for v1 tokens, whose issuer is sts.windows.net). Without iss, the issuer is the one of
//     the token's tid under this provider's origin;
//   - commands on standard input, one JSON object a line, each answered by one JSON line on
//     standard output:
//       {"command": "add-key", "kid": "...", "pem": "<PKCS#8 private key PEM>"}
//           publishes the key in the JWKS (it also signs tokens of the token endpoint then)
//       {"command": "rotate"}
//           replaces every key by a new generated one; answers its kid
//       {"command": "jwks-requests"}
//           answers how many JWKS requests were served so far, as "count"
//
// Usage: node provider.mjs --tenant GUID [--port N]   (port 0, the default, picks a free one)
// The first line on standard output is "oidc-provider listening on http://127.0.0.1:PORT".
// The process ends when standard input closes, so it does not outlive the test that started it.

import { createPrivateKey } from "node:crypto";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const { values: options } = parseArgs({
  options: {
    tenant: { type: "string" },
    port: { type: "string", default: "0" },
  },
});
if (!options.tenant) {
  console.error("provider.mjs: --tenant GUID is required");
  process.exit(2);
}
const tenant = options.tenant.toLowerCase();
const prefix = `/${tenant}/v2.0`;

let origin = "";
let service = null;
let jwksRequests = 0;

// A service with one new RS256 key, its issuer under this tenant's prefix.
async function newService() {
  const issuer = new OAuth2Issuer();
  issuer.url = `${origin}${prefix}`;
  await issuer.keys.generate("RS256");
  const fresh = new OAuth2Service(issuer);
  fresh.on("beforeTokenSigning", (token, request) => shapeLikeEntra(token, request.body ?? {}));
  return fresh;
}

// Replaces the mock's generic claims by the Entra claims that the token request names.
function shapeLikeEntra(token, body) {
  const payload = token.payload;
  delete payload.scope;
  const tid = typeof body.tid === "string" ? body.tid : tenant;
  payload.tid = tid;
  payload.iss = typeof body.iss === "string" ? body.iss : `${origin}/${tid}/v2.0`;
  for (const claim of ["aud", "azp", "appid", "oid", "scp", "roles", "ver"]) {
    if (body[claim] !== undefined) {
      payload[claim] = body[claim];
    }
  }
  payload.sub = payload.oid ?? "sub-without-oid";
}

// Routes a request below the tenant prefix to the current service, counting JWKS requests.
function route(request, response) {
  if (service === null) {
    // Listening comes first, since the issuer names the port; the keys follow at once.
    response.writeHead(503, { "Retry-After": "1" }).end();
    return;
  }
  const url = request.url ?? "/";
  if (url !== prefix && !url.startsWith(`${prefix}/`)) {
    response.writeHead(404).end();
    return;
  }
  request.url = url.slice(prefix.length) || "/";
  if (request.method === "GET" && request.url.split("?")[0] === "/jwks") {
    jwksRequests += 1;
  }
  service.requestHandler(request, response);
}

// Carries out one command line and answers it.
async function command(line) {
  const request = JSON.parse(line);
  switch (request.command) {
    case "add-key": {
      const jwk = createPrivateKey(request.pem).export({ format: "jwk" });
      const added = await service.issuer.keys.add({ ...jwk, kid: request.kid, alg: "RS256" });
      return { ok: true, kid: added.kid };
    }
    case "rotate": {
      service = await newService();
      return { ok: true, kid: service.issuer.keys.toJSON()[0].kid };
    }
    case "jwks-requests":
      return { ok: true, count: jwksRequests };
    default:
      return { ok: false, error: `unknown command ${JSON.stringify(request.command)}` };
  }
}

const server = createServer(route);
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(options.port), "127.0.0.1", resolve);
});
origin = `http://127.0.0.1:${server.address().port}`;
service = await newService();
process.stdout.write(`oidc-provider listening on ${origin}\n`);

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === "") {
    continue;
  }
  let answer;
  try {
    answer = await command(line);
  } catch (error) {
    answer = { ok: false, error: String(error?.message ?? error) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
server.close();
server.closeAllConnections();
