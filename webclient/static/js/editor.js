// The item editor: a form for every item type (docs/items.md), a live preview rendered by the
// learner's own renderer (render.js), and save / publish through the REST API.
import {api, ApiError, pageData} from "./api.js";
import {el, renderItem} from "./render.js";

const page = pageData();
const cfg = page.editor;
const RULES = page.rules;
const canEdit = cfg.mode === "new" || cfg.can_edit;

const DEFAULTS = {
  choice: () => ({
    stem: "<p>Which of these is correct?</p>",
    interaction: {options: [opt("a", "First option"), opt("b", "Second option"), opt("c", "Third option")],
                  max_choices: 1, min_choices: 0, shuffle: true},
    scoring: {correct: ["a"], rule: "all_or_nothing"},
  }),
  text_entry: () => ({stem: "<p>Type the answer.</p>", interaction: {expected_length: 20},
                      scoring: {accepted: [{value: "answer"}], case_sensitive: false, normalize_whitespace: true}}),
  numeric: () => ({stem: "<p>What is 6 × 7?</p>", interaction: {unit: ""},
                   scoring: {value: 42, tolerance: 0, tolerance_mode: "absolute"}}),
  extended_text: () => ({
    stem: "<p>Explain your reasoning.</p>", interaction: {expected_lines: 8, max_words: 250},
    scoring: {rubric: {criteria: [{id: "content", title: "Content", levels: [
      {points: 0, label: "Missing", description: "No relevant content."},
      {points: 1, label: "Partial", description: "Some relevant points."},
      {points: 2, label: "Complete", description: "All the expected points, well explained."}]}]}},
  }),
  order: () => ({stem: "<p>Put these in order, first to last.</p>",
                 interaction: {options: [opt("first", "First"), opt("second", "Second"), opt("third", "Third")], shuffle: true},
                 scoring: {correct_order: ["first", "second", "third"], rule: "exact"}}),
  match: () => ({stem: "<p>Match each item with its pair.</p>",
                 interaction: {left: [opt("l1", "Left one"), opt("l2", "Left two")],
                               right: [opt("r1", "Right one"), opt("r2", "Right two")], max_associations: 1, shuffle: true},
                 scoring: {pairs: [["l1", "r1"], ["l2", "r2"]], rule: "per_pair"}}),
  inline_choice: () => ({stem: '<p>The sky is <span data-gap="g1"></span> on a clear day.</p>',
                         interaction: {gaps: [{id: "g1", options: [opt("blue", "blue"), opt("green", "green")]}]},
                         scoring: {correct: {g1: "blue"}, rule: "per_gap"}}),
};

function opt(id, html) { return {id, html}; }

function newItem(type) {
  const base = DEFAULTS[type]();
  return {type, title: "", stem: base.stem, interaction: base.interaction,
          scoring: {points: 1, negative_marking: 0, floor: 0, weight: 1, ...base.scoring},
          metadata: {tags: [], objectives: [], language: "en", estimated_time_s: null, difficulty: null}};
}

function fromSaved(saved) {
  const {type, title, stem, interaction, scoring, metadata} = saved;
  return structuredClone({type, title, stem, interaction, scoring, metadata: metadata || {}});
}

let model = cfg.item ? fromSaved(cfg.item) : newItem(cfg.type);
let savedJson = cfg.item ? JSON.stringify(model) : null;
let fieldErrors = {};
const fieldsRoot = document.getElementById("editor-fields");
const previewRoot = document.getElementById("preview");
const previewStatus = document.getElementById("preview-status");
const saveStatus = document.getElementById("save-status");
const summary = document.getElementById("error-summary");
let keySeq = 0;

// --- small form builders bound to the model -------------------------------------------------------

function fieldId(path) { return `f-${path.replace(/[^A-Za-z0-9]+/g, "-")}`; }

function errorFor(path, input) {
  const msgs = fieldErrors[path];
  if (!msgs) return null;
  input.setAttribute("aria-invalid", "true");
  const id = `${fieldId(path)}-err`;
  input.setAttribute("aria-describedby", `${input.getAttribute("aria-describedby") || ""} ${id}`.trim());
  return el("p", {class: "field-error", id, text: msgs.join(" ")});
}

function textInput(label, path, get, set, {hint, multiline, rows, code, type = "text", required} = {}) {
  const id = fieldId(path);
  const attrs = {id, "data-path": path, disabled: !canEdit, required,
                 oninput: (e) => { set(e.target.value); changed(); }};
  if (hint) attrs["aria-describedby"] = `${id}-hint`;
  const input = multiline ? el("textarea", {...attrs, rows: rows || 4, class: code ? "code" : null})
                          : el("input", {...attrs, type, value: get() ?? ""});
  if (multiline) input.value = get() ?? "";
  return el("div", {class: "field"}, [el("label", {for: id, text: label}),
                                      hint ? el("span", {class: "hint", id: `${id}-hint`, text: hint}) : null,
                                      input, errorFor(path, input)]);
}

function numberInput(label, path, get, set, {hint, step = "any", min, integer, optional} = {}) {
  const id = fieldId(path);
  const input = el("input", {type: "number", id, "data-path": path, step, min, disabled: !canEdit, value: get() ?? "",
                             "aria-describedby": hint ? `${id}-hint` : null,
                             oninput: (e) => {
                               const raw = e.target.value.trim();
                               if (raw === "") set(optional ? null : undefined);
                               else set(integer ? parseInt(raw, 10) : Number(raw));
                               changed();
                             }});
  return el("div", {class: "field"}, [el("label", {for: id, text: label}),
                                      hint ? el("span", {class: "hint", id: `${id}-hint`, text: hint}) : null,
                                      input, errorFor(path, input)]);
}

function checkbox(label, path, get, set) {
  const id = fieldId(path);
  const input = el("input", {type: "checkbox", id, "data-path": path, checked: !!get(), disabled: !canEdit,
                             onchange: (e) => { set(e.target.checked); changed(); }});
  return el("div", {class: "field"}, [el("label", {class: "check", for: id}, [input, label]), errorFor(path, input)]);
}

function select(label, path, values, get, set, {labels = {}, rerender = false, hint} = {}) {
  const id = fieldId(path);
  const input = el("select", {id, "data-path": path, disabled: !canEdit, "aria-describedby": hint ? `${id}-hint` : null,
                              onchange: (e) => { set(e.target.value); changed(rerender); }},
                   values.map((v) => el("option", {value: v, selected: get() === v, text: labels[v] || v.replaceAll("_", " ")})));
  return el("div", {class: "field"}, [el("label", {for: id, text: label}),
                                      hint ? el("span", {class: "hint", id: `${id}-hint`, text: hint}) : null,
                                      input, errorFor(path, input)]);
}

function fieldset(legend, children, path) {
  const errs = path && fieldErrors[path] ? el("p", {class: "field-error", id: `${fieldId(path)}-err`, text: fieldErrors[path].join(" ")}) : null;
  return el("fieldset", {"data-path": path || null, tabindex: errs ? "-1" : null, id: path ? fieldId(path) : null},
            [el("legend", {text: legend}), errs, ...children]);
}

function toolButton(text, label, onclick, disabled = false) {
  return el("button", {type: "button", class: "btn-small", text, "aria-label": label, disabled: disabled || !canEdit,
                       "data-key": `${label}`, onclick});
}

/**
 * An editable list of options {id, html}; `extra(option, index)` adds per-row controls;
 * `onRename(old, new)` keeps keys (correct answers, pairs) in step with renamed ids.
 */
function optionList(title, path, list, {extra, onRename, onRemove, idPrefix = "opt", minimum = 1, noun = "option"} = {}) {
  const rows = list.map((option, index) => {
    const p = `${path}[${index}]`;
    const idInput = el("input", {type: "text", id: fieldId(`${p}.id`), "data-path": `${p}.id`, value: option.id,
                                 disabled: !canEdit, spellcheck: "false",
                                 onchange: (e) => { const old = option.id; option.id = e.target.value.trim(); onRename?.(old, option.id); changed(true); }});
    const htmlInput = el("textarea", {id: fieldId(`${p}.html`), "data-path": `${p}.html`, rows: 2, disabled: !canEdit,
                                      oninput: (e) => { option.html = e.target.value; changed(); }});
    htmlInput.value = option.html;
    const move = (delta) => {
      const target = index + delta;
      [list[index], list[target]] = [list[target], list[index]];
      changed(true, `${noun} ${target + 1} up`);
    };
    return el("div", {class: "option-row"}, [
      el("div", {class: "field"}, [el("label", {for: idInput.id, text: `Id ${index + 1}`}), idInput, errorFor(`${p}.id`, idInput)]),
      el("div", {class: "field"}, [el("label", {for: htmlInput.id, text: `Text of ${noun} ${index + 1} (HTML)`}), htmlInput,
                                   errorFor(`${p}.html`, htmlInput), extra ? extra(option, index) : null]),
      el("div", {class: "row-tools"}, [
        toolButton("↑", `${noun} ${index + 1} up`, () => move(-1), index === 0),
        toolButton("↓", `${noun} ${index + 1} down`, () => move(1), index === list.length - 1),
        toolButton("✕", `Remove ${noun} ${index + 1}`, () => { const [gone] = list.splice(index, 1); onRemove?.(gone.id); changed(true); },
                   list.length <= minimum),
      ]),
    ]);
  });
  const add = el("button", {type: "button", class: "btn-small", disabled: !canEdit, "data-key": `add-${path}`,
                            text: `Add ${noun}`,
                            onclick: () => {
                              let n = list.length + 1;
                              while (list.some((o) => o.id === `${idPrefix}${n}`)) n += 1;
                              list.push({id: `${idPrefix}${n}`, html: `New ${noun}`});
                              changed(true, `Remove ${noun} ${list.length}`);
                            }});
  return fieldset(title, [...rows, el("div", {class: "actions"}, add)], path);
}

// --- the form per type ------------------------------------------------------------------------------

function commonFields() {
  return [
    textInput("Title (for authors)", "title", () => model.title, (v) => { model.title = v; }, {required: true,
      hint: "A short name to find the item by; learners do not see it."}),
    textInput("Question (stem, HTML)", "stem", () => model.stem, (v) => { model.stem = v; },
              {multiline: true, rows: 6, code: true, hint: "HTML is allowed (paragraphs, lists, code, tables, images, MathML); anything unsafe is removed on save."}),
  ];
}

function scoringFields() {
  const s = model.scoring;
  return fieldset("Points", [el("div", {class: "inline-fields"}, [
    numberInput("Points", "scoring.points", () => s.points, (v) => { s.points = v; }, {min: 0}),
    numberInput("Negative marking", "scoring.negative_marking", () => s.negative_marking ?? 0, (v) => { s.negative_marking = v ?? 0; },
                {min: 0, hint: "Taken off a wrong (not blank) answer."}),
    numberInput("Floor", "scoring.floor", () => s.floor ?? 0, (v) => { s.floor = v ?? 0; }, {hint: "Lowest score (0 or less)."}),
    numberInput("Weight", "scoring.weight", () => s.weight ?? 1, (v) => { s.weight = v ?? 1; }, {min: 0}),
  ])]);
}

function ruleSelect(type) {
  const s = model.scoring;
  return select("Scoring rule", "scoring.rule", RULES[type], () => s.rule || RULES[type][0], (v) => { s.rule = v; },
                {rerender: true});
}

const TYPE_FORMS = {
  choice() {
    const inter = model.interaction, s = model.scoring;
    s.correct = s.correct || [];
    const mapping = () => (s.mapping = s.mapping || {});
    return [
      optionList("Options", "interaction.options", inter.options, {
        noun: "option",
        extra: (option) => {
          const id = fieldId(`correct-${option.id}`);
          const box = el("input", {type: "checkbox", id, checked: s.correct.includes(option.id), disabled: !canEdit,
                                   "data-path": "scoring.correct",
                                   onchange: (e) => {
                                     s.correct = s.correct.filter((c) => c !== option.id);
                                     if (e.target.checked) {
                                       if ((inter.max_choices ?? 1) === 1) s.correct = [];
                                       s.correct.push(option.id);
                                     }
                                     changed(true, null);
                                   }});
          const parts = [el("label", {class: "check", for: id}, [box, "Correct answer"])];
          if (s.rule === "map") {
            parts.push(numberInput(`Value when chosen`, `scoring.mapping.${option.id}`, () => mapping()[option.id],
                                   (v) => { if (v === null || v === undefined) delete mapping()[option.id]; else mapping()[option.id] = v; },
                                   {optional: true}));
          }
          return el("div", {}, parts);
        },
        onRename: (old, now) => {
          s.correct = s.correct.map((c) => (c === old ? now : c));
          if (s.mapping && old in s.mapping) { s.mapping[now] = s.mapping[old]; delete s.mapping[old]; }
        },
        onRemove: (id) => { s.correct = s.correct.filter((c) => c !== id); if (s.mapping) delete s.mapping[id]; },
        minimum: 2,
      }),
      fieldErrors["scoring.correct"] ? el("p", {class: "field-error", text: `Correct answers: ${fieldErrors["scoring.correct"].join(" ")}`}) : null,
      fieldset("How learners answer", [el("div", {class: "inline-fields"}, [
        numberInput("Most choices allowed", "interaction.max_choices", () => inter.max_choices ?? 1,
                    (v) => { inter.max_choices = v ?? 1; }, {integer: true, min: 0, step: 1, hint: "1 = single choice; 0 = no limit."}),
        numberInput("Fewest choices required", "interaction.min_choices", () => inter.min_choices ?? 0,
                    (v) => { inter.min_choices = v ?? 0; }, {integer: true, min: 0, step: 1}),
      ]), checkbox("Shuffle the options for each learner", "interaction.shuffle", () => inter.shuffle ?? true, (v) => { inter.shuffle = v; })]),
      fieldset("Scoring", [ruleSelect("choice"),
        s.rule === "map" ? el("div", {class: "inline-fields"}, [
          numberInput("Value of an option not listed", "scoring.default_value", () => s.default_value, (v) => { if (v === null || v === undefined) delete s.default_value; else s.default_value = v; }, {optional: true}),
          numberInput("Lower bound", "scoring.lower_bound", () => s.lower_bound, (v) => { if (v === null || v === undefined) delete s.lower_bound; else s.lower_bound = v; }, {optional: true}),
          numberInput("Upper bound", "scoring.upper_bound", () => s.upper_bound, (v) => { if (v === null || v === undefined) delete s.upper_bound; else s.upper_bound = v; }, {optional: true}),
        ]) : null]),
    ];
  },

  text_entry() {
    const inter = model.interaction, s = model.scoring;
    s.accepted = s.accepted || [];
    const rows = s.accepted.map((entry, index) => el("div", {class: "inline-fields option-row"}, [
      textInput(`Accepted answer ${index + 1}`, `scoring.accepted[${index}].value`, () => entry.value, (v) => { entry.value = v; }),
      numberInput("Score (blank = full points)", `scoring.accepted[${index}].score`, () => entry.score,
                  (v) => { if (v === null || v === undefined) delete entry.score; else entry.score = v; }, {optional: true}),
      el("div", {class: "row-tools"}, toolButton("✕", `Remove accepted answer ${index + 1}`,
                                                  () => { s.accepted.splice(index, 1); changed(true); }, s.accepted.length <= 1)),
    ]));
    return [
      fieldset("Accepted answers", [...rows, el("div", {class: "actions"}, el("button", {type: "button", class: "btn-small",
        disabled: !canEdit, "data-key": "add-accepted", text: "Add accepted answer",
        onclick: () => { s.accepted.push({value: ""}); changed(true, `Remove accepted answer ${s.accepted.length}`); }}))], "scoring.accepted"),
      fieldset("Matching", [
        checkbox("Case sensitive", "scoring.case_sensitive", () => s.case_sensitive, (v) => { s.case_sensitive = v; }),
        checkbox("Ignore extra spaces", "scoring.normalize_whitespace", () => s.normalize_whitespace ?? true, (v) => { s.normalize_whitespace = v; }),
      ]),
      fieldset("How learners answer", [el("div", {class: "inline-fields"}, [
        numberInput("Expected length (characters)", "interaction.expected_length", () => inter.expected_length,
                    (v) => { if (v) inter.expected_length = v; else delete inter.expected_length; }, {integer: true, min: 1, step: 1, optional: true}),
        textInput("Placeholder", "interaction.placeholder", () => inter.placeholder,
                  (v) => { if (v) inter.placeholder = v; else delete inter.placeholder; }),
      ])]),
    ];
  },

  numeric() {
    const inter = model.interaction, s = model.scoring;
    return [
      fieldset("Answer", [el("div", {class: "inline-fields"}, [
        numberInput("Correct value", "scoring.value", () => s.value, (v) => { s.value = v; }),
        numberInput("Tolerance", "scoring.tolerance", () => s.tolerance ?? 0, (v) => { s.tolerance = v ?? 0; }, {min: 0}),
        select("Tolerance is", "scoring.tolerance_mode", ["absolute", "relative"], () => s.tolerance_mode || "absolute",
               (v) => { s.tolerance_mode = v; }, {labels: {absolute: "absolute (same unit)", relative: "relative (fraction of the value)"}}),
      ])]),
      textInput("Unit shown to the learner", "interaction.unit", () => inter.unit,
                (v) => { if (v) inter.unit = v; else delete inter.unit; }),
    ];
  },

  extended_text() {
    const inter = model.interaction, s = model.scoring;
    s.rubric = s.rubric || {criteria: []};
    const criteria = s.rubric.criteria;
    const blocks = criteria.map((crit, ci) => {
      const p = `scoring.rubric.criteria[${ci}]`;
      const levels = crit.levels.map((level, li) => el("div", {class: "inline-fields option-row"}, [
        numberInput(`Points`, `${p}.levels[${li}].points`, () => level.points, (v) => { level.points = v ?? 0; }, {min: 0}),
        textInput(`Label`, `${p}.levels[${li}].label`, () => level.label, (v) => { level.label = v; }),
        textInput(`Description`, `${p}.levels[${li}].description`, () => level.description, (v) => { level.description = v; }),
        el("div", {class: "row-tools"}, toolButton("✕", `Remove level ${li + 1} of criterion ${ci + 1}`,
                                                    () => { crit.levels.splice(li, 1); changed(true); }, crit.levels.length <= 1)),
      ]));
      return fieldset(`Criterion ${ci + 1}`, [
        el("div", {class: "inline-fields"}, [
          textInput("Id", `${p}.id`, () => crit.id, (v) => { crit.id = v.trim(); }),
          textInput("Title", `${p}.title`, () => crit.title, (v) => { crit.title = v; }),
        ]),
        ...levels,
        el("div", {class: "actions"}, [
          el("button", {type: "button", class: "btn-small", disabled: !canEdit, "data-key": `add-level-${ci}`, text: "Add level",
                        onclick: () => { crit.levels.push({points: crit.levels.length, label: "", description: ""}); changed(true, `add-level-${ci}`); }}),
          toolButton("Remove criterion", `Remove criterion ${ci + 1}`, () => { criteria.splice(ci, 1); changed(true); }, criteria.length <= 1),
        ]),
      ], `${p}`);
    });
    return [
      fieldset("Rubric (graded by hand)", [...blocks, el("div", {class: "actions"}, el("button", {type: "button", class: "btn-small",
        disabled: !canEdit, "data-key": "add-criterion", text: "Add criterion",
        onclick: () => { criteria.push({id: `c${criteria.length + 1}`, title: "", levels: [{points: 0, label: "Missing", description: ""}, {points: 1, label: "Present", description: ""}]}); changed(true, "add-criterion"); }}))],
        "scoring.rubric"),
      fieldset("How learners answer", [el("div", {class: "inline-fields"}, [
        numberInput("Expected lines", "interaction.expected_lines", () => inter.expected_lines,
                    (v) => { if (v) inter.expected_lines = v; else delete inter.expected_lines; }, {integer: true, min: 1, step: 1, optional: true}),
        numberInput("Most words", "interaction.max_words", () => inter.max_words,
                    (v) => { if (v) inter.max_words = v; else delete inter.max_words; }, {integer: true, min: 1, step: 1, optional: true}),
      ])]),
    ];
  },

  order() {
    const inter = model.interaction, s = model.scoring;
    return [
      optionList("Options, in the correct order", "interaction.options", inter.options, {noun: "option", minimum: 2}),
      fieldErrors["scoring.correct_order"] ? el("p", {class: "field-error", text: fieldErrors["scoring.correct_order"].join(" ")}) : null,
      checkbox("Shuffle the options for each learner", "interaction.shuffle", () => inter.shuffle ?? true, (v) => { inter.shuffle = v; }),
      fieldset("Scoring", [select("Scoring rule", "scoring.rule", RULES.order, () => s.rule || "exact", (v) => { s.rule = v; },
        {labels: {exact: "exact: all or nothing", pairs: "pairs: credit for each pair in the right relative order"}})]),
    ];
  },

  match() {
    const inter = model.interaction, s = model.scoring;
    s.pairs = s.pairs || [];
    const renameIn = (side) => (old, now) => { s.pairs = s.pairs.map((p) => { const q = [...p]; if (q[side] === old) q[side] = now; return q; }); };
    const removeIn = (side) => (id) => { s.pairs = s.pairs.filter((p) => p[side] !== id); };
    const grid = inter.left.map((left) => fieldset(`Correct matches for “${left.id}”`, [el("div", {class: "inline-fields"},
      inter.right.map((right) => {
        const id = fieldId(`pair-${left.id}-${right.id}`);
        const has = s.pairs.some((p) => p[0] === left.id && p[1] === right.id);
        return el("label", {class: "check", for: id}, [el("input", {type: "checkbox", id, checked: has, disabled: !canEdit,
          "data-path": "scoring.pairs",
          onchange: (e) => {
            s.pairs = s.pairs.filter((p) => !(p[0] === left.id && p[1] === right.id));
            if (e.target.checked) s.pairs.push([left.id, right.id]);
            changed();
          }}), right.id]);
      }))]));
    return [
      optionList("Left column", "interaction.left", inter.left, {noun: "left item", idPrefix: "l", onRename: renameIn(0), onRemove: removeIn(0)}),
      optionList("Right column", "interaction.right", inter.right, {noun: "right item", idPrefix: "r", onRename: renameIn(1), onRemove: removeIn(1)}),
      fieldset("Key", grid, "scoring.pairs"),
      fieldset("How learners answer", [
        numberInput("Matches allowed per left item", "interaction.max_associations", () => inter.max_associations ?? 1,
                    (v) => { inter.max_associations = v ?? 1; }, {integer: true, min: 1, step: 1}),
        checkbox("Shuffle both columns for each learner", "interaction.shuffle", () => inter.shuffle ?? true, (v) => { inter.shuffle = v; }),
      ]),
      fieldset("Scoring", [ruleSelect("match"),
        s.rule === "map" ? el("p", {class: "hint", text: "Give the values of the map rule under “Edit as JSON” below (scoring.mapping, keys “LEFT RIGHT”)."}) : null]),
    ];
  },

  inline_choice() {
    const inter = model.interaction, s = model.scoring;
    inter.gaps = inter.gaps || [];
    s.correct = s.correct || {};
    const blocks = inter.gaps.map((gap, gi) => {
      const p = `interaction.gaps[${gi}]`;
      const list = optionList(`Choices for gap “${gap.id}”`, `${p}.options`, gap.options, {
        noun: `choice of gap ${gi + 1}`, idPrefix: `${gap.id}_`, minimum: 1,
        onRename: (old, now) => { if (s.correct[gap.id] === old) s.correct[gap.id] = now; },
        onRemove: (id) => { if (s.correct[gap.id] === id) delete s.correct[gap.id]; },
      });
      return fieldset(`Gap ${gi + 1}`, [
        textInput("Gap id", `${p}.id`, () => gap.id, (v) => {
          const old = gap.id; gap.id = v.trim();
          if (old in s.correct) { s.correct[gap.id] = s.correct[old]; delete s.correct[old]; }
          model.stem = model.stem.replaceAll(`data-gap="${old}"`, `data-gap="${gap.id}"`);
        }),
        list,
        select("Correct choice", `scoring.correct.${gap.id}`, ["", ...gap.options.map((o) => o.id)], () => s.correct[gap.id] || "",
               (v) => { if (v) s.correct[gap.id] = v; else delete s.correct[gap.id]; }, {labels: {"": "— choose —"}}),
        el("div", {class: "actions"}, toolButton("Remove gap", `Remove gap ${gi + 1}`, () => {
          inter.gaps.splice(gi, 1); delete s.correct[gap.id];
          model.stem = model.stem.replace(new RegExp(`<span[^>]*data-gap="${gap.id.replace(/[.]/g, "\\.")}"[^>]*></span>`, "g"), "");
          changed(true);
        }, inter.gaps.length <= 1)),
      ], p);
    });
    const addGap = el("button", {type: "button", class: "btn-small", disabled: !canEdit, "data-key": "add-gap",
      text: "Add a gap at the cursor in the question",
      onclick: () => {
        let n = inter.gaps.length + 1;
        while (inter.gaps.some((g) => g.id === `g${n}`)) n += 1;
        const id = `g${n}`;
        const stemInput = document.querySelector('[data-path="stem"]');
        const at = stemInput && stemInput.selectionStart != null ? stemInput.selectionStart : model.stem.length;
        model.stem = `${model.stem.slice(0, at)}<span data-gap="${id}"></span>${model.stem.slice(at)}`;
        inter.gaps.push({id, options: [opt(`${id}_a`, "first choice"), opt(`${id}_b`, "second choice")]});
        s.correct[id] = `${id}_a`;
        changed(true, "add-gap");
      }});
    return [
      el("p", {class: "hint", html: 'Each gap is written in the question as <code>&lt;span data-gap="ID"&gt;&lt;/span&gt;</code>.'}),
      ...blocks,
      el("div", {class: "actions"}, addGap),
      fieldset("Scoring", [select("Scoring rule", "scoring.rule", RULES.inline_choice, () => s.rule || "per_gap", (v) => { s.rule = v; },
        {labels: {per_gap: "per gap: credit for each right gap", all_or_nothing: "all or nothing"}})]),
    ];
  },
};

function metadataFields() {
  const m = model.metadata;
  return el("details", {class: "field"}, [
    el("summary", {text: "Tags, objectives and metadata"}),
    textInput("Tags (comma separated)", "metadata.tags", () => (m.tags || []).join(", "),
              (v) => { m.tags = v.split(",").map((t) => t.trim()).filter(Boolean); }),
    textInput("Learning objectives (one per line)", "metadata.objectives", () => (m.objectives || []).join("\n"),
              (v) => { m.objectives = v.split("\n").map((t) => t.trim()).filter(Boolean); }, {multiline: true, rows: 3}),
    el("div", {class: "inline-fields"}, [
      textInput("Language", "metadata.language", () => m.language || "en", (v) => { m.language = v.trim() || "en"; }),
      numberInput("Estimated time (s)", "metadata.estimated_time_s", () => m.estimated_time_s,
                  (v) => { m.estimated_time_s = v || null; }, {integer: true, min: 1, step: 1, optional: true}),
      numberInput("Difficulty (0 to 1)", "metadata.difficulty", () => m.difficulty,
                  (v) => { m.difficulty = v ?? null; }, {min: 0, step: "0.01", optional: true}),
    ]),
  ]);
}

function jsonFields() {
  const area = el("textarea", {id: "item-json", class: "code", rows: 14, disabled: !canEdit, spellcheck: "false",
                               "aria-describedby": "item-json-hint"});
  area.value = JSON.stringify(model, null, 2);
  const status = el("p", {class: "hint", role: "status", id: "item-json-status"});
  return el("details", {class: "field", id: "json-details"}, [
    el("summary", {text: "Edit as JSON (every field of docs/items.md)"}),
    el("label", {for: "item-json", text: "Item JSON"}),
    el("span", {class: "hint", id: "item-json-hint", text: "For what the form does not show (e.g. map rules of match items, IRT parameters). The type cannot change."}),
    area,
    el("div", {class: "actions"}, [el("button", {type: "button", class: "btn-small", disabled: !canEdit, "data-key": "apply-json",
      text: "Apply JSON", onclick: () => {
        try {
          const parsed = JSON.parse(area.value);
          if (parsed.type !== model.type) throw new Error(`the type must stay ${model.type}`);
          model = fromSaved({...parsed, metadata: parsed.metadata || {}});
          changed(true, "apply-json");
          document.getElementById("item-json-status").textContent = "Applied.";
        } catch (err) {
          status.textContent = `Not applied: ${err.message}`;
        }
      }}), status]),
  ]);
}

// --- rendering, change tracking and the preview -----------------------------------------------------

function render(focusKey) {
  keySeq += 1;
  const openDetails = [...fieldsRoot.querySelectorAll("details[open] > summary")].map((s) => s.textContent);
  const active = document.activeElement;
  const activePath = focusKey || active?.getAttribute?.("data-key") || active?.id;
  fieldsRoot.replaceChildren(...commonFields(), ...TYPE_FORMS[model.type]().filter(Boolean), scoringFields(),
                             metadataFields(), jsonFields());
  for (const d of fieldsRoot.querySelectorAll("details")) {
    if (openDetails.includes(d.querySelector("summary").textContent)) d.open = true;
  }
  if (activePath) {
    const target = fieldsRoot.querySelector(`[data-key="${CSS.escape(activePath)}"]`) || document.getElementById(activePath);
    if (target && !target.disabled) target.focus();
  }
}

let previewTimer = null;
function changed(rerender = false, focusKey) {
  if (rerender) render(focusKey);
  const json = document.getElementById("item-json");
  if (json && document.activeElement !== json) json.value = JSON.stringify(model, null, 2);
  updateDirty();
  clearTimeout(previewTimer);
  previewTimer = setTimeout(updatePreview, 250);
}

function isDirty() { return JSON.stringify(model) !== savedJson; }

function updateDirty() {
  if (saveStatus) saveStatus.textContent = isDirty() ? "Unsaved changes" : (savedJson ? "All changes saved" : "");
}

let previewSeq = 0;
async function updatePreview() {
  const mine = ++previewSeq;
  try {
    const view = await api("POST", page.preview_url, model);
    if (mine !== previewSeq) return;
    previewRoot.replaceChildren(renderItem(view, {}));
    previewStatus.textContent = "";
  } catch (err) {
    if (mine !== previewSeq) return;
    previewStatus.textContent = `The preview could not be updated: ${err.message}`;
  }
}

// --- save and publish ------------------------------------------------------------------------------

function showErrors(err) {
  fieldErrors = {};
  const details = err instanceof ApiError && err.details && typeof err.details === "object" ? err.details : {};
  for (const [path, msgs] of Object.entries(details)) fieldErrors[path] = [].concat(msgs).map(String);
  render();
  const entries = Object.entries(fieldErrors);
  summary.replaceChildren(el("h2", {text: "The item was not saved"}), el("p", {text: err.message}),
    entries.length ? el("ul", {}, entries.map(([path, msgs]) => {
      const target = fieldsRoot.querySelector(`[data-path="${CSS.escape(path)}"]`) ||
                     fieldsRoot.querySelector(`[data-path^="${CSS.escape(path.split(/[.[]/)[0])}"]`);
      const text = `${path}: ${msgs.join(" ")}`;
      if (!target) return el("li", {text});
      if (!target.id) target.id = fieldId(`anchor-${path}`);
      return el("li", {}, el("a", {href: `#${target.id}`, text, onclick: (e) => {
        e.preventDefault();
        target.closest("details")?.setAttribute("open", "");
        target.focus();
      }}));
    })) : null);
  summary.hidden = false;
  summary.focus();
}

function clearErrors() {
  if (Object.keys(fieldErrors).length || !summary.hidden) {
    fieldErrors = {};
    summary.hidden = true;
    render();
  }
}

async function save() {
  saveStatus.textContent = "Saving…";
  const body = structuredClone(model);
  if (body.type === "order") body.scoring.correct_order = body.interaction.options.map((o) => o.id);
  try {
    const saved = cfg.mode === "new"
      ? await api("POST", `/api/v1/banks/${cfg.bank_id}/items`, body)
      : await api("PUT", `/api/v1/items/${cfg.item.item_id}`, body);
    savedJson = JSON.stringify(model);
    clearErrors();
    return saved;
  } catch (err) {
    saveStatus.textContent = "Not saved.";
    showErrors(err);
    return null;
  }
}

document.getElementById("save-btn")?.addEventListener("click", async () => {
  const saved = await save();
  if (saved) {
    savedJson = JSON.stringify(model);
    location.assign(`/author/items/${saved.item_id}?saved=1`);
  }
});

document.getElementById("publish-btn")?.addEventListener("click", async () => {
  let itemId = cfg.item.item_id;
  if (isDirty() || cfg.item.status !== "draft") {
    if (cfg.item.status !== "draft" && !isDirty()) {
      saveStatus.textContent = "This version is already published. Edit the item to make a new draft version, then publish it.";
      return;
    }
    const saved = await save();
    if (!saved) return;
    itemId = saved.item_id;
  }
  saveStatus.textContent = "Publishing…";
  try {
    await api("POST", `/api/v1/items/${itemId}/publish`);
    savedJson = JSON.stringify(model);
    location.assign(`/author/items/${itemId}?published=1`);
  } catch (err) {
    saveStatus.textContent = "Not published.";
    showErrors(err);
  }
});

window.addEventListener("beforeunload", (e) => {
  if (canEdit && isDirty()) { e.preventDefault(); e.returnValue = ""; }
});

document.getElementById("editor-form").addEventListener("submit", (e) => e.preventDefault());
render();
updateDirty();
updatePreview();
