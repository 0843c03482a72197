// The caller's grants (from /whoami), evaluated as the hub does
// (pkg/hub/auth): the UI shows only what they allow; the API checks again.

function holds(perms, p) {
  const res = p.split('.')[0];
  return perms.some((q) => q === '*' || q === p || q === res + '.*');
}

function covers(g, s) {
  if (s.any || !g.tenantId) return true;
  if (g.tenantId !== s.tenantId) return false;
  return !g.projectId || g.projectId === s.projectId;
}

// can reports whether me holds perm at scope: {} is global, {tenantId},
// {tenantId, projectId}, or {any: true} for anywhere.
export function can(me, perm, scope = {}) {
  return !!me && me.grants.some((g) => holds(g.permissions, perm) && covers(g, scope));
}

// tenantsWith lists the tenants (ids) where perm is held on the whole
// tenant, and the projects ({tenantId, projectId}) where it is held on one
// project only. A global grant returns {global: true}.
export function scopesWith(me, perm) {
  const out = { global: false, tenants: new Set(), projects: [] };
  for (const g of me.grants) {
    if (!holds(g.permissions, perm)) continue;
    if (!g.tenantId) out.global = true;
    else if (!g.projectId) out.tenants.add(g.tenantId);
    else out.projects.push({ tenantId: g.tenantId, projectId: g.projectId });
  }
  return out;
}
