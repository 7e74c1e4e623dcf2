import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ToolExecutor } from '../../src/tools/executor.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { context, todo } from './helpers.js';

const examples = fileURLToPath(new URL('../../examples/tools/', import.meta.url));

describe('examples/tools', () => {
  it('loads without errors and runs', async () => {
    const reg = new ToolRegistry();
    const r = await reg.discover(examples);
    expect(r.errors).toEqual([]);
    expect(reg.list().map((t) => t.name)).toEqual(['math.add', 'math.divide', 'tickets.create', 'util.echo']);
    expect(reg.get('tickets.create')?.approval).toEqual({
      required: true,
      reason: 'Creates a ticket visible to the whole team',
      risk: 'medium',
    });
    const ex = new ToolExecutor();
    expect((await ex.execute(todo('math.add'), { numbers: [1, 2, 3.5] }, context(reg))).output).toEqual({
      sum: 6.5,
    });
    expect((await ex.execute(todo('util.echo'), { text: 'hi', upper: true }, context(reg))).output).toEqual({
      text: 'HI',
    });
    await expect(ex.execute(todo('math.divide'), { a: 1, b: 0 }, context(reg))).rejects.toMatchObject({
      code: 'TOOL_FAILED',
      message: 'tool "math.divide" failed: division by zero',
      retryable: false,
    });
    const e = await ex
      .execute(todo('tickets.create'), { project: 'lower', title: 'x' }, context(reg))
      .catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'INVALID_INPUT',
      message:
        'invalid input for tool "tickets.create": project: does not match the pattern /^[A-Z][A-Z0-9]{1,9}$/; title: expected a string of at least 3 characters',
    });
  });
});
