// Drives the sandbox page in Debian's Chromium (never a downloaded browser) for tests/test_sandbox_browser.py:
// open the page, pick a fixture, run, read the cards, dismiss one with a reason, run again.
//   node tests/browser/sandbox.mjs BASE_URL FIXTURE NODE_TO_DISMISS [SCREENSHOT.png]
// Prints one JSON object with what the page showed. Any request to another origin is blocked and listed.
import { chromium } from "playwright-core";

const [base, fixture, dismissNode, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const seen = { external: [], errors: [] };
try {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(30000);
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base + "/")) return route.continue();
    seen.external.push(url);
    return route.abort();
  });
  page.on("console", (message) => { if (message.type() === "error") seen.errors.push(message.text()); });
  page.on("pageerror", (error) => seen.errors.push(String(error)));

  await page.goto(`${base}/sandbox`);
  await page.waitForSelector(`#fixture option[value="${fixture}"]`, { state: "attached" });
  await page.selectOption("#fixture", fixture);
  await page.selectOption("#hook", "patient-view");
  seen.story = await page.textContent("#fixture-story");
  await page.click("#run");
  await page.waitForSelector("#cards article.card");

  const readCards = () => page.$$eval("#cards article.card", (cards) => cards.map((card) => ({
    node: card.dataset.node,
    uuid: card.dataset.uuid,
    indicator: card.querySelector(".indicator").textContent,
    colour: getComputedStyle(card).borderLeftColor,
    summary: card.querySelector(".summary").textContent,
    detailHtml: card.querySelector(".detail") ? card.querySelector(".detail").innerHTML : "",
    detailText: card.querySelector(".detail") ? card.querySelector(".detail").innerText : "",
    sourceHref: card.querySelector(".source a") ? card.querySelector(".source a").getAttribute("href") : null,
    suggestions: [...card.querySelectorAll(".suggestion")].map((s) => s.innerText),
    reasons: [...card.querySelectorAll("select.override-reason option")].slice(1).map((o) => o.textContent),
  })));
  seen.cards = await readCards();
  // The "Why?" view: every node, fired first; opening one shows its questions, answers and records.
  seen.why = await page.$$eval("#why li.why-node", (items) => items.map((li) => ({
    node: li.dataset.node, outcome: li.dataset.outcome, open: li.querySelector("details").open })));
  const closedNode = seen.why.find((n) => n.outcome === "did-not-fire");
  if (closedNode) {
    const item = page.locator(`#why li.why-node[data-node="${closedNode.node}"]`);
    await item.locator("summary").click();
    seen.whyOpened = { node: closedNode.node, open: await item.locator("details").evaluate((d) => d.open),
      conditions: await item.locator("li.condition").evaluateAll((cs) => cs.map((c) => ({
        condition: c.dataset.condition, holds: c.classList.contains("holds"), visible: c.offsetParent !== null,
        text: c.innerText }))) };
  }
  seen.rawRequest = await page.textContent("#request-json");
  seen.rawResponse = await page.textContent("#response-json");

  const card = page.locator(`#cards article.card[data-node="${dismissNode}"]`);
  await card.locator("select.override-reason").selectOption({ index: 1 });
  seen.dismissedWith = await card.locator("select.override-reason option:checked").textContent();
  await card.locator("input.override-comment").fill("dismissed from the browser test");
  await card.locator("button.dismiss-button").click();
  await card.locator(".feedback-status.ok").waitFor();
  seen.feedbackStatus = await card.locator(".feedback-status").textContent();
  seen.feedbackLog = await page.textContent("#feedback-log");
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // The same chart opened again: the dismissed node is snoozed.
  const before = seen.rawResponse;
  await page.click("#run");
  await page.waitForFunction((old) => document.querySelector("#response-json").textContent !== old, before);
  seen.cardsAfter = (await readCards()).map((c) => c.node);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen) + "\n");
