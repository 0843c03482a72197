// Uploading a cluster profile, or a new version of one: name, version,
// description, variables (NAME=value lines) and ordered layers, each
// manifests (pasted or read from .yaml files) or a Helm chart (a .tgz
// archive, sent base64 as the API takes it, with values and a release).
// The checks mirror pkg/profile's Validate; what only rendering finds
// (a YAML error, an undeclared variable) comes back at the layer's field.
import { api } from '../api.js';
import { h, replace, errorBox, announce } from '../dom.js';
import { field, showErrors, apiFieldError, check, isStale, staleNotice, textarea, fileInto } from '../forms.js';

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_BYTES = 8 << 20;

// parseVariables reads NAME=value lines; it returns [map, error].
export function parseVariables(text) {
  const out = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq).trim();
    if (eq < 0) return [null, `line ${i + 1}: write NAME=value`];
    if (!VARIABLE.test(name)) return [null, `line ${i + 1}: "${name}" is not a variable name (letters, digits and _, not starting with a digit)`];
    out[name] = line.slice(eq + 1).trim();
  }
  return [out, ''];
}

// layerEditor is one layer's fieldset; value() returns the layer as the
// API takes it, checks() its field errors.
function layerEditor(list, layer, onRemove) {
  const n = list.length;
  const id = (s) => `pf-layer-${n}-${s}`;
  const name = h('input', { id: id('name'), autocomplete: 'off', spellcheck: 'false', maxlength: 63, value: layer.name || '' });
  const kind = h('select', { id: id('kind') }, [['manifests', 'Manifests'], ['helm', 'Helm chart']].map(([v, l]) => h('option', { value: v, selected: (layer.kind || 'manifests') === v }, l)));
  const ns = h('input', { id: id('namespace'), autocomplete: 'off', spellcheck: 'false', maxlength: 63, value: layer.namespace || '', placeholder: 'default' });
  const manifests = textarea(id('manifests'), { rows: 8, value: layer.manifests || '', placeholder: 'apiVersion: v1\nkind: ConfigMap\n…' });
  const values = textarea(id('values'), { rows: 4, value: layer.values || '' });
  const release = h('input', { id: id('release'), autocomplete: 'off', spellcheck: 'false', maxlength: 53, value: layer.release || '', placeholder: 'the layer\'s name' });
  let archive = (layer.chart && layer.chart.archive) || '';
  const chartState = h('p', { class: 'hint', id: id('chart-state') }, archive ? `Keeps the current chart archive (${Math.floor(archive.length * 3 / 4)} bytes) unless you choose another.` : 'No chart archive chosen.');
  const chart = fileInto(id('chart'), 'Chart archive (.tgz)', { accept: '.tgz,.tar.gz,application/gzip', onBytes: (b64, f) => {
    archive = b64;
    chartState.textContent = `${f.name}: ${f.size} bytes.`;
  } });
  // The chart field's error lives beside its picker.
  const chartInput = chart.querySelector('input');
  chartInput.setAttribute('aria-describedby', `${id('chart-state')} ${id('chart')}-error`);
  chart.append(chartState, h('p', { class: 'field-error', id: id('chart') + '-error', hidden: true }));
  const manifestFile = fileInto(id('manifests-file'), 'Or read manifests from .yaml files', { target: manifests, accept: '.yaml,.yml,.json' });
  manifestFile.querySelector('input').multiple = true;
  manifestFile.querySelector('input').addEventListener('change', async (e) => {
    // Several files join as one multi-document stream.
    const files = [...e.target.files];
    if (files.length > 1) manifests.value = (await Promise.all(files.map((f) => f.text()))).map((t) => t.replace(/\n*$/, '\n')).join('---\n');
  });
  const manifestsPart = h('div', { class: 'stack' }, field('Manifests', manifests, 'Multi-document YAML; ${VAR} takes a variable.'), manifestFile);
  const helmPart = h('div', { class: 'stack' }, chart, field('Values', values, 'YAML.'), field('Release name', release));
  const remove = h('button', { type: 'button', class: 'secondary small', id: id('remove') }, 'Remove layer');
  const fs = h('fieldset', { class: 'layer', 'data-layer': n },
    h('legend', {}, `Layer ${n + 1}`),
    h('div', { class: 'grid' }, field('Layer name', name), field('Kind', kind), field('Namespace', ns, 'Of namespaced objects that name none, or the release.')),
    manifestsPart, helmPart, h('div', { class: 'actions' }, remove));
  const show = () => { manifestsPart.hidden = kind.value !== 'manifests'; helmPart.hidden = kind.value !== 'helm'; };
  kind.addEventListener('change', show);
  show();
  const ed = {
    el: fs,
    removed: false,
    value() {
      const l = { name: name.value.trim(), kind: kind.value };
      if (ns.value.trim()) l.namespace = ns.value.trim();
      if (kind.value === 'manifests') l.manifests = manifests.value;
      else {
        if (archive) l.chart = { archive };
        if (values.value.trim()) l.values = values.value;
        if (release.value.trim()) l.release = release.value.trim();
      }
      return l;
    },
    checks(names) {
      const e = {};
      e[id('name')] = check.name(name.value.trim()) || (names.has(name.value.trim()) ? 'is also the name of another layer' : '');
      names.add(name.value.trim());
      e[id('namespace')] = ns.value.trim() ? check.name(ns.value.trim()) : '';
      if (kind.value === 'manifests') e[id('manifests')] = manifests.value.trim() ? '' : 'is required for a manifests layer';
      else {
        e[id('chart')] = archive ? '' : 'is required for a helm layer: choose the chart\'s .tgz';
        const r = release.value.trim() || name.value.trim();
        e[id('release')] = r.length > 53 ? 'must be at most 53 characters' : '';
      }
      return e;
    },
  };
  remove.addEventListener('click', () => { ed.removed = true; fs.remove(); onRemove(); });
  return ed;
}

// profileForm is the upload form. With current (a profile read from the
// hub), it uploads a new version of it (PUT with its resourceVersion),
// starting from the current version's content; else a new profile.
export function profileForm({ current, done }) {
  const isNew = !current;
  const spec = (current && current.spec) || {};
  const name = h('input', { id: 'pf-name', autocomplete: 'off', spellcheck: 'false', maxlength: 63, value: current ? current.name : '', readonly: !isNew });
  const version = h('input', { id: 'pf-version', autocomplete: 'off', spellcheck: 'false', maxlength: 128, placeholder: current ? `after ${current.version}` : '1.0.0' });
  const desc = h('input', { id: 'pf-description', autocomplete: 'off', maxlength: 1024, value: (current && current.description) || '' });
  const vars = textarea('pf-variables', { rows: 3, value: Object.entries(spec.variables || {}).map(([k, v]) => `${k}=${v}`).join('\n'), placeholder: 'GREETING=hello' });
  const layersBox = h('div', { id: 'pf-layers', class: 'stack', tabindex: '-1', 'aria-describedby': 'pf-layers-error' });
  const layersError = h('p', { class: 'field-error', id: 'pf-layers-error', hidden: true });
  const editors = [];
  const live = () => editors.filter((e) => !e.removed);
  const addLayer = (l = {}) => {
    const ed = layerEditor(editors, l, () => announce('Layer removed'));
    editors.push(ed);
    layersBox.append(ed.el);
    return ed;
  };
  (spec.layers && spec.layers.length ? spec.layers : [{}]).forEach((l) => addLayer(l));
  const add = h('button', { type: 'button', class: 'secondary', id: 'pf-add-layer', onclick: () => {
    const ed = addLayer({});
    ed.el.querySelector('input').focus();
  } }, 'Add layer');
  let rv = current && current.resourceVersion;
  const status = h('div', { id: 'pf-status', class: 'form-status', 'aria-live': 'polite' });
  const title = isNew ? 'Upload cluster profile' : `Upload a new version of ${current.name}`;
  const submit = h('button', { type: 'submit', id: 'pf-submit' }, isNew ? 'Upload profile' : 'Upload version');

  // The hub's details.field ("layers[1].chart", "variables") to a control.
  function ids(path) {
    const m = path.match(/^layers\[(\d+)\](?:\.(\w+))?/);
    if (m) {
      const ed = live()[Number(m[1])];
      if (!ed) return 'pf-layers';
      const n = ed.el.dataset.layer;
      const f = m[2] || (ed.value().kind === 'helm' ? 'chart' : 'manifests');
      return `pf-layer-${n}-${f === 'chart' ? 'chart' : f}`;
    }
    if (path === 'layers') return 'pf-layers';
    return { name: 'pf-name', version: 'pf-version', description: 'pf-description', variables: 'pf-variables' }[path];
  }
  function body() {
    const [variables] = parseVariables(vars.value);
    const b = { name: name.value.trim(), version: version.value.trim(), description: desc.value || undefined, variables, layers: live().map((e) => e.value()) };
    if (!isNew) b.resourceVersion = rv;
    return b;
  }
  function checks() {
    const e = {
      'pf-name': check.name(name.value.trim()),
      'pf-version': !version.value.trim() ? 'is required' : version.value.trim().length > 128 ? 'must be at most 128 characters'
        : current && current.versions && current.versions.includes(version.value.trim()) ? `${current.name} already has version ${version.value.trim()}: versions are immutable, send a new one` : '',
      'pf-description': check.text(desc.value, 1024),
      'pf-variables': parseVariables(vars.value)[1],
      'pf-layers': live().length ? '' : 'at least one layer is required',
    };
    const names = new Set();
    for (const ed of live()) Object.assign(e, ed.checks(names));
    return e;
  }
  const form = h('form', { id: 'profile-form', class: 'card form', novalidate: true, 'aria-label': title, onsubmit: async (ev) => {
    ev.preventDefault();
    replace(status);
    if (!showErrors(form, checks())) return;
    const b = body();
    if (JSON.stringify(b).length > MAX_BYTES) { replace(status, errorBox(new Error(`The profile is larger than the hub takes (${MAX_BYTES} bytes).`))); return; }
    submit.disabled = true;
    try {
      const p = isNew ? await api('/clusterprofiles', { method: 'POST', body: b })
        : await api(`/clusterprofiles/${current.id}`, { method: 'PUT', body: b });
      const msg = isNew ? `Uploaded cluster profile ${p.name} ${p.version}` : `Uploaded ${p.name} ${p.version}`;
      replace(status, h('p', { class: 'ok' }, msg));
      announce(msg);
      done(p);
    } catch (err) {
      if (!isNew && isStale(err)) {
        replace(status, staleNotice(`Cluster profile ${current.name}`, () => api(`/clusterprofiles/${current.id}`), (fresh) => { rv = fresh.resourceVersion; }));
      } else if (!apiFieldError(form, err, ids)) replace(status, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  } },
  h('details', { class: 'form-fold' }, h('summary', { id: 'pf-open' }, h('h2', {}, title)),
    h('div', { class: 'grid wide' }, field('Name', name, isNew ? "Lower-case letters, digits and '-'." : 'A new version keeps the name.'),
      field('Version', version, 'Any text, new for this profile (1.2.0).'), field('Description', desc),
      field('Variables', vars, 'One NAME=value a line: the defaults of ${NAME} in the layers.')),
    h('h3', {}, 'Layers, applied in order'), layersBox, layersError,
    h('div', { class: 'actions' }, add, submit), status));
  return form;
}
