// The sandbox page: builds the run input, shows the cards the way an EHR does, and sends real feedback.
// No framework and no CDN. Every value from a card is set as text, except the card detail, which the
// service rendered from markdown with raw HTML disabled (detailHtml).
"use strict";

const $ = (id) => document.getElementById(id);
let fixtures = [];
let lastRun = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function todayIso() {
  const now = new Date();
  const local = new Date(now.getTime() - now.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

function source() {
  return document.querySelector("input[name=source]:checked").value;
}

function parseJsonField(id, what) {
  const text = $(id).value.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${error.message}`);
  }
}

function showPanels() {
  for (const panel of document.querySelectorAll(".source-panel")) {
    panel.hidden = panel.dataset.source !== source();
  }
  const hook = $("hook").value;
  $("drafts-fieldset").hidden = hook === "patient-view" || source() === "request";
  renderFixtureDrafts();
}

function renderFixtureDrafts() {
  const box = $("fixture-drafts");
  box.replaceChildren();
  const hook = $("hook").value;
  if (hook === "patient-view" || source() !== "fixture") return;
  const fixture = fixtures.find((f) => f.id === $("fixture").value);
  if (!fixture) return;
  const drafts = fixture.drafts[hook] || [];
  const intro = hook === "order-select"
    ? "The fixture's draft orders; ticked ones are selected (order-select):"
    : "The fixture's draft orders (order-sign reviews all of them):";
  box.append(el("p", { class: "muted", text: intro }));
  for (const draft of drafts) {
    const box2 = el("input", { type: "checkbox", name: "selection", value: draft.reference });
    box2.checked = draft.selected;
    if (hook === "order-sign") box2.disabled = true;
    box.append(el("label", {}, box2, ` ${draft.label} (${draft.reference})`));
  }
}

function showStory() {
  const fixture = fixtures.find((f) => f.id === $("fixture").value);
  $("fixture-story").textContent = fixture ? fixture.story : "";
  renderFixtureDrafts();
}

async function loadFixtures() {
  const response = await fetch("/sandbox/api/fixtures");
  fixtures = (await response.json()).fixtures;
  $("fixture").replaceChildren(...fixtures.map((f) => el("option", { value: f.id, text: f.id })));
  showStory();
}

function runInput() {
  const input = { hook: $("hook").value, today: $("today").value || undefined, source: source() };
  const drafts = $("drafts-fieldset").hidden ? undefined : parseJsonField("drafts", "The draft orders");
  if (drafts !== undefined) input.drafts = drafts;
  if (input.source === "fixture") {
    input.fixture = $("fixture").value;
    if (input.hook === "order-select" && drafts === undefined) {
      input.selections = [...document.querySelectorAll("input[name=selection]:checked")].map((box) => box.value);
    }
  } else if (input.source === "bundle") {
    input.bundle = parseJsonField("bundle", "The Bundle");
    const patient = $("bundle-patient").value.trim();
    if (patient) input.patientId = patient;
  } else if (input.source === "request") {
    input.request = parseJsonField("request", "The request");
  } else {
    input.fhirServer = $("fhir-server").value.trim();
    input.patientId = $("fhir-patient").value.trim();
  }
  return input;
}

async function run(event) {
  event.preventDefault();
  const status = $("run-status");
  status.className = "";
  let input;
  try {
    input = runInput();
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
    return;
  }
  status.textContent = "Running...";
  $("run").disabled = true;
  try {
    const response = await fetch("/sandbox/api/run", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(input),
    });
    const body = await response.json();
    if (!response.ok) {
      status.className = "error";
      status.textContent = `${response.status}: ${body.message || "the input was refused"}`;
      return;
    }
    lastRun = body;
    status.textContent = "";
    showRun(body);
  } catch (error) {
    status.className = "error";
    status.textContent = `The sandbox could not be reached: ${error.message}`;
  } finally {
    $("run").disabled = false;
  }
}

function showRun(run) {
  $("results").hidden = false;
  $("request-json").textContent = JSON.stringify(run.request, null, 2);
  $("response-json").textContent = JSON.stringify(run.response, null, 2);
  $("response-status").textContent = `(HTTP ${run.status}, service ${run.serviceId})`;
  renderWhy(run.explanation);
  const cards = $("cards");
  cards.replaceChildren();
  if (run.status !== 200) {
    $("card-count").textContent = "";
    cards.append(el("p", { class: "error", text: `The service answered ${run.status}: ${run.response.message}` }));
    return;
  }
  const list = run.response.cards || [];
  $("card-count").textContent = `(${list.length})`;
  if (!list.length) cards.append(el("p", { class: "muted", text: "No cards: the patient is outside the pathway, or nothing is due." }));
  for (const card of list) cards.append(renderCard(card, run));
  const issues = Object.entries(run.response.extension || {}).find(([key]) => key.endsWith("data-issues"));
  if (issues) {
    const box = el("div", { class: "card data-issues" }, el("p", { class: "summary", text: `Input left out of the evaluation (${issues[1].length})` }));
    const items = el("ul");
    for (const issue of issues[1]) items.append(el("li", { text: `${issue.where}: ${issue.problem}` }));
    box.append(items);
    cards.append(box);
  }
}

// The "Why?" view: the explanation of the same evaluation (explain mode, issue 19), every value as text.
function renderWhy(explanation) {
  const list = $("why");
  list.replaceChildren();
  if (!explanation) return;
  for (const node of explanation.nodes) {
    const details = el("details", { class: "why-detail" },
      el("summary", {}, el("span", { class: `outcome ${node.outcome}`, text: node.outcome }),
        el("span", { class: "why-title", text: ` ${node.title} (${node.id}): ` }), el("span", { text: node.why })));
    details.append(el("p", { class: "muted seed", text: `Seed: "${node.seed_quote}" (${node.seed_heading})` }));
    for (const rule of node.rules) {
      const conditions = el("ul", { class: "conditions" });
      for (const c of rule.conditions) {
        const item = el("li", { class: `condition ${c.holds ? "holds" : "fails"}`, "data-condition": c.condition },
          el("strong", { text: `${c.condition}: ${c.answer}` }), el("span", { text: ` (${c.reason}) ` }),
          el("span", { class: "muted", text: c.question }));
        const facts = el("ul");
        for (const s of c.settings) facts.append(el("li", { text: `setting ${s.name} = ${s.value} (${s.source})` }));
        for (const r of c.records) facts.append(el("li", { class: "record", text: `${r.origin}: ${r.reference || "-"} ${r.label} (${r.date || "no date"})` }));
        for (const ref of c.left_out) facts.append(el("li", { text: `left out: ${ref}` }));
        if (facts.children.length) item.append(facts);
        conditions.append(item);
      }
      details.append(el("p", { text: `Rule ${rule.rule}: ${rule.fired ? "held" : "did not hold"}. ${rule.trigger}` }), conditions);
    }
    list.append(el("li", { class: "why-node", "data-node": node.id, "data-outcome": node.outcome }, details));
  }
}

function describeAction(action) {
  const row = el("div", { class: "action" }, el("span", { class: "type", text: action.type }), action.description);
  const resource = action.resource;
  if (resource) {
    const codes = ((resource.code || {}).coding || []).map((c) => `${c.system}|${c.code}`).join(", ");
    const what = `${resource.resourceType}${resource.id ? "/" + resource.id : ""}${codes ? " (" + codes + ")" : ""}`;
    row.append(el("div", { class: "muted", text: `${action.type === "create" ? "creates" : "updates"} ${what}` }));
  } else if (action.resourceId) {
    row.append(el("div", { class: "muted", text: `deletes ${action.resourceId}` }));
  }
  return row;
}

function renderCard(card, run) {
  const node = ((card.source || {}).topic || {}).code || "";
  const box = el("article", { class: `card ${card.indicator}`, "data-node": node, "data-uuid": card.uuid });
  box.append(el("p", {}, el("span", { class: "indicator", text: card.indicator }), el("span", { class: "summary", text: card.summary })));
  if (card.detail) {
    const detail = el("div", { class: "detail" });
    detail.innerHTML = run.detailHtml[card.uuid] || "";
    box.append(detail);
  }
  const source = card.source || {};
  const sourceLine = el("p", { class: "source muted" }, "Source: ");
  if (source.url && /^https?:\/\//.test(source.url)) {
    sourceLine.append(el("a", { href: source.url, target: "_blank", rel: "noopener noreferrer", text: source.label }));
  } else {
    sourceLine.append(source.label || "");
  }
  if (node) sourceLine.append(` (node ${node})`);
  box.append(sourceLine);
  const status = el("p", { class: "feedback-status", role: "status" });
  for (const suggestion of card.suggestions || []) {
    const accept = el("button", { type: "button", class: "accept", text: "Accept" });
    accept.addEventListener("click", () => sendFeedback(card, run, status, {
      outcome: "accepted", acceptedSuggestions: [{ id: suggestion.uuid }],
    }, `accepted "${suggestion.label}"`));
    const row = el("div", { class: "suggestion" },
      el("div", {}, accept, " ", el("span", { text: suggestion.label }),
        suggestion.isRecommended ? el("span", { class: "recommended", text: "recommended" }) : null));
    for (const action of suggestion.actions || []) row.append(describeAction(action));
    box.append(row);
  }
  if (card.selectionBehavior) box.append(el("p", { class: "muted", text: `Selection: ${card.selectionBehavior}` }));
  const reasons = card.overrideReasons || [];
  const select = el("select", { class: "override-reason", "aria-label": "override reason" },
    el("option", { value: "", text: reasons.length ? "Choose a reason..." : "(no coded reasons on this card)" }));
  reasons.forEach((reason, index) => select.append(el("option", { value: String(index), text: reason.display })));
  const comment = el("input", { type: "text", class: "override-comment", placeholder: "Comment (optional)", "aria-label": "comment" });
  const dismiss = el("button", { type: "button", class: "dismiss-button", text: "Dismiss" });
  dismiss.addEventListener("click", () => {
    const overrideReason = {};
    if (select.value !== "") overrideReason.reason = reasons[Number(select.value)];
    if (comment.value.trim()) overrideReason.userComment = comment.value.trim();
    const entry = { outcome: "overridden" };
    if (Object.keys(overrideReason).length) entry.overrideReason = overrideReason;
    const why = overrideReason.reason ? ` (${overrideReason.reason.display})` : "";
    sendFeedback(card, run, status, entry, `dismissed${why}`);
  });
  box.append(el("div", { class: "dismiss" }, select, comment, dismiss), status);
  return box;
}

async function sendFeedback(card, run, status, entry, what) {
  const body = { feedback: [{ card: card.uuid, outcomeTimestamp: new Date().toISOString(), ...entry }] };
  status.className = "feedback-status";
  status.textContent = "Sending...";
  const log = $("feedback-log");
  if (log.querySelector(".muted")) log.replaceChildren();
  try {
    const response = await fetch(`/cds-services/${encodeURIComponent(run.serviceId)}/feedback`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json();
    const ok = response.ok;
    status.className = `feedback-status ${ok ? "ok" : "error"}`;
    status.textContent = ok ? `Feedback stored: ${what}` : `Feedback refused (${response.status}): ${answer.message}`;
    log.append(el("li", { text: `${card.summary}: ${what}: HTTP ${response.status} ${JSON.stringify(answer)}` }));
  } catch (error) {
    status.className = "feedback-status error";
    status.textContent = `Feedback not sent: ${error.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("today").value = todayIso();
  for (const radio of document.querySelectorAll("input[name=source]")) radio.addEventListener("change", showPanels);
  $("hook").addEventListener("change", showPanels);
  $("fixture").addEventListener("change", showStory);
  $("run-form").addEventListener("submit", run);
  loadFixtures().then(showPanels).catch((error) => {
    $("run-status").className = "error";
    $("run-status").textContent = `Fixtures not loaded: ${error.message}`;
  });
});
