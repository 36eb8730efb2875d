// Results and item analysis of an exam: GET /api/v1/exams/{id}/analysis (classical statistics) drawn with
// Chart.js (score distribution, difficulty against discrimination) and POST /calibrate for item characteristic
// curves. Every chart has the same numbers in a table next to it.
import {api, pageData} from "./api.js";
import {el} from "./render.js";

const {exam_id: examId} = pageData();
const itemTitles = new Map();
const box = document.getElementById("analysis");
const Chart = window.Chart;
const fmt = new Intl.NumberFormat(undefined, {maximumFractionDigits: 3});
const num = (v) => (v === null || v === undefined ? "—" : fmt.format(v));

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function chartBox(id, label, table) {
  const canvas = el("canvas", {id, role: "img", "aria-label": label});
  return el("figure", {class: "card"}, [
    el("figcaption", {}, el("h2", {text: label})),
    Chart ? el("div", {class: "chart-box"}, canvas) : el("p", {class: "muted", text: "The chart library is not installed; the numbers are below."}),
    el("details", {}, [el("summary", {text: "The numbers of this chart"}), table]),
  ]);
}

function table(headers, rows, caption) {
  return el("div", {class: "table-wrap"}, el("table", {}, [
    el("caption", {class: "visually-hidden", text: caption}),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {scope: "col", text: h})))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => (i === 0 ? el("th", {scope: "row", text: c}) : el("td", {text: c})))))),
  ]));
}

function baseOptions(xTitle, yTitle) {
  const text = cssVar("--text"), grid = cssVar("--border");
  return {
    responsive: true, maintainAspectRatio: false, animation: false,
    plugins: {legend: {labels: {color: text}}},
    scales: {x: {title: {display: true, text: xTitle, color: text}, ticks: {color: text}, grid: {color: grid}},
             y: {title: {display: true, text: yTitle, color: text}, ticks: {color: text}, grid: {color: grid}}},
  };
}

/** Scores as [label, count]: the distinct scores when few, else ten equal ranges. */
function bins(pairs) {
  if (pairs.length <= 12) return pairs.map(([score, count]) => [num(score), count]);
  const lo = pairs[0][0], hi = pairs[pairs.length - 1][0];
  const width = (hi - lo) / 10 || 1;
  const out = Array.from({length: 10}, (_, i) => [`${num(lo + i * width)}–${num(lo + (i + 1) * width)}`, 0]);
  for (const [score, count] of pairs) out[Math.min(9, Math.floor((score - lo) / width))][1] += count;
  return out;
}

async function load() {
  try {
    const exam = await api("GET", `/api/v1/exams/${examId}`);
    document.getElementById("exam-name").textContent = exam.title;
  } catch { /* the analysis call reports access problems */ }
  let data;
  try {
    data = await api("GET", `/api/v1/exams/${examId}/analysis`);
  } catch (err) {
    box.replaceChildren(el("div", {class: "card"}, el("p", {text: err.code === "not_enough_data"
      ? "The analysis needs at least two scored attempts. Come back when learners have taken the exam."
      : `The analysis could not be loaded: ${err.message}`})));
    return;
  }
  const t = data.test, d = t.distribution;
  const freq = bins(Object.entries(d.frequencies).map(([k, v]) => [Number(k), v]).sort((a, b) => a[0] - b[0]));
  const items = data.items;
  for (const i of items) itemTitles.set(String(i.item_id), i.title);
  box.replaceChildren(
    el("section", {class: "card", "aria-labelledby": "summary-h"}, [
      el("h2", {id: "summary-h", text: "Summary"}),
      el("dl", {class: "facts"}, [
        el("dt", {text: "Scored attempts"}), el("dd", {text: t.n_examinees}),
        el("dt", {text: "Items"}), el("dd", {text: t.n_items}),
        el("dt", {text: "Mean score (sd)"}), el("dd", {text: `${num(d.mean)} (${num(d.sd)})`}),
        el("dt", {text: "Median [quartiles]"}), el("dd", {text: `${num(d.median)} [${num(d.q1)}, ${num(d.q3)}]`}),
        el("dt", {text: "Reliability (alpha)"}), el("dd", {text: `${num(t.alpha)}${t.kr20 !== null && t.kr20 !== undefined ? ` (KR-20 ${num(t.kr20)})` : ""}`}),
        el("dt", {text: "Standard error of measurement"}), el("dd", {text: num(t.sem)}),
      ]),
    ]),
    chartBox("dist-chart", "Score distribution", table(["Score", "Attempts"], freq, "Score distribution")),
    chartBox("pd-chart", "Difficulty against discrimination",
             table(["Item", "Difficulty p", "Discrimination (corrected r)"], items.map((i) => [i.title || i.item_id, num(i.p), num(i.point_biserial_corrected)]),
                   "Difficulty against discrimination")),
    el("section", {class: "card", "aria-labelledby": "items-h"}, [
      el("h2", {id: "items-h", text: "Items"}),
      el("p", {class: "hint", text: "p: mean score as a share of the points (higher is easier). r: correlation with the rest of the exam (below 0.2 deserves a look). D: upper minus lower group."}),
      table(["Item", "n", "p", "r (corrected)", "D", "Alpha if deleted"],
            items.map((i) => [i.title || `Item ${i.item_id}`, i.n, num(i.p), num(i.point_biserial_corrected), num(i.discrimination_index), num(i.alpha_if_deleted)]),
            "Item statistics"),
    ]),
  );
  document.getElementById("icc-section").hidden = false;
  if (!Chart) return;
  new Chart(document.getElementById("dist-chart"), {
    type: "bar",
    data: {labels: freq.map(([label]) => label), datasets: [{label: "Attempts", data: freq.map(([, c]) => c), backgroundColor: cssVar("--primary")}]},
    options: baseOptions("Score", "Attempts"),
  });
  new Chart(document.getElementById("pd-chart"), {
    type: "scatter",
    data: {datasets: [{label: "Items", data: items.map((i) => ({x: i.p, y: i.point_biserial_corrected, title: i.title})),
                       backgroundColor: cssVar("--primary"), pointRadius: 5}]},
    options: {...baseOptions("Difficulty p (share of points)", "Discrimination (corrected point-biserial)"),
              plugins: {legend: {display: false}, tooltip: {callbacks: {label: (ctx) => `${ctx.raw.title}: p ${num(ctx.raw.x)}, r ${num(ctx.raw.y)}`}}}},
  });
}

document.getElementById("calibrate-btn").addEventListener("click", async () => {
  const status = document.getElementById("icc-status");
  const model = document.getElementById("irt-model").value;
  status.textContent = `Calibrating (${model})…`;
  let cal;
  try {
    cal = await api("POST", `/api/v1/exams/${examId}/calibrate?model=${model}`);
  } catch (err) {
    status.textContent = err.code === "not_enough_data" ? "Calibration needs at least 10 scored attempts." : `Calibration failed: ${err.message}`;
    return;
  }
  const usable = cal.items.filter((i) => i.irt && Number.isFinite(i.irt.a) && Number.isFinite(i.irt.b));
  status.textContent = `${cal.converged ? "Converged" : "Did not converge"} after ${cal.n_iter} iterations on ${cal.n_attempts} attempts; ${usable.length} curves.`;
  const thetas = Array.from({length: 61}, (_, k) => -3 + k * 0.1);
  const prob = (p, th) => (p.c || 0) + (1 - (p.c || 0)) / (1 + Math.exp(-p.a * (th - p.b)));
  const holder = document.getElementById("icc");
  holder.replaceChildren(chartBox("icc-chart", "Probability of a correct answer against ability",
    table(["Item", "a", "b", "c"], usable.map((i) => [itemTitles.get(String(i.item_id)) || `Item ${i.item_id}`, num(i.irt.a), num(i.irt.b), num(i.irt.c ?? 0)]), "IRT parameters")));
  if (!Chart) return;
  const palette = ["#1d4f91", "#a4161a", "#1b6b34", "#7a4b00", "#5b21b6", "#0e7490", "#9d174d", "#374151"];
  new Chart(document.getElementById("icc-chart"), {
    type: "line",
    data: {labels: thetas.map((x) => x.toFixed(1)),
           datasets: usable.map((i, k) => ({label: itemTitles.get(String(i.item_id)) || `Item ${i.item_id}`, data: thetas.map((th) => prob(i.irt, th)),
                                            borderColor: palette[k % palette.length], pointRadius: 0, borderWidth: 2}))},
    options: {...baseOptions("Ability (θ)", "P(correct)"), scales: {...baseOptions("Ability (θ)", "P(correct)").scales,
              y: {...baseOptions("", "P(correct)").scales.y, min: 0, max: 1}}},
  });
});

load();
