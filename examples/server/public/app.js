// The operator console: plain ES modules, no build step. Live updates come over the WebSocket client
// (the same typed client as @dream-agent/ws, bundled by the server at /vendor/client.js).
import { AgentClient } from '/vendor/client.js';
import { renderGraph } from '/graph.js';

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
  refreshTimer: null,
};

const can = (perm) => {
  const r = state.me?.roles ?? [];
  if (r.includes('admin')) return true;
  if (perm === 'read') return r.length > 0;
  if (perm === 'operate') return r.includes('operator');
  if (perm === 'approve') return r.includes('approver');
  return false;
};

function toast(text, kind = '') {
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
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
  $('who-roles').replaceChildren(...state.me.roles.map((r) => h('span', {}, r)));
  $('new-go').disabled = !can('start') && !can('operate');
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

async function refreshSessions() {
  if (!state.client) return;
  const waitingOnly = $('only-waiting').checked;
  const sessions = await state.client.list(waitingOnly ? { status: ['waiting'] } : {}).catch(() => []);
  sessions.sort((a, b) => b.updatedAt - a.updatedAt);
  $('sessions').replaceChildren(
    ...sessions.map((s) =>
      h(
        'li',
        {
          class: s.id === state.sessionId ? 'active' : '',
          'data-session': s.id,
          onclick: () => void select(s.id),
        },
        h('div', { class: 'title' }, s.input ?? s.id),
        h(
          'div',
          { class: 'meta' },
          h('span', { class: `badge ${s.status}` }, s.status),
          s.pending ? `${s.pending} waiting for you` : '',
          h('span', {}, new Date(s.updatedAt).toLocaleTimeString()),
        ),
      ),
    ),
  );
  if (sessions.length === 0) $('sessions').append(h('li', { class: 'muted small' }, 'No sessions yet.'));
}
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
  state.snapshot = null;
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
  state.events.push(e);
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
    state.snapshot = await state.client.get(state.sessionId);
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
  $('answer').textContent = answer ?? '';
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
      card.append(
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
      card.append(
        h(
          'h3',
          {},
          `Approve “${titleOf(s, req.todoId)}”?`,
          req.risk ? h('span', { class: `risk ${req.risk}` }, req.risk) : null,
        ),
        h('div', {}, req.prompt),
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
              onclick: () => void send({ type: 'approval.grant', requestId: req.id }, 'Approved'),
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
      card.append(
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
      card.append(
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
      card.append(
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

function shownPlan(s) {
  if (state.viewVersion === null) return s.plan;
  return s.planHistory.find((v) => v.plan.version === state.viewVersion)?.plan ?? s.plan;
}

function renderPlan(s) {
  const plan = shownPlan(s);
  const current = s.plan?.version;
  $('plan-version').textContent = plan
    ? `v${plan.version}${plan.version === current ? ' (current)' : ' (history)'}`
    : '';
  $('plan-rationale').textContent = plan?.rationale ?? '';
  const pick = $('version-pick');
  pick.replaceChildren(
    ...[...s.planHistory]
      .reverse()
      .map((v) =>
        h(
          'option',
          { value: v.plan.version, selected: v.plan.version === (plan?.version ?? current) },
          `v${v.plan.version} · ${v.actor}`,
        ),
      ),
  );
  pick.hidden = s.planHistory.length === 0;
  renderGraph($('graph'), plan, statusMap(s));
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
        { 'data-todo': t.id, 'data-status': status },
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
  const todo = {
    id,
    title,
    domain: $('a-domain').value,
    dependsOn,
    input: {},
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

function preview(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text && text.length > 140 ? `${text.slice(0, 140)}…` : (text ?? '');
}

function describeEdit(e) {
  if (e.op === 'add') return `+ ${e.todo.id}`;
  if (e.op === 'remove') return `− ${e.todoId}`;
  if (e.op === 'move') return `↕ ${e.todoId} ${e.before ? `before ${e.before}` : `after ${e.after}`}`;
  return `✎ ${e.todoId} (${Object.keys(e.patch).join(', ')})`;
}

function renderHistory(s) {
  $('tab-history').replaceChildren(
    ...[...s.planHistory].reverse().map((v) =>
      h(
        'div',
        { class: 'version', 'data-version': v.plan.version },
        h('strong', {}, `v${v.plan.version}`),
        ` by ${v.actor} · ${new Date(v.createdAt).toLocaleTimeString()} · ${v.plan.todos.length} steps `,
        h(
          'button',
          {
            class: 'ghost',
            onclick: () => {
              state.viewVersion = v.plan.version === s.plan?.version ? null : v.plan.version;
              render();
            },
          },
          'view',
        ),
        v.edits.length
          ? h('div', { class: 'edits' }, v.edits.map(describeEdit).join(' · '))
          : h('div', { class: 'edits' }, 'proposed by the planner'),
      ),
    ),
  );
}

function summary(e) {
  switch (e.type) {
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
