// Renders a plan DAG as SVG: columns by dependency depth, nodes coloured by todo status.
const NS = 'http://www.w3.org/2000/svg';
const COLORS = {
  pending: ['#f8f9fa', '#ced4da'],
  approved: ['#f8f9fa', '#ced4da'],
  running: ['#e7f5ff', '#1c7ed6'],
  awaiting_approval: ['#f3f0ff', '#7048e8'],
  awaiting_input: ['#f3f0ff', '#7048e8'],
  awaiting_recovery: ['#fff4e6', '#e67700'],
  completed: ['#ebfbee', '#2f9e44'],
  failed: ['#fff5f5', '#e03131'],
  skipped: ['#f1f3f5', '#868e96'],
};

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * @param {HTMLElement} container
 * @param {{ todos: { id: string, title: string, domain: string, dependsOn: string[], approval?: unknown }[] } | null} plan
 * @param {Map<string, string>} statuses todo id → status
 */
export function renderGraph(container, plan, statuses) {
  container.replaceChildren();
  if (!plan || plan.todos.length === 0) {
    container.textContent = 'No plan yet.';
    return;
  }
  const byId = new Map(plan.todos.map((t) => [t.id, t]));
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const t = byId.get(id);
    const d =
      t && t.dependsOn.length
        ? 1 + Math.max(...t.dependsOn.filter((x) => byId.has(x)).map((x) => depthOf(x, seen)), -1)
        : 0;
    depth.set(id, d);
    return d;
  };
  const columns = [];
  for (const t of plan.todos) {
    const d = depthOf(t.id);
    (columns[d] ??= []).push(t);
  }
  const W = 176,
    H = 64,
    GX = 56,
    GY = 18,
    PAD = 14;
  const pos = new Map();
  columns.forEach((col, c) =>
    col.forEach((t, r) => pos.set(t.id, { x: PAD + c * (W + GX), y: PAD + r * (H + GY) })),
  );
  const rows = Math.max(...columns.map((c) => c.length));
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GX;
  const height = PAD * 2 + rows * H + (rows - 1) * GY;
  const svg = el('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'plan graph',
  });
  const defs = el('defs');
  const marker = el('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#adb5bd' }));
  defs.append(marker);
  svg.append(defs);
  for (const t of plan.todos) {
    const to = pos.get(t.id);
    for (const dep of t.dependsOn) {
      const from = pos.get(dep);
      if (!from || !to) continue;
      const x1 = from.x + W,
        y1 = from.y + H / 2,
        x2 = to.x,
        y2 = to.y + H / 2,
        mx = (x1 + x2) / 2;
      svg.append(
        el('path', {
          class: 'edge',
          d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}`,
          'marker-end': 'url(#arrow)',
        }),
      );
    }
  }
  for (const t of plan.todos) {
    const p = pos.get(t.id);
    const status = statuses.get(t.id) ?? 'pending';
    const [fill, stroke] = COLORS[status] ?? COLORS.pending;
    const g = el('g', {
      class: 'node',
      transform: `translate(${p.x},${p.y})`,
      'data-todo': t.id,
      'data-status': status,
    });
    g.append(el('rect', { width: W, height: H, fill, stroke, rx: 8 }));
    // Long titles wrap onto two lines (the full title is in the tooltip).
    const [l1, l2] = wrap(t.title, 25);
    g.append(el('text', { x: 10, y: 18, class: 'title' }, l1));
    if (l2) g.append(el('text', { x: 10, y: 33, class: 'title' }, l2));
    const gate =
      t.approval === true || (t.approval && typeof t.approval === 'object' && t.approval.required !== false)
        ? ' · gated'
        : '';
    g.append(
      el(
        'text',
        { x: 10, y: 52, class: 'sub' },
        `${t.id} · ${t.domain}${gate} · ${status.replace('_', ' ')}`,
      ),
    );
    g.append(el('title', {}, `${t.title}\n${t.id} (${t.domain}) — ${status}`));
    svg.append(g);
  }
  container.append(svg);
}

/** Splits text into at most two lines of `n` characters at word boundaries; the second ends in … if cut. */
function wrap(text, n) {
  if (text.length <= n) return [text, ''];
  let cut = text.lastIndexOf(' ', n);
  if (cut < n / 2) cut = n;
  const first = text.slice(0, cut).trimEnd();
  const rest = text.slice(cut).trimStart();
  return [first, rest.length > n ? `${rest.slice(0, n - 1)}…` : rest];
}
