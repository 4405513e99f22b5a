// The operator's part of an OAuth connection, in headless Chromium: open the
// authorization URL a client produced, sign in to the dashboard with an
// admin key, and answer the consent page. Used by the OAuth e2e scripts.
import { chromium } from "playwright-core";

const timeout = 10_000;

// launch starts the browser; close it with browser.close().
export async function launch(executablePath = process.env.CHROMIUM || "/usr/bin/chromium") {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

// consent opens authorizationUrl in a fresh browser context, signs in with
// adminKey, picks agentName on the consent page and answers (decision
// "allow" or "deny"; readOnly narrows). It resolves once the browser has
// been sent back to the client's redirect URI, with that URL and what the
// page showed. With deliver, it waits for the client listening there (such
// as mcp-remote) to answer, so that the client has its code; without, the
// caller takes the code from url.
export async function consent(browser, authorizationUrl, { adminKey, agentName, decision = "allow", readOnly = false, deliver = false }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const redirect = new URL(authorizationUrl).searchParams.get("redirect_uri");
  try {
    await page.goto(authorizationUrl);
    if (new URL(page.url()).pathname === "/signin") {
      await page.fill("#key", adminKey);
      await Promise.all([page.waitForURL((u) => u.pathname === "/oauth/authorize"), page.click("button[type=submit]")]);
    }
    const shown = {
      title: await page.title(),
      text: await page.locator("main").innerText(),
    };
    if (!(await page.locator("form.consent-form").count())) {
      throw new Error(`no consent form: ${shown.text}`);
    }
    const value = await page.locator("#agent option", { hasText: `${agentName} (` }).first().getAttribute("value");
    await page.selectOption("#agent", value);
    if (readOnly) await page.check("input[name=access][value=read]");
    // The answer is a 303 to the client. page.route never sees where a
    // redirect leads, so watch for the request the browser makes there.
    const [back] = await Promise.all([
      page.waitForRequest((req) => redirect && req.url().startsWith(redirect)),
      page.click(`button[name=decision][value=${decision}]`),
    ]);
    if (deliver && !(await back.response())) {
      throw new Error(`the client did not answer at its redirect URI: ${back.failure()?.errorText}`);
    }
    return { url: back.url(), shown };
  } finally {
    await context.close();
  }
}
