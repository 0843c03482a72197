// The names the pages show instead of ids: tenants, projects, cluster
// groups and host clusters the caller may read.
import { api, listAll } from './api.js';
import { can, scopesWith } from './perms.js';

export async function directory(me) {
  const d = { tenants: new Map(), projects: new Map(), groups: new Map(), hosts: new Map() };
  const into = (m) => (items) => items.forEach((x) => m.set(x.id, x));
  const quiet = () => {};
  await Promise.all([
    can(me, 'tenant.list') ? listAll('/tenants').then(into(d.tenants)) : null,
    can(me, 'hostcluster.list') ? listAll('/hostclusters').then(into(d.hosts)) : null,
    can(me, 'clustergroup.list') ? listAll('/clustergroups').then(into(d.groups)) : null,
  ]);
  const sc = scopesWith(me, 'project.list');
  const tenants = sc.global ? [...d.tenants.keys()] : [...sc.tenants];
  await Promise.all(tenants.map((t) => listAll(`/tenants/${t}/projects`).then(into(d.projects)).catch(quiet)));
  await Promise.all(me.grants.filter((g) => g.projectId && !d.projects.has(g.projectId)).map((g) =>
    api(`/tenants/${g.tenantId}/projects/${g.projectId}`).then((p) => d.projects.set(p.id, p)).catch(quiet)));
  return d;
}

export function nameOf(map, id) {
  const x = map.get(id);
  return x ? x.name : id ? id.slice(0, 8) + '…' : '—';
}

// quantity parses a Kubernetes quantity ("500m", "32Gi", "110") to a number.
export function quantity(q) {
  if (q === undefined || q === null || q === '') return NaN;
  const m = String(q).trim().match(/^([0-9.]+)([a-zA-Z]*)$/);
  if (!m) return NaN;
  const mult = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 }[m[2]];
  return mult === undefined ? NaN : parseFloat(m[1]) * mult;
}
