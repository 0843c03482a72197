// h builds an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child).
// Text is always text (never parsed as HTML).
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG = 'http://www.w3.org/2000/svg';

// s builds an SVG element.
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// age says how long ago t (an RFC 3339 time) was: 5s, 3m, 2h, 4d.
export function age(t, now = Date.now()) {
  const sec = Math.max(0, Math.floor((now - Date.parse(t)) / 1000));
  if (sec < 60) return sec + 's';
  if (sec < 3600) return Math.floor(sec / 60) + 'm';
  if (sec < 86400) return Math.floor(sec / 3600) + 'h';
  return Math.floor(sec / 86400) + 'd';
}

export function when(t) {
  if (!t) return '—';
  const d = new Date(t);
  return isNaN(d) ? t : d.toLocaleString();
}

// announce tells screen readers (the page's live region).
export function announce(text) {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

// phaseBadge shows a phase with a color and its name (never color alone).
export function phaseBadge(phase) {
  return h('span', { class: 'badge phase-' + (phase || 'Pending').toLowerCase() }, phase || 'Pending');
}

// confirmDialog is a modal <dialog> (focus moves into it, Escape cancels).
// open(title, text, onOK, {ok: 'Delete', danger: true, body: node}) shows
// it; onOK may return false to keep it open (a field error in body).
export function confirmDialog(id = 'confirm') {
  const heading = h('h2', { id: id + '-title' });
  const text = h('p', { id: id + '-text' });
  const extra = h('div');
  const okBtn = h('button', { type: 'submit', id: id + '-ok', class: 'danger' }, 'Delete');
  let onOK = null;
  const el = h('dialog', { id, 'aria-labelledby': id + '-title', 'aria-describedby': id + '-text' },
    h('form', { method: 'dialog', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      okBtn.disabled = true;
      try {
        if (!onOK || (await onOK()) !== false) el.close();
      } finally { okBtn.disabled = false; }
    } }, heading, text, extra,
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: id + '-cancel', class: 'secondary', onclick: () => el.close() }, 'Cancel'), okBtn)));
  return {
    el,
    open(title, body, ok, opts = {}) {
      heading.textContent = title;
      text.textContent = body;
      replace(extra, opts.body || null);
      okBtn.textContent = opts.ok || 'Delete';
      okBtn.className = opts.danger === false ? '' : 'danger';
      onOK = ok;
      if (!el.isConnected) document.body.append(el);
      el.showModal();
      const first = opts.body && opts.body.querySelector('input, select');
      (first || el.querySelector('#' + id + '-cancel')).focus();
    },
  };
}
