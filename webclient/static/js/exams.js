// The instructor's exams: GET /api/v1/exams, with links to the builder, marking, results and the live monitor.
import {api, formatDate, formatDuration} from "./api.js";
import {el} from "./render.js";

const box = document.getElementById("exam-list");

async function load() {
  try {
    const {items} = await api("GET", "/api/v1/exams?per_page=200");
    if (!items.length) {
      box.replaceChildren(el("div", {class: "card"}, el("p", {text: "You have no exam yet. Create one from your item banks."})));
      return;
    }
    box.replaceChildren(el("div", {class: "table-wrap"}, el("table", {}, [
      el("caption", {class: "visually-hidden", text: "Your exams"}),
      el("thead", {}, el("tr", {}, ["Exam", "Status", "Questions", "Time limit", "Published", "Links"].map((h) => el("th", {scope: "col", text: h})))),
      el("tbody", {}, items.map((e) => el("tr", {}, [
        el("td", {}, el("a", {href: `/author/exams/${e.id}`, text: e.title})),
        el("td", {}, [el("span", {class: `badge badge-${e.status}`, text: e.status}),
                      e.latest_version !== e.live_version && e.live_version ? el("span", {class: "hint", text: `v${e.live_version} live, v${e.latest_version} draft`}) : null]),
        el("td", {text: e.n_items ?? "—"}),
        el("td", {text: e.time_limit_s ? formatDuration(e.time_limit_s) : "none"}),
        el("td", {text: e.published_at ? formatDate(e.published_at) : "—"}),
        el("td", {}, el("div", {class: "actions"}, [
          el("a", {href: `/author/exams/${e.id}/results`, text: "Results", "aria-label": `Results of ${e.title}`}),
          el("a", {href: `/author/exams/${e.id}/grading`, text: "Marking", "aria-label": `Marking of ${e.title}`}),
          el("a", {href: `/monitor?exam=${e.id}`, text: "Monitor", "aria-label": `Live monitor of ${e.title}`}),
          el("a", {href: `/api/v1/exams/${e.id}/qti`, text: "QTI export", "aria-label": `QTI export of ${e.title}`, download: ""}),
        ])),
      ]))),
    ])));
  } catch (err) {
    box.replaceChildren(el("div", {class: "notice notice-error", role: "alert"}, el("p", {text: `Your exams could not be loaded: ${err.message}`})));
  } finally {
    box.setAttribute("aria-busy", "false");
  }
}

load();
