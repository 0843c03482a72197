// A line diff done in the browser: the longest common subsequence of two
// texts' lines (after trimming their common head and tail), as a list of
// ['=', line], ['-', line] and ['+', line].
const MAX_CELLS = 16e6; // beyond this, the middle is shown as removed then added

export function lineDiff(a, b) {
  const x = a ? a.replace(/\n$/, '').split('\n') : [];
  const y = b ? b.replace(/\n$/, '').split('\n') : [];
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const xm = x.slice(head, x.length - tail);
  const ym = y.slice(head, y.length - tail);
  const out = x.slice(0, head).map((l) => ['=', l]);
  const n = xm.length, m = ym.length;
  if (n && m && n * m <= MAX_CELLS) {
    // lcs[i][j]: the LCS length of xm[i:] and ym[j:], one row per i.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = xm[i] === ym[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (xm[i] === ym[j]) { out.push(['=', xm[i]]); i++; j++; }
      else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) out.push(['-', xm[i++]]);
      else out.push(['+', ym[j++]]);
    }
    while (i < n) out.push(['-', xm[i++]]);
    while (j < m) out.push(['+', ym[j++]]);
  } else {
    xm.forEach((l) => out.push(['-', l]));
    ym.forEach((l) => out.push(['+', l]));
  }
  x.slice(x.length - tail).forEach((l) => out.push(['=', l]));
  return out;
}

// hunks keeps the changed lines with context lines around them; runs of
// unchanged lines between become ['…', count].
export function hunks(diff, context = 3) {
  const keep = new Array(diff.length).fill(false);
  diff.forEach(([op], i) => {
    if (op === '=') return;
    for (let k = Math.max(0, i - context); k <= Math.min(diff.length - 1, i + context); k++) keep[k] = true;
  });
  const out = [];
  let skipped = 0;
  diff.forEach((d, i) => {
    if (keep[i]) {
      if (skipped) out.push(['…', skipped]);
      skipped = 0;
      out.push(d);
    } else skipped++;
  });
  if (skipped && out.length) out.push(['…', skipped]);
  return out;
}
