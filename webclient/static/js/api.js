// fetch() for the REST API with the cookie session: JSON in and out, the CSRF header on writes,
// and the API's error body ({"error": {"code", "message", "details"}}) thrown as ApiError.

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `request failed (${status})`);
    this.status = status;
    this.code = error?.code || (status === 0 ? "network_error" : "http_error");
    this.details = error?.details || null;
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

/** Call the API: api("POST", "/api/v1/items/3/publish", body?) -> parsed JSON (or null for 204). */
export async function api(method, url, body) {
  const headers = {Accept: "application/json"};
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(url, {method, headers, credentials: "same-origin",
                             body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (err) {
    throw new ApiError(0, {code: "network_error", message: "The server could not be reached. Check your connection."});
  }
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) throw new ApiError(resp.status, data?.error);
  return data;
}

/** Read the JSON a page embeds in <script type="application/json" id="page-data">. */
/** This browser's attempts (id, exam_id, title, at), newest first: the dashboard lists them when the server does not. */
export const HISTORY_KEY = "exam-engine:attempts";

export function rememberAttempt(sessionId, examId, title) {
  const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]").filter((a) => a.id !== sessionId);
  list.unshift({id: sessionId, exam_id: examId, title, at: new Date().toISOString()});
  localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, 50)));
}

export function pageData() {
  const node = document.getElementById("page-data");
  return node ? JSON.parse(node.textContent) : {};
}

/** A date for people, in their locale. */
export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString(undefined, {dateStyle: "medium", timeStyle: "short"});
}

/** Seconds as "1 h 05 min" / "12 min" / "45 s". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min`;
  return `${s} s`;
}
