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
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { AxePuppeteer } from "@axe-core/puppeteer";

const [base, name, password, shots, resultsFile, messageId, citizenId] = process.argv.slice(2);
const chromium = process.env.CRIEUR_CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(shots, { recursive: true });

const results = { pages: [], keyboard: {}, problems: [] };
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "crieur-ui-"));
const problem = (what) => { results.problems.push(what); console.error("problem:", what); };

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // As root in CI, chromium's sandbox cannot start; the pages are ours, on 127.0.0.1.
  // No background traffic: the machine's closed network would refuse it, and slowly.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=fr-FR", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  userDataDir: profile,
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

  async function axeHere(label) { return check(label, null); }
  async function check(label, url, { shot = label } = {}) {
    const response = url === null ? null : await page.goto(base + url, { waitUntil: "networkidle0" });
    const status = response ? response.status() : 0;
    if (url === null) url = page.url().slice(base.length);
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
  // The overview's figures are what was sent (the C++ test says what it queued).
  const expected = JSON.parse(process.env.CRIEUR_UI_EXPECT || "{}");
  for (const [status, n] of Object.entries(expected)) {
    const shown = await page.$eval(`#h-day ~ table td[data-status=${status}]`, (e) => +e.textContent).catch(() => -1);
    if (shown !== n) problem(`the overview shows ${shown} ${status} in 24 h, ${n} were`);
  }
  results.overview = expected;
  await check("overview-en", "/ui/?lang=en");
  await page.goto(base + "/ui/?lang=fr");
  await check("messages", "/ui/messages");
  await check("messages-search", `/ui/messages?status=sent`);
  await check("messages-bad-input", `/ui/messages?since=hier`);
  await check("message", `/ui/messages/${encodeURIComponent(messageId)}`);
  // Found by its reference, typed in the search form, then opened from the list.
  if (process.env.CRIEUR_UI_REFERENCE) {
    await page.goto(base + "/ui/messages", { waitUntil: "networkidle0" });
    await page.type("#f-reference", process.env.CRIEUR_UI_REFERENCE);
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.keyboard.press("Enter")]);
    const links = await page.$$eval("table.list tbody a", (as) => as.map((a) => a.getAttribute("href")));
    results.found_by_reference = links;
    if (links.length !== 1) problem(`the reference found ${links.length} messages`);
    else {
      await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("table.list tbody a")]);
      const steps = await page.$$eval("ol.timeline li", (li) => li.map((l) => l.textContent.replace(/\s+/g, " ").trim()));
      results.timeline = steps;
      if (steps.length < 3) problem(`the timeline shows ${steps.length} steps`);
      await page.screenshot({ path: path.join(shots, "message-timeline.png"), fullPage: true });
    }
  }
  // A dead letter requeued from its row.
  await page.goto(base + "/ui/dead-letters", { waitUntil: "networkidle0" });
  await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("td.actions form[action$='/requeue'] button")]);
  results.requeued = await page.$eval(".flash", (e) => e.textContent).catch(() => "");
  if (!page.url().includes("done=requeued")) problem(`requeuing led to ${page.url()}`);
  // A journey's wait moved to another time.
  if (process.env.CRIEUR_UI_JOURNEY) {
    const j = process.env.CRIEUR_UI_JOURNEY;
    await check("journeys", "/ui/journeys");
    await check("journey", `/ui/journeys/${j}`);
    const before = await page.$eval("#journey-next", (e) => e.textContent.trim());
    await page.$eval("#f-at", (e) => { e.value = "2027-01-05T09:30"; });
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#reschedule")]);
    const after = await page.$eval("#journey-next time", (e) => e.getAttribute("datetime")).catch(() => "");
    results.journey_next = { before, after };
    if (after !== "2027-01-05T08:30:00.000Z") problem(`the journey's next move is ${after} after rescheduling`);
    await axeHere("journey-rescheduled");
  }
  await check("dead-letters", "/ui/dead-letters");
  await check("citizens", `/ui/citizens?id=${encodeURIComponent(citizenId)}`);
  // Erased at their request, once the id is typed again.
  await page.type("#f-confirm", citizenId);
  await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click(".danger-zone button")]);
  if (!page.url().includes("done=erased")) problem(`erasing led to ${page.url()}`);
  await axeHere("citizen-erased");
  await check("audit", "/ui/audit");
  await check("not-found", "/ui/nothing-here");

  // A campaign drawn on the map: a polygon clicked corner by corner over the town, previewed,
  // launched, followed until done, then resolved.
  const polygon = JSON.parse(process.env.CRIEUR_UI_POLYGON || "null");
  if (polygon) {
    await check("campaign-new", "/ui/campaigns/new?template=street_event");
    await page.waitForSelector("#map[data-ready]", { timeout: 20000 });
    const ready = await page.$eval("#map", (m) => +m.getAttribute("data-ready"));
    if (ready < 100) problem(`the map drew ${ready} citizens' points`);
    await page.click("[data-draw=polygon]");
    for (const [lng, lat] of polygon.slice(0, -1)) {
      const at = await page.evaluate((la, ln) => {
        const p = window.crieurMap.latLngToContainerPoint([la, ln]);
        const r = document.getElementById("map").getBoundingClientRect();
        return { x: r.left + p.x, y: r.top + p.y };
      }, lat, lng);
      await page.mouse.click(at.x, at.y);
    }
    await page.click("[data-draw=finish]");
    results.drawn_area = await page.$eval("#f-area", (e) => e.value);
    if (!results.drawn_area.includes("Polygon")) problem(`the drawing wrote ${results.drawn_area}`);
    await page.type("#f-service", "voirie");
    await page.type("#f-id", "coupure-ui-1");
    await page.screenshot({ path: path.join(shots, "campaign-drawn.png"), fullPage: true });
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#preview")]);
    results.preview_citizens = await page.$eval("[data-figure=citizens]", (e) => +e.textContent).catch(() => -1);
    results.preview_sms_segments = await page.$eval("[data-figure=sms_segments]", (e) => +e.textContent).catch(() => -1);
    await axeHere("campaign-preview");
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#launch")]);
    if (!page.url().includes("/ui/campaigns/coupure-ui-1?done=launched")) problem(`launching led to ${page.url()}`);
    await axeHere("campaign");
    let state = "";
    for (let i = 0; i < 60 && state !== "done"; ++i) {
      await new Promise((r) => setTimeout(r, 1000));
      await page.goto(base + "/ui/campaigns/coupure-ui-1", { waitUntil: "networkidle0" });
      state = await page.$eval("#campaign-state", (e) => e.getAttribute("data-state"));
    }
    results.campaign_state = state;
    if (state !== "done") problem(`the campaign is ${state} after 60 s`);
    await page.screenshot({ path: path.join(shots, "campaign-done.png"), fullPage: true });
    // The resolution: its template chosen, its values as given, "the incident is over" ticked.
    await page.select("#f-followup-template", "street_event_resolved");
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#h-followup-new ~ form button")]);
    await page.click("#f-resolved");
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#followup-send")]);
    if (!page.url().includes("done=followed_up")) problem(`the resolution led to ${page.url()}`);
    await axeHere("campaign-resolved");

    // A polygon that crosses itself is refused, with the reason, and nothing is launched.
    await page.goto(base + "/ui/campaigns/new?template=street_event", { waitUntil: "networkidle0" });
    await page.$eval("#f-area", (e) => { e.value = '{"type":"Polygon","coordinates":[[[4.82,45.73],[4.87,45.78],[4.87,45.73],[4.82,45.78],[4.82,45.73]]]}'; });
    await page.type("#f-service", "voirie");
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#launch")]);
    const refusal = await page.$eval("#form-errors", (e) => e.textContent).catch(() => "");
    results.self_crossing = refusal.trim();
    if (!/not a valid polygon/.test(refusal)) problem(`a self-crossing polygon was answered: ${refusal}`);
    await axeHere("campaign-invalid");

    // The keyboard alone through the campaign form, in order.
    await page.goto(base + "/ui/campaigns/new?template=street_event", { waitUntil: "networkidle0" });
    await page.focus("#f-template");
    // The template's variables come in the manifest's order (alphabetical in TOML's table).
    const wantForm = ["f-data-advice", "f-data-ends", "f-data-event", "f-data-info_url", "f-data-starts", "f-data-street",
                      "f-area", "f-circle_lat", "f-circle_lon", "f-circle_radius", "f-street", "f-postcode", "f-district", "f-tags",
                      "f-channel-sms", "f-priority", "f-service", "f-reference", "f-id", "f-not_before", "f-deadline", "preview", "launch"];
    const path2 = [];
    for (let i = 0; i < 200 && path2[path2.length - 1] !== "launch"; ++i) {
      await page.keyboard.press("Tab");
      const info = await page.evaluate(() => {
        const e = document.activeElement;
        const s = getComputedStyle(e);
        return { id: e.id || e.getAttribute("data-draw") || e.tagName, outline: s.outlineStyle, shadow: s.boxShadow };
      });
      if (path2[path2.length - 1] === info.id) continue;
      path2.push(info.id);
      if (info.outline === "none" && info.shadow === "none") problem(`no visible focus on ${info.id}`);
    }
    results.keyboard.campaign_form = path2;
    const inOrder = wantForm.filter((id) => path2.includes(id));
    if (JSON.stringify(inOrder) !== JSON.stringify(wantForm) ||
        JSON.stringify(path2.filter((id) => wantForm.includes(id))) !== JSON.stringify(wantForm))
      problem(`the keyboard went ${path2.join(",")}`);
    for (const b of ["polygon", "finish", "circle", "clear"])
      if (b !== "finish" && !path2.includes(b)) problem(`the map's ${b} button is not reachable with the keyboard`);
  }

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
  fs.rmSync(profile, { recursive: true, force: true });
}
fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2));
if (results.problems.length) exitCode = 1;
process.exit(exitCode);
