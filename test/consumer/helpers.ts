import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The repository root. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every published package: the core and each adapter, with its folder. */
export async function packages(): Promise<{ name: string; dir: string }[]> {
  const out = [{ name: 'dream-agent', dir: root }];
  for (const entry of (await readdir(join(root, 'adapters'), { withFileTypes: true })).filter((e) =>
    e.isDirectory(),
  )) {
    const dir = join(root, 'adapters', entry.name);
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      private?: boolean;
    };
    if (!pkg.private) out.push({ name: pkg.name, dir });
  }
  return out;
}

/** Runs a command; resolves with its output, rejects with stdout + stderr in the message. */
export async function sh(
  cmd: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number },
): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      timeout: options.timeout ?? 180_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${options.cwd}:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`,
    );
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The last line of output that parses as a JSON object. */
export function lastJson(output: string): Record<string, unknown> {
  const line = output
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON in output:\n${output}`);
  return JSON.parse(line) as Record<string, unknown>;
}
