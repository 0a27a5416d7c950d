import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILE, schemaText } from '../../harness/cli/schema.ts';
import { ScenarioError } from '../../harness/errors.ts';
import { PROJECT_ROOT, SCENARIOS_DIR } from '../../harness/paths.ts';
import { parseScenario } from '../../harness/scenario/load.ts';

function errorOf(src: string): ScenarioError {
  try {
    parseScenario(src, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return e as ScenarioError;
  }
  throw new Error('expected an error');
}

const ok = `name: t
steps:
  - alloc: { api: kmalloc, size: 4KiB }
`;

describe('scenario loading', () => {
  it('loads every shipped scenario', () => {
    const files = readdirSync(SCENARIOS_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const s = parseScenario(readFileSync(join(SCENARIOS_DIR, f), 'utf8'), f);
      expect(s.steps.length).toBeGreaterThan(0);
      // A run reads a scenario parsed before back from JSON (util/parsed.ts): nothing may be lost on the way.
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    }
  });

  it('fills defaults: GFP_KERNEL, process context, a readable step name', () => {
    const s = parseScenario(ok, 'x.yaml');
    expect(s.steps[0]!.action).toMatchObject({ kind: 'alloc', api: 'kmalloc', gfp: ['GFP_KERNEL'], ctx: 'process' });
    expect(s.steps[0]!.name).toBe('kmalloc(4KiB, GFP_KERNEL) in process');
  });

  it('refuses a max_version or min_version that is not a version, at its line and column', () => {
    const e = errorOf(`name: t\nrequires: { min_version: '6.1', max_version: six }\nsteps:\n  - alloc: { api: kmalloc, size: 4KiB }\n`);
    expect([e.line, e.column]).toEqual([2, 46]);
    expect(e.message).toMatch(/^x\.yaml:2:46: does not match the pattern/);
  });

  it('takes __vmalloc with GFP flags, and kmalloc_nolock with only __GFP_ZERO and __GFP_ACCOUNT', () => {
    const s = parseScenario(
      `name: t\nsteps:\n  - alloc: { api: __vmalloc, size: 4KiB, gfp: GFP_ATOMIC, ctx: atomic }\n  - alloc: { api: kmalloc_nolock, size: 64, ctx: hardirq }\n`,
      'x.yaml',
    );
    expect(s.steps.map((x) => x.action)).toMatchObject([
      { api: '__vmalloc', gfp: ['GFP_ATOMIC'], ctx: 'atomic' },
      { api: 'kmalloc_nolock', gfp: [], ctx: 'hardirq' },
    ]);
    const e = errorOf(`name: t\nsteps:\n  - alloc: { api: kmalloc_nolock, size: 64, gfp: GFP_ATOMIC }\n`);
    expect(e.message).toMatch(/^x\.yaml:3:.*kmalloc_nolock takes only __GFP_ZERO and __GFP_ACCOUNT, not GFP_ATOMIC/);
  });

  it('points an unknown key at the key itself', () => {
    const e = errorOf(`name: t\nsteps:\n  - alloc: { api: kmalloc, size: 4KiB, gfpp: GFP_KERNEL }\n`);
    expect([e.line, e.column, e.reason]).toEqual([3, 40, 'unknown key "gfpp"']);
    expect(e.message).toBe('x.yaml:3:40: unknown key "gfpp"');
  });

  it('points a bad enum value at the value', () => {
    const e = errorOf(`name: t\nsteps:\n  - alloc:\n      api: kmallok\n      size: 8\n`);
    expect([e.line, e.column]).toEqual([4, 12]);
    expect(e.reason).toMatch(/must be one of: kmalloc, kzalloc/);
  });

  it('points inside a size expression at the bad token', () => {
    const e = errorOf(`name: t\nsteps:\n  - alloc: { api: kmalloc, size: KMALLOC_MAX_SIZE + + 1 }\n`);
    expect([e.line, e.column]).toEqual([3, 53]);
    expect(e.reason).toMatch(/bad size/);
  });

  it('reports YAML syntax errors with their position', () => {
    const e = errorOf(`name: t\nsteps:\n  - alloc: { api: kmalloc, size: 4KiB\n`);
    expect(e.line).toBeGreaterThanOrEqual(3);
    expect(e.message).toMatch(/^x\.yaml:\d+:\d+: /);
  });

  it('rejects duplicate keys', () => {
    const e = errorOf(`name: t\nname: u\nsteps:\n  - unfragment: true\n`);
    expect(e.line).toBe(2);
  });

  it('rejects a missing required key, pointing at its parent', () => {
    const e = errorOf(`name: t\nsteps:\n  - alloc: { size: 8 }\n`);
    expect(e.reason).toBe('missing required key "api"');
    expect(e.line).toBe(3);
  });

  it('rejects a step with two actions or none', () => {
    expect(errorOf(`name: t\nsteps:\n  - alloc: { api: kmalloc, size: 8 }\n    free: a\n`).reason).toMatch(
      /one action; found alloc and free/,
    );
    expect(errorOf(`name: t\nsteps:\n  - name: nothing\n`).reason).toMatch(/needs one action/);
  });

  it('rejects unknown claim ids and freeing what was never held', () => {
    expect(errorOf(`name: t\nclaims: [kmalloc-is-magic]\nsteps:\n  - unfragment: true\n`).message).toMatch(
      /^x\.yaml:2:10: unknown claim id/,
    );
    expect(errorOf(`name: t\nsteps:\n  - free: a\n`).reason).toMatch(/no earlier step holds/);
  });

  it('rejects gfp flags on vmalloc, and order on kmalloc', () => {
    expect(errorOf(`name: t\nsteps:\n  - alloc: { api: vmalloc, size: 8, gfp: GFP_ATOMIC }\n`).reason).toMatch(/takes no GFP flags/);
    expect(errorOf(`name: t\nsteps:\n  - alloc: { api: kmalloc, size: 8, order: 1 }\n`).reason).toMatch(/only for api "pages"/);
  });

  it('requires an expected crash to be the last step', () => {
    const e = errorOf(
      `name: t\nsteps:\n  - alloc: { api: vmalloc, size: 8, ctx: hardirq }\n    expect: { crash: bug }\n  - unfragment: true\n`,
    );
    expect(e.reason).toMatch(/must be the last step/);
  });

  it('ships a schema.json equal to the one generated from the source, and the build writes the same text', async () => {
    const text = await schemaText();
    expect(readFileSync(join(SCENARIOS_DIR, 'schema.json'), 'utf8')).toBe(text);
    // `kharness schema` prints the build's copy (dist/, made by the test setup's build).
    expect(readFileSync(join(PROJECT_ROOT, 'dist', SCHEMA_FILE), 'utf8')).toBe(text);
  });
});
