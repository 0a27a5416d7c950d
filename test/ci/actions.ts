/**
 * The `uses:` steps nightly.yml takes, emulated: each with the inputs the
 * real action declares in its action.yml (a `with:` key outside them is an
 * error, as it is a warning GitHub prints and ignores), the ones it
 * requires, the token permissions it needs, and what it does, on this
 * machine's stores (caches by key, artifacts by name).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { cloneRepo, copyTree, filesUnder, globRe, type Machine } from './common.ts';

export interface Stores {
  /** Saved caches, newest last: key, the `path` input they were saved with (part of a cache's version), and where. */
  caches: { key: string; paths: string; dir: string }[];
  /** Uploaded artifacts by name. */
  artifacts: Map<string, string>;
  root: string;
}

export interface ActionCall {
  with: Record<string, string>;
  work: string;
  home: string;
  env: Record<string, string>;
  m: Machine;
  stores: Stores;
  permissions: Record<string, string>;
}

export interface Action {
  /** Inputs in the action's action.yml. */
  inputs: string[];
  required: string[];
  /** GITHUB_TOKEN scopes it needs, e.g. { checks: 'write' }. */
  permissions: Record<string, 'read' | 'write'>;
  run(c: ActionCall): Promise<Record<string, string>>;
}

const paths = (input: string, c: ActionCall) =>
  input
    .split('\n')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => (p === '~' || p.startsWith('~/') ? join(c.home, p.slice(1)) : p.startsWith('/') ? p : join(c.work, p)));

/** upload-artifact v4 refuses these in an artifact's name and in the paths of its files. */
const BAD_NAME = /["\\:<>|*?\r\n/]/;
const BAD_PATH = /["\\:<>|*?\r\n]/;

export const ACTIONS: Record<string, Action> = {
  'actions/checkout@v4': {
    inputs: [
      'repository',
      'ref',
      'token',
      'ssh-key',
      'ssh-known-hosts',
      'ssh-strict',
      'ssh-user',
      'persist-credentials',
      'path',
      'clean',
      'filter',
      'sparse-checkout',
      'sparse-checkout-cone-mode',
      'fetch-depth',
      'fetch-tags',
      'show-progress',
      'lfs',
      'submodules',
      'set-safe-directory',
      'github-server-url',
    ],
    required: [],
    permissions: { contents: 'read' },
    async run(c) {
      if (readdirSync(c.work).length) throw new Error('the workspace is not empty');
      await cloneRepo(c.m.repo, c.work);
      return {};
    },
  },
  'actions/setup-node@v4': {
    inputs: [
      'always-auth',
      'node-version',
      'node-version-file',
      'architecture',
      'check-latest',
      'registry-url',
      'scope',
      'token',
      'cache',
      'package-manager-cache',
      'cache-dependency-path',
      'mirror',
      'mirror-token',
    ],
    required: [],
    permissions: {},
    async run(c) {
      // Here the host's node stands in for the one the action installs: it must be the version asked for.
      const want = Number(c.with['node-version']);
      if (!want) throw new Error('node-version must name a major version');
      const have = (await execa('node', ['-p', 'process.versions.node'], { env: c.env, extendEnv: false })).stdout.trim();
      if (Number(have.split('.')[0]) !== want) throw new Error(`node ${have} is here, the workflow asks for ${want}`);
      return { 'node-version': `v${have}` };
    },
  },
  'actions/cache/restore@v4': {
    inputs: ['path', 'key', 'restore-keys', 'enableCrossOsArchive', 'fail-on-cache-miss', 'lookup-only'],
    required: ['path', 'key'],
    permissions: {},
    async run(c) {
      const key = c.with.key!;
      const prefixes = (c.with['restore-keys'] ?? '')
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      // A cache's version includes its paths: only caches saved with the same `path` input are candidates.
      const same = c.stores.caches.filter((e) => e.paths === c.with.path);
      const newest = (f: (e: Stores['caches'][number]) => boolean) => [...same].reverse().find(f);
      const hit = newest((e) => e.key === key) ?? prefixes.map((p) => newest((e) => e.key.startsWith(p))).find(Boolean);
      if (hit) {
        const targets = paths(c.with.path!, c);
        targets.forEach((t, i) => {
          if (existsSync(join(hit.dir, String(i)))) copyTree(join(hit.dir, String(i)), t);
        });
      }
      return { 'cache-hit': String(hit?.key === key), 'cache-primary-key': key, 'cache-matched-key': hit?.key ?? '' };
    },
  },
  'actions/cache/save@v4': {
    inputs: ['path', 'key', 'upload-chunk-size', 'enableCrossOsArchive'],
    required: ['path', 'key'],
    permissions: {},
    async run(c) {
      const key = c.with.key!;
      if (!key) throw new Error('key is empty');
      // GitHub refuses to overwrite a key (a warning there, "Unable to reserve cache"): here an error, so a key that is not unique is found.
      if (c.stores.caches.some((e) => e.key === key)) throw new Error(`a cache with key ${key} exists already`);
      const dir = join(c.stores.root, 'caches', String(c.stores.caches.length));
      const targets = paths(c.with.path!, c);
      if (!targets.some((t) => existsSync(t))) return {};
      targets.forEach((t, i) => {
        if (existsSync(t)) copyTree(t, join(dir, String(i)));
      });
      c.stores.caches.push({ key, paths: c.with.path!, dir });
      return {};
    },
  },
  'actions/upload-artifact@v4': {
    inputs: ['name', 'path', 'if-no-files-found', 'retention-days', 'compression-level', 'overwrite', 'include-hidden-files'],
    required: ['path'],
    permissions: {},
    async run(c): Promise<Record<string, string>> {
      const name = c.with.name ?? 'artifact';
      if (BAD_NAME.test(name)) throw new Error(`artifact name "${name}" has a character upload-artifact refuses`);
      if (c.stores.artifacts.has(name) && c.with.overwrite !== 'true')
        throw new Error(`an artifact named ${name} exists already in this run (upload-artifact v4: 409 Conflict)`);
      const [src] = paths(c.with.path!, c);
      const files = existsSync(src!) ? (statSync(src!).isDirectory() ? filesUnder(src!) : [relative(join(src!, '..'), src!)]) : [];
      if (!files.length) {
        if ((c.with['if-no-files-found'] ?? 'warn') === 'error') throw new Error(`no files at ${c.with.path}`);
        return {};
      }
      const bad = files.find((f) => BAD_PATH.test(f));
      if (bad) throw new Error(`upload-artifact refuses the file path ${bad}: it contains one of " : < > | * ? \\r \\n`);
      const dir = join(c.stores.root, 'artifacts', name);
      if (statSync(src!).isDirectory()) copyTree(src!, dir);
      else copyTree(join(src!, '..'), dir);
      c.stores.artifacts.set(name, dir);
      return { 'artifact-id': String(c.stores.artifacts.size) };
    },
  },
  'actions/download-artifact@v4': {
    inputs: ['name', 'artifact-ids', 'path', 'pattern', 'merge-multiple', 'github-token', 'repository', 'run-id'],
    required: [],
    // Within its own run it reads artifacts with the runner's token, not GITHUB_TOKEN.
    permissions: {},
    async run(c) {
      const into = c.with.path ? paths(c.with.path, c)[0]! : c.work;
      if (c.with.name) {
        const dir = c.stores.artifacts.get(c.with.name);
        if (!dir) throw new Error(`no artifact named ${c.with.name}`);
        copyTree(dir, into);
        return { 'download-path': into };
      }
      const re = globRe(c.with.pattern ?? '*');
      const names = [...c.stores.artifacts.keys()].filter((n) => re.test(n));
      for (const n of names) copyTree(c.stores.artifacts.get(n)!, c.with['merge-multiple'] === 'true' ? into : join(into, n));
      mkdirSync(into, { recursive: true });
      return { 'download-path': into };
    },
  },
  'mikepenz/action-junit-report@v4': {
    inputs: [
      'token',
      'report_paths',
      'test_files_prefix',
      'exclude_sources',
      'check_name',
      'suite_regex',
      'commit',
      'fail_on_failure',
      'fail_on_parse_error',
      'require_tests',
      'require_passed_tests',
      'include_passed',
      'include_skipped',
      'check_title_template',
      'bread_crumb_delimiter',
      'summary',
      'check_annotations',
      'update_check',
      'annotate_only',
      'transformers',
      'job_summary',
      'detailed_summary',
      'flaky_summary',
      'verbose_summary',
      'skip_success_summary',
      'include_empty_in_summary',
      'include_time_in_summary',
      'simplified_summary',
      'group_suite',
      'comment',
      'updateComment',
      'annotate_notice',
      'follow_symlink',
      'job_name',
      'annotations_limit',
      'truncate_stack_traces',
      'resolve_ignore_classname',
      'skip_annotations',
    ],
    required: ['report_paths'],
    permissions: { checks: 'write' },
    async run(c) {
      const files = paths(c.with.report_paths!, c);
      for (const f of files) {
        if (!existsSync(f)) throw new Error(`no report at ${f}`);
        const xsd = join(c.work, 'test', 'schema', 'junit-10.xsd');
        const r = await execa('xmllint', ['--noout', '--schema', xsd, f], { reject: false });
        if (r.exitCode !== 0) throw new Error(`${f} does not validate against junit-10.xsd: ${r.stderr.slice(0, 2000)}`);
      }
      return {};
    },
  },
};
