// The console's JSON REST API (/api/v1) from the browser: the session cookie goes along on its
// own; every change also carries the X-CSRF-Token header (the podwall_csrf cookie, or the token
// the login answered). Errors become ApiError with the server's detail and extra fields.

const BASE = "/api/v1";
const CSRF_COOKIE = "podwall_csrf";
let loginCsrf = "";
let onAuthProblem = () => {};

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body && typeof body === "object" ? body : {};
  }

  // Every message the server sent (e.g. each validation message), else the detail.
  get messages() {
    const messages = this.body.messages;
    return Array.isArray(messages) && messages.length ? messages.map(String) : [this.message];
  }
}

function describe(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) { // FastAPI's request validation: [{loc, msg}]
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("\n");
  }
  return `the server answered HTTP ${status}`;
}

export function setCsrf(token) {
  loginCsrf = token || "";
}

// Called with the ApiError for 401 (log in again) and for 403 "change your password first".
export function onAuth(handler) {
  onAuthProblem = handler;
}

function csrfToken() {
  const prefix = `${CSRF_COOKIE}=`;
  const cookie = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith(prefix));
  return cookie ? decodeURIComponent(cookie.slice(prefix.length)) : loginCsrf;
}

export function apiUrl(path, query) {
  const url = new URL(BASE + path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

async function request(method, path, { body, query, quiet = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const response = await fetch(apiUrl(path, query), {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 500) };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (!quiet && isAuthProblem(error)) onAuthProblem(error);
    throw error;
  }
  return data;
}

export function isAuthProblem(error) {
  return error.status === 401 || (error.status === 403 && /change your password/i.test(error.message));
}

export const api = {
  get: (path, query, options = {}) => request("GET", path, { query, ...options }),
  post: (path, body = {}, options = {}) => request("POST", path, { body, ...options }),
  put: (path, body = {}, options = {}) => request("PUT", path, { body, ...options }),
  del: (path, options = {}) => request("DELETE", path, options),
};

const enc = encodeURIComponent;

// The cluster's namespaces (names) and pods from its last sync; [] when the server has none.
export async function namespaceNames(cluster) {
  const found = await api.get(`/clusters/${enc(cluster)}/namespaces`);
  return found.map((n) => n.name);
}

export async function podsOf(cluster, namespace) {
  return api.get(`/clusters/${enc(cluster)}/pods`, { namespace });
}
