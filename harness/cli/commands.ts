/**
 * The command line's surface: each command's summary, usage and options, and
 * where its code is. Only the command that runs is imported, so `kharness
 * --help`, `kharness CMD --help` and a usage error load nothing but this.
 */
import type { Command } from './command.ts';
import { COMPARE_OPTIONS, COMPARE_USAGE, MACHINE_OPTIONS, MACHINE_USAGE } from './options.ts';

export const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'run scenarios on real kernels in QEMU',
    usage:
      'kharness run [SCENARIO.yaml|DIR ...] [--arch x86_64[,arm64]] [--kernel 6.1[,6.12]] [--shard i/n] [--jobs N] [--out DIR]\n' +
      `             [--reporter default,html,json,junit,ktap,markdown] ${MACHINE_USAGE} [--verbose]\n` +
      `             [--repeat N] [--baseline RUN_DIR ${COMPARE_USAGE}] [--history DIR]\n` +
      '  --repeat N: every scenario N times per target, each run on freshly booted VMs; steps whose runs disagree are flaky (exit 3)\n' +
      '  --baseline: compare with an earlier run; the exit code then says whether anything regressed (1) or not (0)\n' +
      '  --history: keep this run in a history directory (kharness history DIR lists it)\n' +
      "  --module DIR: the out-of-tree module the scenarios' module steps load, built for every target",
    options: {
      arch: { type: 'string' },
      kernel: { type: 'string' },
      shard: { type: 'string' },
      'build-jobs': { type: 'string' },
      'make-jobs': { type: 'string' },
      out: { type: 'string' },
      jobs: { type: 'string' },
      repeat: { type: 'string' },
      baseline: { type: 'string' },
      history: { type: 'string' },
      module: { type: 'string' },
      ...COMPARE_OPTIONS,
      ...MACHINE_OPTIONS,
      reporter: { type: 'string', multiple: true },
      color: { type: 'boolean' },
      'no-color': { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
    },
    load: async () => (await import('./run.ts')).runCommand,
  },
  bisect: {
    summary: 'find the commit (or catalog kernel) where a scenario starts failing',
    usage: [
      `kharness bisect --repo PATH --good REF --bad REF --scenario FILE [--step NAME] [--arch A] [--repeat N] [--out DIR] ${MACHINE_USAGE}`,
      '       kharness bisect --kernels 6.1,6.12[,...] --scenario FILE [--step NAME] [--arch A]   (oldest first: first is good, last is bad)',
      '       kharness bisect --kernels debian:6.1.0-47..6.1.0-56-cloud --scenario FILE   (a series of Debian prebuilt kernels: downloads, no builds)',
      '       [--find fix]: search for the first candidate that passes (the old end fails, the new end passes)',
      `       [--metric FACT --step NAME [--better lower|higher] ${COMPARE_USAGE}]: bisect a performance change of one step's fact`,
      '       [--repeat N] runs per candidate (default 1; 5 with --metric), [--confirm K] runs of the culprit and its parent (default 3)',
      '       A candidate failing otherwise than the bad end (another step, another expectation, another kernel report) is skipped;',
      '       the culprit is re-run against its parent at the end: exit 1 when that does not confirm it.',
      '       kharness bisect --resume DIR',
    ].join('\n'),
    options: {
      repo: { type: 'string' },
      good: { type: 'string' },
      bad: { type: 'string' },
      kernels: { type: 'string' },
      scenario: { type: 'string' },
      step: { type: 'string' },
      arch: { type: 'string', default: 'x86_64' },
      repeat: { type: 'string' },
      confirm: { type: 'string' },
      metric: { type: 'string' },
      better: { type: 'string' },
      ...COMPARE_OPTIONS,
      out: { type: 'string' },
      resume: { type: 'string' },
      find: { type: 'string', default: 'regression' },
      ...MACHINE_OPTIONS,
      verbose: { type: 'boolean', short: 'v' },
    },
    load: async () => (await import('./bisect.ts')).bisectCommand,
  },
  build: {
    summary: 'build (or find in the cache) a guest kernel and the probe module',
    usage: 'kharness build --arch x86_64 --kernel 6.1 [--fragment FILE]... [--jobs N] [--verbose]',
    options: {
      arch: { type: 'string', default: 'x86_64' },
      kernel: { type: 'string', default: '6.1' },
      jobs: { type: 'string' },
      fragment: { type: 'string', multiple: true },
      verbose: { type: 'boolean', short: 'v' },
    },
    load: async () => (await import('./build.ts')).buildCommand,
  },
  cache: {
    summary: 'list (`cache ls`) or remove (`cache prune`) cached kernels, modules, sources and guest images',
    usage: 'kharness cache ls\n       kharness cache prune [--older-than DAYS (30)] [--all] [--dry-run]',
    options: { 'older-than': { type: 'string', default: '30' }, all: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
    load: async () => (await import('./cache.ts')).cacheCommand,
  },
  compare: {
    summary: 'compare two runs: new failures, fixes, flaky steps, and metrics that changed (exit 1 on a regression)',
    usage: `kharness compare BASE NEW [--format text|json] [--out DIR] ${COMPARE_USAGE}\n  BASE, NEW: run directories (their --out) or results.jsonl files`,
    options: { ...COMPARE_OPTIONS, format: { type: 'string' }, out: { type: 'string' } },
    load: async () => (await import('./compare.ts')).compareCommand,
  },
  doctor: {
    summary: 'check the host: tools, kernel sources, accelerator, cache',
    usage: 'kharness doctor',
    options: {},
    load: async () => (await import('./doctor.ts')).doctorCommand,
  },
  history: {
    summary: 'list the runs kept in a history directory, and the lifecycle of each regression (new, persists, fixed)',
    usage: `kharness history DIR [--last N] [--format text|json] [--html FILE] [--add RUN_DIR] ${COMPARE_USAGE}`,
    options: {
      ...COMPARE_OPTIONS,
      last: { type: 'string' },
      format: { type: 'string' },
      html: { type: 'string' },
      add: { type: 'string' },
    },
    load: async () => (await import('./history.ts')).historyCommand,
  },
  kernels: {
    summary: "list the kernels kharness can run: the catalog's, and Debian's prebuilt ones in the archive",
    usage: 'kharness kernels [--arch A] [--format text|json]',
    options: { arch: { type: 'string' }, format: { type: 'string', default: 'text' } },
    load: async () => (await import('./kernels.ts')).kernelsCommand,
  },
  matrix: {
    summary: 'print the planned targets, or a CI job matrix (--format github: one job per target, or --shards N jobs)',
    usage: 'kharness matrix [--arch A] [--kernel K] [--shards N] [--format text|github]',
    options: {
      arch: { type: 'string' },
      kernel: { type: 'string' },
      shards: { type: 'string' },
      format: { type: 'string', default: 'text' },
    },
    load: async () => (await import('./matrix.ts')).matrixCommand,
  },
  report: {
    summary: 're-render the reports of a finished run (boots nothing); `report merge OUT DIR...` joins shard results',
    usage:
      'kharness report RUN_DIR [--reporter default,html,json,junit,ktap,markdown] [--stdout]\n' +
      '       kharness report merge OUT_DIR RUN_DIR... [--reporter ...] [--expect ARCH/KERNEL,...]\n' +
      '  --expect: the planned targets; one no run has makes the merged run incomplete (exit 2)',
    options: {
      reporter: { type: 'string', multiple: true },
      stdout: { type: 'boolean' },
      'no-color': { type: 'boolean' },
      expect: { type: 'string' },
    },
    load: async () => (await import('./report.ts')).reportCommand,
  },
  schema: {
    summary: 'write scenarios/schema.json (the scenario JSON Schema) from its source',
    usage: 'kharness schema [--stdout]',
    options: { stdout: { type: 'boolean' } },
    load: async () => (await import('./schema.ts')).schemaCommand,
  },
  'check-module': {
    summary: 'build your module for every target, load, exercise and unload it, and report leaks and kernel reports',
    usage:
      'kharness check-module DIR [--arch x86_64[,arm64]] [--kernel 6.1-debug[,...]] [--cycles N] [--exec CMD ...] [--param NAME=VALUE ...]\n' +
      `             [--out DIR] [--jobs N] [--reporter default,json,junit,ktap,markdown,html] ${MACHINE_USAGE} [--verbose]\n` +
      '  DIR: an out-of-tree module (its Kbuild or Makefile names it in obj-m)\n' +
      '  --cycles N: load/exercise/unload cycles (default 2); --exec CMD: a guest shell command that exercises the loaded module\n' +
      '  --inject-sweep: load it with its 1st allocation failed, then its 2nd, ... until a load makes fewer (at most\n' +
      '  --inject-cap N, default 500; --inject-kind slab|page|any, default any): one row per index, on kernels with fault\n' +
      "  injection (the catalog's -debug kernels); with one --exec (`echo DATA > PATH` or `cat PATH`) the module is loaded\n" +
      '  once and that write or read is swept instead\n' +
      "  Leaks are found on kernels with kmemleak (the catalog's -debug kernels); every kernel reports WARNINGs, BUGs and\n" +
      '  KASAN/KFENCE/SLUB-debug reports. Exit 0 clean, 1 something found, 2 could not check.',
    options: {
      arch: { type: 'string' },
      kernel: { type: 'string' },
      cycles: { type: 'string' },
      'inject-sweep': { type: 'boolean' },
      'inject-cap': { type: 'string' },
      'inject-kind': { type: 'string' },
      exec: { type: 'string', multiple: true },
      param: { type: 'string', multiple: true },
      out: { type: 'string' },
      jobs: { type: 'string' },
      'make-jobs': { type: 'string' },
      ...MACHINE_OPTIONS,
      reporter: { type: 'string', multiple: true },
      'no-color': { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
    },
    load: async () => (await import('./check-module.ts')).checkModuleCommand,
  },
  shell: {
    summary: 'boot a guest with the probe loaded and open a shell in it (or run one command with --exec)',
    usage: `kharness shell [--arch A] [--kernel K] [--exec 'CMD'] [--verbose] ${MACHINE_USAGE}`,
    options: {
      arch: { type: 'string', default: 'x86_64' },
      kernel: { type: 'string', default: '6.1' },
      exec: { type: 'string' },
      ...MACHINE_OPTIONS,
      verbose: { type: 'boolean', short: 'v' },
    },
    load: async () => (await import('./shell.ts')).shellCommand,
  },
};
