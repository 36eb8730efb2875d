// The exam builder: sections (chosen items or a random draw from a pool), timing, window, delivery,
// attempts, pass mark and result release; saves with POST/PUT /api/v1/exams and publishes.
import {api, ApiError, pageData} from "./api.js";
import {el, plain} from "./render.js";

const page = pageData();
const $ = (id) => document.getElementById(id);
let examId = page.exam_id;
let exam = null;
let sections = [];
let banks = [];
const titles = new Map();
let dirty = false;

const SCHEMA_KEYS = ["title", "description", "sections", "shuffle_options", "time_limit_s", "grace_s", "navigation",
                     "presentation", "opens_at", "closes_at", "on_close", "max_attempts", "cooldown_s", "pass", "release",
                     "second_connection", "proctoring", "achievement_id", "adaptive"];

function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value) { return value ? new Date(value).toISOString() : null; }

function numberOrNull(id, factor = 1) {
  const raw = $(id).value.trim();
  return raw === "" ? null : Math.round(Number(raw) * factor);
}

function fill(defn) {
  $("title").value = defn.title || "";
  $("description").value = defn.description || "";
  $("time_limit_min").value = defn.time_limit_s ? Math.round(defn.time_limit_s / 60) : "";
  $("grace_s").value = defn.grace_s ?? 3;
  $("opens_at").value = toLocalInput(defn.opens_at);
  $("closes_at").value = toLocalInput(defn.closes_at);
  $("on_close").value = defn.on_close || "keep_time";
  $("presentation").value = defn.presentation || "one_at_a_time";
  $("navigation").value = defn.navigation || "free";
  $("second_connection").value = defn.second_connection || "takeover";
  $("proctoring").value = defn.proctoring?.level || "none";
  $("shuffle_options").checked = defn.shuffle_options ?? true;
  $("max_attempts").value = defn.max_attempts ?? "";
  $("cooldown_min").value = defn.cooldown_s ? Math.round(defn.cooldown_s / 60) : 0;
  const pass = defn.pass || defn.pass_policy;
  $("pass_mode").value = pass ? pass.mode || "percentage" : "";
  $("cut_score").value = pass ? pass.cut_score : "";
  sections = (defn.sections || []).map((s) => ({...s, source: s.pool ? "pool" : "items", items: s.items || [],
                                                 pool: s.pool || {bank_ids: [], types: [], tags: []}}));
  if (!sections.length) sections.push(newSection());
  drawSections();
}

function newSection() {
  let n = sections.length + 1;
  while (sections.some((s) => s.id === `s${n}`)) n += 1;
  return {id: `s${n}`, title: "", source: "items", items: [], pool: {bank_ids: [], types: [], tags: []}, draw: 5,
          shuffle_items: false, min_score_pct: null};
}

function collect() {
  const defn = {};
  for (const key of SCHEMA_KEYS) if (exam?.definition && key in exam.definition) defn[key] = exam.definition[key];
  if (exam?.definition?.pass_policy !== undefined) defn.pass = exam.definition.pass_policy;
  Object.assign(defn, {
    title: $("title").value.trim(), description: $("description").value,
    sections: sections.map((s) => {
      const out = {id: s.id.trim(), title: s.title, shuffle_items: !!s.shuffle_items, min_score_pct: s.min_score_pct ?? null};
      if (s.source === "pool") {
        out.pool = {bank_ids: s.pool.bank_ids || [], types: s.pool.types || [], tags: s.pool.tags || []};
        out.draw = s.draw;
      } else {
        out.items = s.items;
      }
      return out;
    }),
    shuffle_options: $("shuffle_options").checked,
    time_limit_s: numberOrNull("time_limit_min", 60), grace_s: numberOrNull("grace_s") ?? 3,
    opens_at: fromLocalInput($("opens_at").value), closes_at: fromLocalInput($("closes_at").value), on_close: $("on_close").value,
    presentation: $("presentation").value, navigation: $("navigation").value, second_connection: $("second_connection").value,
    proctoring: {level: $("proctoring").value, settings: exam?.definition?.proctoring?.settings || {}},
    max_attempts: numberOrNull("max_attempts"), cooldown_s: numberOrNull("cooldown_min", 60) ?? 0,
    pass: $("pass_mode").value ? {mode: $("pass_mode").value, cut_score: Number($("cut_score").value || 0)} : null,
    release: $("release").value,
  });
  for (const key of Object.keys(defn)) if (!SCHEMA_KEYS.includes(key)) delete defn[key];
  return defn;
}

// --- sections ------------------------------------------------------------------------------------------

async function titleOf(itemId) {
  if (!titles.has(itemId)) {
    titles.set(itemId, api("GET", `/api/v1/items/${itemId}`).then((v) => `${v.title} (${v.type.replaceAll("_", " ")})`)
      .catch(() => `Item ${itemId}`));
  }
  return titles.get(itemId);
}

function drawSections() {
  const root = $("sections");
  root.replaceChildren(...sections.map((s, index) => sectionBlock(s, index)));
}

function sectionBlock(s, index) {
  const p = `s${index}`;
  const changed = () => { dirty = true; };
  const list = el("ol", {class: "stack", "aria-label": `Items of section ${index + 1}`});
  s.items.forEach((itemId, i) => {
    const label = el("span", {text: `Item ${itemId}`});
    titleOf(itemId).then((t) => { label.textContent = t; });
    list.append(el("li", {}, el("div", {class: "status-line"}, [label,
      el("button", {type: "button", class: "btn-small", "aria-label": `Remove item ${i + 1} from section ${index + 1}`, text: "Remove",
                    onclick: () => { s.items.splice(i, 1); changed(); drawSections(); }})])));
  });
  const results = el("ul", {class: "stack", "aria-live": "polite", "aria-label": "Search results"});
  const search = el("input", {type: "search", id: `${p}-search`, placeholder: "words in the title or question", value: s._q || "",
                              oninput: (e) => { s._q = e.target.value; }});
  const doSearch = async () => {
    const q = search.value.trim();
    s._searched = true;
    const data = await api("GET", `/api/v1/items?status=published&per_page=10${q ? `&q=${encodeURIComponent(q)}` : ""}`);
    results.replaceChildren(...data.items.map((v) => el("li", {}, el("div", {class: "status-line"}, [
      el("span", {text: `${v.title} (${v.type.replaceAll("_", " ")})`}),
      el("button", {type: "button", class: "btn-small", text: "Add", "aria-label": `Add “${v.title}” to section ${index + 1}`,
                    disabled: s.items.includes(v.item_id),
                    onclick: () => { s.items.push(v.item_id); titles.set(v.item_id, Promise.resolve(`${v.title} (${v.type.replaceAll("_", " ")})`)); changed(); drawSections(); $(`${p}-search`)?.focus(); }}),
    ]))));
    if (!data.items.length) results.replaceChildren(el("li", {class: "muted", text: "No published item matches."}));
  };
  const itemsPart = el("div", {hidden: s.source !== "items"}, [
    s.items.length ? list : el("p", {class: "muted", text: "No item chosen yet."}),
    el("div", {class: "filters"}, [el("div", {class: "field"}, [el("label", {for: search.id, text: "Find published items"}), search]),
      el("button", {type: "button", text: "Search", onclick: doSearch})]),
    results,
  ]);
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); doSearch(); } });
  if (s._searched) doSearch();  // keep the results after adding an item, to add several in a row
  const bankSelect = el("select", {id: `${p}-bank`, onchange: (e) => { s.pool.bank_ids = e.target.value ? [Number(e.target.value)] : []; changed(); }},
    [el("option", {value: "", text: "All my banks"}), ...banks.map((b) => el("option", {value: b.id, text: b.name, selected: (s.pool.bank_ids || [])[0] === b.id}))]);
  const typeBoxes = page.types.map((t) => {
    const id = `${p}-type-${t}`;
    return el("label", {class: "check", for: id}, [el("input", {type: "checkbox", id, checked: (s.pool.types || []).includes(t),
      onchange: (e) => { s.pool.types = (s.pool.types || []).filter((x) => x !== t); if (e.target.checked) s.pool.types.push(t); changed(); }}), t.replaceAll("_", " ")]);
  });
  const poolPart = el("div", {hidden: s.source !== "pool"}, [
    el("div", {class: "inline-fields"}, [
      el("div", {class: "field"}, [el("label", {for: bankSelect.id, text: "Bank"}), bankSelect]),
      el("div", {class: "field"}, [el("label", {for: `${p}-draw`, text: "Items drawn for each learner"}),
        el("input", {type: "number", id: `${p}-draw`, min: 1, max: 500, step: 1, value: s.draw ?? 5, "data-path": `sections.${index}.draw`,
                     oninput: (e) => { s.draw = Number(e.target.value) || null; changed(); }})]),
      el("div", {class: "field"}, [el("label", {for: `${p}-tags`, text: "Only items with all these tags"}),
        el("input", {type: "text", id: `${p}-tags`, value: (s.pool.tags || []).join(", "),
                     oninput: (e) => { s.pool.tags = e.target.value.split(",").map((t) => t.trim()).filter(Boolean); changed(); }})]),
    ]),
    el("fieldset", {}, [el("legend", {text: "Only these types (none ticked: any type)"}), el("div", {class: "inline-fields"}, typeBoxes)]),
  ]);
  const source = ["items", "pool"].map((v) => {
    const id = `${p}-source-${v}`;
    return el("label", {class: "check", for: id}, [el("input", {type: "radio", name: `${p}-source`, id, value: v, checked: s.source === v,
      onchange: () => { s.source = v; itemsPart.hidden = v !== "items"; poolPart.hidden = v !== "pool"; changed(); }}),
      v === "items" ? "Chosen items" : "Drawn at random from a pool"]);
  });
  return el("fieldset", {class: "card", "data-path": `sections.${index}`}, [
    el("legend", {text: `Section ${index + 1}`}),
    el("div", {class: "inline-fields"}, [
      el("div", {class: "field"}, [el("label", {for: `${p}-id`, text: "Id"}), el("input", {type: "text", id: `${p}-id`, value: s.id,
        "data-path": `sections.${index}.id`, oninput: (e) => { s.id = e.target.value; changed(); }})]),
      el("div", {class: "field"}, [el("label", {for: `${p}-title`, text: "Title shown to learners"}), el("input", {type: "text", id: `${p}-title`,
        value: s.title || "", oninput: (e) => { s.title = e.target.value; changed(); }})]),
      el("div", {class: "field"}, [el("label", {for: `${p}-min`, text: "Minimum % in this section to pass"}), el("input", {type: "number",
        id: `${p}-min`, min: 0, max: 100, step: "any", value: s.min_score_pct ?? "",
        oninput: (e) => { s.min_score_pct = e.target.value === "" ? null : Number(e.target.value); changed(); }})]),
    ]),
    el("fieldset", {}, [el("legend", {text: "Items"}), ...source]),
    itemsPart, poolPart,
    el("div", {class: "actions"}, [
      el("label", {class: "check", for: `${p}-shuffle`}, [el("input", {type: "checkbox", id: `${p}-shuffle`, checked: !!s.shuffle_items,
        onchange: (e) => { s.shuffle_items = e.target.checked; changed(); }}), "Shuffle the order of this section's items"]),
      el("button", {type: "button", class: "btn-small btn-danger", text: "Remove section", disabled: sections.length <= 1,
                    onclick: () => { sections.splice(index, 1); changed(); drawSections(); }}),
    ]),
  ]);
}

$("add-section").addEventListener("click", () => { sections.push(newSection()); dirty = true; drawSections(); $(`s${sections.length - 1}-id`).focus(); });
$("builder").addEventListener("input", () => { dirty = true; });
$("builder").addEventListener("submit", (e) => e.preventDefault());

// --- saving ------------------------------------------------------------------------------------------

function showErrors(err) {
  const details = err instanceof ApiError && err.details ? flatten(err.details) : {};
  const box = $("error-summary");
  box.replaceChildren(el("h2", {text: "The exam was not saved"}), el("p", {text: err.message}),
    Object.keys(details).length ? el("ul", {}, Object.entries(details).map(([path, msg]) => el("li", {text: `${path}: ${msg}`}))) : null);
  box.hidden = false;
  box.focus();
}

function flatten(obj, prefix = "") {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) out[key] = v.join(" ");
    else if (v && typeof v === "object") Object.assign(out, flatten(v, key));
    else out[key] = String(v);
  }
  return out;
}

async function save() {
  $("save-status").textContent = "Saving…";
  $("error-summary").hidden = true;
  try {
    const body = {definition: collect()};
    exam = examId ? await api("PUT", `/api/v1/exams/${examId}`, body) : await api("POST", "/api/v1/exams", body);
    examId = exam.id;
    dirty = false;
    history.replaceState(null, "", `/author/exams/${examId}`);
    showStatus();
    $("save-status").textContent = `Saved as version ${exam.version} (${exam.status}).`;
    return true;
  } catch (err) {
    $("save-status").textContent = "Not saved.";
    showErrors(err);
    return false;
  }
}

async function publish() {
  if ((dirty || exam?.status !== "draft") && !(await save())) return;
  $("save-status").textContent = "Publishing…";
  try {
    exam = await api("POST", `/api/v1/exams/${examId}/publish`);
    showStatus();
    $("save-status").textContent = `Published version ${exam.version}: learners can take it now.`;
  } catch (err) {
    $("save-status").textContent = "Not published.";
    showErrors(err);
  }
}

function showStatus() {
  if (!exam) return;
  $("builder-title").textContent = exam.title || "Exam";
  $("builder-status").replaceChildren(el("span", {text: `Version ${exam.version}`}),
    el("span", {class: `badge badge-${exam.status}`, text: exam.status}),
    el("a", {href: `/author/exams/${exam.id}/results`, text: "Results"}), el("a", {href: `/author/exams/${exam.id}/grading`, text: "Marking"}));
  $("publish-btn").hidden = false;
  $("publish-btn").textContent = exam.status === "draft" ? `Publish version ${exam.version}` : "Publish changes as a new version";
  $("save-btn").textContent = exam.status === "draft" ? "Save draft" : "Save as new version";
}

$("save-btn").addEventListener("click", save);
$("publish-btn").addEventListener("click", publish);
window.addEventListener("beforeunload", (e) => { if (dirty) { e.preventDefault(); e.returnValue = ""; } });

async function init() {
  try { banks = (await api("GET", "/api/v1/banks?per_page=200")).items; } catch { banks = []; }
  if (examId) {
    exam = await api("GET", `/api/v1/exams/${examId}`);
    fill(exam.definition || {});
    showStatus();
  } else {
    fill({title: "", sections: [], grace_s: 3, shuffle_options: true, release: "immediate"});
  }
  $("release").value = exam?.definition?.release || "immediate";
  dirty = false;
  void plain;
}

// The form is inert until it holds the exam, so nothing typed early is overwritten.
init().catch((err) => showErrors(err)).finally(() => {
  $("builder").inert = false;
  $("builder").setAttribute("aria-busy", "false");
});
