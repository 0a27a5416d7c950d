/**
 * KTAP as KUnit prints it into the kernel log (Documentation/dev-tools/ktap.rst):
 *
 *     KTAP version 1            (6.12; 6.1 has no header for a module's suite)
 *     # Subtest: slub_test
 *     # module: slub_kunit      (6.12)
 *     1..5
 *     # test_x: EXPECTATION FAILED at lib/slub_kunit.c:41
 *     not ok 1 test_x
 *     ok 2 test_y # SKIP why
 * ok 1 slub_test
 *
 * A suite's lines are indented one level (4 spaces) deeper than its own
 * result line. Pure: lines in, one suite's cases out, with the diagnostic
 * lines before each result as its evidence.
 */
import { stripTimestamp } from './splats.ts';

export type KtapStatus = 'pass' | 'fail' | 'skip';

export interface KtapCase {
  number: number;
  name: string;
  status: KtapStatus;
  /** The directive's text (`# SKIP reason`). */
  directive?: string;
  /** Diagnostic lines (`# ...`) and other output at the case's level since the previous result. */
  diagnostics: string[];
}

export interface KtapSuite {
  name: string;
  /** The `1..N` plan, when the log has it. */
  plan?: number;
  cases: KtapCase[];
  /** The suite's own result line was reached: the block is complete. */
  ended: boolean;
  /** Its own result, when it ended. */
  status?: KtapStatus;
}

const RESULT = /^(ok|not ok) (\d+)(?: -)?(?: ([^#]*?))?\s*(?:#\s*(.*))?$/;

function indentOf(text: string): { depth: number; body: string } {
  const m = /^( *)(.*)$/.exec(text)!;
  return { depth: m[1]!.length, body: m[2]! };
}

function statusOf(ok: string, directive: string | undefined): KtapStatus {
  if (directive && /^SKIP\b/i.test(directive)) return 'skip';
  return ok === 'ok' ? 'pass' : 'fail';
}

/**
 * The last run of `suite` in the log (a module loaded twice prints it twice),
 * or undefined when it never started. Lines from elsewhere in the kernel log
 * (no indentation at the suite's depth) are ignored.
 */
export function readKtapSuite(lines: readonly string[], suite: string): KtapSuite | undefined {
  // A kernel-log record may span lines (KUnit's "Expected ..." lines follow its EXPECTATION FAILED line in one record).
  const texts = lines.flatMap((l) => stripTimestamp(l).split('\n'));
  let start = -1;
  let depth = 0;
  texts.forEach((t, i) => {
    const { depth: d, body } = indentOf(t);
    if (body === `# Subtest: ${suite}`) {
      start = i;
      depth = d;
    }
  });
  if (start < 0) return undefined;
  const out: KtapSuite = { name: suite, cases: [], ended: false };
  let diag: string[] = [];
  for (const t of texts.slice(start + 1)) {
    const { depth: d, body } = indentOf(t);
    const r = RESULT.exec(body);
    if (r && d <= depth && (r[3] ?? '').trim() === suite) {
      // The suite's own result (one level up) ends the block.
      out.ended = true;
      out.status = statusOf(r[1]!, r[4]);
      break;
    }
    if (d < depth) {
      // Other kernel output while a case ran (a SLUB report, a warning): evidence for the next result.
      if (!r && body) diag.push(body);
      continue;
    }
    if (d > depth) {
      // A parameterised case's own subtests: their lines are evidence of the case they belong to.
      diag.push(body);
      continue;
    }
    const plan = /^1\.\.(\d+)$/.exec(body);
    if (plan) {
      out.plan = Number(plan[1]);
      continue;
    }
    if (r) {
      out.cases.push({
        number: Number(r[2]),
        name: (r[3] ?? '').trim(),
        status: statusOf(r[1]!, r[4]),
        directive: r[4]?.trim() || undefined,
        diagnostics: diag,
      });
      diag = [];
      continue;
    }
    if (/^(KTAP|TAP) version/.test(body) || /^# (Subtest|module):/.test(body)) continue;
    if (body) diag.push(body);
  }
  return out;
}
