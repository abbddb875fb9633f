// The station's API as the panel calls it: the session cookie goes along by itself,
// and every request that changes something carries the session's CSRF token.

let csrf = null;

export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function setCsrf(token) {
  csrf = token;
}

export async function call(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await reply.json().catch(() => null);
  if (!reply.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : null;
    throw new ApiError(reply.status, detail, data);
  }
  return data;
}

/** GET that answers null when the station has no such route (yet). */
export async function optional(path) {
  try {
    return await call("GET", path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
