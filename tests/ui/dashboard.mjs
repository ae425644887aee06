// The dashboard in a real browser: Debian's chromium, headless, driven by puppeteer-core, against
// a crieurd that tests/integration/dashboard_test.cpp started with Redis, SQLite and some data.
// Each page is checked by axe-core for WCAG 2.1 A and AA (the rules RGAA 4.1 builds on), saved
// as a screenshot, and the search form is walked with the keyboard alone.
//
//   node dashboard.mjs <base url> <operator> <password> <screenshots dir> <results.json> <message id> <citizen id>
//
// Exit code 0 when every check held; the results (violations per page, the keyboard's path)
// are written as JSON for the C++ test to read and print.
import fs from "node:fs";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { AxePuppeteer } from "@axe-core/puppeteer";

const [base, name, password, shots, resultsFile, messageId, citizenId] = process.argv.slice(2);
const chromium = process.env.CRIEUR_CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(shots, { recursive: true });

const results = { pages: [], keyboard: {}, problems: [] };
const problem = (what) => { results.problems.push(what); console.error("problem:", what); };

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // As root in CI, chromium's sandbox cannot start; the pages are ours, on 127.0.0.1.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=fr-FR"],
});
let exitCode = 0;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  // No script may break the CSP: a violation is a failure, as is any error on the page.
  page.on("console", (m) => {
    // A page's own 404 or 422 is the test's point; what it loads (styles, scripts, images) must load.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problem(`console error on ${page.url()}: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.request().resourceType() !== "document" && r.status() >= 400) problem(`${r.url()} answered ${r.status()}`);
  });
  page.on("requestfailed", (r) => problem(`${r.url()} failed: ${r.failure() && r.failure().errorText}`));
  page.on("pageerror", (e) => problem(`script error on ${page.url()}: ${e.message}`));

  async function check(label, url, { shot = label } = {}) {
    const response = await page.goto(base + url, { waitUntil: "networkidle0" });
    const status = response ? response.status() : 0;
    const axe = await new AxePuppeteer(page).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
    const violations = axe.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
                                                    targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    await page.screenshot({ path: path.join(shots, `${shot}.png`), fullPage: true });
    results.pages.push({ page: label, url, status, violations, passes: axe.passes.length });
    if (violations.length) problem(`${label}: ${violations.length} axe violation(s): ${JSON.stringify(violations)}`);
    return status;
  }

  // The sign-in page, then signing in with the keyboard.
  await check("login", "/ui/login");
  await page.focus("#name");
  await page.keyboard.type(name);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.keyboard.press("Enter")]);
  if (!page.url().endsWith("/ui/")) problem(`signing in with the keyboard led to ${page.url()}`);

  await check("overview", "/ui/");
  // The live refresh puts the figures in place without a reload (the script, under the CSP).
  await page.evaluate(() => { document.querySelector(".updated").setAttribute("data-before", "1"); });
  await page.waitForFunction(() => !document.querySelector(".updated[data-before]"), { timeout: 20000 })
    .catch(() => problem("the overview did not refresh itself within 20 s"));
  await check("overview-en", "/ui/?lang=en");
  await page.goto(base + "/ui/?lang=fr");
  await check("messages", "/ui/messages");
  await check("messages-search", `/ui/messages?status=sent`);
  await check("messages-bad-input", `/ui/messages?since=hier`);
  await check("message", `/ui/messages/${encodeURIComponent(messageId)}`);
  await check("dead-letters", "/ui/dead-letters");
  await check("citizens", `/ui/citizens?id=${encodeURIComponent(citizenId)}`);
  await check("audit", "/ui/audit");
  await check("not-found", "/ui/nothing-here");

  // The keyboard alone through the search form: Tab reaches every control in order, each with
  // a visible focus indicator.
  await page.goto(base + "/ui/messages", { waitUntil: "networkidle0" });
  await page.focus("a.skip");
  const want = ["f-reference", "f-citizen", "f-campaign", "f-template", "f-since", "f-until", "f-status"];
  const reached = [];
  for (let i = 0; i < 60 && reached.length < want.length; ++i) {
    await page.keyboard.press("Tab");
    const info = await page.evaluate(() => {
      const e = document.activeElement;
      const s = getComputedStyle(e);
      return { id: e.id, tag: e.tagName, outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow };
    });
    // A date field is several stops (day, month, year, hour...): each field counts once.
    if (!info.id || !want.includes(info.id) || reached[reached.length - 1] === info.id) continue;
    reached.push(info.id);
    if (info.outline === "none" && info.shadow === "none") problem(`no visible focus on #${info.id}`);
  }
  // The date fields take several Tab presses (day, month, year...): reaching them in order is what counts.
  results.keyboard.search_form = reached;
  if (JSON.stringify(reached) !== JSON.stringify(want)) problem(`the keyboard reached ${reached.join(",")} instead of ${want.join(",")}`);
  // Filled and sent with the keyboard: Enter in a field submits the form.
  await page.focus("#f-reference");
  await page.keyboard.type("no-such-reference");
  await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.keyboard.press("Enter")]);
  if (!page.url().includes("reference=no-such-reference")) problem(`Enter did not search: ${page.url()}`);

  // Signing out with the keyboard: the button is reachable and works.
  await page.focus("header form button");
  await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.keyboard.press("Enter")]);
  if (!page.url().includes("/ui/login")) problem(`signing out led to ${page.url()}`);
  const back = await page.goto(base + "/ui/audit");
  if (!page.url().includes("/ui/login")) problem(`after signing out, /ui/audit answered ${back.status()} at ${page.url()}`);
} catch (e) {
  problem(`the run stopped: ${e.stack || e}`);
} finally {
  await browser.close();
}
fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2));
if (results.problems.length) exitCode = 1;
process.exit(exitCode);
