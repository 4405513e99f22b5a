// An MCP client that connects to agentledger by URL with OAuth, with no key
// in its config: the official TypeScript SDK's OAuth client provider, and
// the operator's consent given in headless Chromium. Run by
// oauth_e2e_test.go:
//
//   AGENTLEDGER_URL=http://127.0.0.1:port ADMIN_KEY=… AGENT=buyer TOKEN_TTL_MS=… node oauth.mjs
//
// It prints one JSON object: what it saw at each step.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { launch, consent } from "./consent.mjs";

const base = process.env.AGENTLEDGER_URL;
const adminKey = process.env.ADMIN_KEY;
const agentName = process.env.AGENT;
const tokenTTL = Number(process.env.TOKEN_TTL_MS);
const mcpUrl = new URL("/mcp", base);
const redirectUrl = "http://127.0.0.1:47615/oauth/callback"; // never listened on: the browser's trip is caught

// provider keeps what the SDK asks it to, in memory, and hands the
// authorization URL to the browser.
const saved = { client: undefined, tokens: [], verifier: undefined, authorizationUrls: [] };
const provider = {
  get redirectUrl() {
    return redirectUrl;
  },
  get clientMetadata() {
    return {
      client_name: "e2e OAuth client",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  clientInformation: () => saved.client,
  saveClientInformation: (info) => {
    saved.client = info;
  },
  tokens: () => saved.tokens.at(-1),
  saveTokens: (tokens) => {
    saved.tokens.push(tokens);
  },
  redirectToAuthorization: (url) => {
    saved.authorizationUrls.push(url.href);
  },
  saveCodeVerifier: (v) => {
    saved.verifier = v;
  },
  codeVerifier: () => saved.verifier,
};

const out = {};
const newClient = () => new Client({ name: "e2e-sdk-oauth", version: "1.0.0" });

// 1. No key: the 401 leads the SDK to the metadata, registration and an authorization URL.
const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
try {
  await newClient().connect(first);
  throw new Error("connected without authorization");
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
out.registeredClientId = saved.client?.client_id ?? null;
out.authorizationUrl = saved.authorizationUrls[0] ?? null;
if (!out.authorizationUrl) throw new Error("the SDK produced no authorization URL");

// 2. The operator consents in the browser; the code comes back on the redirect URI.
const browser = await launch();
let answer;
try {
  answer = await consent(browser, out.authorizationUrl, { adminKey, agentName });
} finally {
  await browser.close();
}
out.consentText = answer.shown.text;
const back = new URL(answer.url);
out.returnedIss = back.searchParams.get("iss");
await first.finishAuth(back.searchParams.get("code"));
out.tokensAfterConsent = saved.tokens.length;
out.expiresIn = saved.tokens[0]?.expires_in ?? null;
if (!(tokenTTL > 0)) throw new Error(`TOKEN_TTL_MS is not a number of milliseconds: ${process.env.TOKEN_TTL_MS}`);

// 3. Connected as the chosen agent: the tools, then the intent flow.
const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
const client = newClient();
await client.connect(transport);
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { isError: !!r.isError, data: r.structuredContent, text: r.content?.[0]?.text ?? "" };
};
const must = async (name, args) => {
  const r = await call(name, args);
  if (r.isError) throw new Error(`${name} ${JSON.stringify(args)} failed: ${r.text}`);
  return r.data;
};
const listed = (await client.listTools()).tools;
out.tools = listed.map((t) => t.name).sort();
out.agentIdInSchema = listed.some((t) => "agent_id" in (t.inputSchema?.properties ?? {}));
const card = await must("ledger_card", { action: "create", purpose: "OAuth e2e purchases" });
out.cardId = card.id;
out.cardAgentId = card.agent_id;
out.detailsBeforeIntent = (await call("ledger_card", { action: "details", card_id: card.id })).data?.error?.code ?? null;
const intent = await must("ledger_intent", { action: "declare", summary: "Printer paper", amount: 2500, merchant: "Office Depot", card_id: card.id });
out.intentId = intent.id;
const details = await must("ledger_card", { action: "details", card_id: card.id });
out.panLength = details.pan.length;
out.checkStatus = (await must("policy_check", { action_type: "api_spend", amount: 1200, reason: "e2e credits" })).status;

// 4. The access token expires; the SDK refreshes it (the refresh token rotates) and the call goes through.
const before = saved.tokens.at(-1);
await new Promise((r) => setTimeout(r, tokenTTL + 500));
out.afterExpiry = (await call("policy_check", { action_type: "api_spend", amount: 100, reason: "after expiry" })).data?.status ?? null;
const after = saved.tokens.at(-1);
out.refreshed = after.access_token !== before.access_token;
out.refreshTokenRotated = after.refresh_token !== before.refresh_token;
const staleRefresh = before.refresh_token;

// 5. The operator revokes the client in the dashboard; its next call is 401.
const browser2 = await launch();
try {
  const ctx = await browser2.newContext();
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(new URL("/clients", base).href);
  await page.fill("#key", adminKey);
  await Promise.all([page.waitForURL((u) => u.pathname === "/clients"), page.click("button[type=submit]")]);
  const section = page.locator(`#client-${saved.client.client_id}`);
  out.clientsPageGrant = await section.locator("tr.grant").first().innerText();
  await Promise.all([page.waitForURL((u) => u.pathname === "/clients"), section.locator("button", { hasText: "Revoke client" }).click()]);
  out.clientsPageAfterRevoke = await section.locator("tr.grant").first().innerText();
} finally {
  await browser2.close();
}
const raw = await fetch(mcpUrl, {
  method: "POST",
  headers: { Authorization: `Bearer ${after.access_token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
});
out.revokedStatus = raw.status;
out.revokedChallenge = raw.headers.get("www-authenticate");
const refresh = await fetch(new URL("/oauth/token", base), {
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: after.refresh_token, client_id: saved.client.client_id }),
});
out.revokedRefresh = { status: refresh.status, body: await refresh.json() };
out.staleRefreshPrefix = staleRefresh.slice(0, 6);
await client.close().catch(() => {});
console.log(JSON.stringify(out));
