// The operator console: plain ES modules, no build step. Live updates come over the WebSocket client
// (the same typed client as @dream-agent/ws, bundled by the server at /vendor/client.js).
import { AgentClient } from '/vendor/client.js';
import { renderGraph } from '/graph.js';
import { renderMarkdown } from '/markdown.js';

const $ = (id) => document.getElementById(id);
const h = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children.flat())
    if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
};

/** Appends children, skipping null/undefined/false (the DOM's own append writes them as text: "null"). */
function fill(el, ...children) {
  if (children.length === 1 && children[0] === null) {
    el.replaceChildren();
    return el;
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const state = {
  config: { devAuth: false },
  token: sessionStorage.getItem('dream.token'),
  me: null,
  client: null,
  sessionId: null,
  snapshot: null,
  events: [],
  progress: new Map(),
  sub: null,
  viewVersion: null,
  // Plan versions fetched on demand (`planId:version` → plan): snapshots carry only the changes.
  planCache: new Map(),
  refreshTimer: null,
  tools: [],
  inspect: null,
  sessions: [],
  listCursor: undefined,
  zoom: 1,
  fileUrls: new Map(),
};
const PAGE = Number(new URLSearchParams(location.search).get('page')) || 25;
/** Plan changes per page of the versions list (`?changes=N`); older pages load on demand. */
const CHANGES_PAGE = Number(new URLSearchParams(location.search).get('changes')) || 50;

const can = (perm) => {
  const r = state.me?.roles ?? [];
  if (r.includes('admin')) return true;
  if (perm === 'read') return r.length > 0;
  if (perm === 'operate' || perm === 'start') return r.includes('operator');
  if (perm === 'approve') return r.includes('approver');
  return false;
};

function toast(text, kind = '') {
  const t = h(
    'div',
    {
      class: `toast ${kind}`,
      role: kind === 'error' ? 'alert' : 'status',
      'data-session': state.sessionId ?? '',
    },
    text,
  );
  $('toasts').append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 7000 : 3500);
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: {
      'content-type': 'application/json',
      ...(state.token ? { authorization: `Bearer ${state.token}` } : {}),
      ...options.headers,
    },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok)
    throw Object.assign(new Error(body?.error?.message ?? res.statusText), {
      code: body?.error?.code,
      status: res.status,
    });
  return body;
}

// ------------------------------------------------------------------ sign in

async function signIn(token) {
  state.token = token;
  try {
    state.me = await api('/api/me');
  } catch (e) {
    state.token = null;
    sessionStorage.removeItem('dream.token');
    $('signin-error').textContent = `Sign-in failed: ${e.message}`;
    showSignIn();
    return;
  }
  sessionStorage.setItem('dream.token', token);
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${state.config.wsPath ?? '/ws'}`;
  state.client = new AgentClient({ url: wsUrl, token });
  state.client.onState((s) => {
    $('conn').textContent = s === 'open' ? 'live' : s;
    $('conn').className = `conn ${s}`;
  });
  await state.client.connect();
  $('signin').hidden = true;
  $('console').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = state.me.id;
  $('who-tenant').textContent = state.me.tenantId ? `@ ${state.me.tenantId}` : '';
  $('who-roles').replaceChildren(...state.me.roles.map((r) => h('span', {}, r)));
  $('new-go').disabled = !can('start') && !can('operate');
  state.tools = (await api('/api/tools').catch(() => ({ tools: [] }))).tools;
  renderToolPicker();
  await refreshSessions();
  const fromHash = decodeURIComponent(location.hash.slice(1));
  if (fromHash) await select(fromHash);
}

function showSignIn() {
  $('signin').hidden = false;
  $('console').hidden = true;
  $('who').hidden = true;
  $('dev-signin').hidden = !state.config.devAuth;
}

$('dev-go').addEventListener('click', async () => {
  const roles = [...$('dev-roles').querySelectorAll('input:checked')].map((i) => i.value);
  try {
    const { token } = await api('/auth/dev-token', {
      method: 'POST',
      body: JSON.stringify({ user: $('dev-user').value.trim(), roles }),
    });
    await signIn(token);
  } catch (e) {
    $('signin-error').textContent = e.message;
  }
});
$('paste-go').addEventListener('click', () => void signIn($('paste-token').value.trim()));
$('signout').addEventListener('click', () => {
  sessionStorage.removeItem('dream.token');
  location.hash = '';
  location.reload();
});

// ------------------------------------------------------------------ sessions

async function refreshSessions({ more = false } = {}) {
  if (!state.client) return;
  const waitingOnly = $('only-waiting').checked;
  const query = { limit: PAGE, ...(waitingOnly ? { status: ['waiting'] } : {}) };
  if (more && state.listCursor) query.after = state.listCursor;
  // Keep as many pages as were shown, so a periodic refresh does not collapse "Load more".
  const pages = more ? 1 : Math.max(1, Math.ceil(state.sessions.length / PAGE));
  let page = [];
  const got = more ? [...state.sessions] : [];
  for (let i = 0; i < pages; i++) {
    page = await state.client.list(query).catch(() => []);
    got.push(...page);
    if (page.length < PAGE) break;
    query.after = page.at(-1).id;
  }
  state.sessions = got;
  state.listCursor = got.at(-1)?.id;
  $('s-more').hidden = page.length < PAGE;
  renderSessions();
}

function sessionLabel(s) {
  // A session at rest after a finished turn is "idle": show how its last turn ended instead.
  return s.status === 'idle' && s.turnId ? (s.outcome ?? 'done') : s.status;
}

function renderSessions() {
  const q = $('s-search').value.trim().toLowerCase();
  const shown = state.sessions
    .filter((s) => !q || `${s.id} ${s.input ?? ''} ${s.ownerId ?? ''}`.toLowerCase().includes(q))
    .sort((a, b) => b.updatedAt - a.updatedAt);
  $('sessions').replaceChildren(
    ...shown.map((s) =>
      h(
        'li',
        {
          class: s.id === state.sessionId ? 'active' : '',
          'data-session': s.id,
          'data-status': s.status,
          onclick: () => void select(s.id),
        },
        h('div', { class: 'title' }, s.input ?? s.id),
        h(
          'div',
          { class: 'meta' },
          h('span', { class: `badge ${s.status}`, 'data-testid': 'session-badge' }, sessionLabel(s)),
          s.pending ? `${s.pending} waiting for you` : '',
          h('span', { class: 'owner', 'data-testid': 'session-owner' }, s.ownerId ? `by ${s.ownerId}` : ''),
          h('span', {}, new Date(s.updatedAt).toLocaleTimeString()),
        ),
      ),
    ),
  );
  if (shown.length === 0)
    $('sessions').append(h('li', { class: 'muted small' }, q ? 'No session matches.' : 'No sessions yet.'));
}
$('s-search').addEventListener('input', () => renderSessions());
$('s-more').addEventListener('click', () => void refreshSessions({ more: true }));
$('only-waiting').addEventListener('change', () => void refreshSessions());
setInterval(() => void refreshSessions(), 4000);

$('new-go').addEventListener('click', async () => {
  const input = $('new-input').value.trim();
  if (!input) return;
  $('new-go').disabled = true;
  try {
    const r = await state.client.start(input);
    $('new-input').value = '';
    await select(r.sessionId);
    await refreshSessions();
  } catch (e) {
    toast(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
  } finally {
    $('new-go').disabled = false;
  }
});

async function select(id) {
  if (state.sub) state.sub.close();
  state.sessionId = id;
  state.events = [];
  state.progress = new Map();
  state.viewVersion = null;
  state.planCache = new Map();
  state.snapshot = null;
  state.inspect = null;
  // Nothing of the previous session may stay on screen: its event rows, progress, toasts, files.
  $('events').replaceChildren();
  $('toasts').replaceChildren();
  $('diff').replaceChildren();
  $('inspector').hidden = true;
  for (const url of state.fileUrls.values()) URL.revokeObjectURL(url);
  state.fileUrls.clear();
  $('files').replaceChildren();
  location.hash = encodeURIComponent(id);
  for (const li of $('sessions').children) li.classList.toggle('active', li.dataset.session === id);
  $('empty').hidden = true;
  $('session').hidden = false;
  await refresh();
  const sub = state.client.subscribe(id);
  state.sub = sub;
  (async () => {
    try {
      for await (const e of sub) {
        if (state.sessionId !== id) break;
        onEvent(e);
      }
    } catch (e) {
      toast(`stream: ${e.message}`, 'error');
    }
  })();
}

function onEvent(e) {
  if (e.sessionId !== state.sessionId) return;
  state.events.push(e);
  if (e.type === 'turn.started') {
    // A new turn: progress and notices of the previous one no longer apply.
    state.progress = new Map();
    for (const t of $('toasts').querySelectorAll('.toast')) t.remove();
    state.inspect = null;
  }
  if (['turn.completed', 'turn.failed', 'run.cancelled', 'run.paused', 'turn.started'].includes(e.type))
    void refreshSessions();
  if (e.type === 'todo.progress') state.progress.set(e.todoId, e.message);
  if (e.type === 'todo.started') state.progress.set(e.todoId, 'started…');
  if (e.type === 'todo.completed')
    state.progress.set(e.todoId, `done${e.cached ? ' (cached)' : ''} in ${e.durationMs} ms`);
  renderEvents();
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => void refresh(), 60);
  if (e.type === 'turn.completed') toast('Turn completed ✓');
}

async function refresh() {
  if (!state.sessionId) return;
  try {
    // Only the changes of the plan history: a session with many big edits opens as fast as a small one;
    // versions shown or diffed are fetched on demand.
    const id = state.sessionId;
    // The newest page of changes only; older pages the user loaded are kept while they still join on.
    const snap = await state.client.get(id, {
      history: 'changes',
      edits: false,
      changesLimit: CHANGES_PAGE,
    });
    if (state.sessionId !== id) return;
    state.snapshot = withOlder(snap);
    render();
  } catch (e) {
    toast(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
  }
}

async function send(command, what) {
  try {
    await state.client.send(state.sessionId, command);
    if (what) toast(what);
  } catch (e) {
    toast(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
    await refresh();
  }
}

// ------------------------------------------------------------------ rendering

function statusMap(s) {
  return new Map(s.todos.map((t) => [t.todoId, t.status]));
}

function render() {
  const s = state.snapshot;
  if (!s) return;
  const turn = s.turn;
  $('s-id').textContent = s.id;
  $('s-input').textContent = turn?.input ?? '';
  const outcome = turn?.phase === 'done' ? turn.outcome : undefined;
  $('s-status').textContent = outcome ?? s.status;
  $('s-status').className = `badge ${outcome ?? s.status}`;
  $('s-phase').textContent = turn ? `phase: ${turn.phase}` : '';
  const live = turn && turn.phase !== 'done';
  $('c-pause').disabled = !can('operate') || !live || turn.paused;
  $('c-resume').disabled = !can('operate') || !live || !turn.paused;
  $('c-cancel').disabled = !can('operate') || !live;
  renderPending(s);
  renderPlan(s);
  renderTodos(s);
  const answer = turn?.answer ?? (outcome === 'failed' ? turn?.error?.message : undefined);
  $('answer-card').hidden = !answer;
  $('answer').replaceChildren(renderMarkdown(answer ?? ''));
  renderFiles(s);
  $('followup').hidden = !(s.status === 'idle' && can('start'));
  renderInspector(s);
  renderHistory(s);
}

function renderPending(s) {
  const box = $('pending');
  box.replaceChildren();
  for (const req of s.pending) {
    const card = h('div', {
      class: `card request ${req.kind}`,
      'data-request': req.id,
      'data-kind': req.kind,
    });
    if (req.kind === 'plan_review') {
      fill(
        card,
        h('h3', {}, 'Review the plan'),
        h('div', { class: 'muted' }, req.prompt),
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              class: 'ok',
              'data-testid': 'approve-plan',
              disabled: !can('approve'),
              onclick: () => void send({ type: 'plan.approve' }, 'Plan approved'),
            },
            'Approve plan',
          ),
          h(
            'button',
            {
              class: 'danger',
              'data-testid': 'reject-plan',
              disabled: !can('approve'),
              onclick: () =>
                void send({ type: 'plan.reject', reason: 'rejected in the console' }, 'Plan rejected'),
            },
            'Reject',
          ),
          can('operate')
            ? h('span', { class: 'muted small' }, 'Edit the steps below before approving.')
            : null,
        ),
      );
    } else if (req.kind === 'approval') {
      const reason = h('input', { placeholder: 'reason (for a denial)', 'data-testid': 'deny-reason' });
      const allowed =
        can('approve') && (!req.roles?.length || req.roles.some((r) => state.me.roles.includes(r)));
      fill(
        card,
        h(
          'h3',
          {},
          `Approve “${titleOf(s, req.todoId)}”?`,
          req.risk ? h('span', { class: `risk ${req.risk}` }, req.risk) : null,
        ),
        h('div', {}, req.prompt ?? ''),
        renderEffect(req),
        req.roles?.length
          ? h('div', { class: 'muted small' }, `requires role: ${req.roles.join(' or ')}`)
          : null,
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              class: 'ok',
              'data-testid': 'grant',
              disabled: !allowed,
              onclick: () =>
                void send(
                  {
                    type: 'approval.grant',
                    requestId: req.id,
                    ...(req.digest ? { digest: req.digest } : {}),
                  },
                  'Approved',
                ),
            },
            'Approve',
          ),
          h(
            'button',
            {
              class: 'danger',
              'data-testid': 'deny',
              disabled: !allowed,
              onclick: () =>
                void send(
                  {
                    type: 'approval.deny',
                    requestId: req.id,
                    ...(reason.value ? { reason: reason.value } : {}),
                  },
                  'Denied',
                ),
            },
            'Deny',
          ),
          reason,
        ),
      );
    } else if (req.kind === 'input') {
      const field = h('input', {
        placeholder: req.schema?.format === 'email' ? 'name@example.com' : 'value',
        'data-testid': 'input-value',
      });
      const submit = () => {
        let value = field.value;
        if (req.schema && req.schema.type !== 'string') {
          try {
            value = JSON.parse(field.value);
          } catch {
            /* keep text */
          }
        }
        void send({ type: 'input.provide', requestId: req.id, value }, 'Sent');
      };
      field.addEventListener('keydown', (ev) => ev.key === 'Enter' && submit());
      fill(
        card,
        h('h3', {}, `Input needed for “${titleOf(s, req.todoId)}”`),
        h('div', {}, req.prompt),
        h(
          'div',
          { class: 'actions' },
          field,
          h(
            'button',
            { class: 'primary', 'data-testid': 'input-submit', disabled: !can('operate'), onclick: submit },
            'Submit',
          ),
        ),
      );
    } else if (req.kind === 'clarification') {
      const field = h('input', { placeholder: 'your answer', 'data-testid': 'clarify-value' });
      const answer = (text) =>
        void send({ type: 'clarification.answer', requestId: req.id, answer: text }, 'Answered');
      fill(
        card,
        h('h3', {}, 'The agent has a question'),
        h('div', {}, req.prompt),
        h(
          'div',
          { class: 'actions' },
          ...(req.options ?? []).map((o) =>
            h(
              'button',
              { disabled: !can('operate'), 'data-testid': 'clarify-option', onclick: () => answer(o) },
              o,
            ),
          ),
          field,
          h(
            'button',
            {
              class: 'primary',
              disabled: !can('operate'),
              'data-testid': 'clarify-submit',
              onclick: () => field.value && answer(field.value),
            },
            'Answer',
          ),
        ),
      );
    } else if (req.kind === 'recovery') {
      fill(
        card,
        h('h3', {}, `Recovery: “${titleOf(s, req.todoId)}” may or may not have run`),
        h('div', {}, req.prompt),
        h(
          'div',
          { class: 'actions' },
          ...['retry', 'mark_done', 'skip'].map((d) =>
            h(
              'button',
              {
                disabled: !can('approve'),
                onclick: () => void send({ type: 'recovery.resolve', requestId: req.id, decision: d }, d),
              },
              d.replace('_', ' '),
            ),
          ),
        ),
      );
    }
    box.append(card);
  }
}

function titleOf(s, todoId) {
  return s.plan?.todos.find((t) => t.id === todoId)?.title ?? todoId ?? '';
}

/**
 * The snapshot with the older changes already on screen put in front of its newest page, while they
 * belong to the same plan and join on without a hole (otherwise they are dropped: load them again).
 */
function withOlder(snap) {
  const page = snap.planChanges ?? [];
  const first = page[0]?.version;
  const prev = state.snapshot;
  const kept =
    prev && prev.id === snap.id && prev.plan?.id === snap.plan?.id && first !== undefined
      ? (prev.planChanges ?? []).filter((c) => c.version < first)
      : [];
  if (kept.length === 0 || (kept.at(-1)?.version ?? 0) + 1 !== first)
    return { ...snap, olderChanges: snap.planChangesPage?.older ?? 0 };
  return { ...snap, planChanges: [...kept, ...page], olderChanges: prev.olderChanges ?? 0 };
}

/** Loads the page of plan changes before the oldest one shown, then re-renders. */
async function loadOlder() {
  const s = state.snapshot;
  const id = state.sessionId;
  const first = s?.planChanges?.[0]?.version;
  if (!s || first === undefined) return;
  $('load-older').disabled = true;
  try {
    const older = await state.client.get(id, {
      history: 'changes',
      edits: false,
      changesLimit: CHANGES_PAGE,
      changesBefore: first,
    });
    const cur = state.snapshot;
    if (
      state.sessionId !== id ||
      older.plan?.id !== cur?.plan?.id ||
      cur?.planChanges?.[0]?.version !== first
    )
      return;
    const got = (older.planChanges ?? []).filter((c) => c.version < first);
    state.snapshot = {
      ...cur,
      planChanges: [...got, ...cur.planChanges],
      olderChanges: older.planChangesPage?.older ?? 0,
    };
    render();
  } catch (e) {
    toast(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
  } finally {
    $('load-older').disabled = false;
  }
}
$('load-older').addEventListener('click', () => void loadOlder());

/** Versions of the current plan, oldest first, with their step counts (from the changes, no plan needed). */
function versionsOf(s) {
  const changes = s.planChanges ?? [];
  let count = s.plan?.todos.length ?? 0;
  const out = [];
  for (let i = changes.length - 1; i >= 0; i -= 1) {
    const c = changes[i];
    out.unshift({ ...c, steps: count });
    count -= (c.diff?.added.length ?? 0) - (c.diff?.removed.length ?? 0);
  }
  return out;
}

const planKey = (s, version) => `${s.plan?.id ?? ''}:${version}`;

/** Fetches plan versions not yet cached (one `plans` request), then re-renders. */
async function fetchVersions(versions) {
  const s = state.snapshot;
  const id = state.sessionId;
  const missing = versions.filter((v) => !state.planCache.has(planKey(s, v)));
  if (missing.length === 0) return;
  const plans = await state.client.plans(id, missing).catch((e) => {
    toast(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
    return [];
  });
  if (state.sessionId !== id) return;
  for (const p of plans) state.planCache.set(planKey(s, p.plan.version), p.plan);
}

function shownPlan(s) {
  if (state.viewVersion === null || state.viewVersion === s.plan?.version) return s.plan;
  const cached = state.planCache.get(planKey(s, state.viewVersion));
  if (cached) return cached;
  void fetchVersions([state.viewVersion]).then(() => {
    if (state.planCache.has(planKey(s, state.viewVersion))) render();
  });
  return s.plan;
}

function renderPlan(s) {
  const plan = shownPlan(s);
  const current = s.plan?.version;
  $('plan-version').textContent = plan
    ? `v${plan.version}${plan.version === current ? ' (current)' : ' (history)'}`
    : '';
  $('plan-rationale').textContent = plan?.rationale ?? '';
  const pick = $('version-pick');
  const versions = versionsOf(s);
  pick.replaceChildren(
    ...versions
      .reverse()
      .map((v) =>
        h(
          'option',
          { value: v.version, selected: v.version === (plan?.version ?? current) },
          `v${v.version} · ${v.actor}`,
        ),
      ),
  );
  pick.hidden = versions.length === 0;
  renderGraph($('graph'), plan, statusMap(s));
  applyZoom();
}
$('version-pick').addEventListener('change', (e) => {
  const v = Number(e.target.value);
  state.viewVersion = v === state.snapshot?.plan?.version ? null : v;
  render();
});

const EDITABLE = new Set(['pending', 'awaiting_approval']);

function renderTodos(s) {
  const plan = s.plan;
  const list = $('todos');
  list.replaceChildren();
  if (!plan) return;
  const rows = new Map(s.todos.map((t) => [t.todoId, t]));
  const live = s.turn && s.turn.phase !== 'done';
  const editing = live && can('operate') && state.viewVersion === null;
  $('edit-hint').textContent = editing ? `editing v${plan.version}` : '';
  $('add-step').hidden = !editing;
  plan.todos.forEach((t, i) => {
    const row = rows.get(t.id);
    const status = row?.status ?? 'pending';
    const editable = editing && EDITABLE.has(status);
    const prev = plan.todos[i - 1];
    const next = plan.todos[i + 1];
    const edit = (edits, what) => void send({ type: 'plan.edit', baseVersion: plan.version, edits }, what);
    const detail =
      row?.status === 'completed'
        ? preview(row.output)
        : row?.status === 'skipped'
          ? `skipped: ${row.skipReason}${row.reason ? ` — ${row.reason}` : ''}`
          : (row?.error?.message ??
            state.progress.get(t.id) ??
            (t.dependsOn.length ? `after ${t.dependsOn.join(', ')}` : ''));
    list.append(
      h(
        'li',
        {
          'data-todo': t.id,
          'data-status': status,
          class: state.inspect === t.id ? 'inspected' : '',
          onclick: (ev) => {
            if (ev.target.closest('button')) return;
            state.inspect = state.inspect === t.id ? null : t.id;
            render();
          },
        },
        h('span', { class: `dot st-${status}`, title: status }),
        h(
          'div',
          {},
          h(
            'div',
            { class: 't-title' },
            t.title,
            ' ',
            h('span', { class: 'muted small' }, `${t.id} · ${t.domain}`),
          ),
          h('div', { class: 't-sub' }, detail),
        ),
        editable
          ? h(
              'div',
              { class: 't-edit' },
              h(
                'button',
                {
                  class: 'icon',
                  title: 'Move up',
                  'data-testid': 'move-up',
                  disabled: !prev,
                  onclick: () => edit([{ op: 'move', todoId: t.id, before: prev.id }], 'Moved'),
                },
                '↑',
              ),
              h(
                'button',
                {
                  class: 'icon',
                  title: 'Move down',
                  'data-testid': 'move-down',
                  disabled: !next,
                  onclick: () => edit([{ op: 'move', todoId: t.id, after: next.id }], 'Moved'),
                },
                '↓',
              ),
              h(
                'button',
                {
                  class: 'icon danger',
                  title: 'Remove',
                  'data-testid': 'remove',
                  onclick: () => edit([{ op: 'remove', todoId: t.id }], `Removed ${t.id}`),
                },
                '✕',
              ),
            )
          : h('span', { class: 'muted small' }, status.replace('_', ' ')),
      ),
    );
  });
  const ids = plan.todos.map((t) => t.id);
  $('a-after').replaceChildren(
    h('option', { value: '' }, '(at the end)'),
    ...ids.map((id) => h('option', { value: id }, id)),
  );
  $('a-deps').replaceChildren(...ids.map((id) => h('option', { value: id }, id)));
}

$('a-go').addEventListener('click', () => {
  const plan = state.snapshot?.plan;
  if (!plan) return;
  const id = $('a-id').value.trim();
  const title = $('a-title').value.trim();
  if (!id || !title) return toast('A step needs an id and a title', 'error');
  const dependsOn = [...$('a-deps').selectedOptions].map((o) => o.value);
  const tool = state.tools.find((t) => t.name === $('a-tool').value);
  let input = {};
  try {
    input = addForm ? addForm.read() : {};
  } catch (e) {
    return toast(e.message, 'error');
  }
  const todo = {
    id,
    title,
    domain: tool?.domain ?? $('a-domain').value,
    ...(tool ? { tool: tool.name } : {}),
    dependsOn,
    input,
    ...($('a-approval').checked ? { approval: { required: true, risk: 'medium', roles: ['approver'] } } : {}),
  };
  const after = $('a-after').value;
  void send(
    {
      type: 'plan.edit',
      baseVersion: plan.version,
      edits: [{ op: 'add', todo, ...(after ? { after } : {}) }],
    },
    `Added ${id}`,
  ).then(() => {
    $('a-id').value = '';
    $('a-title').value = '';
  });
});

// ------------------------------------------------------------------ tools and schema-driven forms

let addForm = null;

function renderToolPicker() {
  const pick = $('a-tool');
  pick.replaceChildren(
    h('option', { value: '' }, state.tools.length ? '(no tool: an LLM step)' : '(no tools on this server)'),
    ...state.tools.map((t) => h('option', { value: t.name }, `${t.name} — ${t.description}`)),
  );
  if (state.tools.length) pick.value = state.tools[0].name;
  onToolPicked();
}
function onToolPicked() {
  const tool = state.tools.find((t) => t.name === $('a-tool').value);
  if (tool)
    $('a-domain').value = ['data', 'insight', 'content', 'ops'].includes(tool.domain)
      ? tool.domain
      : 'content';
  addForm = tool ? schemaForm(tool.input, {}) : null;
  $('a-input').replaceChildren(...(addForm ? [addForm.el] : []));
}
$('a-tool').addEventListener('change', onToolPicked);

/** The first non-null JSON Schema type of a property. */
function typeOf(schema) {
  const t = Array.isArray(schema?.type) ? schema.type.find((x) => x !== 'null') : schema?.type;
  return schema?.enum ? 'enum' : (t ?? 'json');
}

/**
 * A form for an object JSON Schema: one field per property (text, number, checkbox, select; JSON for
 * arrays and objects), prefilled with `value`. `read()` returns the input object or throws.
 */
function schemaForm(schema, value) {
  const props = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const fields = [];
  const el = h('div', { class: 'schema-form' });
  for (const [name, prop] of Object.entries(props)) {
    const type = typeOf(prop);
    const v = value?.[name];
    let input;
    if (type === 'boolean') input = h('input', { type: 'checkbox', checked: v === true });
    else if (type === 'enum')
      input = h(
        'select',
        {},
        h('option', { value: '' }, ''),
        // A nullable enum lists null: show it as "(none)", never as the word "null".
        ...prop.enum.map((o) =>
          h(
            'option',
            { value: JSON.stringify(o), selected: JSON.stringify(o) === JSON.stringify(v) },
            o === null ? '(none)' : String(o),
          ),
        ),
      );
    else if (type === 'number' || type === 'integer') input = h('input', { type: 'number', value: v ?? '' });
    else if (type === 'string') input = h('input', { value: v ?? '' });
    else
      input = h(
        'textarea',
        { rows: 2, placeholder: type === 'array' ? '[ … ] or a $ref' : '{ … } or a $ref' },
        v === undefined ? '' : JSON.stringify(v),
      );
    input.dataset.field = name;
    fields.push({ name, type, input });
    el.append(
      h(
        'label',
        {},
        `${name}${required.has(name) ? ' *' : ''}${prop.description ? ` — ${prop.description}` : ''}`,
        input,
      ),
    );
  }
  const read = () => {
    const out = {};
    for (const { name, type, input } of fields) {
      if (type === 'boolean') {
        if (input.checked) out[name] = true;
        continue;
      }
      const raw = input.value.trim();
      if (raw === '') {
        if (required.has(name)) throw new Error(`"${name}" is required`);
        continue;
      }
      if (type === 'string') out[name] = raw;
      else if (type === 'number' || type === 'integer') out[name] = Number(raw);
      else {
        try {
          out[name] = JSON.parse(raw);
        } catch {
          throw new Error(`"${name}" must be JSON`);
        }
      }
    }
    return out;
  };
  if (fields.length === 0) el.append(h('div', { class: 'muted small' }, 'This tool takes no input.'));
  return { el, read };
}

// ------------------------------------------------------------------ approval effect, inspector, files

/** The effect an approval would allow: the resolved input of the gated step (engine's `effect`), else `details`. */
function renderEffect(req) {
  const effect = req.effect ?? null;
  const input = effect?.input ?? req.details?.input ?? req.details ?? null;
  // Values a human provided after an earlier grant (a recipient asked for later) are part of the effect:
  // the approver sees them here, and this approval covers them.
  const provided = effect?.provided && typeof effect.provided === 'object' ? effect.provided : {};
  const rows = [
    ...(input && typeof input === 'object' ? Object.entries(input) : []),
    ...Object.values(provided).flatMap((p) =>
      p && typeof p === 'object' && !Array.isArray(p) ? Object.entries(p) : [['provided', p]],
    ),
  ];
  return h(
    'div',
    { class: 'effect', 'data-testid': 'effect' },
    effect?.tool
      ? h(
          'div',
          { class: 'small' },
          `tool ${effect.tool}${effect.toolVersion ? ` v${effect.toolVersion}` : ''}`,
        )
      : null,
    rows.length
      ? h(
          'dl',
          {},
          ...rows.flatMap(([k, v]) => [
            h('dt', {}, k),
            h(
              'dd',
              { 'data-effect': k },
              v === null || v === undefined ? '(not set)' : typeof v === 'string' ? v : JSON.stringify(v),
            ),
          ]),
        )
      : h('div', { class: 'muted small' }, 'No details of the effect were given.'),
    req.digest
      ? h('div', { class: 'digest', title: 'sha256 of the effect' }, `digest ${req.digest.slice(0, 16)}…`)
      : null,
  );
}

function fmtJson(v) {
  return v === undefined ? '—' : JSON.stringify(v, null, 2);
}

function renderInspector(s) {
  const box = $('inspector');
  const t = state.inspect ? s.plan?.todos.find((x) => x.id === state.inspect) : undefined;
  if (!t) {
    box.hidden = true;
    return;
  }
  const row = s.todos.find((r) => r.todoId === t.id);
  const ms = row?.startedAt && row?.finishedAt ? `${row.finishedAt - row.startedAt} ms` : '—';
  // The model calls this step made in the current turn (`llm.call` events carry the todo id).
  const calls = state.events.filter(
    (e) => e.type === 'llm.call' && e.todoId === t.id && (!s.turn || e.turnId === s.turn.id),
  );
  const tokens = calls.reduce((n, e) => n + (e.inputTokens ?? 0) + (e.outputTokens ?? 0), 0);
  const editable =
    s.turn && s.turn.phase !== 'done' && can('operate') && EDITABLE.has(row?.status ?? 'pending');
  box.hidden = false;
  fill(box, null);
  fill(
    box,
    h(
      'div',
      { class: 'row between' },
      h('h2', {}, `Step ${t.id}`),
      h(
        'button',
        {
          class: 'ghost',
          onclick: () => {
            state.inspect = null;
            render();
          },
        },
        'Close',
      ),
    ),
    h(
      'dl',
      { class: 'inspector' },
      ...[
        ['title', t.title],
        ['status', row?.status ?? 'pending'],
        ['tool', t.tool ? `${t.tool}${row?.toolVersion ? ` v${row.toolVersion}` : ''}` : '(none)'],
        ['domain', t.domain],
        ['attempts', String(row?.attempts ?? 0)],
        ['cache', row?.cached ? 'hit' : row?.status === 'completed' ? 'miss' : '—'],
        ['time', ms],
        // Only when the step called a model (tool steps and the offline agent make no calls).
        ...(calls.length ? [['LLM calls', `${calls.length} (${tokens} tokens)`]] : []),
      ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)]),
    ),
    calls.length ? h('h3', {}, 'LLM calls') : null,
    calls.length ? llmCallTable(calls) : null,
    h('h3', {}, 'Input'),
    h('pre', { 'data-testid': 'inspect-input' }, fmtJson(t.input)),
    row?.output !== undefined ? h('h3', {}, 'Output') : null,
    row?.output !== undefined ? h('pre', { 'data-testid': 'inspect-output' }, fmtJson(row.output)) : null,
    row?.error ? h('h3', {}, 'Error') : null,
    row?.error
      ? h(
          'pre',
          { class: 'error', 'data-testid': 'inspect-error' },
          `${row.error.code}: ${row.error.message}`,
        )
      : null,
    editable ? editForm(s, t) : null,
  );
}

function llmCallTable(calls) {
  const cell = (text, field) => h('td', { 'data-field': field }, text);
  return h(
    'table',
    { class: 'llm-calls', 'data-testid': 'inspect-llm' },
    h(
      'thead',
      {},
      h('tr', {}, ...['model', 'layer', 'in', 'out', 'time', 'outcome', 'cost'].map((c) => h('th', {}, c))),
    ),
    h(
      'tbody',
      {},
      ...calls.map((e) =>
        h(
          'tr',
          { 'data-testid': 'llm-call', 'data-seq': e.seq },
          cell(`${e.provider}/${e.model}`, 'model'),
          cell(e.layer, 'layer'),
          cell(String(e.inputTokens), 'input-tokens'),
          cell(String(e.outputTokens), 'output-tokens'),
          cell(`${e.latencyMs} ms`, 'latency'),
          cell(e.outcome, 'outcome'),
          cell(e.costUsd === undefined ? '—' : `$${e.costUsd.toFixed(6)}`, 'cost'),
        ),
      ),
    ),
  );
}

function editForm(s, t) {
  const title = h('input', { value: t.title, 'data-testid': 'edit-title' });
  const tool = h(
    'select',
    { 'data-testid': 'edit-tool' },
    h('option', { value: '' }, '(no tool)'),
    ...state.tools.map((x) => h('option', { value: x.name, selected: x.name === t.tool }, x.name)),
  );
  const holder = h('div', {});
  let form = null;
  const build = () => {
    const spec = state.tools.find((x) => x.name === tool.value);
    form = spec ? schemaForm(spec.input, tool.value === t.tool ? t.input : {}) : null;
    holder.replaceChildren(
      form ? form.el : h('div', { class: 'muted small' }, 'No tool: the input is kept.'),
    );
  };
  tool.addEventListener('change', build);
  build();
  const save = () => {
    let input;
    try {
      input = form ? form.read() : undefined;
    } catch (e) {
      return toast(e.message, 'error');
    }
    const spec = state.tools.find((x) => x.name === tool.value);
    const patch = {
      ...(title.value.trim() && title.value.trim() !== t.title ? { title: title.value.trim() } : {}),
      ...(tool.value && tool.value !== t.tool ? { tool: tool.value, domain: spec?.domain ?? t.domain } : {}),
      ...(input !== undefined ? { input } : {}),
    };
    if (Object.keys(patch).length === 0) return toast('Nothing changed');
    void send(
      { type: 'plan.edit', baseVersion: s.plan.version, edits: [{ op: 'update', todoId: t.id, patch }] },
      `Updated ${t.id}`,
    );
  };
  return h(
    'details',
    { class: 'edit-step', open: true },
    h('summary', {}, 'Edit this step'),
    h('label', {}, 'Title ', title),
    h('label', {}, 'Tool ', tool),
    holder,
    h('button', { class: 'primary', 'data-testid': 'edit-save', onclick: save }, 'Save step'),
  );
}

/** Files the turn's steps wrote (`…/<session>/<turn>/<name>` in an output), as server links. */
function producedFiles(s) {
  const out = [];
  const turnId = s.turn?.id;
  if (!turnId) return out;
  const seen = new Set();
  const walk = (v) => {
    if (typeof v === 'string') {
      const m = new RegExp(`[\\/]${escapeRe(s.id)}[\\/]${escapeRe(turnId)}[\\/]([A-Za-z0-9_.-]+)$`).exec(v);
      if (m && !seen.has(m[1])) {
        seen.add(m[1]);
        out.push({
          name: m[1],
          url: `/api/sessions/${encodeURIComponent(s.id)}/files/${encodeURIComponent(turnId)}/${encodeURIComponent(m[1])}`,
        });
      }
    } else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  for (const r of s.todos) walk(r.output);
  return out;
}
function escapeRe(x) {
  return x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function fileUrl(url) {
  if (state.fileUrls.has(url)) return state.fileUrls.get(url);
  const res = await fetch(url, { headers: { authorization: `Bearer ${state.token}` } });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const blob = URL.createObjectURL(await res.blob());
  state.fileUrls.set(url, blob);
  return blob;
}

function renderFiles(s) {
  const files = producedFiles(s);
  const box = $('files');
  const key = files.map((f) => f.url).join('|');
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  fill(box, null);
  fill(
    box,
    ...(files.length ? [h('h3', {}, 'Files')] : []),
    ...files.map((f) => {
      const link = h('a', { href: '#', 'data-file': f.name, 'data-testid': 'file-link' }, `⬇ ${f.name}`);
      link.addEventListener('click', async (ev) => {
        ev.preventDefault();
        try {
          const a = h('a', { href: await fileUrl(f.url), download: f.name });
          document.body.append(a);
          a.click();
          a.remove();
        } catch (e) {
          toast(`download failed: ${e.message}`, 'error');
        }
      });
      return link;
    }),
  );
  for (const f of files.filter((x) => x.name.endsWith('.svg'))) {
    const img = h('img', { alt: f.name, 'data-testid': 'chart' });
    box.append(img);
    fileUrl(f.url).then(
      (u) => (img.src = u),
      () => img.remove(),
    );
  }
}

// ------------------------------------------------------------------ follow-up, diff, zoom

$('f-go').addEventListener('click', async () => {
  const input = $('f-input').value.trim();
  if (!input || !state.sessionId) return;
  $('f-go').disabled = true;
  try {
    await state.client.start(input, { sessionId: state.sessionId });
    $('f-input').value = '';
  } catch (e) {
    toast(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
  } finally {
    $('f-go').disabled = false;
  }
});

$('diff-go').addEventListener('click', async () => {
  const a = Number($('diff-a').value);
  const b = Number($('diff-b').value);
  if (!state.sessionId || !a || !b) return;
  const plans = await state.client.plans(state.sessionId, [a, b]).catch((e) => {
    toast(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
    return [];
  });
  const pa = plans.find((p) => p.plan.version === a)?.plan;
  const pb = plans.find((p) => p.plan.version === b)?.plan;
  if (!pa || !pb) return;
  $('diff').replaceChildren(...planDiff(pa, pb));
});

function planDiff(a, b) {
  const before = new Map(a.todos.map((t) => [t.id, t]));
  const after = new Map(b.todos.map((t) => [t.id, t]));
  const lines = [];
  for (const t of b.todos)
    if (!before.has(t.id))
      lines.push(h('div', { class: 'added', 'data-diff': 'added' }, `+ ${t.id}: ${t.title}`));
  for (const t of a.todos)
    if (!after.has(t.id))
      lines.push(h('div', { class: 'removed', 'data-diff': 'removed' }, `− ${t.id}: ${t.title}`));
  for (const t of b.todos) {
    const o = before.get(t.id);
    if (!o) continue;
    for (const k of ['title', 'tool', 'domain', 'dependsOn', 'input', 'approval']) {
      const x = JSON.stringify(o[k] ?? null);
      const y = JSON.stringify(t[k] ?? null);
      if (x !== y)
        lines.push(
          h(
            'div',
            { class: 'changed', 'data-diff': 'changed' },
            `~ ${t.id}.${k}: ${preview(x)} → ${preview(y)}`,
          ),
        );
    }
  }
  const order = (p) => p.todos.map((t) => t.id).join(',');
  if (order(a) !== order(b) && lines.length === 0)
    lines.push(h('div', { class: 'changed', 'data-diff': 'order' }, `order: ${order(a)} → ${order(b)}`));
  return lines.length
    ? [h('div', { class: 'muted small' }, `v${a.version} → v${b.version}`), ...lines]
    : [h('div', { class: 'muted' }, 'No differences.')];
}

function applyZoom() {
  const svg = $('graph').querySelector('svg');
  if (!svg) return;
  const w = Number(svg.getAttribute('viewBox').split(' ')[2]);
  const hgt = Number(svg.getAttribute('viewBox').split(' ')[3]);
  svg.setAttribute('width', String(Math.round(w * state.zoom)));
  svg.setAttribute('height', String(Math.round(hgt * state.zoom)));
  $('graph').dataset.zoom = String(state.zoom);
}
$('zoom-in').addEventListener('click', () => {
  state.zoom = Math.min(3, state.zoom * 1.25);
  applyZoom();
});
$('zoom-out').addEventListener('click', () => {
  state.zoom = Math.max(0.4, state.zoom / 1.25);
  applyZoom();
});

function preview(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text && text.length > 140 ? `${text.slice(0, 140)}…` : (text ?? '');
}

/** A version's change in one line, from the ids it added, changed and removed (its edits stay on the server). */
function describeChange(v) {
  if (!v.diff) return 'proposed by the planner';
  const parts = [
    ...v.diff.added.map((id) => `+ ${id}`),
    ...v.diff.changed.map((id) => `✎ ${id}`),
    ...v.diff.removed.map((id) => `− ${id}`),
    ...(v.diff.moved ? ['↕ order'] : []),
  ];
  return parts.length ? parts.join(' · ') : 'no change';
}

function renderHistory(s) {
  const all = versionsOf(s);
  const versions = all.map((v) => v.version);
  for (const [sel, pick] of [
    ['diff-a', versions.at(-2) ?? versions[0]],
    ['diff-b', versions.at(-1)],
  ]) {
    const el = $(sel);
    const keep = el.value ? Number(el.value) : pick;
    el.replaceChildren(...versions.map((v) => h('option', { value: v, selected: v === keep }, `v${v}`)));
  }
  $('versions').replaceChildren(
    ...all.reverse().map((v) =>
      h(
        'div',
        { class: 'version', 'data-version': v.version },
        h('strong', {}, `v${v.version}`),
        ` by ${v.actor} · ${new Date(v.createdAt).toLocaleTimeString()} · ${v.steps} steps `,
        h(
          'button',
          {
            class: 'ghost',
            onclick: () => {
              state.viewVersion = v.version === s.plan?.version ? null : v.version;
              render();
            },
          },
          'view',
        ),
        h('div', { class: 'edits' }, describeChange(v)),
      ),
    ),
  );
  const more = s.olderChanges ?? 0;
  $('load-older').hidden = more === 0;
  $('load-older').textContent = `Load older versions (${more} more)`;
}

function summary(e) {
  switch (e.type) {
    case 'llm.call':
      return `${e.layer}${e.todoId ? ` (${e.todoId})` : ''} ${e.model}: ${e.inputTokens} in, ${e.outputTokens} out, ${e.latencyMs} ms${e.outcome === 'ok' ? '' : `, ${e.outcome}`}`;
    case 'turn.started':
      return e.input;
    case 'intent.detected':
      return `${e.intent.name} (${Math.round(e.intent.confidence * 100)}%)`;
    case 'plan.created':
    case 'plan.updated':
      return `v${e.plan.version}, ${e.plan.todos.length} steps${e.actor ? ` by ${e.actor}` : ''}`;
    case 'plan.approved':
      return `v${e.version} by ${e.actor}`;
    case 'todo.started':
    case 'todo.completed':
    case 'todo.failed':
    case 'todo.skipped':
      return `${e.todoId}${e.reason ? ` (${e.reason})` : ''}`;
    case 'todo.progress':
      return `${e.todoId}: ${e.message}`;
    case 'todo.output.delta':
      return `${e.todoId}: ${e.delta}`;
    case 'approval.resolved':
      return `${e.todoId} ${e.granted ? 'granted' : 'denied'} by ${e.actor}`;
    case 'approval.requested':
    case 'input.requested':
    case 'clarification.requested':
    case 'recovery.requested':
    case 'plan.review.requested':
      return e.request.prompt;
    case 'input.received':
      return `${e.todoId} by ${e.actor}`;
    case 'run.paused':
    case 'run.cancelled':
      return `by ${e.actor}`;
    case 'run.resumed':
      return `by ${e.actor} (${e.reason})`;
    case 'command.rejected':
      return `${e.commandType}: ${e.error.message}`;
    case 'response.delta':
      return e.delta;
    default:
      return '';
  }
}

function renderEvents() {
  const body = $('events');
  const have = body.children.length;
  for (const e of state.events.slice(have)) {
    body.append(
      h(
        'tr',
        { 'data-seq': e.seq },
        h('td', {}, e.seq),
        h('td', {}, new Date(e.at).toLocaleTimeString()),
        h('td', {}, e.type),
        h('td', {}, preview(summary(e))),
      ),
    );
  }
}

for (const tab of document.querySelectorAll('.tab')) {
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t === tab);
    $('tab-history').hidden = tab.dataset.tab !== 'history';
    $('tab-events').hidden = tab.dataset.tab !== 'events';
  });
}
$('c-pause').addEventListener('click', () => void send({ type: 'pause' }, 'Pause requested'));
$('c-resume').addEventListener('click', () => void send({ type: 'resume' }, 'Resumed'));
$('c-cancel').addEventListener('click', () => {
  if (confirm('Cancel this turn? Steps in flight are aborted.'))
    void send({ type: 'cancel', reason: 'cancelled in the console' }, 'Cancelled');
});

// ------------------------------------------------------------------ start

state.config = await fetch('/config.json')
  .then((r) => r.json())
  .catch(() => ({ devAuth: false }));
if (state.token) await signIn(state.token);
else showSignIn();
