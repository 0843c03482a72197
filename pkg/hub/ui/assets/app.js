// The app shell: sign-in state, navigation from the caller's grants and a
// hash router (#/path) that renders one page module at a time.
import { api, session } from './api.js';
import { h, replace, errorBox } from './dom.js';
import { can } from './perms.js';
import * as signin from './pages/signin.js';
import * as dashboard from './pages/dashboard.js';
import * as vc from './pages/vc.js';
import * as lists from './pages/lists.js';
import * as create from './pages/create.js';
import * as profiles from './pages/profiles.js';

// The caller, from /whoami, once signed in.
const app = { me: null };

// Routes: a pattern of path segments (":x" binds a parameter), the page,
// and the nav entry with the permission that shows it.
const routes = [
  { path: 'signin', page: signin, title: 'Sign in', public: true },
  { path: '', page: dashboard, title: 'Fleet', nav: 'Fleet', perm: 'virtualcluster.list' },
  { path: 'create', page: create, title: 'New virtual cluster' },
  { path: 'vc/:tenant/:project/:id', page: vc, title: 'Virtual cluster' },
  { path: 'profiles', page: { render: profiles.renderList }, title: 'Cluster profiles', nav: 'Profiles', perm: 'clusterprofile.list' },
  { path: 'profiles/:id', page: { render: profiles.renderOne }, title: 'Cluster profile' },
  ...lists.pages.map((p) => ({ path: p.path, page: { render: (el, params, ctx) => lists.render(p, el, params, ctx) }, title: p.title, nav: p.title, perm: p.perm, global: p.global })),
];

function match(hash) {
  const parts = hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean);
  for (const r of routes) {
    const want = r.path.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(':') ? ((params[w.slice(1)] = decodeURIComponent(parts[i])), true) : w === parts[i]))) {
      return { route: r, params };
    }
  }
  return null;
}

function visible(r) {
  return r.nav && can(app.me, r.perm, r.global ? {} : { any: true });
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!app.me) {
    replace(nav);
    replace(who);
    return;
  }
  replace(nav, h('ul', {}, routes.filter(visible).map((r) =>
    h('li', {}, h('a', { href: '#/' + r.path, 'aria-current': r === current ? 'page' : false }, r.nav)))));
  replace(who, h('span', {}, app.me.user.name), ' ',
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'));
}

function signOut() {
  session.clear();
  app.me = null;
  location.hash = '#/signin';
}

let cleanup = null;

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const main = document.getElementById('main');
  const m = match(location.hash) || { route: routes[1], params: {} };
  if (!m.route.public && !session.key()) {
    location.replace('#/signin');
    return;
  }
  if (session.key() && !app.me) {
    try {
      app.me = await api('/whoami');
    } catch (err) {
      session.clear();
      location.replace('#/signin');
      return;
    }
  }
  document.title = m.route.title + ' · Nest hub';
  renderNav(m.route);
  delete main.dataset.loaded;
  replace(main, h('p', { class: 'muted' }, 'Loading…'));
  const ctx = {
    me: app.me,
    onSignedIn: (me) => { app.me = me; location.hash = '#/'; },
  };
  try {
    cleanup = (await m.route.page.render(main, m.params, ctx)) || null;
  } catch (err) {
    replace(main, h('h1', {}, m.route.title), errorBox(err));
  }
  const heading = main.querySelector('h1');
  if (heading && document.activeElement === document.body) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('nest:unauthenticated', () => {
  if (!session.key()) return;
  session.clear();
  app.me = null;
  location.hash = '#/signin';
});
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main').focus();
});
route();
