// Sign in with an API key (the hub has no password exchange route yet).
import { api, session } from '../api.js';
import { h, replace, errorBox } from '../dom.js';

export function render(main, _params, ctx) {
  const status = h('div', { id: 'signin-status' });
  const input = h('input', {
    id: 'apikey', name: 'apikey', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'apikey-help', placeholder: 'nest_…',
  });
  const button = h('button', { type: 'submit', id: 'signin' }, 'Sign in');
  const form = h('form', { class: 'card signin', onsubmit: submit },
    h('h1', {}, 'Sign in to the Nest hub'),
    h('label', { for: 'apikey' }, 'API key'),
    input,
    h('p', { id: 'apikey-help', class: 'muted' },
      'An API key from your administrator or from `nest hub serve` on its first start. It is kept only in this tab.'),
    button, status);

  async function submit(e) {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    button.disabled = true;
    session.set(key);
    try {
      const me = await api('/whoami');
      input.value = '';
      ctx.onSignedIn(me);
    } catch (err) {
      session.clear();
      replace(status, errorBox(err.status === 401 ? new Error('That API key is not valid (or has expired or been revoked).') : err));
      input.focus();
    } finally {
      button.disabled = false;
    }
  }

  replace(main, form);
  input.focus();
}
