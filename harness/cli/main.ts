/**
 * The kharness command line: argument parsing and wiring only. Commands end
 * in an outcome; exit.ts turns outcomes and errors into exit codes.
 */
import { parseArgs } from 'node:util';
import { KharnessError, UsageError } from '../errors.ts';
import { killAll } from '../guest/processes.ts';
import { setCodeIdentity } from '../util/code.ts';
import { stopping } from '../util/stop.ts';
import { COMMANDS } from './commands.ts';
import { exitCode, exitCodeOfError } from './exit.ts';

function help(): string {
  const lines = ['kharness — boots real kernels in QEMU and checks how their allocators behave.', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push('', 'Run `kharness <command> --help` for its options.');
  return lines.join('\n');
}

/**
 * `damaged`: names a compiled file that is missing or not as built (bin/kharness.js checks
 * dist/ against its manifest), asked only when a command's code fails to load.
 */
export async function main(argv: string[], o: { damaged?: () => string | undefined; code?: string } = {}): Promise<number> {
  setCodeIdentity(o.code);
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${help()}\n`);
    return name ? exitCode('done') : exitCodeOfError(undefined, false);
  }
  const cmd = COMMANDS[name];
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    // QEMU goes first: nothing may outlive the harness.
    killAll();
    if (interrupts > 1) process.exit(130);
    process.stderr.write(`\n${sig}: stopping; finished results are on disk.\n`);
    stopping.abort();
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!cmd) throw new UsageError(`unknown command "${name}"`, `Commands: ${Object.keys(COMMANDS).join(', ')}`);
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (e) {
      throw new UsageError((e as Error).message, `Usage: ${cmd.usage}`);
    }
    if (parsed.values.help) {
      process.stdout.write(`Usage: ${cmd.usage}\n`);
      return exitCode('done');
    }
    const run = await cmd.load().catch((e) => {
      const why = o.damaged?.();
      throw why ? new KharnessError('INFRA', why) : e;
    });
    const outcome = await run(parsed.values, parsed.positionals, controller.signal);
    return exitCode(controller.signal.aborted ? 'interrupted' : outcome);
  } catch (e) {
    killAll();
    if (!controller.signal.aborted) {
      if (e instanceof KharnessError) {
        process.stderr.write(`kharness: ${e.message}\n`);
        if (e.details)
          process.stderr.write(
            `${e.details
              .split('\n')
              .map((l) => `  | ${l}`)
              .join('\n')}\n`,
          );
        if (e.hint) process.stderr.write(`${e.hint}\n`);
      } else {
        process.stderr.write(`kharness: internal error (a bug in kharness, please report it):\n${(e as Error)?.stack ?? String(e)}\n`);
      }
    }
    return exitCodeOfError(e, controller.signal.aborted);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
