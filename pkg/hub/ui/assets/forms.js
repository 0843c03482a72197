// Form fields with their error next to them, and the checks the hub makes
// on the same fields (pkg/hub/api), so that most mistakes are shown before
// a request; what only the hub can tell (a quota above the group's, a
// name taken) comes back in the error's details.field and is shown at
// the same place.
import { h, replace } from './dom.js';

export const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$/;

// field wraps a control with its label, an optional hint and a place for
// its error; the control's id names the field. The error is tied to the
// control with aria-describedby and aria-invalid.
export function field(label, control, hint) {
  const id = control.id;
  const err = h('p', { class: 'field-error', id: id + '-error', hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null;
  control.setAttribute('aria-describedby', [hint ? id + '-hint' : '', id + '-error'].filter(Boolean).join(' '));
  return h('div', { class: 'field', 'data-field': id }, h('label', { for: id }, label), control, hintEl, err);
}

// setError shows (or clears, with '') the error of the field whose
// control has the id.
export function setError(root, id, text) {
  const control = root.querySelector('#' + CSS.escape(id));
  const err = root.querySelector('#' + CSS.escape(id + '-error'));
  if (!control || !err) return false;
  if (text) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
  err.hidden = !text;
  err.textContent = text || '';
  return true;
}

export function clearErrors(root) {
  root.querySelectorAll('[aria-invalid]').forEach((c) => c.removeAttribute('aria-invalid'));
  root.querySelectorAll('.field-error').forEach((e) => { e.hidden = true; e.textContent = ''; });
}

// showErrors shows checks' results ({id: message}) and focuses the first
// bad field; it returns whether there was none.
export function showErrors(root, errors) {
  clearErrors(root);
  let first = null;
  for (const [id, text] of Object.entries(errors)) {
    if (text && setError(root, id, text) && !first) first = root.querySelector('#' + CSS.escape(id));
  }
  if (first) first.focus();
  return !first;
}

// apiFieldError puts an API error at its field: details.field (a JSON
// path such as "quota.cpu" or "profiles[0].version") is turned into a
// control id by fieldIds (a map or a function); it returns whether the
// error found a field (else the caller shows it on the form).
export function apiFieldError(root, err, fieldIds) {
  const path = err && err.details && err.details.field;
  if (!path) return false;
  const id = typeof fieldIds === 'function' ? fieldIds(path) : fieldIds[path];
  if (!id) return false;
  // The message names the field first ("quota.cpu: ..."): keep the rest.
  const text = err.message.startsWith(path + ': ') ? err.message.slice(path.length + 2) : err.message;
  clearErrors(root);
  if (!setError(root, id, text)) return false;
  root.querySelector('#' + CSS.escape(id)).focus();
  return true;
}

// The hub's checks, each returning '' or what is wrong.
export const check = {
  name(v, max = 63) {
    if (!v) return 'is required';
    if (v.length > max) return `must be at most ${max} characters`;
    if (!NAME.test(v)) return "must be lower-case letters, digits and '-', starting and ending with a letter or digit";
    return '';
  },
  required(v) { return v ? '' : 'is required'; },
  quantity(v) {
    if (!v) return '';
    if (!QUANTITY.test(v.trim())) return `must be a Kubernetes quantity such as 2, 500m or 4Gi, not "${v}"`;
    return '';
  },
  text(v, max) {
    if (v.length > max) return `must be at most ${max} characters`;
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v)) return 'must not contain control characters';
    return '';
  },
  email(v) {
    if (!v) return '';
    return /^[^\s@<>()",;]+@[^\s@<>()",;]+\.[^\s@<>()",;]+$/.test(v) && v.length <= 254 ? '' : 'must be a plain e-mail address like ada@example.com';
  },
};

// status is a polite live region for a form's outcome.
export function statusArea(id) {
  return h('div', { id, class: 'form-status', 'aria-live': 'polite' });
}

export function ok(el, ...text) {
  replace(el, h('p', { class: 'ok' }, ...text));
}

// isStale tells a write refused because the object changed since it was
// read (the hub's 409 "conflict" on resourceVersion) from other errors.
export function isStale(err) {
  return !!err && err.status === 409 && err.code === 'conflict' && (!err.details || !err.details.field || err.details.field === 'resourceVersion');
}

// staleNotice says an edit lost a race and offers Reload, which reads the
// object again (reload returns it) and hands it to onReloaded; the form's
// input is kept, so Save then writes it over the other change.
export function staleNotice(what, reload, onReloaded) {
  const btn = h('button', { type: 'button', class: 'secondary small', 'data-reload': what }, 'Reload');
  const box = h('div', { class: 'error stale', role: 'alert' },
    h('p', {}, `${what} was changed by someone else since you opened it: reload to see their change. Your input is kept; Save after reloading writes it over theirs.`), btn);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      const fresh = await reload();
      onReloaded(fresh);
      replace(box, h('p', { class: 'ok', role: 'status' }, `Reloaded ${what} (now version ${fresh.resourceVersion}). Your input is kept: Save to write it.`));
    } catch (err) {
      replace(box, h('p', {}, err.message || String(err)));
    }
  });
  return box;
}

// textarea is a multi-line control with the field's id.
export function textarea(id, attrs = {}) {
  return h('textarea', { id, rows: 6, spellcheck: 'false', autocomplete: 'off', ...attrs });
}

// fileInto is a file picker that loads the chosen file into a textarea
// (text) or hands its bytes to onBytes as base64 (binary archives).
export function fileInto(id, label, { target, accept, onBytes } = {}) {
  const input = h('input', { type: 'file', id, accept: accept || false });
  input.addEventListener('change', async () => {
    const f = input.files && input.files[0];
    if (!f) return;
    if (target) {
      target.value = await f.text();
      target.dispatchEvent(new Event('input', { bubbles: true }));
    }
    if (onBytes) onBytes(await base64(f), f);
  });
  return h('div', { class: 'field file' }, h('label', { for: id }, label), input);
}

// base64 reads a file's bytes as base64 (how JSON carries []byte).
export function base64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}
