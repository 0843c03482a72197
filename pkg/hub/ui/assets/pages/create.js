// The create wizard: a virtual cluster in five steps (where, version,
// quota, profiles, review). Each step checks its fields the way the hub
// does before moving on; what only the hub can tell comes back in the
// error's details.field and is shown at that field, on its step.
import { api, listAll } from '../api.js';
import { h, replace, errorBox, announce } from '../dom.js';
import { can } from '../perms.js';
import { directory, nameOf, quantity } from '../directory.js';
import { field, showErrors, apiFieldError, check, statusArea } from '../forms.js';

const DIMS = [['cpu', 'CPU', '2 or 500m'], ['memory', 'Memory', '4Gi'], ['storage', 'Storage', '10Gi'], ['pods', 'Pods', '50']];
const MAX_NAME = 50; // the hub keeps room for an id suffix in host names

export async function render(main, _params, ctx) {
  const me = ctx.me;
  const dir = await directory(me);
  const projects = [...dir.projects.values()].filter((p) => can(me, 'virtualcluster.create', { tenantId: p.tenantId, projectId: p.id }));
  const groups = [...dir.groups.values()];
  const profiles = can(me, 'clusterprofile.list', { any: true }) ? await listAll('/clusterprofiles').catch(() => []) : [];
  const versions = me.kubernetesVersions && me.kubernetesVersions.length ? me.kubernetesVersions : [];
  if (!projects.length) {
    replace(main, h('h1', {}, 'New virtual cluster'), h('p', {}, 'You may not create virtual clusters in any project.'));
    main.dataset.loaded = 'true';
    return null;
  }

  // Step 1: where.
  const name = h('input', { id: 'vc-name', autocomplete: 'off', maxlength: MAX_NAME, required: true, spellcheck: 'false' });
  const project = h('select', { id: 'vc-project', required: true },
    projects.length > 1 ? h('option', { value: '' }, 'Choose a project') : null,
    projects.map((p) => h('option', { value: p.id }, `${p.name} (${nameOf(dir.tenants, p.tenantId)})`)));
  const group = groups.length
    ? h('select', { id: 'vc-group', required: true }, groups.length > 1 ? h('option', { value: '' }, 'Choose a cluster group') : null,
      groups.map((g) => h('option', { value: g.id }, g.name)))
    : h('input', { id: 'vc-group', autocomplete: 'off', required: true, spellcheck: 'false' });
  // Step 2: version.
  const version = h('select', { id: 'vc-version' },
    versions.length ? versions.map((v) => h('option', { value: v }, v)) : h('option', { value: '' }, "The hub's version"));
  // Step 3: quota.
  const quota = Object.fromEntries(DIMS.map(([d]) => [d, h('input', { id: 'vc-' + d, autocomplete: 'off', inputmode: 'text', spellcheck: 'false' })]));
  const quotaHint = h('p', { class: 'hint', id: 'quota-hint' });
  // Step 4: profiles (each with a version: the latest, or a pinned one).
  const profileRows = profiles.map((p) => {
    const box = h('input', { type: 'checkbox', id: 'vc-p-' + p.id, value: p.id });
    const pin = h('select', { id: 'vc-pv-' + p.id, disabled: true, 'aria-label': `Version of ${p.name}` },
      h('option', { value: '' }, `latest (now ${p.version})`));
    let loaded = false;
    box.addEventListener('change', async () => {
      pin.disabled = !box.checked;
      if (box.checked && !loaded) {
        loaded = true;
        try {
          const vs = await api(`/clusterprofiles/${p.id}/versions`);
          pin.append(...vs.items.slice().reverse().map((v) => h('option', { value: v.version }, v.version)));
        } catch { /* the latest stays offered */ }
      }
    });
    return { p, box, pin };
  });

  const steps = [
    { title: 'Where', fields: [
      field('Name', name, `Lower-case letters, digits and '-', at most ${MAX_NAME} characters.`),
      field('Project', project),
      field('Cluster group', group, groups.length ? 'Its hosts run the cluster; its quota is the default and the most you may ask for.' : 'The id of the cluster group (you may not list groups).'),
    ] },
    { title: 'Kubernetes version', fields: [field('Kubernetes version', version, 'The versions this hub runs.')] },
    { title: 'Quota', fields: [quotaHint, h('div', { class: 'grid' }, DIMS.map(([d, l, ex]) => field(l, quota[d], `e.g. ${ex}; empty takes the group's.`)))] },
    { title: 'Profiles', fields: profileRows.length
      ? [h('p', { class: 'hint' }, "Applied once the cluster is Ready, after the cluster group's own profiles."),
        h('ul', { class: 'plain profiles-pick' }, profileRows.map(({ p, box, pin }) => h('li', {},
          box, ' ', h('label', { for: box.id }, p.name), p.description ? h('span', { class: 'muted' }, ' — ' + p.description) : null, ' ', pin,
          h('p', { class: 'field-error', id: pin.id + '-error', hidden: true }))))]
      : [h('p', { class: 'muted' }, 'No cluster profiles to choose from.')] },
    { title: 'Review', fields: [h('dl', { class: 'facts', id: 'vc-review' })] },
  ];
  profileRows.forEach(({ pin }) => pin.setAttribute('aria-describedby', pin.id + '-error'));

  let step = 0;
  const heading = h('h2', { id: 'step-title', tabindex: '-1' });
  const progress = h('ol', { class: 'steps', 'aria-label': 'Steps' });
  const body = h('div', { class: 'step-body' });
  const status = statusArea('create-status');
  const back = h('button', { type: 'button', id: 'wizard-back', class: 'secondary', onclick: () => go(step - 1, true) }, '‹ Back');
  const next = h('button', { type: 'submit', id: 'wizard-next' }, 'Next ›');
  const form = h('form', { id: 'create-form', novalidate: true, 'aria-labelledby': 'step-title', onsubmit: (e) => { e.preventDefault(); submit(); } },
    progress, heading, body, h('div', { class: 'actions' }, back, next), status);
  // The steps' fields stay in the form (hidden when not current), so that
  // an error can be put on any of them.
  const panels = steps.map((s, i) => h('fieldset', { class: 'step', 'data-step': i, hidden: true }, h('legend', { class: 'sr-only' }, s.title), s.fields));
  body.append(...panels);

  function selectedGroup() { return dir.groups.get(group.value); }
  function selectedProfiles() { return profileRows.filter((r) => r.box.checked); }

  function checks(i) {
    const e = {};
    if (i === 0) {
      e['vc-name'] = check.name(name.value.trim(), MAX_NAME);
      e['vc-project'] = check.required(project.value);
      e['vc-group'] = check.required(group.value.trim());
    }
    if (i === 2) {
      const g = selectedGroup();
      for (const [d] of DIMS) {
        const v = quota[d].value.trim();
        let msg = check.quantity(v);
        const limit = g && g.quota && g.quota[d];
        if (!msg && v && limit && quantity(v) > quantity(limit)) msg = `${v} is more than the cluster group allows (${limit})`;
        e['vc-' + d] = msg;
      }
    }
    return e;
  }

  function drawReview() {
    const g = selectedGroup();
    const fact = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
    const p = dir.projects.get(project.value);
    const q = DIMS.map(([d, l]) => `${l} ${quota[d].value.trim() || (g && g.quota && g.quota[d]) || '—'}`).join(', ');
    replace(panels[4].querySelector('#vc-review'),
      fact('Name', name.value.trim()), fact('Project', p ? p.name : project.value),
      fact('Cluster group', g ? g.name : group.value), fact('Kubernetes', version.value || "the hub's"),
      fact('Quota', q), fact('Profiles', selectedProfiles().map((r) => `${r.p.name} ${r.pin.value || 'latest'}`).join(', ') || 'none'));
  }

  function go(i, focus) {
    step = Math.max(0, Math.min(steps.length - 1, i));
    panels.forEach((p, j) => { p.hidden = j !== step; });
    heading.textContent = `Step ${step + 1} of ${steps.length}: ${steps[step].title}`;
    replace(progress, steps.map((s, j) => h('li', { class: j === step ? 'current' : j < step ? 'done' : '', 'aria-current': j === step ? 'step' : false }, s.title)));
    back.disabled = step === 0;
    next.textContent = step === steps.length - 1 ? 'Create' : 'Next ›';
    next.id = step === steps.length - 1 ? 'wizard-create' : 'wizard-next';
    if (step === 2) {
      const g = selectedGroup();
      quotaHint.textContent = g ? `The group ${g.name} gives each cluster ${DIMS.filter(([d]) => g.quota[d]).map(([d, l]) => `${l} ${g.quota[d]}`).join(', ') || 'no quota'}, and allows at most that.` : '';
    }
    if (step === 4) drawReview();
    if (focus) {
      const first = panels[step].querySelector('input, select');
      (step === 4 || !first ? heading : first).focus();
    }
  }

  async function submit() {
    replace(status);
    if (step < steps.length - 1) {
      if (!showErrors(form, checks(step))) return;
      go(step + 1, true);
      return;
    }
    for (let i = 0; i < steps.length - 1; i++) {
      const e = checks(i);
      if (Object.values(e).some(Boolean)) { go(i, false); showErrors(form, e); return; }
    }
    const p = dir.projects.get(project.value);
    const body = { name: name.value.trim(), clusterGroupId: group.value.trim(), quota: {},
      profiles: selectedProfiles().map((r) => (r.pin.value ? { profileId: r.p.id, version: r.pin.value } : { profileId: r.p.id })) };
    if (version.value) body.kubernetesVersion = version.value;
    for (const [d] of DIMS) if (quota[d].value.trim()) body.quota[d] = quota[d].value.trim();
    next.disabled = true;
    try {
      const vc = await api(`/tenants/${p.tenantId}/projects/${p.id}/virtualclusters`, { method: 'POST', body });
      announce(`${vc.name} is being created`);
      location.hash = `#/vc/${vc.tenantId}/${vc.projectId}/${vc.id}`;
    } catch (err) {
      next.disabled = false;
      const id = idOf(err.details && err.details.field, body.profiles);
      if (id) {
        const panel = form.querySelector('#' + CSS.escape(id)).closest('fieldset');
        go(Number(panel.dataset.step), false);
        apiFieldError(form, err, () => id);
      } else {
        replace(status, errorBox(err));
      }
    }
  }

  // idOf maps the hub's field path to the control that holds it.
  function idOf(path, refs) {
    if (!path) return '';
    const direct = { name: 'vc-name', clusterGroupId: 'vc-group', kubernetesVersion: 'vc-version' }[path];
    if (direct) return direct;
    let m = path.match(/^quota\.(\w+)$/);
    if (m && quota[m[1]]) return 'vc-' + m[1];
    m = path.match(/^profiles\[(\d+)\]/);
    if (m && refs[Number(m[1])]) return 'vc-pv-' + refs[Number(m[1])].profileId;
    return '';
  }

  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '‹ Fleet')), h('h1', {}, 'New virtual cluster'), form);
  go(0, false);
  name.focus();
  main.dataset.loaded = 'true';
  return null;
}
