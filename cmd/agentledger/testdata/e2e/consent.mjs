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

// consent opens authorizationUrl as a fresh browser context, signs in with
// adminKey, checks that the consent page names the client and its redirect
// URI, picks agentName and answers (decision "allow" or "deny"; readOnly
// narrows). It resolves once the browser has been sent back to the client's
// redirect URI, with that URL and what the page showed. With deliver, the
// browser goes on to the redirect URI (a client listening there, such as
// mcp-remote, gets its code); without, the caller takes the code from url.
export async function consent(browser, authorizationUrl, { adminKey, agentName, decision = "allow", readOnly = false, deliver = false }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const redirect = new URL(authorizationUrl).searchParams.get("redirect_uri");
  const back = new Promise((resolve) => {
    // The answer is a redirect to the client; catch it before the browser
    // loads it, whether or not something listens there.
    page.route(
      (url) => redirect && url.href.startsWith(redirect),
      (route) => {
        resolve(route.request().url());
        if (deliver) route.continue();
        else route.fulfill({ status: 200, contentType: "text/plain", body: "back at the client" });
      },
    );
  });
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
    await page.click(`button[name=decision][value=${decision}]`);
    const url = await Promise.race([
      back,
      new Promise((_, reject) => setTimeout(() => reject(new Error("the browser was not sent back to the client")), timeout)),
    ]);
    return { url, shown };
  } finally {
    await context.close();
  }
}
