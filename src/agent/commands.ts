import { DreamAgentError } from '../errors/index.js';
import { applyPlanEdits } from '../hitl/edits.js';
import type { PlanValidationOptions } from '../dag/validate.js';
import { actorRoles, CommandSchema, type Command } from '../model/commands.js';
import { jsonByteLength, type Json, type JsonObject } from '../model/json.js';
import type { Plan } from '../model/plan.js';
import { schemaIssueLines } from '../schema/compile.js';
import type { HitlRequest, RequestKind, SessionRecord, TodoRecord } from '../model/session.js';

/** What command validation looks at: the session row, its plan and its todo rows. */
export interface CommandView {
  /** The session row as stored: status, version and the current turn with its pending requests. */
  record: SessionRecord;
  /** The turn's current plan version; null when the turn has none yet. */
  plan: Plan | null;
  /** The turn's todo rows by todo id (states, outputs, attempts). */
  todos: ReadonlyMap<string, TodoRecord>;
  /** How edited plans are checked (known domains and tools, todo inputs), as the planner's plans are. */
  validation: PlanValidationOptions;
  /** The current time (epoch ms, from the agent's Clock): an approval past its `expiresAt` cannot be granted. */
  now?: number;
}

/**
 * Parses an untrusted command.
 *
 * @param input - anything (JSON from a client)
 * @param maxBytes - size limit
 * @returns the validated command
 * @throws `PAYLOAD_TOO_LARGE` over the limit; `INVALID_INPUT` with the zod issues otherwise
 */
export function parseCommand(input: unknown, maxBytes: number): Command {
  let size: number;
  try {
    size = jsonByteLength(input);
  } catch (e) {
    throw new DreamAgentError('INVALID_INPUT', 'command is not JSON-serialisable', { cause: e });
  }
  if (size > maxBytes) {
    throw new DreamAgentError('PAYLOAD_TOO_LARGE', `command is ${size} bytes; the limit is ${maxBytes}`, {
      details: { size, maxBytes },
    });
  }
  const parsed = CommandSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const first = issues[0];
    throw new DreamAgentError(
      'INVALID_INPUT',
      `invalid command: ${first ? `${first.path || '(root)'}: ${first.message}` : 'unknown'}`,
      {
        details: { issues },
      },
    );
  }
  return parsed.data;
}

/** Todo ids that may no longer be edited (started, waiting on a human for input, or finished). */
export function lockedTodos(todos: ReadonlyMap<string, TodoRecord>): Set<string> {
  const locked = new Set<string>();
  for (const [id, t] of todos) if (t.status !== 'pending' && t.status !== 'awaiting_approval') locked.add(id);
  return locked;
}

function pendingRequest(view: CommandView, requestId: string, kind: RequestKind): HitlRequest {
  const turn = view.record.state.turn;
  const req = turn?.pending.find((r) => r.id === requestId);
  if (!req) {
    throw new DreamAgentError('REQUEST_NOT_FOUND', `no pending request "${requestId}"`, {
      details: { requestId },
    });
  }
  if (req.kind !== kind) {
    throw new DreamAgentError(
      'INVALID_STATE',
      `request "${requestId}" is a ${req.kind} request, not ${kind}`,
      {
        details: { requestId, kind: req.kind },
      },
    );
  }
  return req;
}

/**
 * Validates a value against a JSON Schema with the one schema compiler (cached, linear-time patterns).
 *
 * @returns the list of issues (empty when valid); a schema that cannot be compiled yields issues too
 */
export function validateAgainstSchema(schema: JsonObject, value: Json): string[] {
  return schemaIssueLines(schema, value);
}

/**
 * Checks that a command fits the session's current state, without changing anything. Used by any node
 * before a command enters the inbox, and again by the owner when it applies it.
 *
 * @param command - a parsed command
 * @param view - session row, plan and todos
 * @returns the plan that plan edits would produce (for plan.edit / plan.approve with edits)
 * @throws `INVALID_STATE`, `REQUEST_NOT_FOUND`, `STALE_VERSION`, `INVALID_EDIT`, `INVALID_INPUT`, `FORBIDDEN`
 * (`INVALID_STATE` with `details.reason: 'expired'` for a grant of an approval past its `expiresAt`)
 */
export function validateCommand(
  command: Command,
  view: CommandView,
): {
  /** The plan the command's edits would produce; absent for commands that edit nothing. */
  plan?: Plan;
} {
  const turn = view.record.state.turn;
  const active = turn !== null && turn.phase !== 'done';
  const state = (msg: string): DreamAgentError =>
    new DreamAgentError('INVALID_STATE', msg, {
      details: { command: command.type, phase: turn?.phase ?? null, status: view.record.status },
    });
  switch (command.type) {
    case 'plan.approve':
    case 'plan.edit': {
      if (!active || !view.plan)
        throw state(`${command.type}: the session has no plan under review or in execution`);
      const reviewing = turn.phase === 'reviewing';
      if (command.type === 'plan.approve' && !reviewing)
        throw state('plan.approve: the plan is not awaiting review');
      if (command.type === 'plan.edit' && !reviewing && turn.phase !== 'executing') {
        throw state(`plan.edit: the plan cannot be edited while the turn is ${turn.phase}`);
      }
      if (command.baseVersion !== undefined && command.baseVersion !== view.plan.version) {
        throw new DreamAgentError(
          'STALE_VERSION',
          `plan is at version ${view.plan.version}, the edit was based on ${command.baseVersion}`,
          {
            details: { current: view.plan.version, base: command.baseVersion },
          },
        );
      }
      const edits = command.edits ?? [];
      if (edits.length === 0) return {};
      const plan = applyPlanEdits(view.plan, edits, {
        locked: reviewing ? new Set() : lockedTodos(view.todos),
        validation: view.validation,
      });
      assertGatesKept(view.plan, plan);
      return { plan };
    }
    case 'plan.reject':
      if (!active || turn.phase !== 'reviewing') throw state('plan.reject: the plan is not awaiting review');
      return {};
    case 'approval.grant':
    case 'approval.deny': {
      const req = pendingRequest(view, command.requestId, 'approval');
      if (
        command.type === 'approval.grant' &&
        command.digest !== undefined &&
        req.digest !== undefined &&
        command.digest !== req.digest
      ) {
        throw new DreamAgentError(
          'STALE_VERSION',
          `the effect of "${req.todoId ?? req.id}" is not the one the grant names (digest mismatch)`,
          { details: { requestId: req.id, digest: req.digest, granted: command.digest } },
        );
      }
      if (
        command.type === 'approval.grant' &&
        req.expiresAt !== undefined &&
        view.now !== undefined &&
        view.now >= req.expiresAt
      ) {
        throw new DreamAgentError(
          'INVALID_STATE',
          `the approval of "${req.todoId ?? req.id}" expired at ${new Date(req.expiresAt).toISOString()}; it can only be denied`,
          { details: { requestId: req.id, expiresAt: req.expiresAt, now: view.now, reason: 'expired' } },
        );
      }
      const roles = req.roles ?? [];
      if (roles.length > 0 && !actorRoles(command.actor).some((r) => roles.includes(r))) {
        throw new DreamAgentError(
          'FORBIDDEN',
          `approving "${req.todoId ?? req.id}" needs one of the roles ${roles.join(', ')}`,
          {
            details: { requestId: req.id, roles },
          },
        );
      }
      return {};
    }
    case 'input.provide': {
      const req = pendingRequest(view, command.requestId, 'input');
      if (req.schema) {
        const issues = validateAgainstSchema(req.schema, command.value);
        if (issues.length > 0) {
          throw new DreamAgentError(
            'INVALID_INPUT',
            `value does not match the requested schema: ${issues[0] ?? ''}`,
            {
              details: { requestId: req.id, issues },
            },
          );
        }
      }
      return {};
    }
    case 'clarification.answer':
      pendingRequest(view, command.requestId, 'clarification');
      return {};
    case 'recovery.resolve': {
      const req = pendingRequest(view, command.requestId, 'recovery');
      // `retry` runs an approved effect again: only someone who could have approved it may decide so.
      const roles = req.roles ?? [];
      if (
        command.decision === 'retry' &&
        roles.length > 0 &&
        !actorRoles(command.actor).some((r) => roles.includes(r))
      ) {
        throw new DreamAgentError(
          'FORBIDDEN',
          `retrying "${req.todoId ?? req.id}" needs one of the roles ${roles.join(', ')} (its approval needed them)`,
          { details: { requestId: req.id, roles, decision: command.decision } },
        );
      }
      return {};
    }
    case 'pause':
      if (!active) throw state('pause: no turn is in progress');
      if (turn.paused) throw state('pause: the session is already paused');
      return {};
    case 'resume':
      if (!active || !turn.paused) throw state('resume: the session is not paused');
      return {};
    case 'cancel':
      if (!active) throw state('cancel: no turn is in progress');
      return {};
  }
}

/** The approval gate a todo declares: whether it is required and who may grant it (empty: anyone). */
function gateOf(todo: Plan['todos'][number]): { required: boolean; roles: string[] } {
  const a = todo.approval;
  if (a === undefined || a === false) return { required: false, roles: [] };
  if (a === true) return { required: true, roles: [] };
  return { required: a.required, roles: a.roles ?? [] };
}

/**
 * A plan edit may add approval gates, never remove or loosen one: whoever may edit a plan is not thereby
 * allowed to approve its risky steps (a principal refused `approval.grant` could otherwise turn the gate
 * off with `plan.edit` and run the step). Removing the gated todo itself is allowed — it then never runs.
 *
 * @throws `INVALID_EDIT` naming the todo
 */
function assertGatesKept(before: Plan, after: Plan): void {
  const next = new Map(after.todos.map((t) => [t.id, t]));
  for (const old of before.todos) {
    const was = gateOf(old);
    if (!was.required) continue;
    const now = next.get(old.id);
    if (!now) continue;
    const is = gateOf(now);
    const rolesLoosened =
      was.roles.length > 0 && (is.roles.length === 0 || is.roles.some((r) => !was.roles.includes(r)));
    if (!is.required || rolesLoosened) {
      throw new DreamAgentError(
        'INVALID_EDIT',
        `todo "${old.id}": an edit cannot remove or loosen its approval gate (deny the step, or remove it)`,
        { details: { todoId: old.id, before: was, after: is } },
      );
    }
  }
}
