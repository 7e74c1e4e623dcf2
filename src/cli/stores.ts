/**
 * Opens the Store a CLI command works on, from a spec: `sqlite:<path>` (or a path ending in `.db` /
 * `.sqlite`) or a `postgres://` / `postgresql://` URL. Adapters are loaded by dynamic import, so the CLI
 * costs nothing for users who never touch a database and needs only the adapter the user installed.
 */
import { DreamAgentError } from '../errors/index.js';
import type { Store } from '../ports/store.js';

/** An opened store and how to let it go. */
export interface OpenedStore {
  store: Store;
  /** Which adapter: `sqlite` or `postgres`. */
  kind: 'sqlite' | 'postgres';
  /** Runs the store's migrations; resolves with a one-line summary. */
  migrate(): Promise<string>;
  close(): Promise<void>;
}

type Loader = (specifier: string) => Promise<Record<string, unknown>>;

const defaultLoader: Loader = (specifier) => import(specifier) as Promise<Record<string, unknown>>;

async function load(specifier: string, loader: Loader): Promise<Record<string, unknown>> {
  try {
    return await loader(specifier);
  } catch (e) {
    throw new DreamAgentError(
      'INVALID_INPUT',
      `this store needs ${specifier}: install it next to dream-agent (npm install ${specifier})`,
      { cause: e, details: { package: specifier } },
    );
  }
}

/**
 * Parses a store spec and opens the store through its adapter.
 *
 * @param spec - `sqlite:./agent.db`, `./agent.db`, or `postgres://user@host/db`
 * @param loader - how adapters are imported (tests inject one; default: dynamic `import()`)
 * @returns the opened store
 * @throws DreamAgentError `INVALID_INPUT` for an unknown spec or an adapter that is not installed
 */
export async function openStore(spec: string, loader: Loader = defaultLoader): Promise<OpenedStore> {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const mod = await load('@dream-agent/postgres', loader);
    const PostgresStore = mod['PostgresStore'] as new (url: string) => Store & { close?(): Promise<void> };
    const migrate = mod['migrate'] as (c: { connectionString: string }) => Promise<unknown>;
    const store = new PostgresStore(spec);
    return {
      store,
      kind: 'postgres',
      migrate: async () => {
        const result = await migrate({ connectionString: spec });
        return `postgres: ${JSON.stringify(result)}`;
      },
      close: async () => store.close?.(),
    };
  }
  const path = spec.startsWith('sqlite:')
    ? spec.slice('sqlite:'.length)
    : /\.(db|sqlite3?)$/.test(spec)
      ? spec
      : undefined;
  if (path !== undefined && path !== '') {
    const mod = await load('@dream-agent/sqlite', loader);
    const SqliteStore = mod['SqliteStore'] as new (
      path: string,
    ) => Store & { close?(): Promise<void> | void };
    // Opening a SqliteStore applies its migrations.
    const store = new SqliteStore(path);
    return {
      store,
      kind: 'sqlite',
      migrate: () => Promise.resolve(`sqlite: ${path} is at the current schema`),
      close: async () => {
        await store.close?.();
      },
    };
  }
  throw new DreamAgentError(
    'INVALID_INPUT',
    `unknown store "${spec}": use sqlite:<path> or postgres://user@host/database`,
    { details: { spec } },
  );
}
