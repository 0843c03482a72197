// Sign in with an API key, or with a user name and password when the hub
// offers POST /api/v1/login (found in its OpenAPI document), which
// exchanges them for a key.
import { api, session } from '../api.js';
import { h, replace, errorBox } from '../dom.js';

export async function render(main, _params, ctx) {
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

  // Password sign-in, only on hubs that serve the login route.
  const doc = await fetch('/api/v1/openapi.json', { cache: 'no-store', credentials: 'omit' }).then((r) => r.json()).catch(() => null);
  if (!doc || !doc.paths || !doc.paths['/api/v1/login'] || !doc.paths['/api/v1/login'].post) return;
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const pwStatus = h('div', { id: 'password-status' });
  const pwButton = h('button', { type: 'submit', id: 'signin-password' }, 'Sign in with password');
  main.append(h('form', { class: 'card signin', id: 'password-form', onsubmit: async (e) => {
    e.preventDefault();
    pwButton.disabled = true;
    try {
      const k = await api('/login', { method: 'POST', body: { user: user.value.trim(), password: password.value, host: 'web' } });
      password.value = '';
      session.set(k.key);
      ctx.onSignedIn(await api('/whoami'));
    } catch (err) {
      session.clear();
      replace(pwStatus, errorBox(err.status === 401 ? new Error('Wrong user name or password.') : err));
      password.focus();
    } finally {
      pwButton.disabled = false;
    }
  } },
  h('h2', {}, 'Or with your user name and password'),
  h('label', { for: 'username' }, 'User name'), user,
  h('label', { for: 'password' }, 'Password'), password,
  h('p', { class: 'muted' }, 'The hub gives this tab a key valid 12 hours.'),
  pwButton, pwStatus));
}
