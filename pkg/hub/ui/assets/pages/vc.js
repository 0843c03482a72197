// One virtual cluster: its status and conditions, its audit events, and
// the actions the caller may take (kubeconfig, pause or resume, delete).
import { api } from '../api.js';
import { h, replace, when, age, errorBox, phaseBadge, announce } from '../dom.js';
import { can } from '../perms.js';

const POLL_MS = 3000;

export async function render(main, params, ctx) {
  const me = ctx.me;
  const scope = { tenantId: params.tenant, projectId: params.project };
  const base = `/tenants/${params.tenant}/projects/${params.project}/virtualclusters/${params.id}`;
  const may = {
    kubeconfig: can(me, 'virtualcluster.kubeconfig', scope),
    update: can(me, 'virtualcluster.update', scope),
    delete: can(me, 'virtualcluster.delete', scope),
    audit: can(me, 'audit.list', { tenantId: params.tenant }),
  };
  let vc = await api(base);
  // Host names, for those who may read host clusters.
  const hostNames = new Map();
  if (can(me, 'hostcluster.get') && vc.status && vc.status.hostClusterId) {
    await api('/hostclusters/' + vc.status.hostClusterId).then((x) => hostNames.set(x.id, x.name)).catch(() => {});
  }
  const title = h('h1', {}, vc.name);
  const facts = h('dl', { class: 'facts' });
  const conditions = h('tbody');
  const actions = h('div', { id: 'vc-actions', class: 'actions', role: 'group', 'aria-label': 'Actions' });
  const message = h('div', { id: 'action-status', 'aria-live': 'polite' });
  const events = h('div');
  const dialog = confirmDialog();

  function drawFacts() {
    const st = vc.status || {};
    const fact = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
    replace(facts,
      fact('State', [phaseBadge(st.phase), st.message ? h('span', { class: 'muted' }, ' ' + st.message) : null]),
      fact('Kubernetes', st.kubernetesVersion || vc.kubernetesVersion || '—'),
      fact('Host cluster', st.hostClusterId ? (hostNames.get(st.hostClusterId) || st.hostClusterId) : '—'),
      fact('Host namespace', st.hostNamespace || '—'),
      fact('Endpoint', st.endpoint || '—'),
      fact('Quota', ['cpu', 'memory', 'storage', 'pods'].filter((d) => vc.quota && vc.quota[d]).map((d) => `${d} ${vc.quota[d]}`).join(', ') || 'none'),
      fact('Paused', vc.paused ? 'yes' : 'no'),
      fact('Generation', `${vc.generation} (observed ${st.observedGeneration || 0})`),
      fact('Created', h('time', { datetime: vc.createdAt }, `${when(vc.createdAt)} (${age(vc.createdAt)} ago)`)),
      fact('Id', h('code', {}, vc.id)));
    const conds = st.conditions || [];
    conditions.replaceChildren(...conds.map((c) => h('tr', {},
      h('th', { scope: 'row' }, c.type), h('td', {}, c.status), h('td', {}, c.reason || ''), h('td', {}, c.message || ''),
      h('td', {}, when(c.lastTransitionTime)))));
    if (!conds.length) conditions.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No conditions yet.')));
  }

  function drawActions() {
    const phase = (vc.status && vc.status.phase) || 'Pending';
    const buttons = [];
    if (may.kubeconfig) {
      buttons.push(h('button', { type: 'button', id: 'kubeconfig', onclick: download, disabled: phase !== 'Ready',
        title: phase === 'Ready' ? 'Download the admin kubeconfig' : 'Available once the cluster is Ready' }, 'Download kubeconfig'));
    }
    if (may.update && !vc.deleting) {
      buttons.push(h('button', { type: 'button', id: vc.paused ? 'resume' : 'pause', onclick: togglePause }, vc.paused ? 'Resume' : 'Pause'));
    }
    if (may.delete && !vc.deleting) {
      buttons.push(h('button', { type: 'button', id: 'delete', class: 'danger', onclick: askDelete }, 'Delete'));
    }
    if (!buttons.length) buttons.push(h('p', { class: 'muted' }, 'You may look at this virtual cluster but not change it.'));
    const focused = document.activeElement && document.activeElement.id;
    replace(actions, buttons);
    if (focused) { const el = actions.querySelector('#' + focused); if (el) el.focus(); }
  }

  async function download() {
    replace(message);
    try {
      const r = await api(base + '/kubeconfig');
      const blob = new Blob([r.kubeconfig], { type: 'application/yaml' });
      const a = h('a', { href: URL.createObjectURL(blob), download: `${vc.name}.kubeconfig`, class: 'sr-only' }, 'kubeconfig');
      document.body.append(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      say(`Downloaded ${vc.name}.kubeconfig`);
    } catch (err) {
      replace(message, errorBox(err));
    }
  }

  async function togglePause() {
    replace(message);
    const body = { kubernetesVersion: vc.kubernetesVersion, quota: vc.quota || {}, paused: !vc.paused,
      profiles: vc.profiles || [], resourceVersion: vc.resourceVersion };
    if (vc.config) body.config = vc.config;
    try {
      vc = await api(base, { method: 'PUT', body });
      drawFacts(); drawActions();
      say(vc.paused ? `${vc.name} will be paused` : `${vc.name} will be resumed`);
    } catch (err) {
      replace(message, errorBox(err.status === 409 ? new Error('It changed meanwhile: look again and retry. ' + err.message) : err));
      await reload();
    }
  }

  function askDelete() {
    dialog.open(`Delete ${vc.name}?`, 'Its control plane and its workloads on the host are removed. This cannot be undone.', async () => {
      try {
        await api(base, { method: 'DELETE', query: { resourceVersion: vc.resourceVersion } });
        say(`${vc.name} is being deleted`);
        await reload();
      } catch (err) {
        replace(message, errorBox(err));
      }
    });
  }

  function say(text) {
    replace(message, h('p', { class: 'ok' }, text));
    announce(text);
  }

  async function reload() {
    try {
      vc = await api(base);
      drawFacts(); drawActions(); loadEvents();
    } catch (err) {
      if (err.status === 404) {
        replace(facts, h('p', {}, 'This virtual cluster is gone.'));
        replace(actions);
        return 'gone';
      }
      replace(message, errorBox(err));
    }
    return '';
  }

  async function loadEvents() {
    if (!may.audit) return;
    try {
      const page = await api(`/tenants/${params.tenant}/audit`, { query: { resourceId: params.id, limit: 100 } });
      replace(events, h('table', { class: 'data', id: 'events' },
        h('caption', { class: 'sr-only' }, 'Audit events'),
        h('thead', {}, h('tr', {}, ['Time', 'Who', 'Action', 'Request'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, page.items.slice().reverse().map((e) => h('tr', {},
          h('td', {}, when(e.time)), h('td', {}, e.principal), h('td', {}, e.action), h('td', {}, h('code', {}, e.requestId)))),
        page.items.length ? null : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No events yet.')))));
    } catch (err) {
      replace(events, errorBox(err));
    }
  }

  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '‹ Fleet')),
    title, actions, message, facts,
    h('h2', {}, 'Conditions'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'conditions' },
      h('thead', {}, h('tr', {}, ['Type', 'Status', 'Reason', 'Message', 'Since'].map((c) => h('th', { scope: 'col' }, c)))), conditions)),
    may.audit ? [h('h2', {}, 'Events'), events] : null,
    dialog.el);
  drawFacts(); drawActions(); loadEvents();
  main.dataset.loaded = 'true';
  const timer = setInterval(async () => {
    if (document.hidden || dialog.el.open) return;
    if ((await reload()) === 'gone') clearInterval(timer);
  }, POLL_MS);
  return () => clearInterval(timer);
}

// confirmDialog is a modal <dialog> (focus moves into it, Escape cancels).
function confirmDialog() {
  const heading = h('h2', { id: 'confirm-title' });
  const text = h('p', { id: 'confirm-text' });
  let onOK = null;
  const el = h('dialog', { id: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
    heading, text,
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'confirm-cancel', onclick: () => el.close() }, 'Cancel'),
      h('button', { type: 'button', id: 'confirm-ok', class: 'danger', onclick: () => { el.close(); if (onOK) onOK(); } }, 'Delete')));
  return {
    el,
    open(title, body, ok) {
      heading.textContent = title;
      text.textContent = body;
      onOK = ok;
      el.showModal();
      el.querySelector('#confirm-cancel').focus();
    },
  };
}
