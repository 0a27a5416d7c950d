/**
 * Scenarios built to hurt, or simply wrong: refused when they load, with the
 * file, the position and the limit, before anything is built or booted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../harness/errors.ts';
import { LOAD_LIMITS, loadScenarioFile } from '../../harness/scenario/file.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import { missingGfp } from '../../harness/scenario/requires.ts';

function errorOf(src: string): ScenarioError {
  try {
    parseScenario(src, 'x.yaml');
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('hostile scenario files', () => {
  it('stops a "billion laughs" file at the alias limit', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(10)
          .fill(`*${'abcdefghij'[i - 1]}`)
          .join(', ')}]`,
      );
    const e = errorOf(`${lines.join('\n')}\nname: t\nsteps:\n  - unfragment: true\n`);
    expect(e.message).toMatch(/^x\.yaml:1:1: YAML: .*alias.*\(at most 100 alias expansions\)$/i);
  });

  it('refuses deep nesting with its position', () => {
    const deep = `${'['.repeat(40)}1${']'.repeat(40)}`;
    const e = errorOf(`name: t\nsteps:\n  - unfragment: true\nx: ${deep}\n`);
    expect(e.message).toMatch(/nested \d+ levels deep; a scenario may nest at most 32/);
  });

  it('refuses a file over the size limit without parsing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kharness-hostile-'));
    const f = join(dir, 'big.yaml');
    writeFileSync(f, `name: t\n# ${'x'.repeat(LOAD_LIMITS.bytes)}\nsteps:\n  - unfragment: true\n`);
    await expect(loadScenarioFile(f)).rejects.toThrow(/big\.yaml:1:1: the file has \d+ bytes; a scenario may have at most 1048576/);
  });

  it('refuses a FIFO instead of blocking on it, and a directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kharness-hostile-'));
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    await expect(loadScenarioFile(join(dir, 'pipe.yaml'))).rejects.toThrow(/pipe\.yaml:1:1: not a regular file/);
    await expect(loadScenarioFile(dir)).rejects.toThrow(/not a regular file/);
    await expect(loadScenarioFile(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read the file: ENOENT/);
  });

  it('refuses too many steps', () => {
    const steps = Array.from({ length: LOAD_LIMITS.steps + 1 }, () => '  - unfragment: true').join('\n');
    expect(errorOf(`name: t\nsteps:\n${steps}\n`).reason).toMatch(/1001 steps; a scenario may have at most 1000/);
  });

  it('refuses control characters in step names (they would reach terminals raw)', () => {
    expect(errorOf('name: t\nsteps:\n  - name: "red \\e[31m"\n    unfragment: true\n').message).toMatch(
      /^x\.yaml:3:11: a step name may not contain control/,
    );
  });
});

describe('every name is checked when the scenario loads', () => {
  it('GFP flags, with the known ones listed', () => {
    const e = errorOf('name: t\nsteps:\n  - alloc: { api: kmalloc, size: 8, gfp: [GFP_KERNEL, GFP_KERNAL] }\n');
    expect(e.message).toMatch(/^x\.yaml:3:55: unknown GFP flag "GFP_KERNAL" \(known: GFP_KERNEL, /);
  });

  it('/proc/meminfo fields in expectations', () => {
    const e = errorOf('name: t\nsteps:\n  - alloc: { api: vmalloc, size: 8 }\n    expect: { meminfo: { MemFre: { le: 0 } } }\n');
    expect(e.message).toMatch(/^x\.yaml:4:26: unknown \/proc\/meminfo field "MemFre"/);
  });

  it('facts, APIs, contexts, splat kinds and constants (through the schema and the size parser)', () => {
    expect(errorOf('name: t\nsteps:\n  - alloc: { api: kmalloc, size: 8 }\n    expect: { phys_run: 1 }\n').reason).toMatch(
      /unknown key "phys_run"/,
    );
    expect(errorOf('name: t\nsteps:\n  - alloc: { api: kmaloc, size: 8 }\n').reason).toMatch(/must be one of/);
    expect(errorOf('name: t\nsteps:\n  - alloc: { api: kmalloc, size: 8, ctx: irq }\n').reason).toMatch(/must be one of/);
    expect(errorOf('name: t\nsteps:\n  - alloc: { api: kmalloc, size: 8 }\n    expect: { dmesg: { none: [warn] } }\n').reason).toMatch(
      /must be one of/,
    );
    expect(errorOf('name: t\nsteps:\n  - alloc: { api: kmalloc, size: KMALLOC_MAX + 1 }\n').reason).toMatch(/unknown name "KMALLOC_MAX"/);
  });

  it('a flag only some kernels have is a per-target skip, decided before boot', () => {
    expect(missingGfp(['GFP_KERNEL', '__GFP_ATOMIC'], '6.1.192')).toBeUndefined();
    expect(missingGfp(['GFP_KERNEL', '__GFP_ATOMIC'], '6.12.117')).toBe(
      'needs __GFP_ATOMIC, which kernels from 6.3 on do not have (target is 6.12.117)',
    );
  });
});
