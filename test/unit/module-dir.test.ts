/** A module directory is read before anything builds: its name from obj-m, and one line saying why a directory is not a module. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstCompilerError, objM, readModuleDir } from '../../harness/module/user.ts';
import { MODULES_DIR } from '../../harness/paths.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'modules');

describe('module directories', () => {
  it('names the module from obj-m, in any of its spellings', () => {
    expect(objM('obj-m += kh_leak.o\n')).toEqual(['kh_leak']);
    expect(objM('ifneq ($(KERNELRELEASE),)\nobj-m := my-mod.o\nmy-mod-y := a.o b.o\nendif\n')).toEqual(['my-mod']);
  });

  it('reads every shipped example: its kernel name is its file name with dashes made underscores', async () => {
    const m = await readModuleDir(join(MODULES_DIR, 'examples', 'leak-on-unload'));
    expect([m.file, m.name]).toEqual(['kh_leak', 'kh_leak']);
  });

  it('refuses what is not one module, in one line', async () => {
    await expect(readModuleDir('/nonexistent/dir')).rejects.toThrow('/nonexistent/dir is not a directory');
    await expect(readModuleDir(MODULES_DIR)).rejects.toThrow('it has no Kbuild or Makefile');
    await expect(readModuleDir(join(fixtures, 'no-obj-m'))).rejects.toThrow('has no obj-m line');
    await expect(readModuleDir(join(fixtures, 'two-modules'))).rejects.toThrow('builds 2 modules (a, b)');
  });

  it("quotes the compiler's first error, not make's summary", () => {
    const log = [
      '$ make -C /k M=/out/module-kh_broken modules',
      '  CC [M]  /out/module-kh_broken/kh_broken.o',
      "/out/module-kh_broken/kh_broken.c:7:16: error: 'undeclared_thing' undeclared (first use in this function)",
      '    7 |         return undeclared_thing;',
      'make[2]: *** [scripts/Makefile.build:250: /out/module-kh_broken/kh_broken.o] Error 1',
    ].join('\n');
    expect(firstCompilerError(log)).toBe("kh_broken.c:7:16: error: 'undeclared_thing' undeclared (first use in this function)");
    expect(firstCompilerError("make: *** No rule to make target 'modules'.  Stop.")).toMatch(/No rule to make target/);
  });
});

describe('the example scenarios', () => {
  it('load, and each names a shipped example module', async () => {
    const { readdir } = await import('node:fs/promises');
    const { loadScenarioFile } = await import('../../harness/scenario/file.ts');
    const dir = join(import.meta.dirname, '..', '..', 'scenarios', 'modules');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const f of files) {
      const s = await loadScenarioFile(join(dir, f));
      expect((await readModuleDir(s.module!.dir)).dir, f).toBe(s.module!.dir);
    }
  });
});
