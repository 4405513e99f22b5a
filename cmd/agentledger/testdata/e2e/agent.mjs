// An agent written with the official TypeScript SDK, run by the Go
// end-to-end tests against the built agentledger binary. It walks the
// intent-first flow and prints what it saw as one JSON object.
//
//   node agent.mjs stdio  <agentledger binary> <database> <api key>
//   node agent.mjs http   <server /mcp url> <api key>
//   node agent.mjs remote <server /mcp url> <api key>   (through mcp-remote)
//   node agent.mjs remote-oauth <server /mcp url> <admin key> <agent> <config dir>
//     (through mcp-remote with no key: it signs in with OAuth, and the
//     operator consents in headless Chromium as the admin, choosing the agent)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { createServer } from "node:net";

const [mode, ...rest] = process.argv.slice(2);
let transport, key, signIn;
if (mode === "stdio") {
  const [bin, db, k] = rest;
  key = k;
  transport = new StdioClientTransport({ command: bin, args: ["serve", "--stdio", "--db", db], env: { ...process.env, LEDGER_API_KEY: key }, stderr: "inherit" });
} else if (mode === "http") {
  const [url, k] = rest;
  key = k;
  transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
} else if (mode === "remote") {
  const [url, k] = rest;
  key = k;
  const proxy = new URL("node_modules/mcp-remote/dist/proxy.js", import.meta.url).pathname;
  transport = new StdioClientTransport({
    command: process.execPath,
    args: [proxy, url, "--header", "Authorization:${LEDGER_AUTH_HEADER}", "--transport", "http-only"],
    env: { ...process.env, LEDGER_AUTH_HEADER: `Bearer ${key}` },
    stderr: "ignore",
  });
} else if (mode === "remote-oauth") {
  const [url, adminKey, agentName, configDir] = rest;
  const proxy = new URL("node_modules/mcp-remote/dist/proxy.js", import.meta.url).pathname;
  const port = await freePort();
  transport = new StdioClientTransport({
    command: process.execPath,
    // A given callback port is the only one mcp-remote tries.
    args: [proxy, url, String(port), "--transport", "http-only"],
    // Tokens and the registration go to configDir, so no run sees another's.
    // The SDK passes on only HOME, PATH and the like besides these: with no
    // desktop to find, xdg-open runs $BROWSER, which opens nothing.
    env: { MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: "true" },
    stderr: "pipe",
  });
  signIn = operatorSignIn(transport.stderr, adminKey, agentName);
} else {
  throw new Error(`unknown mode ${mode}`);
}

// freePort is a loopback port nothing listens on.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// operatorSignIn waits for mcp-remote to print its authorization URL, then
// consents in the browser, which goes on to mcp-remote's callback server
// with the code. mcp-remote's stderr is passed on, for when a run fails.
async function operatorSignIn(stderr, adminKey, agentName) {
  const printed = new Promise((resolve, reject) => {
    let seen = "";
    stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      seen += chunk;
      const m = seen.match(/Please authorize this client by visiting:\s+(\S+)/);
      if (m) resolve(m[1]);
    });
    stderr.on("end", () => reject(new Error("mcp-remote exited without an authorization URL")));
  });
  printed.catch(() => {}); // awaited below, unless the browser fails first
  const { launch, consent } = await import("./consent.mjs");
  const browser = await launch(); // while mcp-remote starts
  try {
    await consent(browser, await printed, { adminKey, agentName, deliver: true });
  } finally {
    await browser.close();
  }
}

const client = new Client({ name: `e2e-sdk-${mode}`, version: "1.0.0" }, { capabilities: { elicitation: {} } });
const asked = [];
client.setRequestHandler(ElicitRequestSchema, async (req) => {
  asked.push(req.params.message);
  return { action: "accept", content: { approve: true, note: "approved in the e2e test" } };
});
// Over mcp-remote with OAuth, connect returns once the sign-in is done:
// mcp-remote reads nothing from stdin until then.
try {
  await Promise.all([client.connect(transport), signIn]);
} catch (e) {
  await transport.close();
  throw e;
}

const out = { mode, protocol: transport.protocolVersion ?? null, sessionId: transport.sessionId ?? null };
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { isError: !!r.isError, data: r.structuredContent, text: r.content?.[0]?.text ?? "" };
};
const must = async (name, args) => {
  const r = await call(name, args);
  if (r.isError) throw new Error(`${name} ${JSON.stringify(args)} failed: ${r.text}`);
  return r.data;
};

out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const card = await must("ledger_card", { action: "create", purpose: "e2e purchases" });
out.cardId = card.id;

const refused = await call("ledger_card", { action: "details", card_id: card.id });
out.detailsBeforeIntent = refused.data?.error ?? null;

const intent = await must("ledger_intent", { action: "declare", summary: "Printer paper", amount: 2500, merchant: "Office Depot", card_id: card.id });
out.intentId = intent.id;
out.intentStatus = intent.status;
const details = await must("ledger_card", { action: "details", card_id: card.id });
out.panLast4 = details.pan.slice(-4);
out.panLength = details.pan.length;
out.detailsIntent = details.intent_id;

const check = await must("policy_check", { action_type: "api_spend", amount: 1200, reason: "e2e credits" });
out.checkStatus = check.status;
out.checkRules = check.policy_checks.map((c) => c.rule);

// Above the approval threshold: the policy lets the client's human answer.
const big = await must("ledger_intent", { action: "declare", summary: "Monitor", amount: 15000, merchant: "Dell", card_id: card.id });
out.approvalAsked = asked.length;
out.approvedIntentStatus = big.status;

const notFound = await call("ledger_intent", { action: "get", intent_id: "int_nope" });
out.notFound = notFound.data?.error?.code ?? null;

await client.close();
console.log(JSON.stringify(out));
