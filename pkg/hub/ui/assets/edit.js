// Editing an existing object in a modal dialog: the fields, then a PUT
// with the resourceVersion read. A field error (the UI's checks or the
// hub's details.field) stays at its field, a lost race (409 conflict on
// resourceVersion) says "changed by someone else, reload" and keeps what
// the user typed; after Reload, Save writes it over the other change.
import { api } from './api.js';
import { h, replace, errorBox, announce, confirmDialog } from './dom.js';
import { showErrors, apiFieldError, isStale, staleNotice } from './forms.js';

const editDialog = confirmDialog('edit');
export const dialogEl = editDialog.el;

// editButton is the row's Edit button; open() builds the fields and
// returns {body, checks, ids, payload(rv)}.
export function editButton(what, label, obj, path, open, done) {
  return h('button', { type: 'button', class: 'secondary small', 'data-edit': label, 'aria-label': `Edit ${what} ${label}`,
    onclick: () => editWith(`Edit ${what} ${label}`, obj, path, `${what[0].toUpperCase()}${what.slice(1)} ${label}`, open(), done) }, 'Edit');
}

export function editWith(title, obj, path, what, { body, checks, ids, payload }, done) {
  let rv = obj.resourceVersion;
  const status = h('div', { id: 'edit-status', 'aria-live': 'polite' });
  editDialog.open(title, 'Changes apply when you save.', async () => {
    replace(status);
    if (!showErrors(editDialog.el, checks())) return false;
    try {
      await api(path, { method: 'PUT', body: payload(rv) });
    } catch (err) {
      if (isStale(err)) {
        replace(status, staleNotice(what, () => api(path), (fresh) => { rv = fresh.resourceVersion; done(); }));
        return false;
      }
      if (!apiFieldError(editDialog.el, err, ids)) replace(status, errorBox(err));
      return false;
    }
    announce(`Saved ${what}`);
    done();
    return true;
  }, { ok: 'Save', danger: false, body: h('div', {}, body, status) });
}
