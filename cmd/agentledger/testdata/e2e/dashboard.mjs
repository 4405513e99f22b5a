// The dashboard's browser tests: playwright-core driving Debian's Chromium,
// headless, against `agentledger serve --http`, while an agent written with
// the official MCP SDK works over /mcp. Run by dashboard_e2e_test.go:
//
//   AGENTLEDGER_URL=http://127.0.0.1:port ADMIN_KEY=… VIEWER_KEY=… AGENT_KEY=… \
//   SCREENSHOTS=../../../../examples/screenshots node dashboard.mjs [flow …]
//
// Each flow is an async function in `flows` below; with no arguments every
// flow runs, in order, each in fresh browser contexts. A failed expectation
// stops the run with the flow, the step and what was seen, and exits 1. On
// success it prints one JSON object: the flows and the steps they passed.
//
// To add a flow (policy editing, freezing a card, …): write
// `async function myFlow(t) { … }` using t.step, t.expect, t.signIn,
// t.agent and t.network, and add it to `flows`.
import { chromium } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") fail(`the environment variable ${name} is not set`);
  return v;
};
function fail(msg) {
  console.error(`dashboard.mjs: ${msg}`);
  process.exit(1);
}

const base = env("AGENTLEDGER_URL");
const keys = { admin: env("ADMIN_KEY"), viewer: env("VIEWER_KEY"), agent: env("AGENT_KEY") };
const executablePath = env("CHROMIUM", "/usr/bin/chromium");
const screenshots = process.env.SCREENSHOTS || "";
const laptop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };
const timeout = 10_000; // for any one wait; the approvals queue polls every 3 s

// ExpectationError is a failed expectation: reported with its step, without
// a stack trace.
class ExpectationError extends Error {}

// A test run: the browser, the steps passed, and the helpers flows use.
class Run {
  constructor(browser) {
    this.browser = browser;
    this.flow = "";
    this.current = "";
    this.passed = {};
    this.cleanups = [];
  }

  // step runs one named step of the current flow.
  async step(name, fn) {
    this.current = name;
    const r = await fn();
    (this.passed[this.flow] ??= []).push(name);
    return r;
  }

  expect(cond, msg) {
    if (!cond) throw new ExpectationError(msg);
  }

  // context opens a browser context (a separate cookie jar: one person).
  async context(viewport = laptop, extra = {}) {
    const ctx = await this.browser.newContext({ viewport, baseURL: base, ...extra });
    ctx.setDefaultTimeout(timeout);
    this.cleanups.push(() => ctx.close());
    return ctx;
  }

  // signIn opens a page in ctx, signs in with key through the form and
  // expects the overview.
  async signIn(ctx, key) {
    const page = await ctx.newPage();
    await page.goto("/");
    this.expect(new URL(page.url()).pathname === "/signin", `signed out, / should lead to /signin, not ${page.url()}`);
    await page.fill('input[name="key"]', key);
    await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/signin" && r.request().method() === "POST"),
      page.click('button[type="submit"]'),
    ]);
    await page.waitForLoadState();
    if (new URL(page.url()).pathname !== "/") {
      const alert = await page.locator('[role="alert"]').allTextContents();
      this.expect(false, `signing in should lead to /, not ${page.url()}; the page says: ${alert.join(" ") || "(no error)"}`);
    }
    const h1 = await page.textContent("h1");
    this.expect(h1?.trim() === "Overview", `after signing in: the overview, not a page titled ${JSON.stringify(h1)}`);
    return page;
  }

  // agent connects an MCP client with the agent's key; it is closed when
  // the flow ends. call returns {isError, data, text}; must throws on a
  // tool error.
  async agent(name = "e2e-dashboard-agent") {
    const transport = new StreamableHTTPClientTransport(new URL("/mcp", base), {
      requestInit: { headers: { Authorization: `Bearer ${keys.agent}` } },
    });
    const client = new Client({ name, version: "1.0.0" });
    await client.connect(transport);
    this.cleanups.push(() => client.close());
    const call = async (tool, args) => {
      const r = await client.callTool({ name: tool, arguments: args });
      return { isError: !!r.isError, data: r.structuredContent, text: r.content?.[0]?.text ?? "" };
    };
    const must = async (tool, args) => {
      const r = await call(tool, args);
      if (r.isError) throw new ExpectationError(`the agent's ${tool} ${JSON.stringify(args)} failed: ${r.text}`);
      return r.data;
    };
    return { client, call, must };
  }

  // network presents a charge through the sandbox card network, as the
  // admin: the authorization, approved or declined.
  async network(card, amount, merchant) {
    const res = await fetch(new URL("/v1/network/authorize", base), {
      method: "POST",
      headers: { Authorization: `Bearer ${keys.admin}`, "Content-Type": "application/json" },
      body: JSON.stringify({ card, amount, merchant: { name: merchant } }),
    });
    const body = await res.json();
    this.expect(res.status === 200, `POST /v1/network/authorize: HTTP ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  async screenshot(page, name) {
    if (!screenshots) return;
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, name), fullPage: true, animations: "disabled" });
  }

  async endFlow() {
    for (const c of this.cleanups.reverse()) await c().catch(() => {});
    this.cleanups = [];
  }
}

// An agent declares an intent above its approval threshold; the operator,
// with the approvals page already open, sees it arrive without a reload,
// a viewer sees it and cannot act on it, a forged post without the CSRF
// token is refused, the operator approves it, and the agent's reveal and
// charge go through. Then sign-out ends the session.
async function approvals(t) {
  let txn;
  const admin = await t.context();
  const page = await t.step("the admin signs in and sees the overview", () => t.signIn(admin, keys.admin));
  const pending = await page.textContent("#pending-count");
  t.expect(pending?.trim() === "0", `the overview shows ${JSON.stringify(pending)} waiting, not 0`);

  await t.step("the approvals page is open and empty", async () => {
    await page.click('nav a[href="/approvals"]');
    await page.waitForURL((u) => u.pathname === "/approvals");
    const text = await page.textContent("#queue");
    t.expect(text.includes("Nothing is waiting"), `the queue should start empty: ${text.trim()}`);
  });
  let navigations = 0;
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations++;
  });

  const agent = await t.agent();
  const { card, intent } = await t.step("the agent declares an intent above its approval threshold over MCP", async () => {
    const card = await agent.must("ledger_card", { action: "create", purpose: "dashboard e2e" });
    const intent = await agent.must("ledger_intent", {
      action: "declare", card_id: card.id, summary: "A 27-inch monitor for the design team", amount: 25000, merchant: "Dell",
    });
    t.expect(intent.status === "awaiting_approval", `the intent should await approval, not be ${intent.status}`);
    t.expect(!!intent.decision_id, "the intent names its decision");
    const early = await agent.call("ledger_card", { action: "details", card_id: card.id });
    t.expect(early.isError && early.data?.error?.code === "APPROVAL_REQUIRED",
      `before approval the card's details should be refused APPROVAL_REQUIRED: ${early.text}`);
    return { card, intent };
  });
  const row = page.locator(`#approval-${intent.decision_id}`);

  await t.step("the request appears on the open approvals page without a reload", async () => {
    await row.waitFor({ state: "visible" });
    t.expect(navigations === 0, `the page navigated ${navigations} time(s); the row should arrive by polling`);
    const text = await row.textContent();
    for (const want of ["buyer", "$250.00", "Dell", "A 27-inch monitor"]) {
      t.expect(text.includes(want), `the row should show ${JSON.stringify(want)}: ${text.replace(/\s+/g, " ").trim()}`);
    }
    t.expect(await row.getByRole("button", { name: "Approve" }).isVisible(), "an admin sees the Approve button");
  });

  await t.step("screenshots of the queue, on a laptop and on a phone", async () => {
    await t.screenshot(page, "approvals.png");
    const small = await t.context(phone, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const p = await t.signIn(small, keys.admin);
    await p.goto("/approvals");
    await p.locator(`#approval-${intent.decision_id}`).waitFor();
    // (A mobile browser zooms out to fit a page that is too wide, so compare
    // with the phone's width, not the window's.)
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    t.expect(width <= phone.width, `on a phone the page should not scroll sideways: ${width}px wide on a ${phone.width}px screen`);
    await t.screenshot(p, "approvals-phone.png");
  });

  await t.step("a viewer sees the queue and has no Approve button", async () => {
    const ctx = await t.context();
    const v = await t.signIn(ctx, keys.viewer);
    await v.goto("/approvals");
    const vrow = v.locator(`#approval-${intent.decision_id}`);
    await vrow.waitFor();
    t.expect((await vrow.locator("button, form").count()) === 0, "a viewer's row has no form or button");
    t.expect((await v.getByRole("button", { name: /approve|deny/i }).count()) === 0, "a viewer's page has no Approve or Deny button");
    // Even with the session's own CSRF token, a viewer's approval is refused.
    const csrf = JSON.parse(await v.getAttribute("body", "hx-headers"))["X-CSRF-Token"];
    const res = await v.request.post(`/approvals/${intent.decision_id}/approve`, { form: { csrf, reason: "a viewer tries" }, maxRedirects: 0 });
    t.expect(res.status() === 403, `a viewer's approval with a valid CSRF token should be refused 403, not ${res.status()}`);
  });

  await t.step("a forged approval without the CSRF token is refused", async () => {
    // The admin's own cookies, but no token: what a cross-site form would send.
    const res = await page.request.post(`/approvals/${intent.decision_id}/approve`, { form: { reason: "forged" }, maxRedirects: 0 });
    t.expect(res.status() === 403, `a post without the CSRF token should be refused 403, not ${res.status()}`);
    const wrong = await page.request.post(`/approvals/${intent.decision_id}/approve`, { form: { csrf: "forged", reason: "forged" }, maxRedirects: 0 });
    t.expect(wrong.status() === 403, `a post with a wrong CSRF token should be refused 403, not ${wrong.status()}`);
    const still = await agent.must("ledger_intent", { action: "get", intent_id: intent.id });
    t.expect(still.status === "awaiting_approval", `after the forged posts the intent still awaits approval, not ${still.status}`);
  });

  await t.step("the admin approves it with a reason", async () => {
    await row.getByRole("textbox", { name: "reason" }).fill("Budgeted in Q3; approved by ops");
    await Promise.all([page.waitForURL((u) => u.pathname === "/approvals"), row.getByRole("button", { name: "Approve" }).click()]);
    const err = await page.locator('[role="alert"]').count();
    t.expect(err === 0, `approving showed an error: ${err && (await page.textContent('[role="alert"]'))}`);
    await row.waitFor({ state: "detached" });
    const got = await agent.must("ledger_intent", { action: "get", intent_id: intent.id });
    t.expect(got.status === "pending", `once approved the intent is pending (ready to reveal), not ${got.status}`);
  });

  await t.step("the agent reveals the card and the charge is approved", async () => {
    const details = await agent.must("ledger_card", { action: "details", card_id: card.id });
    t.expect(details.pan?.length === 16, "the card's number is revealed");
    t.expect(details.intent_id === intent.id, `the reveal is for the approved intent, not ${details.intent_id}`);
    const a = await t.network(card.id, 25000, "Dell");
    t.expect(a.status === "approved", `the charge should be approved, not ${a.status}: ${a.decline_code ?? ""} ${a.reason ?? ""}`);
    t.expect(a.intent_id === intent.id, `the charge matched the intent, not ${a.intent_id}`);
    txn = a.id;
  });

  await t.step("the transaction's page shows its checks and its hold", async () => {
    await page.goto(`/transactions/${txn}`);
    const text = (await page.textContent("main")).replace(/\s+/g, " ");
    for (const want of ["Dell", "$250.00", intent.id, "intent"]) {
      t.expect(text.includes(want), `the transaction's page should show ${want}: ${text.trim().slice(0, 400)}`);
    }
    await t.screenshot(page, "transaction.png");
  });

  await t.step("the overview shows the spend", async () => {
    await page.goto("/");
    const text = await page.textContent("main");
    t.expect(text.includes("$250.00"), `the overview should show today's $250.00: ${text.replace(/\s+/g, " ").trim()}`);
    await t.screenshot(page, "overview.png");
  });

  await t.step("sign-out ends the session", async () => {
    const csrf = JSON.parse(await page.getAttribute("body", "hx-headers"))["X-CSRF-Token"];
    await Promise.all([page.waitForURL((u) => u.pathname === "/signin"), page.getByRole("button", { name: "Sign out" }).click()]);
    await page.goto("/");
    t.expect(new URL(page.url()).pathname === "/signin", `after sign-out / should lead to /signin, not ${page.url()}`);
    const res = await page.request.get("/approvals/rows", { headers: { "HX-Request": "true" }, maxRedirects: 0 });
    t.expect(res.status() === 401, `after sign-out the queue's rows should be refused 401, not ${res.status()}`);
    // The old session is gone on the server too, not only its cookie.
    const replay = await page.request.post("/signout", { form: { csrf }, maxRedirects: 0 });
    t.expect(replay.status() === 401, `a post with the ended session should be refused 401, not ${replay.status()}`);
  });
}

// Only admin and viewer keys sign in: an agent's key and a wrong key are
// refused on the sign-in page with the reason.
async function signin(t) {
  const ctx = await t.context();
  const page = await ctx.newPage();
  for (const [key, want] of [[keys.agent, "only an admin or viewer key may sign in"], ["al_not_a_key", "unknown or revoked key"]]) {
    await t.step(`sign-in refuses ${key === keys.agent ? "the agent's key" : "a wrong key"}`, async () => {
      await page.goto("/signin");
      await page.fill('input[name="key"]', key);
      await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.click('button[type="submit"]')]);
      await page.waitForLoadState();
      t.expect(new URL(page.url()).pathname === "/signin", `still on /signin, not ${page.url()}`);
      const alert = (await page.locator('[role="alert"]').allTextContents()).join(" ");
      t.expect(alert.includes(want), `the page should say ${JSON.stringify(want)}, not ${JSON.stringify(alert)}`);
      await page.goto("/");
      t.expect(new URL(page.url()).pathname === "/signin", `not signed in: / leads to /signin, not ${page.url()}`);
    });
  }
}

// The operator edits the agent's policy (a bad value is refused beside its
// field and nothing is saved; a good one is saved exactly), then freezes a
// card: the network's next charge on it is declined CARD_FROZEN.
async function policyAndCards(t) {
  const rest = async (path) => {
    const res = await fetch(new URL(path, base), { headers: { Authorization: `Bearer ${keys.admin}` } });
    t.expect(res.status === 200, `GET ${path}: HTTP ${res.status}`);
    return res.json();
  };
  const admin = await t.context();
  const page = await t.step("the admin signs in", () => t.signIn(admin, keys.admin));

  await t.step("a bad daily limit is refused beside its field, and nothing is saved", async () => {
    await page.goto("/agents/buyer");
    await page.fill("#f-daily-limit", "1.005");
    await Promise.all([page.waitForLoadState(), page.getByRole("button", { name: "Save policy" }).click()]);
    await page.waitForSelector("#f-daily-limit-error");
    const err = await page.textContent("#f-daily-limit-error");
    t.expect(/decimal places/.test(err), `the error beside daily_limit should say why: ${err}`);
    t.expect((await page.inputValue("#f-daily-limit")) === "1.005", "the form keeps what was typed");
    const policy = await rest("/v1/agents/buyer/policy");
    t.expect(policy.policy.daily_limit === null, `nothing was saved: daily_limit is ${policy.policy.daily_limit}`);
  });

  await t.step("a good daily limit is saved, to the cent", async () => {
    await page.goto("/agents/buyer");
    await page.fill("#f-daily-limit", "400.25");
    await Promise.all([page.waitForLoadState(), page.getByRole("button", { name: "Save policy" }).click()]);
    const alerts = await page.locator('[role="alert"]').allTextContents();
    t.expect(alerts.length === 0, `the save should succeed: ${alerts.join(" ")}`);
    const policy = await rest("/v1/agents/buyer/policy");
    t.expect(policy.policy.daily_limit === 40025, `daily_limit should be 40025 cents, not ${policy.policy.daily_limit}`);
  });

  const agent = await t.agent("e2e-dashboard-cards");
  const card = await t.step("the agent has a card", () => agent.must("ledger_card", { action: "create", purpose: "freeze e2e" }));

  await t.step("the operator freezes the card, and the page says who froze it", async () => {
    await page.goto("/cards?agent_id=buyer");
    const row = page.locator(`#card-${card.id}`);
    await Promise.all([page.waitForLoadState(), row.getByRole("button", { name: "Freeze", exact: true }).click()]);
    const text = (await page.locator(`#card-${card.id}`).textContent()).replace(/\s+/g, " ");
    t.expect(text.includes("frozen"), `the card's row should say frozen: ${text}`);
    t.expect(text.includes("admin:"), `the card's row should say who froze it: ${text}`);
  });

  await t.step("a charge on the frozen card is declined CARD_FROZEN", async () => {
    const a = await t.network(card.id, 1000, "Dell");
    t.expect(a.status === "declined" && a.decline_code === "CARD_FROZEN",
      `the charge should be declined CARD_FROZEN, not ${a.status} ${a.decline_code ?? ""}`);
  });
}

// Every flow, in the order they run.
const flows = { signin, approvals, policyAndCards };

const chosen = process.argv.slice(2);
for (const name of chosen) if (!flows[name]) fail(`unknown flow ${name}; the flows are ${Object.keys(flows).join(", ")}`);

let browser;
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
} catch (e) {
  fail(`cannot start Chromium at ${executablePath}: ${e.message}`);
}
const t = new Run(browser);
let failed = false;
for (const name of chosen.length ? chosen : Object.keys(flows)) {
  t.flow = name;
  t.current = "(start)";
  try {
    await flows[name](t);
  } catch (e) {
    failed = true;
    const what = e instanceof ExpectationError ? e.message : e.stack;
    console.error(`FAIL ${name}: ${t.current}\n  ${what}`);
  }
  await t.endFlow();
  if (failed) break;
}
await browser.close();
if (failed) process.exit(1);
console.log(JSON.stringify({ flows: t.passed }));
