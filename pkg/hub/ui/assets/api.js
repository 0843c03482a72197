// The hub's JSON API, the only thing the UI talks to. The API key lives in
// sessionStorage (gone with the tab) and is sent as a Bearer token.
const KEY = 'nest.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

// ApiError carries the hub's uniform error: code, message, details.
export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || '';
    this.details = body.details || {};
  }
}

function url(path, query) {
  let u = '/api/v1' + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const s = q.toString();
    if (s) u += '?' + s;
  }
  return u;
}

// api calls one route and returns its JSON (null for 204), or throws an
// ApiError. A 401 also tells the app, which goes back to sign-in.
export async function api(path, { method = 'GET', body, query } = {}) {
  const headers = { Accept: 'application/json' };
  const key = session.key();
  if (key) headers.Authorization = 'Bearer ' + key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url(path, query), {
    method, headers, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  const text = await r.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text }; }
  if (!r.ok) {
    if (r.status === 401) window.dispatchEvent(new CustomEvent('nest:unauthenticated'));
    throw new ApiError(r.status, data);
  }
  return data;
}

// listAll follows the cursor of a list route (1,000 items a request) up
// to max items.
export async function listAll(path, query = {}, max = 20000) {
  const items = [];
  let cursor;
  do {
    const page = await api(path, { query: { ...query, limit: 1000, cursor } });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}
