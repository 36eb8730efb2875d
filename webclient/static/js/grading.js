// The marking queue: GET /api/v1/exams/{id}/grading/queue; each essay is marked with its rubric
// (POST /api/v1/sessions/{sid}/items/{iid}/marks).
import {api, formatDate, pageData} from "./api.js";
import {el} from "./render.js";

const {exam_id: examId} = pageData();
const box = document.getElementById("queue");
const status = document.getElementById("queue-status");

function entryCard(entry, index) {
  const idp = `e${index}`;
  const criteria = entry.rubric?.criteria || [];
  const chosen = {};
  const error = el("p", {class: "field-error", role: "alert", hidden: true});
  const comment = el("textarea", {id: `${idp}-comment`, rows: 3, maxlength: 5000});
  const card = el("article", {class: "card", "aria-labelledby": `${idp}-h`}, [
    el("h2", {id: `${idp}-h`, text: `${entry.title} · candidate ${entry.candidate}`}),
    el("p", {class: "hint", text: `Submitted ${formatDate(entry.submitted_at)} · ${entry.points} points · marks so far ${entry.marks_so_far} of ${entry.required_markers}`}),
    el("details", {}, [el("summary", {text: "Question"}), el("div", {class: "item-stem", html: entry.stem})]),
    el("h3", {text: "Answer"}),
    el("div", {class: "preview-frame", tabindex: "0", "aria-label": "The candidate's answer"},
       el("p", {class: "essay-answer", text: entry.response ?? "(no answer)"})),
    ...criteria.map((crit, ci) => el("fieldset", {}, [
      el("legend", {text: crit.title || crit.id}),
      ...crit.levels.map((level, li) => {
        const id = `${idp}-c${ci}-l${li}`;
        return el("label", {class: "check", for: id}, [
          el("input", {type: "radio", name: `${idp}-c${ci}`, id, value: li, onchange: () => { chosen[crit.id] = li; }}),
          el("span", {}, [el("strong", {text: `${level.label || `Level ${li + 1}`} (${level.points})`}), level.description ? ` — ${level.description}` : ""]),
        ]);
      }),
    ])),
    el("div", {class: "field"}, [el("label", {for: comment.id, text: "Comment (optional, kept with the mark)"}), comment]),
    error,
    el("div", {class: "actions"}, el("button", {type: "button", class: "btn-primary", text: "Save mark",
      onclick: async (e) => {
        const missing = criteria.filter((c) => chosen[c.id] === undefined);
        if (missing.length) { error.textContent = `Choose a level for: ${missing.map((c) => c.title || c.id).join(", ")}.`; error.hidden = false; return; }
        e.target.disabled = true;
        try {
          const out = await api("POST", `/api/v1/sessions/${encodeURIComponent(entry.session_id)}/items/${entry.item_id}/marks`,
                                {levels: chosen, comment: comment.value});
          card.remove();
          status.textContent = `Mark saved (${out.marker_score} points).${out.needs_another_marker ? " A second marker will also mark this answer." : ""} ${box.querySelectorAll("article").length} left.`;
          box.querySelector("article h2")?.setAttribute("tabindex", "-1");
          box.querySelector("article h2")?.focus();
        } catch (err) {
          error.textContent = `Not saved: ${err.message}`;
          error.hidden = false;
          e.target.disabled = false;
        }
      }})),
  ]);
  return card;
}

async function load() {
  try {
    const entries = await api("GET", `/api/v1/exams/${examId}/grading/queue`);
    status.textContent = entries.length ? `${entries.length} answer${entries.length === 1 ? "" : "s"} to mark.` : "Nothing to mark: the queue is empty.";
    box.replaceChildren(...entries.map(entryCard));
  } catch (err) {
    box.replaceChildren(el("div", {class: "notice notice-error", role: "alert"}, el("p", {text: `The queue could not be loaded: ${err.message}`})));
  } finally {
    box.setAttribute("aria-busy", "false");
  }
}

load();
