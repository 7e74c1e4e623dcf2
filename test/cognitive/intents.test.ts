import { describe, expect, it } from 'vitest';
import { isDreamAgentError } from '../../src/errors/index.js';
import type { DreamAgentError } from '../../src/errors/index.js';
import { OfflineCognitive } from '../../src/cognitive/offline/cognitive.js';
import { loadIntents, loadIntentsFile } from '../../src/cognitive/offline/intents.js';
import { QUICKSTART_INTENTS } from './helpers.js';

function failure(fn: () => unknown): DreamAgentError {
  try {
    fn();
  } catch (e) {
    if (isDreamAgentError(e)) return e;
    throw e;
  }
  throw new Error('expected a DreamAgentError');
}

describe('intents YAML', () => {
  it('loads the quickstart file with defaults applied', () => {
    const file = loadIntentsFile(QUICKSTART_INTENTS);
    expect(file.intents.map((i) => i.name)).toContain('sales.report');
    const report = file.intents.find((i) => i.name === 'sales.report');
    expect(report?.slots.find((s) => s.name === 'period')).toMatchObject({
      required: true,
      question: 'Which period should I analyse?',
    });
    expect(report?.slots.find((s) => s.name === 'region')?.required).toBe(false);
    for (const intent of file.intents) expect(intent.examples.length).toBeGreaterThanOrEqual(10);
    expect(Object.keys(file.gazetteers)).toEqual(expect.arrayContaining(['region', 'product']));
  });

  it('names the file, line and column of an unknown slot type', () => {
    const yaml = [
      'intents:',
      '  - name: a',
      '    examples: [x]',
      '    slots:',
      '      - name: where',
      '        type: planet',
      '',
    ].join('\n');
    const e = failure(() => loadIntents(yaml, 'my-intents.yaml'));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toMatch(
      /^my-intents\.yaml:6:15: intents\.0\.slots\.0\.type: unknown slot type "planet"/,
    );
    expect(e.details).toMatchObject({ file: 'my-intents.yaml', line: 6 });
  });

  it('reports YAML syntax errors with their line', () => {
    const e = failure(() => loadIntents('intents:\n  - name: a\n    examples: [x\n', 'broken.yaml'));
    expect(e.message).toMatch(/^broken\.yaml:\d+:\d+: /);
    expect(e.details['file']).toBe('broken.yaml');
  });

  it.each([
    [
      'duplicate intents',
      'intents:\n  - { name: a, examples: [x] }\n  - { name: a, examples: [y] }\n',
      /:3:\d+: intents\.1\.name: duplicate intent "a"/,
    ],
    ['the reserved name', 'intents:\n  - { name: unknown, examples: [x] }\n', /reserved for out-of-scope/],
    ['an intent without examples', 'intents:\n  - { name: a, examples: [] }\n', /at least one example/],
    ['a missing key, reported at its parent', 'intents:\n  - { name: a }\n', /:2:\d+: intents\.0\.examples/],
    ['an unknown field', 'intents:\n  - { name: a, examples: [x], exmaples: [y] }\n', /exmaples/],
  ])('rejects %s', (_what, yaml, message) => {
    expect(failure(() => loadIntents(yaml, 'f.yaml')).message).toMatch(message);
  });

  it('fails clearly for a missing file', () => {
    const e = failure(() => loadIntentsFile('/nonexistent/intents.yaml'));
    expect(e.message).toContain('/nonexistent/intents.yaml');
  });

  it('needs two classes to learn, and rejects a bad threshold', () => {
    expect(
      failure(() => new OfflineCognitive({ intents: [{ name: 'a', examples: ['x'] }] })).message,
    ).toMatch(/at least two classes/);
    const ok = new OfflineCognitive({ intents: [{ name: 'a', examples: ['x'] }], oos: ['y'] });
    expect(ok.classifier.labels).toEqual(['a', 'unknown']);
    expect(failure(() => ok.withThreshold(1.5)).code).toBe('INVALID_INPUT');
  });
});
