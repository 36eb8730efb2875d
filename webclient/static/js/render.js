// Renders an item's delivery view (docs/items.md) as the learner sees it and answers it.
// One module for the exam page and the editor's live preview, so authors see exactly what learners get.
// Item HTML (stem, options) is sanitised by the server before it reaches us.

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

/** Create an element: el("p", {class: "x", text: "hi"}, [children]). */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of [].concat(children)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** True when `response` counts as an answer to `item` (null or empty means unanswered). */
export function isAnswered(item, response) {
  if (response === null || response === undefined) return false;
  switch (item.type) {
    case "choice": case "match": case "order": return Array.isArray(response) && response.length > 0;
    case "text_entry": case "extended_text": return typeof response === "string" && response.trim() !== "";
    case "numeric": return typeof response === "number" && Number.isFinite(response);
    case "inline_choice": return typeof response === "object" && Object.keys(response).length > 0;
    default: return true;
  }
}

/** A short sentence for the learner on how to answer an item. */
export function instructions(item) {
  const inter = item.interaction || {};
  switch (item.type) {
    case "choice": {
      const max = inter.max_choices ?? 1;
      if (max === 1) return "Choose one answer.";
      if (max === 0) return "Choose all answers that apply.";
      return `Choose up to ${max} answers.`;
    }
    case "text_entry": return "Type a short answer.";
    case "numeric": return inter.unit ? `Enter a number (in ${inter.unit}).` : "Enter a number.";
    case "extended_text": return inter.max_words ? `Write your answer (at most ${inter.max_words} words).` : "Write your answer.";
    case "order": return "Put the options in the right order with the Move up and Move down buttons.";
    case "match": return (inter.max_associations || 1) > 1
      ? `Match each item on the left with up to ${inter.max_associations} items on the right.`
      : "Match each item on the left with one item on the right.";
    case "inline_choice": return "Choose a word or phrase for each gap.";
    default: return "";
  }
}

/**
 * Render `item` and return its root element.
 * options: response (current answer or null), onChange(response) called on each learner change,
 * disabled (read-only), debounceText (ms; text changes are reported at once to onInput and after a pause to onChange),
 * onInput() called on every keystroke of typed answers (to show "editing").
 */
export function renderItem(item, options = {}) {
  const ctx = {
    item, id: nextId(`item-${String(item.item_id).replace(/[^A-Za-z0-9_-]/g, "")}`),
    response: options.response ?? null, disabled: !!options.disabled,
    onChange: options.onChange || (() => {}), onInput: options.onInput || (() => {}),
    debounce: options.debounceText ?? 0,
  };
  const stemId = `${ctx.id}-stem`;
  const hintId = `${ctx.id}-hint`;
  ctx.stemId = stemId;
  ctx.hintId = hintId;
  const root = el("div", {class: `item item-${item.type}`, "data-item-id": item.item_id});
  const stem = el("div", {class: "item-stem", id: stemId, html: item.stem || ""});
  keyboardScrollable(stem);
  root.append(stem);
  root.append(el("p", {class: "hint", id: hintId, text: instructions(item)}));
  const builder = BUILDERS[item.type];
  if (!builder) {
    root.append(el("p", {class: "notice notice-error", text: `This item type (${item.type}) cannot be shown.`}));
    return root;
  }
  const body = builder(ctx, stem);
  if (body) root.append(body);
  return root;
}

function debounced(ctx, fn) {
  if (!ctx.debounce) return fn;
  let timer = null;
  const run = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ctx.debounce); };
  run.flush = (...args) => { clearTimeout(timer); fn(...args); };
  return run;
}

const BUILDERS = {
  choice(ctx) {
    const inter = ctx.item.interaction || {};
    const max = inter.max_choices ?? 1;
    const single = max === 1;
    const selected = new Set(Array.isArray(ctx.response) ? ctx.response : []);
    const group = el("fieldset", {class: "choice-group", "aria-describedby": ctx.hintId});
    group.append(el("legend", {class: "visually-hidden", text: single ? "Answer options (choose one)" : "Answer options"}));
    const list = el("ul", {class: "choice-list", role: "list"});
    const name = `${ctx.id}-choice`;
    const inputs = [];
    const report = () => {
      const chosen = inputs.filter((i) => i.checked).map((i) => i.value);
      if (!single && max > 0) {
        for (const i of inputs) i.disabled = ctx.disabled || (!i.checked && chosen.length >= max);
      }
      ctx.onChange(chosen.length ? chosen : null);
    };
    for (const opt of inter.options || []) {
      const inputId = `${ctx.id}-opt-${opt.id}`;
      const input = el("input", {type: single ? "radio" : "checkbox", name, value: opt.id, id: inputId,
                                 checked: selected.has(opt.id), disabled: ctx.disabled, onchange: report});
      inputs.push(input);
      list.append(el("li", {}, el("label", {class: "choice-option", for: inputId},
        [input, el("span", {class: "option-html", html: opt.html})])));
    }
    if (!single && max > 0 && selected.size >= max) {
      for (const i of inputs) if (!i.checked) i.disabled = true;
    }
    group.append(list);
    return group;
  },

  text_entry(ctx) {
    const inter = ctx.item.interaction || {};
    const inputId = `${ctx.id}-text`;
    const send = debounced(ctx, (value) => ctx.onChange(value === "" ? null : value));
    const input = el("input", {type: "text", id: inputId, maxlength: 1000, autocomplete: "off", spellcheck: "false",
                               placeholder: inter.placeholder || null, value: typeof ctx.response === "string" ? ctx.response : "",
                               disabled: ctx.disabled, "aria-describedby": `${ctx.stemId} ${ctx.hintId}`,
                               oninput: (e) => { ctx.onInput(); send(e.target.value); },
                               onblur: (e) => send.flush ? send.flush(e.target.value) : null});
    if (inter.expected_length) input.setAttribute("size", Math.min(60, Math.max(10, inter.expected_length + 2)));
    if (inter.expected_length) input.classList.add("auto-width");
    return el("div", {class: "field"}, [el("label", {for: inputId, text: "Your answer"}), input]);
  },

  numeric(ctx) {
    const inter = ctx.item.interaction || {};
    const inputId = `${ctx.id}-num`;
    const errId = `${ctx.id}-num-err`;
    const err = el("p", {class: "field-error", id: errId, hidden: true});
    const parse = (raw) => {
      const text = raw.trim().replace(/\s+/g, "").replace(/,(?=\d*$)/, ".");
      if (text === "") return {value: null};
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return {error: "Enter a number, for example 12.5 or -3."};
      const value = Number(text);
      return Number.isFinite(value) ? {value} : {error: "That number is too large."};
    };
    const send = debounced(ctx, (raw) => {
      const {value, error} = parse(raw);
      err.hidden = !error;
      err.textContent = error || "";
      input.setAttribute("aria-invalid", error ? "true" : "false");
      if (!error) ctx.onChange(value);
    });
    const input = el("input", {type: "text", inputmode: "decimal", id: inputId, autocomplete: "off",
                               value: typeof ctx.response === "number" ? String(ctx.response) : "",
                               disabled: ctx.disabled, "aria-describedby": `${ctx.stemId} ${ctx.hintId} ${errId}`,
                               oninput: (e) => { ctx.onInput(); send(e.target.value); },
                               onblur: (e) => send.flush ? send.flush(e.target.value) : null});
    const unitId = `${ctx.id}-unit`;
    if (inter.unit) input.setAttribute("aria-describedby", `${ctx.stemId} ${ctx.hintId} ${unitId} ${errId}`);
    return el("div", {class: "field"}, [
      el("label", {for: inputId, text: "Your answer"}),
      el("div", {class: "numeric-row"}, [input, inter.unit ? el("span", {id: unitId, text: inter.unit}) : null]),
      err,
    ]);
  },

  extended_text(ctx) {
    const inter = ctx.item.interaction || {};
    const inputId = `${ctx.id}-essay`;
    const countId = `${ctx.id}-count`;
    const count = el("p", {class: "word-count", id: countId});
    const words = (text) => (text.trim() ? text.trim().split(/\s+/).length : 0);
    const showCount = (text) => {
      const n = words(text);
      count.textContent = inter.max_words ? `${n} of at most ${inter.max_words} words` : `${n} word${n === 1 ? "" : "s"}`;
      count.classList.toggle("over", !!inter.max_words && n > inter.max_words);
    };
    const send = debounced(ctx, (value) => ctx.onChange(value.trim() === "" ? null : value));
    const area = el("textarea", {id: inputId, rows: Math.min(30, Math.max(5, inter.expected_lines || 8)), maxlength: 50000,
                                 disabled: ctx.disabled, "aria-describedby": `${ctx.stemId} ${ctx.hintId} ${countId}`,
                                 oninput: (e) => { ctx.onInput(); showCount(e.target.value); send(e.target.value); },
                                 onblur: (e) => send.flush ? send.flush(e.target.value) : null});
    area.value = typeof ctx.response === "string" ? ctx.response : "";
    showCount(area.value);
    return el("div", {class: "field"}, [el("label", {for: inputId, text: "Your answer"}), area, count]);
  },

  order(ctx) {
    const inter = ctx.item.interaction || {};
    const byId = new Map((inter.options || []).map((o) => [o.id, o]));
    let order = Array.isArray(ctx.response) && ctx.response.length === byId.size && ctx.response.every((id) => byId.has(id))
      ? [...ctx.response] : [...byId.keys()];
    let answered = Array.isArray(ctx.response) && ctx.response.length > 0;
    const wrap = el("div", {class: "order-wrap"});
    const live = el("p", {class: "visually-hidden", "aria-live": "polite"});
    const list = el("ol", {class: "order-list", "aria-describedby": ctx.hintId, "aria-label": "Options in your order"});
    const confirm = el("button", {type: "button", class: "btn-small", text: "Keep this order as my answer",
                                  hidden: answered || ctx.disabled,
                                  onclick: () => { answered = true; confirm.hidden = true; ctx.onChange([...order]); }});
    const move = (index, delta) => {
      const target = index + delta;
      if (target < 0 || target >= order.length) return;
      [order[index], order[target]] = [order[target], order[index]];
      answered = true;
      confirm.hidden = true;
      draw(order[target], delta < 0 ? "up" : "down");
      live.textContent = `${plain(byId.get(order[target]).html)} moved to position ${target + 1} of ${order.length}.`;
      ctx.onChange([...order]);
    };
    const draw = (focusId, dir) => {
      list.replaceChildren();
      order.forEach((id, index) => {
        const opt = byId.get(id);
        const label = plain(opt.html);
        const up = el("button", {type: "button", class: "btn-small", "data-dir": "up", disabled: ctx.disabled || index === 0,
                                 "aria-label": `Move up: ${label}`, text: "↑", onclick: () => move(index, -1)});
        const down = el("button", {type: "button", class: "btn-small", "data-dir": "down",
                                   disabled: ctx.disabled || index === order.length - 1,
                                   "aria-label": `Move down: ${label}`, text: "↓", onclick: () => move(index, 1)});
        list.append(el("li", {"data-option-id": id}, [el("span", {class: "option-html", html: opt.html}),
                                                        el("span", {class: "row-tools"}, [up, down])]));
        if (id === focusId) {
          const want = (dir === "up" && index > 0) || (dir === "down" && index === order.length - 1) ? up : down;
          queueMicrotask(() => (want.disabled ? (want === up ? down : up) : want).focus());
        }
      });
    };
    draw();
    wrap.append(list, confirm, live);
    return wrap;
  },

  match(ctx) {
    const inter = ctx.item.interaction || {};
    const maxAssoc = inter.max_associations || 1;
    const pairs = Array.isArray(ctx.response) ? ctx.response.map((p) => [...p]) : [];
    const report = () => ctx.onChange(pairs.length ? pairs.map((p) => [...p]) : null);
    const table = el("table", {class: "match-table", "aria-describedby": ctx.hintId});
    table.append(el("thead", {}, el("tr", {}, [el("th", {scope: "col", text: "Item"}),
                                               el("th", {scope: "col", text: maxAssoc > 1 ? "Matches" : "Matches with"})])));
    const body = el("tbody");
    for (const left of inter.left || []) {
      const leftId = `${ctx.id}-left-${left.id}`;
      let cell;
      if (maxAssoc === 1) {
        const current = pairs.find((p) => p[0] === left.id);
        const select = el("select", {"aria-labelledby": leftId, disabled: ctx.disabled,
                                     onchange: (e) => {
                                       const idx = pairs.findIndex((p) => p[0] === left.id);
                                       if (idx >= 0) pairs.splice(idx, 1);
                                       if (e.target.value) pairs.push([left.id, e.target.value]);
                                       report();
                                     }},
                            [el("option", {value: "", text: "— choose —"})]);
        for (const right of inter.right || []) {
          select.append(el("option", {value: right.id, selected: current && current[1] === right.id, text: plain(right.html)}));
        }
        cell = select;
      } else {
        const group = el("fieldset", {class: "match-multi"}, el("legend", {class: "visually-hidden", text: `Matches for ${plain(left.html)}`}));
        const boxes = [];
        const sync = () => {
          const count = pairs.filter((p) => p[0] === left.id).length;
          for (const b of boxes) b.disabled = ctx.disabled || (!b.checked && count >= maxAssoc);
        };
        for (const right of inter.right || []) {
          const id = `${ctx.id}-m-${left.id}-${right.id}`;
          const box = el("input", {type: "checkbox", id, value: right.id, disabled: ctx.disabled,
                                   checked: pairs.some((p) => p[0] === left.id && p[1] === right.id),
                                   onchange: (e) => {
                                     const idx = pairs.findIndex((p) => p[0] === left.id && p[1] === right.id);
                                     if (e.target.checked && idx < 0) pairs.push([left.id, right.id]);
                                     if (!e.target.checked && idx >= 0) pairs.splice(idx, 1);
                                     sync();
                                     report();
                                   }});
          boxes.push(box);
          group.append(el("label", {class: "check", for: id}, [box, el("span", {html: right.html})]));
        }
        sync();
        cell = group;
      }
      body.append(el("tr", {}, [el("th", {scope: "row", id: leftId, html: left.html}), el("td", {}, cell)]));
    }
    table.append(body);
    return el("div", {class: "table-wrap"}, table);
  },

  inline_choice(ctx, stem) {
    const inter = ctx.item.interaction || {};
    const answer = ctx.response && typeof ctx.response === "object" ? {...ctx.response} : {};
    const gaps = new Map((inter.gaps || []).map((g) => [g.id, g]));
    let n = 0;
    for (const span of stem.querySelectorAll("span[data-gap]")) {
      const gap = gaps.get(span.getAttribute("data-gap"));
      if (!gap) continue;
      n += 1;
      const select = el("select", {class: "gap-select", "aria-label": `Gap ${n}`, "data-gap": gap.id, disabled: ctx.disabled,
                                   onchange: (e) => {
                                     if (e.target.value) answer[gap.id] = e.target.value; else delete answer[gap.id];
                                     ctx.onChange(Object.keys(answer).length ? {...answer} : null);
                                   }},
                          [el("option", {value: "", text: `— gap ${n} —`})]);
      for (const opt of gap.options || []) {
        select.append(el("option", {value: opt.id, selected: answer[gap.id] === opt.id, text: plain(opt.html)}));
      }
      span.replaceWith(select);
    }
    return null;
  },
};

/** Wide code blocks and tables in authored HTML can scroll: make them reachable by keyboard. */
function keyboardScrollable(node) {
  for (const block of node.querySelectorAll("pre, table")) {
    if (!block.hasAttribute("tabindex")) block.setAttribute("tabindex", "0");
  }
}

/** Text of an HTML fragment (for option labels inside <select> and aria-labels). */
export function plain(html) {
  const tmp = document.createElement("template");
  tmp.innerHTML = html || "";
  return (tmp.content.textContent || "").replace(/\s+/g, " ").trim();
}
