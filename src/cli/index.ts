#!/usr/bin/env node
/**
 * The `dream-agent` executable (`npx dream-agent …`): wires {@link runCli} to the process.
 *
 * @packageDocumentation
 */
import { createInterface } from 'node:readline/promises';
import { runCli } from './main.js';

const rl = process.stdin.isTTY
  ? createInterface({ input: process.stdin, output: process.stderr })
  : undefined;
let piped: AsyncIterator<string> | undefined;

/** Reads one answer: from the terminal, or the next line of piped input (undefined once it ends). */
async function readLine(prompt: string): Promise<string | undefined> {
  if (rl !== undefined) return rl.question(prompt);
  process.stderr.write(prompt);
  piped ??= createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const next = await piped.next();
  return next.done === true ? undefined : next.value;
}

// No top-level await: the same file is also built as CommonJS.
void runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(`${t}\n`),
  stderr: (t) => process.stderr.write(`${t}\n`),
  readLine,
  env: process.env,
}).then((code) => {
  rl?.close();
  process.exitCode = code;
});
