import { z } from 'zod';
import { JsonObjectSchema, SESSION_STATUSES, type SessionStatus } from 'dream-agent';

const sessionId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'session ids use letters, digits, "_", ".", ":" and "-"');

/** Body of `POST /sessions`: start a turn (a new session, or a new turn of an idle one). */
export const StartTurnSchema = z
  .object({
    /** The user's request. */
    input: z
      .string()
      .min(1)
      .max(64 * 1024),
    /** Continue this session, or create it with this id. */
    sessionId: sessionId.optional(),
    /** Host metadata stored with a new session. */
    metadata: JsonObjectSchema.optional(),
  })
  .strict();

/** Body of `POST /sessions/{id}/turns`: a new turn of an existing session. */
export const NewTurnSchema = z
  .object({
    input: z
      .string()
      .min(1)
      .max(64 * 1024),
  })
  .strict();

/**
 * The session statuses (the core's `SESSION_STATUSES`, checked at compile time) as the entries of a zod
 * enum: an object rather than an array so that each status is documented where the schema's type shows it.
 */
const STATUS_ENTRIES = {
  /** Between turns: nothing is running or pending. */
  idle: 'idle',
  /** A turn is being driven (or is due to be, after a crash). */
  running: 'running',
  /** The turn waits for a human: plan review, approval, clarification or input. */
  waiting: 'waiting',
  /** Paused by a `pause` command (at a cycle boundary); a `resume` command continues it. */
  paused: 'paused',
} as const satisfies { [S in SessionStatus]: S };

/** Query of `GET /sessions`. */
export const ListQuerySchema = z
  .object({
    /** Comma-separated statuses, e.g. `waiting,paused`. */
    status: z
      .string()
      .transform((s) => s.split(',').filter((x) => x.length > 0))
      .pipe(z.array(z.enum(STATUS_ENTRIES)).max(SESSION_STATUSES.length))
      .optional(),
    after: sessionId.optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

/** Query of `GET /sessions/{id}/events`. */
export const EventsQuerySchema = z
  .object({
    after: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

/** Query of `GET /sessions/{id}/stream` (`Last-Event-ID` wins over `after`). */
export const StreamQuerySchema = z.object({ after: z.coerce.number().int().min(0).optional() }).strict();

/** Query of the POST routes: `wait=true` answers when the session rests (200) instead of on acceptance (202). */
export const WaitQuerySchema = z.object({ wait: z.enum(['true', 'false', '1', '0']).optional() }).strict();

/**
 * Query of `GET /sessions/{id}`: `history=full` (default) every plan version whole; `history=changes`
 * `planChanges` and the current plan only; `history=N` `planChanges` and the last N versions whole;
 * `edits=false` leaves each change's `edits` empty (its `diff` still names the todos); `changesLimit=N`
 * (1–1000) and `changesBefore=V` (a plan version) page `planChanges` — the newest N changes below
 * version V — and add `planChangesPage` (`total`, `older`, `newer`); they need `history=changes` or N.
 */
export const SnapshotQuerySchema = z
  .object({
    history: z.union([z.enum(['full', 'changes']), z.coerce.number().int().min(0).max(1000)]).optional(),
    edits: z.enum(['true', 'false']).optional(),
    changesLimit: z.coerce.number().int().min(1).max(1000).optional(),
    changesBefore: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();

/** Query of `GET /sessions/{id}/plans`: comma-separated plan versions (1–20). */
export const PlansQuerySchema = z
  .object({
    versions: z
      .string()
      .regex(/^\d{1,9}(,\d{1,9}){0,19}$/, 'comma-separated plan versions, at most 20')
      .transform((v) => v.split(',').map(Number)),
  })
  .strict();

/** A session id in a path. */
export const SessionIdSchema = sessionId;
