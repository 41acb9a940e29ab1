// Calls from the console: its own session API, and the public kboss
// endpoints with the session cookie (plus the CSRF token on every
// state-changing call). Errors carry the APIs' own wording.

let csrf = null;

/** An answer that is not a success: `msg` as the API worded it. */
export class ApiError extends Error {
  constructor(message, status, detail) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

let onSignedOut = () => {};
/** Called when a call finds the session gone (401). */
export function whenSignedOut(f) {
  onSignedOut = f;
}

async function json(resp) {
  const text = await resp.text();
  try {
    return JSON.parse(text);
  } catch {
    return { msg: text || resp.statusText };
  }
}

/** The current session, or null. */
export async function currentSession() {
  const r = await fetch("/console/api/session", { credentials: "same-origin" });
  if (r.status === 401) return null;
  const body = await json(r);
  if (!r.ok) throw new ApiError(body.msg ?? r.statusText, r.status);
  csrf = body.csrf;
  return body;
}

export async function signIn(org, name, password) {
  const r = await fetch("/console/api/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ org, name, password }),
  });
  const body = await json(r);
  if (!r.ok) throw new ApiError(body.msg ?? r.statusText, r.status);
  csrf = body.csrf;
  return body;
}

export async function signOut() {
  await fetch("/console/api/session", {
    method: "DELETE",
    credentials: "same-origin",
    headers: csrf ? { "x-csrf-token": csrf } : {},
  });
  csrf = null;
}

function encode(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    // Empty strings are sent: some documented fields are required but may be empty.
    if (v === undefined || v === null) continue;
    q.append(k, typeof v === "object" ? JSON.stringify(v) : String(v));
  }
  return q;
}

/**
 * A kboss endpoint (`/dev/cpcc/<path>.dspy`): GET with a query, POST with a
 * form. Resolves to the whole `{status, msg, data, ...}` answer when
 * `status` is true; throws ApiError with the answer's `msg` otherwise.
 */
export async function kboss(method, path, params) {
  const url = `/dev/cpcc/${path}.dspy`;
  const init = { method, credentials: "same-origin", headers: {} };
  let target = url;
  if (method === "GET") {
    const q = encode(params).toString();
    if (q) target += `?${q}`;
  } else {
    init.headers["content-type"] = "application/x-www-form-urlencoded";
    init.headers["x-csrf-token"] = csrf ?? "";
    init.body = encode(params).toString();
  }
  const r = await fetch(target, init);
  const body = await json(r);
  if (r.status === 401) {
    onSignedOut();
  }
  if (!r.ok || body.status === false) {
    const detail = typeof body.detail === "string" ? body.detail : undefined;
    throw new ApiError(body.msg ?? body.message ?? r.statusText, r.status, detail);
  }
  return body;
}

/**
 * An operator's call on the admin API (`/admin/<path>`), with the session
 * and, on changes, the CSRF token. `body` is sent as is (a File for a
 * plugin upload). Resolves to the JSON answer; throws ApiError with the
 * answer's `error` otherwise.
 */
export async function admin(method, path, { query, body } = {}) {
  let target = `/admin/${path}`;
  const q = encode(query).toString();
  if (q) target += `?${q}`;
  const init = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") init.headers["x-csrf-token"] = csrf ?? "";
  if (body !== undefined) {
    // A component uploads as bytes; anything else as JSON.
    const bytes = body instanceof ArrayBuffer || body instanceof Blob || ArrayBuffer.isView(body);
    init.body = bytes ? body : JSON.stringify(body);
    init.headers["content-type"] = bytes ? "application/wasm" : "application/json";
  }
  const r = await fetch(target, init);
  const answer = await json(r);
  if (!r.ok) {
    // What a refused plugin needs granted: its imports, its public routes.
    const grants = answer.needs?.grants ?? [];
    const open = answer.needs?.["public-routes"] ?? [];
    const needs = [grants.length ? grants.join(", ") : null, open.length ? `public-routes: ${open.join(", ")}` : null]
      .filter(Boolean)
      .join("; ");
    throw new ApiError(answer.error ?? answer.msg ?? r.statusText, r.status, needs || undefined);
  }
  return answer;
}

/**
 * A read of the host's operations (`/operations...`), with the session
 * cookie. Resolves to the JSON answer; throws ApiError with the answer's
 * `error` otherwise.
 */
export async function operations(path, query) {
  let target = `/operations${path}`;
  const q = encode(query).toString();
  if (q) target += `?${q}`;
  const r = await fetch(target, { credentials: "same-origin" });
  const answer = await json(r);
  if (r.status === 401) onSignedOut();
  if (!r.ok) throw new ApiError(answer.error ?? answer.msg ?? r.statusText, r.status);
  return answer;
}

// Changes other views should follow without a reload (a new pricing engine
// changes every quote): announced in this tab and to the console's other
// tabs.
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("computehub-console") : null;
const listeners = new Set();

/** Tell every view, here and in other tabs, that `what` changed. */
export function announce(what) {
  for (const f of listeners) f(what);
  channel?.postMessage(what);
}

/** Call `f(what)` on every announcement; returns the unsubscribe. */
export function onAnnounce(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

channel?.addEventListener("message", (e) => {
  for (const f of listeners) f(e.data);
});
