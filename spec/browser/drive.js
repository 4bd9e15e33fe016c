// Drives Debian's chromium (headless, through playwright-core) through one
// scenario of the dashboard for spec/dashboard_spec.lua, and prints what it
// saw as one JSON line. Usage: node drive.js SCENARIO, with DASH_URL,
// DASH_QUEUE, DASH_ID and DASH_TOKEN in the environment. Every wait has a
// deadline; a scenario that cannot finish exits 1 and says where it stopped.
"use strict";

const { chromium } = require("playwright-core");

const WAIT_MS = 15000;
const env = process.env;
const base = env.DASH_URL;
const queuePath = (part) => "/#/queue/" + encodeURIComponent(env.DASH_QUEUE) + "/" + part;

async function statusText(page) {
  await page.waitForFunction(() => document.getElementById("status").textContent !== "", null,
    { timeout: WAIT_MS });
  return page.textContent("#status");
}

async function clickAction(page, part, action) {
  await page.goto(base + queuePath(part));
  const row = page.locator(`#jobs tr[data-id="${env.DASH_ID}"]`);
  await row.waitFor({ timeout: WAIT_MS });
  await row.locator(`button[data-action="${action}"]`).click({ timeout: WAIT_MS });
  return statusText(page);
}

const scenarios = {
  // The overview's figures for the queue, as the page shows them.
  async overview(page) {
    await page.goto(base + "/");
    const row = page.locator(`#queues tr[data-queue="${env.DASH_QUEUE}"]`);
    await row.waitFor({ timeout: WAIT_MS });
    const out = {};
    for (const k of ["pending", "scheduled", "inflight", "failed", "broken"])
      out[k] = Number(await row.locator("td." + k).textContent());
    return out;
  },
  // Enters the token, then requeues the failed job DASH_ID.
  async requeue(page) {
    await page.goto(base + "/");
    await page.fill("#token", env.DASH_TOKEN, { timeout: WAIT_MS });
    await page.click("#token-form button", { timeout: WAIT_MS });
    return { status: await clickAction(page, "failed", "requeue") };
  },
  // The same without entering the token.
  async requeue_without_token(page) {
    return { status: await clickAction(page, "failed", "requeue") };
  },
  // Shows the pending job DASH_ID (its row and its JSON); reports whether
  // any script of the payload ran and what the page shows of it.
  async payload(page) {
    const dialogs = [];
    page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
    await page.goto(base + queuePath("pending"));
    const row = page.locator(`#jobs tr[data-id="${env.DASH_ID}"]`);
    await row.waitFor({ timeout: WAIT_MS });
    await row.click({ timeout: WAIT_MS });
    await page.locator("pre.job-json").waitFor({ timeout: WAIT_MS });
    return {
      ran: await page.evaluate(() => window.hworkerPwned === true),
      dialogs,
      shown: await page.textContent("pre.job-json"),
      scripts: await page.evaluate(() => document.querySelectorAll("main script, main img").length),
    };
  },
};

async function main() {
  const scenario = scenarios[process.argv[2]];
  if (!scenario) throw new Error("no scenario " + process.argv[2] + ": " + Object.keys(scenarios).join(", "));
  const browser = await chromium.launch({ executablePath: env.CHROMIUM || "/usr/bin/chromium", headless: true,
    timeout: WAIT_MS });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const out = await scenario(page);
    out.page_errors = errors;
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write("drive.js: " + (e && e.stack || e) + "\n");
  process.exit(1);
});
