// The catalogue pages: one table each, loaded from the list routes the
// caller may use. Tenant lists are read per tenant the caller's grants name.
import { api, listAll } from '../api.js';
import { h, replace, when, errorBox, phaseBadge, announce } from '../dom.js';
import { can, scopesWith } from '../perms.js';
import { directory, nameOf } from '../directory.js';

// perTenant lists path(tenant) for every tenant where perm is held.
async function perTenant(me, perm, path) {
  const sc = scopesWith(me, perm);
  let tenants = [...sc.tenants];
  if (sc.global) tenants = (await listAll('/tenants')).map((t) => t.id);
  const lists = await Promise.all(tenants.map((t) => listAll(path(t)).catch(() => [])));
  return lists.flat();
}

const dims = (r) => ['cpu', 'memory', 'storage', 'pods'].filter((d) => r && r[d]).map((d) => `${d} ${r[d]}`).join(', ') || '—';

export const pages = [
  {
    path: 'projects', title: 'Projects', perm: 'project.get',
    async load(me) {
      const dir = await directory(me);
      return { items: [...dir.projects.values()], dir };
    },
    columns: [['Name', (p) => p.name], ['Display name', (p) => p.displayName || ''], ['Tenant', (p, x) => nameOf(x.dir.tenants, p.tenantId)], ['Created', (p) => when(p.createdAt)]],
  },
  {
    path: 'teams', title: 'Teams', perm: 'team.list',
    async load(me) { return { items: await perTenant(me, 'team.list', (t) => `/tenants/${t}/teams`) }; },
    columns: [['Name', (t) => t.name], ['Description', (t) => t.description || ''], ['Created', (t) => when(t.createdAt)]],
  },
  {
    path: 'users', title: 'Users', perm: 'user.list', global: true,
    async load() { return { items: await listAll('/users') }; },
    columns: [['Name', (u) => u.name], ['Email', (u) => u.email || ''], ['Disabled', (u) => (u.disabled ? 'yes' : 'no')], ['Created', (u) => when(u.createdAt)]],
  },
  {
    path: 'roles', title: 'Roles', perm: 'role.list',
    async load() { return { items: await listAll('/roles') }; },
    columns: [['Name', (r) => r.name], ['Kind', (r) => (r.builtin ? 'built-in' : 'custom')], ['Description', (r) => r.description || ''],
      ['Permissions', (r) => h('details', {}, h('summary', {}, `${r.permissions.length} permissions`), r.permissions.join(', '))]],
  },
  {
    path: 'apikeys', title: 'API keys', perm: 'apikey.list',
    async load() { return { items: await listAll('/apikeys') }; },
    columns: [['Name', (k) => k.name], ['Prefix', (k) => h('code', {}, k.prefix)], ['Expires', (k) => when(k.expiresAt)],
      ['Last used', (k) => when(k.lastUsedAt)], ['Revoked', (k) => when(k.revokedAt)]],
    rowAction: (me, k, done) => (can(me, 'apikey.delete', { any: true }) && !k.revokedAt
      ? h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke key ${k.name}`, onclick: async () => {
        await api(`/apikeys/${k.id}`, { method: 'DELETE' }); announce(`Revoked ${k.name}`); done();
      } }, 'Revoke') : null),
    header: (me, done) => (can(me, 'apikey.create', { any: true }) ? newKeyForm(done) : null),
  },
  {
    path: 'hosts', title: 'Host clusters', perm: 'hostcluster.list', global: true,
    async load() { return { items: await listAll('/hostclusters') }; },
    columns: [['Name', (x) => x.name], ['State', (x) => phaseBadge(x.status.phase)], ['Kubernetes', (x) => x.status.kubernetesVersion || '—'],
      ['Nodes', (x) => String(x.status.nodes || 0)], ['Capacity', (x) => dims(x.status.capacity)], ['Allocated', (x) => dims(x.status.allocated)],
      ['Checked', (x) => when(x.status.lastCheck)], ['Message', (x) => x.status.message || '']],
  },
  {
    path: 'groups', title: 'Cluster groups', perm: 'clustergroup.list', global: true,
    async load() {
      const [items, hosts] = await Promise.all([listAll('/clustergroups'), listAll('/hostclusters').catch(() => [])]);
      return { items, hosts: new Map(hosts.map((x) => [x.id, x])) };
    },
    columns: [['Name', (g) => g.name], ['Hosts', (g, x) => g.hostClusterIds.map((id) => nameOf(x.hosts, id)).join(', ') || '—'],
      ['Quota per cluster', (g) => dims(g.quota)], ['Max clusters', (g) => (g.maxVirtualClusters ? String(g.maxVirtualClusters) : 'no limit')],
      ['Oversubscription', (g) => `${g.oversubscriptionPercent}%`], ['Endpoint', (g) => g.endpointType]],
  },
  {
    path: 'audit', title: 'Audit log', perm: 'audit.list',
    custom: renderAudit,
  },
];

export async function render(p, main, _params, ctx) {
  if (p.custom) return p.custom(main, ctx);
  const body = h('div');
  async function load() {
    try {
      const x = await p.load(ctx.me);
      const cols = p.columns;
      replace(body, h('p', { class: 'muted' }, `${x.items.length} ${p.title.toLowerCase()}`),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: p.path },
          h('caption', { class: 'sr-only' }, p.title),
          h('thead', {}, h('tr', {}, cols.map(([c]) => h('th', { scope: 'col' }, c)), p.rowAction ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')) : null)),
          h('tbody', {}, x.items.map((item) => h('tr', {},
            cols.map(([, f], i) => (i === 0 ? h('th', { scope: 'row' }, f(item, x)) : h('td', {}, f(item, x)))),
            p.rowAction ? h('td', {}, p.rowAction(ctx.me, item, load)) : null))))));
    } catch (err) {
      replace(body, errorBox(err));
    }
  }
  replace(main, h('h1', {}, p.title), p.header ? p.header(ctx.me, load) : null, body);
  await load();
  main.dataset.loaded = 'true';
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
