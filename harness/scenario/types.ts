import type { SplatPattern } from '../analysis/splats.ts';
import type { InjectKind } from '../inject/kinds.ts';
import type { SweepIO } from '../inject/plan.ts';
import type { Api, Context, Query } from '../probe/vocabulary.ts';
import type { Predicate, SizeExpr } from './size.ts';

/** Where a value came from in its YAML file, for messages that point at it. */
export interface Pos {
  file: string;
  line: number;
  column: number;
}

export interface Requires {
  /** Kernel config options that must be =y (or =m), e.g. CONFIG_DEBUG_ATOMIC_SLEEP. */
  config?: string[];
  /** Kernel config options that must be off, e.g. CONFIG_PREEMPT_RT for what only holds without it. */
  without_config?: string[];
  arch?: string[];
  /** Lowest kernel version, "6.1". */
  min_version?: string;
  /** Highest kernel version, "6.12": the whole series (6.12.117 too); "6.12.100": that release and older. */
  max_version?: string;
}

export type Scalar = number | boolean | string;
export type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
/** A scalar means equality; an object compares (`{ ge: 2 }`). Strings in numeric comparisons are size expressions. */
export type Matcher = Scalar | Partial<Record<CompareOp, Scalar>>;

/** Patterns are normalised at load time: a bare kind becomes { kind }. */
export interface DmesgExpect {
  has?: SplatPattern[];
  none?: SplatPattern[];
}

export interface Expect {
  facts: Record<string, { matcher: Matcher; pos: Pos }>;
  /** Change of /proc/meminfo fields across the step, in bytes. */
  meminfo?: Record<string, { matcher: Matcher; pos: Pos }>;
  dmesg?: DmesgExpect & { pos?: Pos };
  crash?: SplatPattern & { pos?: Pos };
  /** `when:` guards that could not be evaluated (a fact they name was not reported). */
  guardErrors?: string[];
}

/** An expectation block, applied when its guard holds (no guard: always). */
export interface GuardedExpect {
  when?: Predicate;
  expect: Expect;
}

/** One step run over several sizes: listed, or from..to multiplying by factor. */
export interface Sweep {
  values: SizeExpr[];
  range?: { from: SizeExpr; to: SizeExpr; factor: number };
}

export type Action =
  | { kind: 'alloc'; api: Api; size?: SizeExpr; order?: number; gfp: string[]; ctx: Context; hold?: string; fill?: number }
  | { kind: 'free'; name: string }
  | { kind: 'inspect'; name: string }
  /** memchr_inv() over a held allocation: `len` bytes from its start, one non-zero byte at `mark`. */
  | { kind: 'scan'; name: string; len: SizeExpr; mark: SizeExpr }
  /** Sleep in the guest, e.g. so that a report the kernel rate-limits to one a second can fire again. */
  | { kind: 'pause'; ms: number }
  | { kind: 'fragment'; pages: SizeExpr }
  | { kind: 'unfragment' }
  | { kind: 'time'; api: Api; size?: SizeExpr; order?: number; gfp: string[]; repeat: number; vs?: Api }
  | { kind: 'query'; what: Query }
  /** One of the kernel's own test modules (ktest/catalog.ts), loaded with these parameters. */
  | { kind: 'kernel-test'; module: string; params: Record<string, number | boolean>; cases?: string[]; timeoutMs?: number }
  /**
   * The user's own module (`kharness run --module DIR`, or the scenario's
   * `module:`), built for the target: loaded with its parameters, exercised
   * by shell commands in the guest, unloaded, or all three `count` times.
   * `dir` is the scenario's module directory, absolute.
   */
  | { kind: 'module-load'; dir?: string; params: ModuleParams; timeoutMs?: number }
  | { kind: 'module-exec'; dir?: string; command: string; timeoutMs?: number }
  | { kind: 'module-unload'; dir?: string; timeoutMs?: number }
  | { kind: 'module-cycles'; dir?: string; count: number; params: ModuleParams; exec: string[]; timeoutMs?: number }
  /**
   * The user's module loaded with its 1st allocation failed, then its 2nd, and
   * so on, until a load makes fewer than N (or `cap` is reached); each load is
   * unloaded again when it succeeded (`kharness check-module --inject-sweep`).
   * With `exercise`, the module is loaded once and that write or read is what
   * is swept (`--inject-sweep --exec 'echo 1 > /sys/...'`).
   */
  | {
      kind: 'module-sweep';
      dir?: string;
      cap: number;
      inject: InjectKind;
      params: ModuleParams;
      exercise?: SweepIO;
      timeoutMs?: number;
    };

/** A module's parameters as insmod takes them (strings are checked at load: no spaces, quotes or shell characters). */
export type ModuleParams = Record<string, number | boolean | string>;

/** The actions that work on the user's module. */
export type ModuleAction = Extract<Action, { kind: 'module-load' | 'module-exec' | 'module-unload' | 'module-cycles' }>;

/** Fail the step's Nth allocation of a kind (inject/kinds.ts). */
export interface Inject {
  nth: number;
  kind: InjectKind;
  pos: Pos;
}

export interface Step {
  index: number;
  name: string;
  action: Action;
  expect: GuardedExpect[];
  sweep?: Sweep;
  inject?: Inject;
  requires?: Requires;
  pos: Pos;
}

/** A step whose action is of kind A. */
export type StepOf<A extends Action> = Step & { action: A };

/** A step the probe runs: every action but a kernel test's and the user module's. */
export type ProbeStep = StepOf<Exclude<Action, { kind: 'kernel-test' | 'module-sweep' } | ModuleAction>>;

/** What a passing run of the scenario says about a claim. */
export type ClaimVerdict = 'holds' | 'fails';
export interface ClaimRef {
  id: string;
  ifPasses: ClaimVerdict;
  /** The deciding observation's template (scenario/shows.ts), checked at load. */
  shows?: string;
  /** The step whose facts it reads. */
  step?: string;
}

export interface Scenario {
  file: string;
  name: string;
  description: string;
  claims: ClaimRef[];
  requires?: Requires;
  /** Kernel command-line parameters of its own: the scenario runs on a VM booted with them. */
  cmdline?: string[];
  /** The module its module steps load (absolute; `kharness run --module DIR` overrides it), and where the file names it. */
  module?: { dir: string; pos: Pos };
  steps: Step[];
  /** True when any step expects the kernel to die: the runner gives it a VM of its own. */
  expectsCrash: boolean;
  /**
   * True when a step loads one of the kernel's own tests: they churn the
   * allocators (full per-CPU free lists, a rate-limited allocation warning
   * used up), so no probe scenario runs after one on the same VM.
   */
  churns?: boolean;
  /** True when it ends with memory still fragmented (a `fragment` step, no `unfragment` after it): the next scenario gets a fresh VM. */
  leavesFragmented?: boolean;
}
