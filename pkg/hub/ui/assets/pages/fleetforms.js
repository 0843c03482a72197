// Host clusters and cluster groups: register a host by kubeconfig (pasted
// or uploaded), create a cluster group, and edit both in a dialog that
// writes with the resourceVersion read (a lost race says so and keeps
// the input). The checks mirror pkg/hub/api/fleet_types.go.
import { api } from '../api.js';
import { h, replace, errorBox, announce } from '../dom.js';
import { field, showErrors, apiFieldError, check, textarea, fileInto } from '../forms.js';
import { editWith, dialogEl } from '../edit.js';

const MAX_KUBECONFIG = 256 << 10;
const DIMS = [['cpu', 'CPU'], ['memory', 'Memory'], ['storage', 'Storage'], ['pods', 'Pods']];
export const ENDPOINTS = ['Local', 'NodePort', 'LoadBalancer', 'Ingress'];

const input = (id, attrs = {}) => h('input', { id, autocomplete: 'off', spellcheck: 'false', ...attrs });

export const dialogs = [dialogEl];

function kubeconfigCheck(v, required) {
  if (!v.trim()) return required ? "is required: the host cluster's kubeconfig (YAML)" : '';
  if (v.length > MAX_KUBECONFIG) return `must be at most ${MAX_KUBECONFIG} bytes`;
  if (!/^\s*clusters\s*:/m.test(v) || !/server\s*:/.test(v)) return 'is not a kubeconfig: it names no cluster with a server';
  return '';
}

// hostForm registers a host cluster.
export function hostForm(done) {
  const name = input('host-name', { maxlength: 63 });
  const desc = input('host-description', { maxlength: 1024 });
  const kc = textarea('host-kubeconfig', { rows: 8, placeholder: 'apiVersion: v1\nkind: Config\nclusters: …' });
  return simpleForm({
    id: 'host-form', title: 'Register host cluster', done,
    fields: [field('Name', name, "Lower-case letters, digits and '-'."), field('Description', desc),
      field('Kubeconfig', kc, 'Paste it, or upload the file below. Stored encrypted, never shown again.'),
      fileInto('host-kubeconfig-file', 'Upload a kubeconfig file', { target: kc })],
    checks: () => ({ 'host-name': check.name(name.value.trim()), 'host-description': check.text(desc.value, 1024), 'host-kubeconfig': kubeconfigCheck(kc.value, true) }),
    ids: { name: 'host-name', description: 'host-description', kubeconfig: 'host-kubeconfig' },
    async send() {
      const x = await api('/hostclusters', { method: 'POST', body: { name: name.value.trim(), description: desc.value || undefined, kubeconfig: kc.value } });
      return `Registered host cluster ${x.name}: the hub checks it next`;
    },
  });
}

// editHost opens the host's edit dialog (description; a new kubeconfig
// replaces the stored one, empty keeps it).
export function editHostButton(x, done) {
  return h('button', { type: 'button', class: 'secondary small', 'data-edit': x.name, 'aria-label': `Edit host cluster ${x.name}`, onclick: () => {
    const desc = input('hoste-description', { maxlength: 1024, value: x.description || '' });
    const kc = textarea('hoste-kubeconfig', { rows: 5, placeholder: 'Empty keeps the stored kubeconfig' });
    const body = h('div', { class: 'grid' }, field('Description', desc), field('New kubeconfig', kc, 'Empty keeps the stored one.'),
      fileInto('hoste-kubeconfig-file', 'Upload a kubeconfig file', { target: kc }));
    const path = `/hostclusters/${x.id}`;
    editWith(`Edit host cluster ${x.name}`, x, path, 'Host cluster ' + x.name, { body,
      checks: () => ({ 'hoste-description': check.text(desc.value, 1024), 'hoste-kubeconfig': kubeconfigCheck(kc.value, false) }),
      ids: { description: 'hoste-description', kubeconfig: 'hoste-kubeconfig' },
      payload: (rv) => ({ description: desc.value, kubeconfig: kc.value || undefined, resourceVersion: rv }),
    }, done);
  } }, 'Edit');
}

// groupFields builds the fields of a cluster group (prefix keeps the ids
// of the create form and the edit dialog apart).
function groupFields(prefix, g, hosts, profiles) {
  const id = (s) => `${prefix}-${s}`;
  const desc = input(id('description'), { maxlength: 1024, value: g.description || '' });
  const hostBoxes = hosts.map((x) => h('input', { type: 'checkbox', id: id('host-' + x.id), value: x.id, checked: (g.hostClusterIds || []).includes(x.id) }));
  const hostList = h('fieldset', { id: id('hosts'), tabindex: '-1', 'aria-describedby': id('hosts-error') }, h('legend', {}, 'Host clusters'),
    hosts.length ? h('ul', { class: 'plain' }, hostBoxes.map((b, i) => h('li', {}, b, ' ', h('label', { for: b.id }, `${hosts[i].name} (${hosts[i].status.phase})`))))
      : h('p', { class: 'muted' }, 'No host cluster registered yet.'),
    h('p', { class: 'field-error', id: id('hosts-error'), hidden: true }));
  const quota = Object.fromEntries(DIMS.map(([d]) => [d, input(id(d), { value: (g.quota || {})[d] || '', inputmode: d === 'pods' ? 'numeric' : false })]));
  const max = input(id('max'), { type: 'number', min: 0, step: 1, value: String(g.maxVirtualClusters || 0) });
  const over = input(id('over'), { type: 'number', min: 0, max: 1000, step: 1, value: String(g.oversubscriptionPercent || 0) });
  const endpoint = h('select', { id: id('endpoint') }, ENDPOINTS.map((e) => h('option', { value: e, selected: e === (g.endpointType || 'Local') }, e)));
  const config = textarea(id('config'), { rows: 4, value: g.defaultConfig || '', placeholder: 'nest.yaml every virtual cluster starts from' });
  // Profiles: keep the version each attached one is pinned to.
  const pinned = new Map((g.profiles || []).map((r) => [r.profileId, r.version || '']));
  const profileBoxes = profiles.map((p) => h('input', { type: 'checkbox', id: id('profile-' + p.id), value: p.id, checked: pinned.has(p.id) }));
  const profileList = profiles.length ? h('fieldset', { id: id('profiles'), tabindex: '-1', 'aria-describedby': id('profiles-error') }, h('legend', {}, 'Profiles every virtual cluster of the group gets'),
    h('ul', { class: 'plain' }, profileBoxes.map((b, i) => h('li', {}, b, ' ', h('label', { for: b.id }, `${profiles[i].name} (${pinned.get(profiles[i].id) || 'latest'})`)))),
    h('p', { class: 'field-error', id: id('profiles-error'), hidden: true })) : null;
  const nodes = [field('Description', desc), hostList,
    h('fieldset', {}, h('legend', {}, 'Quota of each virtual cluster (its default and its most)'),
      h('div', { class: 'grid' }, DIMS.map(([d, l]) => field(l, quota[d])))),
    field('Maximum virtual clusters', max, '0 is no limit.'), field('Oversubscription (%)', over, 'How far quotas may exceed the hosts\' capacity: 0 to 1000.'),
    field('Endpoint type', endpoint, 'How tenants reach the virtual apiservers; the process runtime serves Local.'),
    field('Default config', config, 'Optional nest.yaml, checked by the hub.'), profileList];
  const int = (el) => Number(el.value === '' ? 0 : el.value);
  return {
    nodes,
    checks() {
      const e = { [id('description')]: check.text(desc.value, 1024) };
      for (const [d] of DIMS) e[id(d)] = check.quantity(quota[d].value);
      const m = int(max);
      e[id('max')] = Number.isInteger(m) && m >= 0 ? '' : 'must be 0 (no limit) or more';
      const o = int(over);
      e[id('over')] = Number.isInteger(o) && o >= 0 && o <= 1000 ? '' : 'must be from 0 to 1000';
      e[id('config')] = config.value.length > 64 << 10 ? `must be at most ${64 << 10} bytes` : '';
      return e;
    },
    spec: () => ({
      description: desc.value,
      hostClusterIds: hostBoxes.filter((b) => b.checked).map((b) => b.value),
      quota: Object.fromEntries(DIMS.map(([d]) => [d, quota[d].value.trim()]).filter(([, v]) => v)),
      maxVirtualClusters: int(max), oversubscriptionPercent: int(over), endpointType: endpoint.value,
      defaultConfig: config.value || undefined,
      profiles: profileBoxes.filter((b) => b.checked).map((b) => ({ profileId: b.value, version: pinned.get(b.value) || undefined })),
    }),
    // The hub's details.field to a control id.
    ids(path) {
      const m = path.match(/^quota\.(\w+)$/);
      if (m) return id(m[1]);
      if (/^hostClusterIds/.test(path)) return id('hosts');
      if (/^profiles/.test(path)) return id('profiles');
      return { description: id('description'), maxVirtualClusters: id('max'), oversubscriptionPercent: id('over'), endpointType: id('endpoint'), defaultConfig: id('config'), name: id('name') }[path];
    },
  };
}

// groupForm creates a cluster group.
export function groupForm(hosts, profiles, done) {
  const name = input('group-name', { maxlength: 63 });
  const f = groupFields('group', {}, hosts, profiles);
  return simpleForm({
    id: 'group-form', title: 'Create cluster group', done,
    fields: [field('Name', name, "Lower-case letters, digits and '-'."), ...f.nodes],
    checks: () => ({ 'group-name': check.name(name.value.trim()), ...f.checks() }),
    ids: f.ids,
    async send() {
      const g = await api('/clustergroups', { method: 'POST', body: { name: name.value.trim(), ...f.spec() } });
      return `Created cluster group ${g.name}`;
    },
  });
}

export function editGroupButton(g, hosts, profiles, done) {
  return h('button', { type: 'button', class: 'secondary small', 'data-edit': g.name, 'aria-label': `Edit cluster group ${g.name}`, onclick: () => {
    const f = groupFields('groupe', g, hosts, profiles);
    editWith(`Edit cluster group ${g.name}`, g, `/clustergroups/${g.id}`, 'Cluster group ' + g.name, {
      body: h('div', { class: 'stack' }, f.nodes), checks: f.checks, ids: f.ids, payload: (rv) => ({ ...f.spec(), resourceVersion: rv }),
    }, done);
  } }, 'Edit');
}

// simpleForm is a card form: checks, then send; errors at their fields.
function simpleForm({ id, title, fields, checks, send, ids, done }) {
  const status = h('div', { id: id + '-status', class: 'form-status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', id: id + '-submit' }, title);
  const form = h('form', { id, class: 'card form', novalidate: true, 'aria-label': title, onsubmit: async (e) => {
    e.preventDefault();
    replace(status);
    if (!showErrors(form, checks())) return;
    submit.disabled = true;
    try {
      const msg = await send();
      form.reset();
      replace(status, h('p', { class: 'ok' }, msg));
      announce(msg);
      done();
    } catch (err) {
      if (!apiFieldError(form, err, ids)) replace(status, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  } }, h('details', { class: 'form-fold' }, h('summary', {}, h('h2', {}, title)), h('div', { class: 'grid wide' }, fields), h('div', { class: 'actions' }, submit), status));
  return form;
}
