// Cluster profiles: the list, and one profile's versions, its current
// layers, a line diff between two versions (done here, in the browser)
// and where it is attached (cluster groups, virtual clusters with their
// state of it).
import { api, listAll } from '../api.js';
import { h, replace, when, errorBox, phaseBadge } from '../dom.js';
import { can } from '../perms.js';
import { lineDiff, hunks } from '../diff.js';
import { profileForm } from './profileform.js';

export async function renderList(main, _params, ctx) {
  const items = await listAll('/clusterprofiles');
  const upload = ctx && can(ctx.me, 'clusterprofile.create') ? profileForm({ done: (p) => { location.hash = `#/profiles/${p.id}`; } }) : null;
  replace(main, h('h1', {}, 'Cluster profiles'), upload,
    h('p', { class: 'muted' }, `${items.length} cluster profiles`),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'profiles' },
      h('caption', { class: 'sr-only' }, 'Cluster profiles'),
      h('thead', {}, h('tr', {}, ['Name', 'Current version', 'Description', 'Updated'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.map((p) => h('tr', { 'data-id': p.id },
        h('th', { scope: 'row' }, h('a', { href: `#/profiles/${p.id}` }, p.name)),
        h('td', {}, p.version), h('td', {}, p.description || ''), h('td', {}, when(p.updatedAt || p.createdAt))))),
      items.length ? null : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No cluster profiles yet.')))));
  main.dataset.loaded = 'true';
  return ctx && null;
}

export async function renderOne(main, params, ctx) {
  const me = ctx.me;
  const [p, versions] = await Promise.all([api(`/clusterprofiles/${params.id}`), api(`/clusterprofiles/${params.id}/versions`)]);
  const spec = p.spec || {};
  const vs = versions.items || [];
  const from = versionSelect('diff-from', 'From version', vs, vs.length > 1 ? vs[vs.length - 2].version : p.version);
  const to = versionSelect('diff-to', 'To version', vs, p.version);
  const out = h('div', { id: 'diff', 'aria-live': 'polite' });
  const cache = new Map();
  const specOf = async (v) => {
    if (v === p.version) return spec;
    if (!cache.has(v)) cache.set(v, api(`/clusterprofiles/${params.id}/versions/${encodeURIComponent(v)}`).then((x) => x.spec || {}));
    return cache.get(v);
  };
  async function showDiff(e) {
    if (e) e.preventDefault();
    replace(out, h('p', { class: 'muted' }, 'Comparing…'));
    try {
      const [a, b] = await Promise.all([specOf(from.select.value), specOf(to.select.value)]);
      replace(out, diffView(a, b, from.select.value, to.select.value));
    } catch (err) { replace(out, errorBox(err)); }
  }
  const upload = can(me, 'clusterprofile.update') ? profileForm({ current: { ...p, spec, versions: vs.map((v) => v.version) },
    done: (np) => renderOne(main, params, ctx).then(() => main.querySelector('h1').after(h('p', { class: 'ok', id: 'pf-done', role: 'status' }, `Uploaded version ${np.version}: it is the current one now.`))) }) : null;
  const attached = h('div', { id: 'attached' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/profiles' }, '‹ Cluster profiles')),
    h('h1', {}, p.name),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Current version'), h('dd', {}, p.version),
      h('dt', {}, 'Description'), h('dd', {}, p.description || '—'),
      h('dt', {}, 'Variables'), h('dd', {}, Object.entries(spec.variables || {}).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'),
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, p.id))),
    h('h2', {}, 'Versions'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'versions' },
      h('thead', {}, h('tr', {}, ['Version', 'Uploaded'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, vs.slice().reverse().map((v) => h('tr', {}, h('th', { scope: 'row' }, v.version, v.version === p.version ? ' (current)' : ''), h('td', {}, when(v.createdAt))))))),
    h('h2', {}, `Layers of ${p.version}`),
    layersView(spec.layers || []),
    upload,
    h('h2', {}, 'Compare versions'),
    vs.length > 1
      ? [h('form', { class: 'filters', id: 'diff-form', onsubmit: showDiff }, from.field, to.field, h('button', { type: 'submit', id: 'diff-show' }, 'Show the diff')), out]
      : h('p', { class: 'muted' }, 'It has one version: nothing to compare yet.'),
    h('h2', {}, 'Attached to'),
    attached);
  main.dataset.loaded = 'true';
  if (vs.length > 1) await showDiff();
  loadAttached(me, p, attached);
  return null;
}

function versionSelect(id, label, vs, value) {
  const select = h('select', { id }, vs.slice().reverse().map((v) => h('option', { value: v.version, selected: v.version === value }, v.version)));
  return { select, field: h('div', { class: 'field' }, h('label', { for: id }, label), select) };
}

function layersView(layers) {
  if (!layers.length) return h('p', { class: 'muted' }, 'No layers.');
  return h('ol', { class: 'layers', id: 'layers' }, layers.map((l) => h('li', { 'data-layer': l.name },
    h('strong', {}, l.name), ' ', h('span', { class: 'badge' }, l.kind), l.namespace ? h('span', { class: 'muted' }, ` in ${l.namespace}`) : null,
    l.chart ? h('span', { class: 'muted' }, ` chart ${l.release || ''} (${chartSize(l.chart)})`) : null,
    l.manifests ? h('details', {}, h('summary', {}, `Manifests (${lines(l.manifests)} lines)`), h('pre', { class: 'code' }, l.manifests)) : null,
    l.values ? h('details', {}, h('summary', {}, `Values (${lines(l.values)} lines)`), h('pre', { class: 'code' }, l.values)) : null)));
}

const lines = (t) => t.replace(/\n$/, '').split('\n').length;
function chartSize(c) {
  const n = c.archive ? Math.floor(c.archive.length * 3 / 4) : 0;
  return n ? `${(n / 1024).toFixed(1)} KiB archive` : 'no archive';
}

// diffView compares two versions' specs layer by layer: layers added,
// removed or moved, and a line diff of each layer's manifests and values
// (a chart archive is compared whole).
function diffView(a, b, va, vb) {
  const la = new Map((a.layers || []).map((l, i) => [l.name, { ...l, i }]));
  const lb = new Map((b.layers || []).map((l, i) => [l.name, { ...l, i }]));
  const names = [...new Set([...(a.layers || []).map((l) => l.name), ...(b.layers || []).map((l) => l.name)])];
  const sections = [];
  const vars = (s) => Object.entries(s.variables || {}).sort().map(([k, v]) => `${k}=${v}`).join('\n');
  const varDiff = textDiff('Variables', vars(a), vars(b));
  if (varDiff) sections.push(varDiff);
  for (const n of names) {
    const x = la.get(n), y = lb.get(n);
    if (!x) { sections.push(h('section', { class: 'diff-layer', 'data-layer': n }, h('h3', {}, `Layer ${n}: added in ${vb}`), textDiff('Manifests', '', y.manifests || '', true), textDiff('Values', '', y.values || ''))); continue; }
    if (!y) { sections.push(h('section', { class: 'diff-layer', 'data-layer': n }, h('h3', {}, `Layer ${n}: removed in ${vb}`))); continue; }
    const parts = [];
    if (x.i !== y.i) parts.push(h('p', {}, `Moved from position ${x.i + 1} to ${y.i + 1}.`));
    for (const k of ['kind', 'namespace', 'release']) if ((x[k] || '') !== (y[k] || '')) parts.push(h('p', {}, `${k}: ${x[k] || '—'} → ${y[k] || '—'}`));
    if (((x.chart || {}).archive || '') !== ((y.chart || {}).archive || '')) parts.push(h('p', {}, `Chart archive changed (${chartSize(x.chart || {})} → ${chartSize(y.chart || {})}).`));
    const m = textDiff('Manifests', x.manifests || '', y.manifests || '');
    const v = textDiff('Values', x.values || '', y.values || '');
    if (m) parts.push(m);
    if (v) parts.push(v);
    if (parts.length) sections.push(h('section', { class: 'diff-layer', 'data-layer': n }, h('h3', {}, `Layer ${n}`), parts));
  }
  if (!sections.length) return h('p', { id: 'diff-none' }, `${va} and ${vb} do not differ.`);
  return h('div', {}, h('p', { class: 'muted' }, `From ${va} to ${vb}: lines starting with − are removed, with + added.`), sections);
}

function textDiff(title, a, b, always = false) {
  if (a === b && !always) return null;
  const d = lineDiff(a, b);
  const add = d.filter(([op]) => op === '+').length, del = d.filter(([op]) => op === '-').length;
  if (!add && !del && !always) return null;
  return h('div', { class: 'diff-block' }, h('h4', {}, `${title}: +${add} −${del}`),
    h('pre', { class: 'code diff' }, hunks(d).map(([op, l]) => (op === '…'
      ? h('span', { class: 'diff-skip' }, `… ${l} unchanged lines\n`)
      : h('span', { class: op === '+' ? 'diff-add' : op === '-' ? 'diff-del' : 'diff-same' }, `${op === '+' ? '+ ' : op === '-' ? '− ' : '  '}${l}\n`)))));
}

// loadAttached shows the groups and virtual clusters that use the profile.
async function loadAttached(me, p, el) {
  const uses = (refs) => (refs || []).some((r) => (r.profileId || r) === p.id);
  try {
    const [groups, vcs] = await Promise.all([
      can(me, 'clustergroup.list') ? listAll('/clustergroups').catch(() => []) : [],
      can(me, 'virtualcluster.list', { any: true }) ? listAll('/virtualclusters').catch(() => []) : [],
    ]);
    const gs = groups.filter((g) => uses(g.profiles));
    const gids = new Set(gs.map((g) => g.id));
    const vs = vcs.filter((v) => uses(v.profiles) || gids.has(v.clusterGroupId));
    const state = (v) => (v.status && v.status.profiles || []).find((s) => s.profileId === p.id);
    replace(el,
      h('p', {}, gs.length ? `Cluster groups: ${gs.map((g) => g.name).join(', ')}` : 'No cluster group.'),
      vs.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'attached-vcs' },
        h('thead', {}, h('tr', {}, ['Virtual cluster', 'Through', 'Version applied', 'State', 'Applied'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, vs.map((v) => {
          const s = state(v);
          return h('tr', {}, h('th', { scope: 'row' }, h('a', { href: `#/vc/${v.tenantId}/${v.projectId}/${v.id}` }, v.name)),
            h('td', {}, uses(v.profiles) ? 'its own' : 'its cluster group'),
            h('td', {}, s ? s.version : '—'), h('td', {}, s ? phaseBadge(s.phase) : phaseBadge('Pending')), h('td', {}, s ? when(s.appliedAt) : '—'));
        })))) : h('p', { class: 'muted' }, 'No virtual cluster you may see uses it.'));
  } catch (err) { replace(el, errorBox(err)); }
}
