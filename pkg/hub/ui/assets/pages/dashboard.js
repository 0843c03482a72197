// The fleet dashboard: every virtual cluster the caller may list (GET
// /virtualclusters), counts per state, filters and search, charts of
// creations and capacity, and a paged table. It polls for live status.
import { listAll } from '../api.js';
import { h, s, replace, age, errorBox, phaseBadge, announce } from '../dom.js';
import { directory, nameOf, quantity } from '../directory.js';
import { can } from '../perms.js';
import { liveStream } from '../live.js';

export const PHASES = ['Ready', 'Provisioning', 'Pending', 'Paused', 'Failed', 'Unknown', 'Deleting'];
const POLL_MS = 5000;
const PAGE_SIZE = 50;

export async function render(main, _params, ctx) {
  const state = { vcs: [], q: '', phase: '', group: '', project: '', page: 0, loaded: false };
  const counts = h('div', { class: 'counts', role: 'group', 'aria-label': 'Virtual clusters per state' });
  const search = h('input', { id: 'search', type: 'search', placeholder: 'Name, project, host, version…', autocomplete: 'off' });
  const phaseSel = h('select', { id: 'filter-phase' }, h('option', { value: '' }, 'All states'), PHASES.map((p) => h('option', { value: p }, p)));
  const groupSel = h('select', { id: 'filter-group' }, h('option', { value: '' }, 'All cluster groups'));
  const projectSel = h('select', { id: 'filter-project' }, h('option', { value: '' }, 'All projects'));
  const charts = h('div', { class: 'charts' });
  const tbody = h('tbody');
  const summary = h('p', { id: 'vc-summary', class: 'muted', 'aria-live': 'polite' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of virtual clusters' });
  const problem = h('div');
  const liveState = h('span', { id: 'live-state', class: 'live-state', 'data-state': 'down' }, `Updating every ${POLL_MS / 1000} s`);
  const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);

  replace(main,
    h('div', { class: 'title-row' }, h('h1', {}, 'Fleet'),
      liveState,
      can(ctx.me, 'virtualcluster.create', { any: true }) ? h('a', { href: '#/create', id: 'new-vc', class: 'button' }, 'New virtual cluster') : null),
    counts,
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      field('search', 'Search', search), field('filter-phase', 'State', phaseSel),
      field('filter-group', 'Cluster group', groupSel), field('filter-project', 'Project', projectSel)),
    problem,
    charts,
    summary,
    h('div', { class: 'table-wrap' },
      h('table', { id: 'vcs', class: 'data' },
        h('caption', { class: 'sr-only' }, 'Virtual clusters'),
        h('thead', {}, h('tr', {}, ['Name', 'Project', 'State', 'Kubernetes', 'Host', 'Age', 'CPU used / quota', 'Memory used / quota', 'Pods used / quota'].map((c) => h('th', { scope: 'col' }, c)))),
        tbody)),
    pager);

  // The fleet and the names load together.
  let pending = listAll('/virtualclusters');
  pending.catch(() => {});
  const dir = await directory(ctx.me).catch(() => ({ tenants: new Map(), projects: new Map(), groups: new Map(), hosts: new Map() }));
  for (const g of dir.groups.values()) groupSel.append(h('option', { value: g.id }, g.name));
  for (const p of dir.projects.values()) projectSel.append(h('option', { value: p.id }, p.name));

  const refilter = () => { state.page = 0; draw(); };
  search.addEventListener('input', () => { state.q = search.value.trim().toLowerCase(); refilter(); });
  phaseSel.addEventListener('change', () => { state.phase = phaseSel.value; refilter(); });
  groupSel.addEventListener('change', () => { state.group = groupSel.value; refilter(); });
  projectSel.addEventListener('change', () => { state.project = projectSel.value; refilter(); });

  const phaseOf = (vc) => (vc.status && vc.status.phase) || 'Pending';
  const hostOf = (vc) => (vc.status && vc.status.hostClusterId) || '';
  function matches(vc) {
    if (state.phase && phaseOf(vc) !== state.phase) return false;
    if (state.group && vc.clusterGroupId !== state.group) return false;
    if (state.project && vc.projectId !== state.project) return false;
    if (!state.q) return true;
    const hay = [vc.name, nameOf(dir.projects, vc.projectId), nameOf(dir.hosts, hostOf(vc)), phaseOf(vc),
      vc.kubernetesVersion, nameOf(dir.groups, vc.clusterGroupId)].join(' ').toLowerCase();
    return hay.includes(state.q);
  }

  // usageCell: what the host counts as used against the quota (a bar of
  // used against quota), or only the quota until the hub has counted it.
  function usageCell(vc, dim) {
    const q = vc.quota && vc.quota[dim];
    if (!q) return h('td', { class: 'num' }, '—');
    const used = vc.status && vc.status.used && vc.status.used[dim];
    const max = quantity(q);
    if (!used || !(max > 0)) return h('td', { class: 'num', title: 'not counted yet' }, `– / ${q}`);
    const u = quantity(used);
    return h('td', { class: 'num' }, `${used} / ${q} `,
      h('meter', { min: 0, max, high: max * 0.85, optimum: 0, value: Math.min(u, max), 'aria-label': `${dim} used ${used} of ${q}` }));
  }

  function row(vc) {
    const link = `#/vc/${vc.tenantId}/${vc.projectId}/${vc.id}`;
    return h('tr', { 'data-id': vc.id },
      h('th', { scope: 'row' }, h('a', { href: link }, vc.name)),
      h('td', {}, nameOf(dir.projects, vc.projectId)),
      h('td', {}, phaseBadge(phaseOf(vc))),
      h('td', {}, (vc.status && vc.status.kubernetesVersion) || vc.kubernetesVersion || '—'),
      h('td', {}, hostOf(vc) ? nameOf(dir.hosts, hostOf(vc)) : '—'),
      h('td', {}, h('time', { datetime: vc.createdAt, title: vc.createdAt }, age(vc.createdAt))),
      usageCell(vc, 'cpu'), usageCell(vc, 'memory'), usageCell(vc, 'pods'));
  }

  function drawCounts() {
    const n = {};
    for (const vc of state.vcs) n[phaseOf(vc)] = (n[phaseOf(vc)] || 0) + 1;
    const btn = (phase, label, count) => h('button', {
      type: 'button', class: 'count' + (phase ? ' phase-' + phase.toLowerCase() : ''), 'aria-pressed': String(state.phase === phase),
      'data-phase': phase || 'all',
      onclick: () => { state.phase = phase; phaseSel.value = phase; refilter(); },
    }, h('span', { class: 'count-n' }, String(count)), ' ', label);
    const focusedPhase = counts.contains(document.activeElement) && document.activeElement.dataset.phase;
    replace(counts, btn('', 'All', state.vcs.length), PHASES.filter((p) => n[p]).map((p) => btn(p, p, n[p])));
    if (focusedPhase) {
      const b = counts.querySelector(`[data-phase="${focusedPhase}"]`);
      if (b) b.focus({ preventScroll: true });
    }
  }

  function drawCharts() {
    replace(charts, creationsChart(state.vcs), capacityChart(dir.hosts, state.vcs));
  }

  function draw() {
    if (!state.loaded) return;
    drawCounts();
    const shown = state.vcs.filter(matches);
    const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const from = state.page * PAGE_SIZE;
    const slice = shown.slice(from, from + PAGE_SIZE);
    // A redraw keeps the focus on the same cluster's link.
    const focusedRow = tbody.contains(document.activeElement) && document.activeElement.closest('tr[data-id]');
    const focusedID = focusedRow && focusedRow.dataset.id;
    tbody.replaceChildren(...slice.map(row));
    if (focusedID) {
      const link = tbody.querySelector(`tr[data-id="${focusedID}"] a`);
      if (link) link.focus({ preventScroll: true });
    }
    if (!slice.length) tbody.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, state.vcs.length ? 'No virtual cluster matches.' : 'No virtual clusters yet.')));
    summary.textContent = shown.length
      ? `Showing ${from + 1}–${from + slice.length} of ${shown.length} virtual clusters` + (shown.length !== state.vcs.length ? ` (${state.vcs.length} in all)` : '')
      : `0 of ${state.vcs.length} virtual clusters`;
    const go = (p) => () => { state.page = p; draw(); };
    const focusedPager = pager.contains(document.activeElement) && document.activeElement.id;
    replace(pager,
      h('button', { type: 'button', id: 'page-prev', disabled: state.page === 0, onclick: go(state.page - 1) }, '‹ Previous'),
      h('span', {}, ` Page ${state.page + 1} of ${pages} `),
      h('button', { type: 'button', id: 'page-next', disabled: state.page >= pages - 1, onclick: go(state.page + 1) }, 'Next ›'));
    if (focusedPager) {
      const b = pager.querySelector('#' + focusedPager);
      (b && !b.disabled ? b : pager.querySelector('button:not([disabled])') || pager).focus({ preventScroll: true });
    }
  }

  async function refresh() {
    try {
      state.vcs = await (pending || listAll('/virtualclusters'));
      pending = null;
      state.loaded = true;
      replace(problem);
      draw();
      drawCharts();
      if (!main.dataset.loaded) performance.mark('nest:dashboard-rendered');
      main.dataset.loaded = 'true';
    } catch (err) {
      replace(problem, errorBox(err));
    }
  }
  await refresh();
  announce(`${state.vcs.length} virtual clusters`);
  // Live: each change the hub streams is merged into the list and drawn
  // at the next frame; polling takes over while the stream is down.
  let frame = 0;
  const redraw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; draw(); drawCharts(); });
  };
  const stream = liveStream({
    virtualcluster(vc) {
      const i = state.vcs.findIndex((x) => x.id === vc.id);
      if (i >= 0) state.vcs[i] = vc; else state.vcs.push(vc);
      redraw();
    },
    deleted(vc) { state.vcs = state.vcs.filter((x) => x.id !== vc.id); redraw(); },
    resync: () => refresh(),
    state(st) { liveState.textContent = st === 'live' ? 'Live' : `Updating every ${POLL_MS / 1000} s`; liveState.dataset.state = st; },
  });
  const timer = setInterval(() => { if (!document.hidden && stream.state() !== 'live') refresh(); }, POLL_MS);
  return () => { clearInterval(timer); stream.stop(); if (frame) cancelAnimationFrame(frame); };
}

// creationsChart: virtual clusters created per day over the last 14 days.
function creationsChart(vcs) {
  const days = 14;
  const today = new Date(); today.setHours(0, 0, 0, 0);
  const start = today.getTime() - (days - 1) * 86400000;
  const n = new Array(days).fill(0);
  for (const vc of vcs) {
    const i = Math.floor((Date.parse(vc.createdAt) - start) / 86400000);
    if (i >= 0 && i < days) n[i]++;
  }
  const max = Math.max(1, ...n);
  const W = 280, H = 80, bw = W / days;
  const label = (i) => new Date(start + i * 86400000).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const total = n.reduce((a, b) => a + b, 0);
  return h('figure', { class: 'chart' },
    s('svg', { viewBox: `0 0 ${W} ${H + 14}`, role: 'img', 'aria-label': `${total} virtual clusters created in the last ${days} days; most on one day: ${max === 1 && !total ? 0 : max}` },
      n.map((v, i) => s('rect', { x: i * bw + 2, y: H - (v / max) * H, width: bw - 4, height: Math.max((v / max) * H, v ? 1 : 0), class: 'bar' },
        s('title', {}, `${label(i)}: ${v}`))),
      s('line', { x1: 0, y1: H, x2: W, y2: H, class: 'axis' }),
      s('text', { x: 0, y: H + 12, class: 'tick' }, label(0)),
      s('text', { x: W, y: H + 12, class: 'tick', 'text-anchor': 'end' }, 'today')),
    h('figcaption', {}, `Created per day (last ${days} days): ${total}`));
}

// capacityChart: each host's capacity against the quotas placed on it
// (from the host records when the caller may read them, else the sum of
// the listed virtual clusters' quotas).
function capacityChart(hosts, vcs) {
  const dims = [['cpu', 'CPU'], ['memory', 'Memory'], ['pods', 'Pods']];
  if (!hosts.size) {
    const sum = {};
    for (const vc of vcs) for (const [d] of dims) sum[d] = (sum[d] || 0) + (quantity(vc.quota && vc.quota[d]) || 0);
    return h('figure', { class: 'chart' }, h('figcaption', {}, 'Quota of the listed virtual clusters'),
      h('ul', { class: 'plain' }, dims.map(([d, l]) => h('li', {}, `${l}: ${fmt(d, sum[d])}`))));
  }
  const placed = {};
  for (const vc of vcs) {
    const host = vc.status && vc.status.hostClusterId;
    if (!host) continue;
    placed[host] = placed[host] || {};
    for (const [d] of dims) placed[host][d] = (placed[host][d] || 0) + (quantity(vc.quota && vc.quota[d]) || 0);
  }
  return h('figure', { class: 'chart capacity' }, h('figcaption', {}, 'Host capacity placed in quotas'),
    h('table', { class: 'meters' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Host'), dims.map(([, l]) => h('th', { scope: 'col' }, l)))),
      h('tbody', {}, [...hosts.values()].map((host) => h('tr', {},
        h('th', { scope: 'row' }, host.name, ' ', phaseBadge(host.status.phase)),
        dims.map(([d, l]) => {
          const cap = quantity(host.status.capacity && host.status.capacity[d]);
          const used = (placed[host.id] || {})[d] || 0;
          if (!cap) return h('td', { class: 'muted' }, '—');
          return h('td', {}, h('meter', { min: 0, max: cap, high: cap * 0.85, value: Math.min(used, cap),
            'aria-label': `${host.name} ${l}: ${fmt(d, used)} of ${fmt(d, cap)}` }), ' ', `${fmt(d, used)} / ${fmt(d, cap)}`);
        }))))));
}

function fmt(dim, v) {
  if (!v) return '0';
  if (dim === 'memory') return (v / 2 ** 30).toFixed(v >= 10 * 2 ** 30 ? 0 : 1) + 'Gi';
  if (dim === 'cpu') return (Math.round(v * 100) / 100).toString();
  return String(Math.round(v));
}
