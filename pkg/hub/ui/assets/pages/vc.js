// One virtual cluster: its status, usage against quota, conditions,
// profile layers with their drift, its audit events, and the actions the
// caller may take (kubeconfig, pause or resume, upgrade, resize, delete).
import { api } from '../api.js';
import { h, replace, when, age, errorBox, phaseBadge, announce, confirmDialog } from '../dom.js';
import { can } from '../perms.js';
import { quantity } from '../directory.js';
import { field, showErrors, apiFieldError, check } from '../forms.js';
import { liveStream } from '../live.js';

const DIMS = [['cpu', 'CPU'], ['memory', 'Memory'], ['storage', 'Storage'], ['pods', 'Pods']];

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
  const liveState = h('span', { id: 'live-state', class: 'live-state', 'data-state': 'down' }, `Updating every ${POLL_MS / 1000} s`);
  const facts = h('dl', { class: 'facts' });
  const conditions = h('tbody');
  const actions = h('div', { id: 'vc-actions', class: 'actions', role: 'group', 'aria-label': 'Actions' });
  const message = h('div', { id: 'action-status', 'aria-live': 'polite' });
  const events = h('div');
  const usage = h('div', { id: 'usage', class: 'usage' });
  const profiles = h('div', { id: 'profiles' });
  const objects = h('div', { id: 'objects' });
  const kubeEvents = h('div', { id: 'kube-events' });
  let eventFilter = '';
  const dialog = confirmDialog('confirm');
  // The group's quota bounds a resize, for those who may read it.
  let group = null;
  if (can(me, 'clustergroup.get') && vc.clusterGroupId) group = await api('/clustergroups/' + vc.clusterGroupId).catch(() => null);
  const versions = (me.kubernetesVersions || []);

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
    drawUsage(); drawProfiles(); drawObserved();
  }

  // drawObserved: the counts of synced kinds and the recent Kubernetes
  // events the reconciler last read from the cluster (status.objects,
  // status.events), with a Warning/Normal filter.
  function drawObserved() {
    const st = vc.status || {};
    const objs = st.objects || [];
    const seen = st.observedAt ? h('p', { class: 'muted' }, `Read by the hub; last changed ${when(st.observedAt)}.`) : null;
    replace(objects, objs.length ? [h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'objects-table' },
      h('caption', { class: 'sr-only' }, 'Synced objects per kind'),
      h('thead', {}, h('tr', {}, ['Kind', 'In the virtual cluster', 'Synced to the host'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, objs.map((o) => h('tr', { 'data-kind': o.kind }, h('th', { scope: 'row' }, o.kind), h('td', { class: 'num' }, String(o.virtual)), h('td', { class: 'num' }, String(o.host))))))), seen]
      : h('p', { class: 'muted' }, st.phase === 'Ready' ? 'The hub reads the counts shortly after the cluster turns Ready.' : 'Counted while the cluster is Ready.'));
    const evs = (st.events || []).filter((e) => !eventFilter || e.type === eventFilter);
    const filter = h('select', { id: 'kube-events-type' }, [['', 'All'], ['Warning', 'Warnings'], ['Normal', 'Normal']].map(([v, l]) => h('option', { value: v, selected: v === eventFilter }, l)));
    filter.addEventListener('change', () => { eventFilter = filter.value; drawObserved(); document.getElementById('kube-events-type').focus(); });
    const hadFocus = document.activeElement && document.activeElement.id === 'kube-events-type';
    replace(kubeEvents,
      (st.events || []).length ? h('div', { class: 'filters' }, h('div', { class: 'field' }, h('label', { for: 'kube-events-type' }, 'Show'), filter)) : null,
      evs.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'kube-events-table' },
        h('caption', { class: 'sr-only' }, 'Recent Kubernetes events'),
        h('thead', {}, h('tr', {}, ['Last seen', 'Type', 'Reason', 'Object', 'Message', 'Count'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, evs.map((e) => h('tr', { class: e.type === 'Warning' ? 'warning' : '' },
          h('td', {}, e.lastSeen ? `${age(e.lastSeen)} ago` : '—'), h('td', {}, e.type === 'Warning' ? h('span', { class: 'badge phase-failed' }, '⚠ Warning') : e.type),
          h('td', {}, e.reason), h('td', {}, e.object), h('td', {}, e.message), h('td', { class: 'num' }, String(e.count || 1)))))))
        : h('p', { class: 'muted' }, (st.events || []).length ? 'No events of that type.' : 'No Kubernetes events recorded yet.'));
    if (hadFocus) filter.focus();
  }

  // drawUsage: what the host counts as used against each quota dimension.
  function drawUsage() {
    const used = (vc.status && vc.status.used) || {};
    const rows = DIMS.filter(([d]) => vc.quota && vc.quota[d]).map(([d, l]) => usageRow(l, used[d], vc.quota[d]));
    replace(usage, rows.length ? h('table', { class: 'meters' }, h('caption', { class: 'sr-only' }, 'Usage against quota'), h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'No quota.'),
      vc.status && vc.status.used ? null : h('p', { class: 'muted' }, 'Usage appears once the host has counted it.'));
  }

  // drawProfiles: each effective profile with its layers, their status
  // and the objects that drifted.
  function drawProfiles() {
    const ps = (vc.status && vc.status.profiles) || [];
    if (!ps.length) {
      replace(profiles, h('p', { class: 'muted' }, (vc.profiles || []).length ? 'Its profiles are applied once it is Ready.' : 'No profiles.'));
      return;
    }
    const openLayers = new Set([...profiles.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    replace(profiles, ps.map((p) => h('section', { class: 'profile', 'data-profile': p.name },
      h('h3', {}, h('a', { href: `#/profiles/${p.profileId}` }, p.name), ` ${p.version} `, phaseBadge(p.phase),
        p.appliedAt ? h('span', { class: 'muted' }, ` applied ${when(p.appliedAt)}`) : null),
      p.message ? h('p', { class: 'muted' }, p.message) : null,
      h('div', { class: 'table-wrap' }, h('table', { class: 'data layers-status' },
        h('caption', { class: 'sr-only' }, `Layers of ${p.name}`),
        h('thead', {}, h('tr', {}, ['Layer', 'Status', 'Message', 'Drift'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, (p.layers || []).map((l) => h('tr', { 'data-layer': l.name },
          h('th', { scope: 'row' }, l.name), h('td', {}, phaseBadge(l.status)), h('td', {}, l.message || ''),
          h('td', {}, (l.drift || []).length ? h('details', { 'data-key': p.name + '/' + l.name, open: openLayers.has(p.name + '/' + l.name) },
            h('summary', {}, `${l.drift.length} objects`),
            h('ul', {}, l.drift.map((d) => h('li', {}, `${d.reason}: ${d.object}`, d.fields && d.fields.length ? h('span', { class: 'muted' }, ` (${d.fields.join(', ')})`) : null))))
            : '—')))))))));
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
      const others = versions.filter((v) => v !== vc.kubernetesVersion);
      buttons.push(h('button', { type: 'button', id: 'upgrade', class: 'secondary', onclick: askUpgrade, disabled: !others.length,
        title: others.length ? 'Upgrade to another Kubernetes version' : `${vc.kubernetesVersion} is the only version this hub allows` }, 'Upgrade'));
      buttons.push(h('button', { type: 'button', id: 'resize', class: 'secondary', onclick: askResize }, 'Resize'));
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

  // fresh runs send (a write from vc.resourceVersion). The reconciler's
  // status writes also move the resourceVersion: on a conflict, when the
  // spec is still what the page showed (the same generation), it reads
  // again and retries; a spec someone else changed is a real conflict,
  // shown to the user.
  async function fresh(send) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        if (err.status !== 409 || err.code !== 'conflict' || attempt >= 4) throw err;
        const now = await api(base);
        const changed = now.generation !== vc.generation || now.deleting;
        vc = now;
        if (changed) {
          drawFacts(); drawActions();
          throw new Error('It was changed meanwhile by someone else: look again and retry. ' + err.message);
        }
      }
    }
  }

  // put sends the spec with changes.
  function put(changes) {
    return fresh(() => {
      const body = { kubernetesVersion: vc.kubernetesVersion, quota: vc.quota || {}, paused: vc.paused,
        profiles: vc.profiles || [], resourceVersion: vc.resourceVersion, ...changes };
      if (vc.config) body.config = vc.config;
      return api(base, { method: 'PUT', body });
    });
  }

  function askUpgrade() {
    const others = versions.filter((v) => v !== vc.kubernetesVersion);
    const sel = h('select', { id: 'upgrade-version' }, others.map((v) => h('option', { value: v }, v)));
    const body = h('div', {}, field('Kubernetes version', sel, `Now ${vc.kubernetesVersion}; only versions this hub allows are offered.`));
    dialog.open(`Upgrade ${vc.name}?`, 'Its control plane restarts on the new version; workloads keep running on the host.', async () => {
      try {
        vc = await put({ kubernetesVersion: sel.value });
        drawFacts(); drawActions();
        say(`${vc.name} will be upgraded to ${vc.kubernetesVersion}`);
        return true;
      } catch (err) {
        return apiFieldError(body, err, { kubernetesVersion: 'upgrade-version' }) ? false : (replace(message, errorBox(err)), true);
      }
    }, { ok: 'Upgrade', danger: false, body });
  }

  function askResize() {
    const inputs = Object.fromEntries(DIMS.map(([d]) => [d, h('input', { id: 'resize-' + d, value: (vc.quota && vc.quota[d]) || '', autocomplete: 'off', spellcheck: 'false' })]));
    const limit = (d) => group && group.quota && group.quota[d];
    const body = h('div', { class: 'grid' }, DIMS.map(([d, l]) => field(l, inputs[d], limit(d) ? `At most ${limit(d)} (the cluster group's).` : 'Empty takes the group\'s.')));
    dialog.open(`Resize ${vc.name}?`, "The host's quota of its namespace changes; pods above a smaller quota keep running, new ones are refused.", async () => {
      const errors = {};
      for (const [d] of DIMS) {
        const v = inputs[d].value.trim();
        let msg = check.quantity(v);
        if (!msg && v && limit(d) && quantity(v) > quantity(limit(d))) msg = `${v} is more than the cluster group allows (${limit(d)})`;
        errors['resize-' + d] = msg;
      }
      if (!showErrors(body, errors)) return false;
      const quota = {};
      for (const [d] of DIMS) if (inputs[d].value.trim()) quota[d] = inputs[d].value.trim();
      try {
        vc = await put({ quota });
        drawFacts(); drawActions();
        say(`${vc.name} will be resized`);
        return true;
      } catch (err) {
        if (apiFieldError(body, err, (f) => (f.startsWith('quota.') ? 'resize-' + f.slice(6) : ''))) return false;
        replace(message, errorBox(err));
        return true;
      }
    }, { ok: 'Resize', danger: false, body });
  }

  async function togglePause() {
    replace(message);
    try {
      vc = await put({ paused: !vc.paused });
      drawFacts(); drawActions();
      say(vc.paused ? `${vc.name} will be paused` : `${vc.name} will be resumed`);
    } catch (err) {
      replace(message, errorBox(err));
      await reload();
    }
  }

  function askDelete() {
    dialog.open(`Delete ${vc.name}?`, 'Its control plane and its workloads on the host are removed. This cannot be undone.', async () => {
      try {
        await fresh(() => api(base, { method: 'DELETE', query: { resourceVersion: vc.resourceVersion } }));
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
    h('div', { class: 'title-row' }, title, liveState), actions, message, facts,
    h('h2', {}, 'Usage'), usage,
    h('h2', {}, 'Conditions'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'conditions' },
      h('thead', {}, h('tr', {}, ['Type', 'Status', 'Reason', 'Message', 'Since'].map((c) => h('th', { scope: 'col' }, c)))), conditions)),
    h('h2', {}, 'Profiles'), profiles,
    h('h2', {}, 'Synced objects'), objects,
    h('h2', {}, 'Kubernetes events'), kubeEvents,
    may.audit ? [h('h2', {}, 'Audit events'), events] : null,
    dialog.el);
  drawFacts(); drawActions(); loadEvents();
  main.dataset.loaded = 'true';
  // Live: the hub streams this cluster's changes; polling takes over
  // while the stream is down. An open dialog is left alone (it holds the
  // resourceVersion it read); the next change after it closes redraws.
  let gone = false;
  const stream = liveStream({
    virtualcluster(x) {
      if (x.id !== vc.id || gone) return;
      vc = x;
      if (!dialog.el.open) { drawFacts(); drawActions(); loadEvents(); }
    },
    deleted(x) {
      if (x.id !== vc.id) return;
      gone = true;
      replace(facts, h('p', {}, 'This virtual cluster is gone.'));
      replace(actions);
    },
    resync: () => { if (!gone && !dialog.el.open) reload(); },
    state(st) { liveState.textContent = st === 'live' ? 'Live' : `Updating every ${POLL_MS / 1000} s`; liveState.dataset.state = st; },
  });
  const timer = setInterval(async () => {
    if (document.hidden || dialog.el.open || stream.state() === 'live') return;
    if ((await reload()) === 'gone') clearInterval(timer);
  }, POLL_MS);
  return () => { clearInterval(timer); stream.stop(); };
}

// usageRow is one dimension: used against quota, as a meter and text.
export function usageRow(label, used, quota) {
  const u = quantity(used || '0'), q = quantity(quota);
  const text = used === undefined || used === null || used === '' ? `? of ${quota}` : `${used} of ${quota}`;
  return h('tr', { 'data-dim': label.toLowerCase() }, h('th', { scope: 'row' }, label),
    h('td', {}, q > 0 && !isNaN(u) ? h('meter', { min: 0, max: q, high: q * 0.85, optimum: 0, value: Math.min(u, q), 'aria-label': `${label} used: ${text}` }) : null),
    h('td', { class: 'num' }, text));
}
