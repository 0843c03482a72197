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
