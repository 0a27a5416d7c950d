/**
 * Option tables shared by several commands. Data only, with no imports: the
 * command table (commands.ts) reads them to parse arguments before any
 * command's code is loaded.
 */

/** The flags that size and time guests, shared by every command that boots one. */
export const MACHINE_OPTIONS = {
  accel: { type: 'string', default: 'auto' },
  memory: { type: 'string', default: '512' },
  smp: { type: 'string', default: '2' },
  'boot-timeout': { type: 'string' },
  'step-timeout': { type: 'string' },
  'silence-timeout': { type: 'string' },
} as const;

export const MACHINE_USAGE = '[--accel auto|kvm|tcg] [--memory MiB] [--smp N] [--boot-timeout S] [--step-timeout S] [--silence-timeout S]';

/** The flags of every command that compares runs. */
export const COMPARE_OPTIONS = {
  threshold: { type: 'string' },
  'min-samples': { type: 'string' },
  'across-hosts': { type: 'boolean' },
  'absolute-times': { type: 'boolean' },
} as const;

export const COMPARE_USAGE =
  '[--threshold PCT (default 15% under TCG, 5% under KVM)] [--min-samples 3] [--across-hosts] [--absolute-times (judge ns/µs/ms under TCG too)]';
