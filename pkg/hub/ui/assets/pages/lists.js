// The catalogue and access pages: one table each, loaded from the list
// routes the caller may use, with the forms to create and the buttons to
// delete what the caller's grants allow. Tenant lists are read per tenant
// the caller's grants name.
import { api, listAll } from '../api.js';
import { h, replace, when, errorBox, phaseBadge, announce, confirmDialog } from '../dom.js';
import { can, scopesWith } from '../perms.js';
import { directory, nameOf, quantity } from '../directory.js';
import { field, showErrors, apiFieldError, check, statusArea, ok } from '../forms.js';
import { editButton } from '../edit.js';
import { hostForm, editHostButton, groupForm, editGroupButton, dialogs as fleetDialogs } from './fleetforms.js';

// perTenant lists path(tenant) for every tenant where perm is held.
async function perTenant(me, perm, path) {
  const sc = scopesWith(me, perm);
  let tenants = [...sc.tenants];
  if (sc.global) tenants = (await listAll('/tenants')).map((t) => t.id);
  const lists = await Promise.all(tenants.map((t) => listAll(path(t)).catch(() => [])));
  return lists.flat();
}

// tenantsWith: the tenants (records) where perm is held on the whole tenant.
function tenantsWith(me, dir, perm) {
  return [...dir.tenants.values(), ...[...scopesWith(me, perm).tenants].filter((id) => !dir.tenants.has(id)).map((id) => ({ id, name: id.slice(0, 8) + '…' }))]
    .filter((t) => can(me, perm, { tenantId: t.id }));
}

const dims = (r) => ['cpu', 'memory', 'storage', 'pods'].filter((d) => r && r[d]).map((d) => `${d} ${r[d]}`).join(', ') || '—';

const dialog = confirmDialog('confirm');

// actions puts a row's buttons side by side (none: nothing).
function actions(...buttons) {
  const bs = buttons.filter(Boolean);
  return bs.length ? h('span', { class: 'row-actions' }, bs) : null;
}

function countBy(xs, key) {
  const m = new Map();
  for (const x of xs) { const k = key(x); if (k) m.set(k, (m.get(k) || 0) + 1); }
  return m;
}

// allocated is what the quotas placed on a host add up to, with the share
// of its capacity.
function allocated(st) {
  const a = st.allocated || {}, c = st.capacity || {};
  return ['cpu', 'memory', 'storage', 'pods'].filter((d) => a[d]).map((d) => {
    const share = quantity(c[d]) > 0 ? ` (${Math.round(100 * quantity(a[d]) / quantity(c[d]))}%)` : '';
    return `${d} ${a[d]}${share}`;
  }).join(', ') || '—';
}

// health says how many of a group's hosts answered their last check.
function health(g, hosts) {
  const hs = g.hostClusterIds.map((id) => hosts.get(id)).filter(Boolean);
  if (!hs.length) return 'no host';
  const ready = hs.filter((x) => x.status.phase === 'Ready').length;
  return h('span', { class: 'badge phase-' + (ready === hs.length ? 'ready' : ready ? 'pending' : 'unreachable') }, `${ready}/${hs.length} hosts Ready`);
}

// sumCapacity adds hosts' capacity per dimension (as plain numbers, with
// memory and storage in Gi).
function sumCapacity(hosts) {
  const out = {};
  for (const d of ['cpu', 'memory', 'storage', 'pods']) {
    const n = hosts.reduce((t, x) => t + (quantity((x.status.capacity || {})[d]) || 0), 0);
    if (!n) continue;
    out[d] = d === 'memory' || d === 'storage' ? `${Math.round(n / 2 ** 30)}Gi` : String(Math.round(n * 100) / 100);
  }
  return out;
}

// deleteButton asks, then sends DELETE path?resourceVersion=rv.
function deleteButton(what, label, path, rv, done, extra = '') {
  return h('button', { type: 'button', class: 'danger small', 'data-delete': label, 'aria-label': `Delete ${what} ${label}`, onclick: () =>
    dialog.open(`Delete ${what} ${label}?`, `This cannot be undone.${extra ? ' ' + extra : ''}`, async () => {
      try {
        await api(path, { method: 'DELETE', query: rv ? { resourceVersion: rv } : undefined });
        announce(`Deleted ${what} ${label}`);
        done();
      } catch (err) {
        done(err);
      }
    }) }, 'Delete');
}

// createForm is a form of fields with the hub's checks; send posts it.
// ids maps the hub's details.field to a control id.
function createForm({ id, title, fields, checks, send, ids, done }) {
  const status = statusArea(id + '-status');
  const submit = h('button', { type: 'submit', id: id + '-submit' }, title);
  const form = h('form', { id, class: 'card form', novalidate: true, 'aria-label': title, onsubmit: async (e) => {
    e.preventDefault();
    replace(status);
    if (!showErrors(form, checks())) return;
    submit.disabled = true;
    try {
      const msg = await send();
      form.reset();
      form.dispatchEvent(new Event('nest:reset'));
      ok(status, msg);
      announce(msg);
      done();
    } catch (err) {
      if (!apiFieldError(form, err, ids)) replace(status, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  } }, h('h2', {}, title), h('div', { class: 'grid' }, fields), h('div', { class: 'actions' }, submit), status);
  return form;
}

const input = (id, attrs = {}) => h('input', { id, autocomplete: 'off', spellcheck: 'false', ...attrs });
const select = (id, options, attrs = {}) => h('select', { id, ...attrs }, options.map(([v, l]) => h('option', { value: v }, l)));

export const pages = [
  {
    path: 'projects', title: 'Projects', perm: 'project.get',
    async load(me) {
      const dir = await directory(me);
      return { items: [...dir.projects.values()], dir };
    },
    columns: [['Name', (p) => p.name], ['Display name', (p) => p.displayName || ''], ['Tenant', (p, x) => nameOf(x.dir.tenants, p.tenantId)], ['Created', (p) => when(p.createdAt)]],
    rowAction: (me, p, done) => actions(
      can(me, 'project.update', { tenantId: p.tenantId, projectId: p.id }) ? editButton('project', p.name, p, `/tenants/${p.tenantId}/projects/${p.id}`, () => {
        const display = input('projecte-display', { maxlength: 256, value: p.displayName || '' });
        return { body: field('Display name', display), checks: () => ({ 'projecte-display': check.text(display.value, 256) }),
          ids: { displayName: 'projecte-display' }, payload: (rv) => ({ displayName: display.value, resourceVersion: rv }) };
      }, done) : null,
      can(me, 'project.delete', { tenantId: p.tenantId, projectId: p.id })
        ? deleteButton('project', p.name, `/tenants/${p.tenantId}/projects/${p.id}`, p.resourceVersion, done, 'A project with virtual clusters is refused.') : null),
    async header(me, done) {
      const dir = await directory(me);
      const tenants = tenantsWith(me, dir, 'project.create');
      if (!tenants.length) return null;
      const tenant = select('project-tenant', tenants.map((t) => [t.id, t.name]));
      const name = input('project-name', { maxlength: 63 });
      const display = input('project-display', { maxlength: 256 });
      return createForm({ id: 'project-form', title: 'Create project', done,
        fields: [field('Tenant', tenant), field('Name', name, "Lower-case letters, digits and '-'."), field('Display name', display)],
        checks: () => ({ 'project-name': check.name(name.value.trim()), 'project-display': check.text(display.value, 256) }),
        ids: { name: 'project-name', displayName: 'project-display' },
        async send() {
          const p = await api(`/tenants/${tenant.value}/projects`, { method: 'POST', body: { name: name.value.trim(), displayName: display.value || undefined } });
          return `Created project ${p.name}`;
        } });
    },
  },
  {
    path: 'teams', title: 'Teams', perm: 'team.list',
    async load(me) {
      const [items, users] = await Promise.all([perTenant(me, 'team.list', (t) => `/tenants/${t}/teams`),
        can(me, 'user.list') ? listAll('/users').catch(() => []) : []]);
      return { items, users, me };
    },
    columns: [['Name', (t) => t.name], ['Description', (t) => t.description || ''], ['Members', (t, x) => members(t, x)], ['Created', (t) => when(t.createdAt)]],
    rowAction: (me, t, done) => actions(
      can(me, 'team.update', { tenantId: t.tenantId }) ? editButton('team', t.name, t, `/tenants/${t.tenantId}/teams/${t.id}`, () => {
        const desc = input('teame-description', { maxlength: 1024, value: t.description || '' });
        return { body: field('Description', desc), checks: () => ({ 'teame-description': check.text(desc.value, 1024) }),
          ids: { description: 'teame-description' }, payload: (rv) => ({ description: desc.value, resourceVersion: rv }) };
      }, done) : null,
      can(me, 'team.delete', { tenantId: t.tenantId })
        ? deleteButton('team', t.name, `/tenants/${t.tenantId}/teams/${t.id}`, t.resourceVersion, done, 'Its role bindings go with it.') : null),
    async header(me, done) {
      const dir = await directory(me);
      const tenants = tenantsWith(me, dir, 'team.create');
      if (!tenants.length) return null;
      const tenant = select('team-tenant', tenants.map((t) => [t.id, t.name]));
      const name = input('team-name', { maxlength: 63 });
      const desc = input('team-description', { maxlength: 1024 });
      return createForm({ id: 'team-form', title: 'Create team', done,
        fields: [field('Tenant', tenant), field('Name', name), field('Description', desc)],
        checks: () => ({ 'team-name': check.name(name.value.trim()), 'team-description': check.text(desc.value, 1024) }),
        ids: { name: 'team-name', description: 'team-description' },
        async send() {
          const t = await api(`/tenants/${tenant.value}/teams`, { method: 'POST', body: { name: name.value.trim(), description: desc.value || undefined } });
          return `Created team ${t.name}`;
        } });
    },
  },
  {
    path: 'users', title: 'Users', perm: 'user.list', global: true,
    async load() { return { items: await listAll('/users') }; },
    columns: [['Name', (u) => u.name], ['Email', (u) => u.email || ''], ['Disabled', (u) => (u.disabled ? 'yes' : 'no')], ['Created', (u) => when(u.createdAt)]],
    rowAction: (me, u, done) => actions(
      can(me, 'user.update') ? editButton('user', u.name, u, `/users/${u.id}`, () => {
        const email = input('usere-email', { type: 'email', maxlength: 254, value: u.email || '' });
        const password = input('usere-password', { type: 'password', autocomplete: 'new-password', maxlength: 256 });
        const disabled = h('input', { type: 'checkbox', id: 'usere-disabled', checked: !!u.disabled, disabled: u.id === me.user.id });
        return { body: h('div', { class: 'stack' }, field('Email', email), field('New password', password, 'Empty keeps the current one; 12 to 256 characters.'),
          h('div', { class: 'check' }, disabled, ' ', h('label', { for: 'usere-disabled' }, u.id === me.user.id ? 'Disabled (not yourself)' : 'Disabled: refuse its keys and password'))),
        checks: () => ({ 'usere-email': check.email(email.value.trim()),
          'usere-password': password.value && (password.value.length < 12 || password.value.length > 256) ? 'must be 12 to 256 characters long' : '' }),
        ids: { email: 'usere-email', password: 'usere-password', disabled: 'usere-disabled' },
        payload: (rv) => ({ email: email.value.trim() || undefined, password: password.value || undefined, disabled: disabled.checked, resourceVersion: rv }) };
      }, done) : null,
      can(me, 'user.delete') && u.id !== me.user.id
        ? deleteButton('user', u.name, `/users/${u.id}`, u.resourceVersion, done, 'Its API keys and role bindings go with it.') : null),
    header(me, done) {
      if (!can(me, 'user.create')) return null;
      const name = input('user-name', { maxlength: 63 });
      const email = input('user-email', { type: 'email', maxlength: 254 });
      const password = input('user-password', { type: 'password', autocomplete: 'new-password', maxlength: 256 });
      return createForm({ id: 'user-form', title: 'Create user', done,
        fields: [field('Name', name), field('Email', email, 'Optional.'), field('Password', password, 'Optional (API keys need none); 12 to 256 characters.')],
        checks: () => ({ 'user-name': check.name(name.value.trim()), 'user-email': check.email(email.value.trim()),
          'user-password': password.value && (password.value.length < 12 || password.value.length > 256) ? 'must be 12 to 256 characters long' : '' }),
        ids: { name: 'user-name', email: 'user-email', password: 'user-password' },
        async send() {
          const u = await api('/users', { method: 'POST', body: { name: name.value.trim(), email: email.value.trim() || undefined, password: password.value || undefined } });
          return `Created user ${u.name}`;
        } });
    },
  },
  {
    path: 'roles', title: 'Roles', perm: 'role.list',
    async load() { return { items: await listAll('/roles') }; },
    columns: [['Name', (r) => r.name], ['Kind', (r) => (r.builtin ? 'built-in' : 'custom')], ['Description', (r) => r.description || ''],
      ['Permissions', (r) => h('details', {}, h('summary', {}, `${r.permissions.length} permissions`), r.permissions.join(', '))]],
    rowAction: (me, r, done) => actions(
      !r.builtin && can(me, 'role.update') ? editButton('role', r.name, r, `/roles/${r.id}`, () => {
        const desc = input('rolee-description', { maxlength: 1024, value: r.description || '' });
        const perms = h('textarea', { id: 'rolee-permissions', rows: 5, spellcheck: 'false', value: r.permissions.join('\n') });
        const list = () => perms.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
        return { body: h('div', { class: 'stack' }, field('Description', desc), field('Permissions', perms, 'One resource.verb a line (virtualcluster.get, project.*).')),
          checks: () => ({ 'rolee-description': check.text(desc.value, 1024), 'rolee-permissions': list().length ? '' : 'name at least one permission' }),
          ids: (f) => (f === 'description' ? 'rolee-description' : /^permissions/.test(f) ? 'rolee-permissions' : undefined),
          payload: (rv) => ({ description: desc.value, permissions: list(), resourceVersion: rv }) };
      }, done) : null,
      !r.builtin && can(me, 'role.delete')
        ? deleteButton('role', r.name, `/roles/${r.id}`, r.resourceVersion, done, 'Its role bindings go with it.') : null),
    async header(me, done) {
      if (!can(me, 'role.create')) return null;
      const perms = (await api('/permissions')).items;
      const name = input('role-name', { maxlength: 63 });
      const desc = input('role-description', { maxlength: 1024 });
      const filter = input('role-perm-filter', { type: 'search', placeholder: 'virtualcluster' });
      const boxes = perms.map((p) => h('input', { type: 'checkbox', id: 'perm-' + p.replace(/[^a-z0-9]/gi, '_'), value: p }));
      const list = h('fieldset', { id: 'role-permissions', class: 'perm-list', tabindex: '-1', 'aria-describedby': 'role-permissions-error' },
        h('legend', {}, 'Permissions'),
        h('ul', { class: 'plain columns' }, boxes.map((b) => h('li', { 'data-perm': b.value }, b, ' ', h('label', { for: b.id }, b.value)))),
        h('p', { class: 'field-error', id: 'role-permissions-error', hidden: true }));
      filter.addEventListener('input', () => {
        const q = filter.value.trim().toLowerCase();
        list.querySelectorAll('li').forEach((li) => { li.hidden = !!q && !li.dataset.perm.includes(q); });
      });
      return createForm({ id: 'role-form', title: 'Create role', done,
        fields: [field('Name', name), field('Description', desc), field('Filter permissions', filter), list],
        checks: () => ({ 'role-name': check.name(name.value.trim()), 'role-description': check.text(desc.value, 1024),
          'role-permissions': boxes.some((b) => b.checked) ? '' : 'pick at least one permission' }),
        ids: { name: 'role-name', description: 'role-description', permissions: 'role-permissions' },
        async send() {
          const r = await api('/roles', { method: 'POST', body: { name: name.value.trim(), description: desc.value || undefined,
            permissions: boxes.filter((b) => b.checked).map((b) => b.value) } });
          return `Created role ${r.name} with ${r.permissions.length} permissions`;
        } });
    },
  },
  {
    path: 'bindings', title: 'Role bindings', perm: 'rolebinding.list',
    async load(me) { return loadBindings(me); },
    columns: [['Name', (b) => b.name], ['Scope', (b, x) => scopeName(b, x.dir)], ['Role', (b, x) => nameOf(x.roles, b.roleId)],
      ['Subject', (b, x) => `${b.subjectKind} ${b.subjectKind === 'team' ? nameOf(x.teams, b.subjectId) : nameOf(x.users, b.subjectId)}`],
      ['Created', (b) => when(b.createdAt)]],
    rowAction: (me, b, done) => (can(me, 'rolebinding.delete', { tenantId: b.tenantId, projectId: b.projectId })
      ? deleteButton('role binding', b.name, bindingsPath(b) + '/' + b.id, b.resourceVersion, done) : null),
    header: (me, done) => bindingForm(me, done),
  },
  {
    path: 'apikeys', title: 'API keys', perm: 'apikey.list',
    async load() { return { items: await listAll('/apikeys') }; },
    columns: [['Name', (k) => k.name], ['Prefix', (k) => h('code', {}, k.prefix)], ['Expires', (k) => when(k.expiresAt)],
      ['Last used', (k) => when(k.lastUsedAt)], ['Revoked', (k) => when(k.revokedAt)]],
    rowAction: (me, k, done) => (can(me, 'apikey.delete', { any: true }) && !k.revokedAt
      ? h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke key ${k.name}`, onclick: async () => {
        await api(`/apikeys/${k.id}`, { method: 'DELETE' }); announce(`Revoked ${k.name}`); done();
      } }, 'Revoke') : null),
    header: (me, done) => (can(me, 'apikey.create', { any: true }) ? newKeyForm(done) : null),
  },
  {
    path: 'hosts', title: 'Host clusters', perm: 'hostcluster.list', global: true,
    async load(me) {
      const [items, groups, vcs] = await Promise.all([listAll('/hostclusters'), can(me, 'clustergroup.list') ? listAll('/clustergroups').catch(() => []) : [],
        can(me, 'virtualcluster.list') ? listAll('/virtualclusters').catch(() => []) : []]);
      return { items, groups, placed: countBy(vcs, (v) => v.status && v.status.hostClusterId) };
    },
    columns: [['Name', (x) => x.name], ['State', (x) => phaseBadge(x.status.phase)], ['Kubernetes', (x) => x.status.kubernetesVersion || '—'],
      ['Nodes', (x) => String(x.status.nodes || 0)], ['Capacity', (x) => dims(x.status.capacity)], ['Allocated', (x) => allocated(x.status)],
      ['Virtual clusters', (x, d) => String(d.placed.get(x.id) || 0)], ['Groups', (x, d) => d.groups.filter((g) => g.hostClusterIds.includes(x.id)).map((g) => g.name).join(', ') || '—'],
      ['Checked', (x) => when(x.status.lastCheck)], ['Message', (x) => x.status.message || x.description || '']],
    rowAction: (me, x, done) => actions(
      can(me, 'hostcluster.update') ? editHostButton(x, done) : null,
      can(me, 'hostcluster.delete') ? deleteButton('host cluster', x.name, `/hostclusters/${x.id}`, x.resourceVersion, done, 'The hub refuses while it runs virtual clusters or is in a group.') : null),
    header: (me, done) => (can(me, 'hostcluster.create') ? hostForm(done) : null),
  },
  {
    path: 'groups', title: 'Cluster groups', perm: 'clustergroup.list', global: true,
    async load(me) {
      const [items, hosts, vcs, profiles] = await Promise.all([listAll('/clustergroups'), listAll('/hostclusters').catch(() => []),
        can(me, 'virtualcluster.list') ? listAll('/virtualclusters').catch(() => []) : [], listAll('/clusterprofiles').catch(() => [])]);
      return { items, hostList: hosts, hosts: new Map(hosts.map((x) => [x.id, x])), profiles, placed: countBy(vcs, (v) => v.clusterGroupId) };
    },
    columns: [['Name', (g) => g.name], ['Hosts', (g, x) => g.hostClusterIds.map((id) => nameOf(x.hosts, id)).join(', ') || '—'],
      ['Health', (g, x) => health(g, x.hosts)], ['Capacity', (g, x) => dims(sumCapacity(g.hostClusterIds.map((id) => x.hosts.get(id)).filter(Boolean)))],
      ['Virtual clusters', (g, x) => `${x.placed.get(g.id) || 0} / ${g.maxVirtualClusters ? g.maxVirtualClusters : 'no limit'}`],
      ['Quota per cluster', (g) => dims(g.quota)], ['Oversubscription', (g) => `${g.oversubscriptionPercent}%`], ['Endpoint', (g) => g.endpointType],
      ['Profiles', (g, x) => (g.profiles || []).map((r) => `${nameOf(new Map(x.profiles.map((p) => [p.id, p])), r.profileId)} ${r.version || 'latest'}`).join(', ') || '—']],
    rowAction: (me, g, done, x) => actions(
      can(me, 'clustergroup.update') ? editGroupButton(g, x.hostList, x.profiles, done) : null,
      can(me, 'clustergroup.delete') ? deleteButton('cluster group', g.name, `/clustergroups/${g.id}`, g.resourceVersion, done, 'The hub refuses while it has virtual clusters.') : null),
    async header(me, done) {
      if (!can(me, 'clustergroup.create')) return null;
      const [hosts, profiles] = await Promise.all([listAll('/hostclusters').catch(() => []), listAll('/clusterprofiles').catch(() => [])]);
      return groupForm(hosts, profiles, done);
    },
  },
  {
    path: 'audit', title: 'Audit log', perm: 'audit.list',
    custom: renderAudit,
  },
];

export async function render(p, main, _params, ctx) {
  if (p.custom) return p.custom(main, ctx);
  const body = h('div');
  const problem = h('div', { id: 'list-status', 'aria-live': 'polite' });
  async function load(err) {
    if (err) { replace(problem, errorBox(err)); return; }
    replace(problem);
    try {
      const x = await p.load(ctx.me);
      const cols = p.columns;
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('tr[data-id]');
      replace(body, h('p', { class: 'muted' }, `${x.items.length} ${p.title.toLowerCase()}`),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: p.path },
          h('caption', { class: 'sr-only' }, p.title),
          h('thead', {}, h('tr', {}, cols.map(([c]) => h('th', { scope: 'col' }, c)), p.rowAction ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')) : null)),
          h('tbody', {}, x.items.map((item) => h('tr', { 'data-id': item.id },
            cols.map(([, f], i) => (i === 0 ? h('th', { scope: 'row' }, f(item, x)) : h('td', {}, f(item, x)))),
            p.rowAction ? h('td', {}, p.rowAction(ctx.me, item, load, x)) : null))))));
      if (focused) { const row = body.querySelector(`tr[data-id="${focused.dataset.id}"] button`); if (row) row.focus(); }
    } catch (err2) {
      replace(body, errorBox(err2));
    }
  }
  let header = null;
  try { header = p.header ? await p.header(ctx.me, load) : null; } catch (err) { header = errorBox(err); }
  replace(main, h('h1', {}, p.title), header, problem, body, dialog.el, ...fleetDialogs);
  await load();
  main.dataset.loaded = 'true';
}

// members is a team's member list, read when opened, with add and
// remove for those who may update the team.
function members(team, x) {
  const base = `/tenants/${team.tenantId}/teams/${team.id}/members`;
  const list = h('ul', { class: 'plain' });
  const status = h('div', { 'aria-live': 'polite' });
  const me = x.me;
  const mayUpdate = can(me, 'team.update', { tenantId: team.tenantId });
  const userName = (id) => nameOf(new Map(x.users.map((u) => [u.id, u])), id);
  async function load() {
    try {
      const r = await api(base);
      const items = r.items || [];
      replace(list, items.length ? items.map((m) => h('li', {}, userName(m.userId), ' ',
        mayUpdate ? h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${userName(m.userId)} from ${team.name}`, onclick: async () => {
          try { await api(`${base}/${m.userId}`, { method: 'DELETE' }); announce(`Removed ${userName(m.userId)}`); load(); } catch (err) { replace(status, errorBox(err)); }
        } }, 'remove') : null)) : h('li', { class: 'muted' }, 'No members.'));
    } catch (err) { replace(status, errorBox(err)); }
  }
  let add = null;
  if (mayUpdate) {
    const id = `member-${team.id}`;
    const who = x.users.length
      ? h('select', { id }, h('option', { value: '' }, 'Choose a user'), x.users.map((u) => h('option', { value: u.id }, u.name)))
      : h('input', { id, autocomplete: 'off', placeholder: 'user id' });
    add = h('form', { class: 'inline-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      if (!who.value) { replace(status, h('p', { class: 'field-error' }, 'Choose a user to add.')); who.focus(); return; }
      try { await api(`${base}/${who.value}`, { method: 'PUT' }); announce('Member added'); who.value = ''; replace(status); load(); } catch (err) { replace(status, errorBox(err)); }
    } }, h('label', { for: id, class: 'sr-only' }, `Add a member to ${team.name}`), who, ' ', h('button', { type: 'submit', class: 'small' }, 'Add'));
  }
  const d = h('details', { class: 'members' }, h('summary', {}, 'Members'), list, add, status);
  d.addEventListener('toggle', () => { if (d.open) load(); });
  return d;
}

// Role bindings at the three scopes.
function bindingsPath(b) {
  if (b.projectId) return `/tenants/${b.tenantId}/projects/${b.projectId}/rolebindings`;
  if (b.tenantId) return `/tenants/${b.tenantId}/rolebindings`;
  return '/rolebindings';
}

function scopeName(b, dir) {
  if (b.projectId) return `project ${nameOf(dir.projects, b.projectId)} (${nameOf(dir.tenants, b.tenantId)})`;
  if (b.tenantId) return `tenant ${nameOf(dir.tenants, b.tenantId)}`;
  return 'hub-wide';
}

// bindingScopes: the scopes where the caller may do verb on bindings.
function bindingScopes(me, dir, verb) {
  const perm = 'rolebinding.' + verb;
  const out = [];
  if (can(me, perm)) out.push({ key: 'global', label: 'Hub-wide' });
  for (const t of dir.tenants.values()) if (can(me, perm, { tenantId: t.id })) out.push({ key: 't:' + t.id, tenantId: t.id, label: `Tenant ${t.name}` });
  for (const p of dir.projects.values()) {
    if (can(me, perm, { tenantId: p.tenantId, projectId: p.id })) out.push({ key: `p:${p.tenantId}:${p.id}`, tenantId: p.tenantId, projectId: p.id, label: `Project ${p.name} (${nameOf(dir.tenants, p.tenantId)})` });
  }
  return out;
}

async function loadBindings(me) {
  const dir = await directory(me);
  const scopes = bindingScopes(me, dir, 'list');
  const [lists, roles, users, teams] = await Promise.all([
    Promise.all(scopes.map((s) => listAll(bindingsPath(s)).catch(() => []))),
    listAll('/roles').catch(() => []),
    can(me, 'user.list') ? listAll('/users').catch(() => []) : [],
    perTenant(me, 'team.list', (t) => `/tenants/${t}/teams`).catch(() => []),
  ]);
  // A hub-wide list has only hub-wide bindings; each scope lists its own.
  const seen = new Set();
  const items = lists.flat().filter((b) => !seen.has(b.id) && seen.add(b.id));
  const m = (xs) => new Map(xs.map((x) => [x.id, x]));
  return { items, dir, roles: m(roles), users: m(users), teams: m(teams) };
}

async function bindingForm(me, done) {
  const dir = await directory(me);
  const scopes = bindingScopes(me, dir, 'create');
  if (!scopes.length) return null;
  const [roles, users, teams] = await Promise.all([listAll('/roles').catch(() => []),
    can(me, 'user.list') ? listAll('/users').catch(() => []) : [],
    perTenant(me, 'team.list', (t) => `/tenants/${t}/teams`).catch(() => [])]);
  const name = input('binding-name', { maxlength: 63 });
  const scope = select('binding-scope', scopes.map((s) => [s.key, s.label]));
  const role = select('binding-role', [['', 'Choose a role'], ...roles.map((r) => [r.name, `${r.name}${r.builtin ? '' : ' (custom)'}`])]);
  const kind = select('binding-kind', [['user', 'User'], ['team', 'Team']]);
  const subject = h('select', { id: 'binding-subject' });
  function subjects() {
    const s = scopes.find((x) => x.key === scope.value);
    const opts = kind.value === 'user' ? users.map((u) => [u.id, u.name])
      : teams.filter((t) => !s || !s.tenantId || t.tenantId === s.tenantId).map((t) => [t.id, `${t.name} (${nameOf(dir.tenants, t.tenantId)})`]);
    replace(subject, h('option', { value: '' }, kind.value === 'user' ? 'Choose a user' : 'Choose a team'), opts.map(([v, l]) => h('option', { value: v }, l)));
  }
  kind.addEventListener('change', subjects);
  scope.addEventListener('change', subjects);
  subjects();
  const form = createForm({ id: 'binding-form', title: 'Create role binding', done,
    fields: [field('Name', name), field('Scope', scope), field('Role', role), field('Subject kind', kind), field('Subject', subject)],
    checks: () => ({ 'binding-name': check.name(name.value.trim()), 'binding-role': check.required(role.value), 'binding-subject': check.required(subject.value) }),
    ids: { name: 'binding-name', role: 'binding-role', subjectKind: 'binding-kind', subjectId: 'binding-subject' },
    async send() {
      const s = scopes.find((x) => x.key === scope.value);
      const b = await api(bindingsPath(s), { method: 'POST', body: { name: name.value.trim(), role: role.value, subjectKind: kind.value, subjectId: subject.value } });
      return `Bound ${role.value} to ${kind.value} ${subject.selectedOptions[0].textContent} (${b.name})`;
    } });
  form.addEventListener('nest:reset', subjects);
  return form;
}

function newKeyForm(done) {
  const name = h('input', { id: 'key-name', required: true, pattern: '[a-z0-9]([-a-z0-9]*[a-z0-9])?', maxlength: 63, autocomplete: 'off' });
  const out = h('div', { 'aria-live': 'polite' });
  return h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const k = await api('/apikeys', { method: 'POST', body: { name: name.value } });
      name.value = '';
      replace(out, h('p', { class: 'ok' }, 'New key (shown only this once): ', h('code', { class: 'secret' }, k.key || k.secret || '')));
      done();
    } catch (err) { replace(out, errorBox(err)); }
  } }, h('label', { for: 'key-name' }, 'New key name'), ' ', name, ' ', h('button', { type: 'submit' }, 'Create key'), out);
}

// renderAudit pages through the audit log (newest page last, "Load more").
async function renderAudit(main, ctx) {
  const sc = scopesWith(ctx.me, 'audit.list');
  const tenants = sc.global ? null : [...sc.tenants];
  const path = tenants ? `/tenants/${tenants[0]}/audit` : '/audit';
  const action = h('input', { id: 'audit-action', placeholder: 'virtualcluster.update', autocomplete: 'off' });
  const resource = h('input', { id: 'audit-resource', placeholder: 'virtualcluster', autocomplete: 'off' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', id: 'audit-more', hidden: true }, 'Load more');
  const problem = h('div');
  let cursor = '';
  async function page(reset) {
    if (reset) { cursor = ''; tbody.replaceChildren(); }
    try {
      const p = await api(path, { query: { action: action.value.trim(), resource: resource.value.trim(), cursor, limit: 100 } });
      tbody.append(...p.items.map((e) => h('tr', {},
        h('td', {}, when(e.time)), h('td', {}, e.principal), h('td', {}, e.action), h('td', {}, e.resource),
        h('td', {}, h('code', {}, e.resourceId)), h('td', {}, h('code', {}, e.requestId)))));
      cursor = p.nextCursor || '';
      more.hidden = !cursor;
      replace(problem);
    } catch (err) { replace(problem, errorBox(err)); }
  }
  more.addEventListener('click', () => page(false));
  replace(main, h('h1', {}, 'Audit log'),
    tenants && !tenants.length ? h('p', {}, 'You may read no audit log.') : null,
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); page(true); } },
      h('div', { class: 'field' }, h('label', { for: 'audit-action' }, 'Action'), action),
      h('div', { class: 'field' }, h('label', { for: 'audit-resource' }, 'Resource'), resource),
      h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Filter'))),
    problem,
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'audit' },
      h('thead', {}, h('tr', {}, ['Time', 'Who', 'Action', 'Resource', 'Id', 'Request'].map((c) => h('th', { scope: 'col' }, c)))), tbody)),
    more);
  if (!tenants || tenants.length) await page(true);
  main.dataset.loaded = 'true';
}
