import { ARCHES, archSpec } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { loadCatalog } from '../kernel/catalog.ts';
import { type DebianKernel, debianName, seriesName, shortVersion } from '../kernel/debian.ts';
import { debianKernels, suitesOf } from '../kernel/prebuilt.ts';
import { sourceOrigins } from '../kernel/source.ts';
import { consoleLog } from '../util/log.ts';
import { list } from './args.ts';
import type { Outcome } from './exit.ts';

/** "7.2.6 7.2.9 (trixie-backports) 7.2.13 (sid)": versions of one series and flavour, each run of one suite named after it. */
function versions(ks: DebianKernel[], suiteOf: Map<string, string>): string {
  const out: string[] = [];
  ks.forEach((k, i) => {
    const suite = suiteOf.get(k.image) ?? '?';
    out.push(shortVersion(k.abi));
    if (suiteOf.get(ks[i + 1]?.image ?? '') !== suite) out.push(`(${suite})`);
  });
  return out.join(' ');
}

export async function kernelsCommand(v: Record<string, unknown>): Promise<Outcome> {
  if (v.format !== 'text' && v.format !== 'json') throw new UsageError(`unknown --format "${String(v.format)}"`, 'Formats: text, json');
  const arches = (list(v.arch) ?? Object.keys(ARCHES)).map(archSpec);
  const log = consoleLog(false);
  const catalog = (await loadCatalog()).filter((k) => arches.some((a) => k.arches.includes(a.name)));
  const debian = await Promise.all(
    arches.map(async (a) => {
      const index = await debianKernels(a, log);
      return { arch: a.name, index, suiteOf: await suitesOf(index.kernels, a, log) };
    }),
  );
  const origin = await sourceOrigins(catalog, log);
  if (v.format === 'json') {
    const json = {
      catalog: catalog.map((k) => ({
        name: k.name,
        arches: k.arches,
        source: k.source.type,
        ...(origin.has(k.name) ? { from: origin.get(k.name) } : {}),
        default: k.default !== false,
      })),
      debian: debian.flatMap((d) =>
        d.index.kernels.map((k) => ({
          name: debianName(k.abi, k.flavour),
          arch: d.arch,
          abi: k.abi,
          series: k.series,
          flavour: k.flavour,
          suite: d.suiteOf.get(k.image) ?? '?',
          image: k.image,
        })),
      ),
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return 'done';
  }
  const out: string[] = ['Catalog (kernels/catalog.yaml):'];
  for (const k of catalog)
    out.push(
      `  ${k.name.padEnd(20)} ${k.arches.join(', ').padEnd(16)} ${k.source.type}${origin.has(k.name) ? ` (${origin.get(k.name)})` : ''}` +
        `${k.default === false ? '' : ', default matrix'}`,
    );
  out.push(
    '',
    "Debian's prebuilt kernels (image and headers in the archive): name one as debian:VERSION[-FLAVOUR],",
    'the newest of a series as debian:SERIES[-FLAVOUR], a range as debian:A..B (a series as A is its oldest);\n(suite) follows the versions it holds:',
  );
  for (const d of debian) {
    const groups = new Map<string, DebianKernel[]>();
    for (const k of d.index.kernels) groups.set(`${k.series} ${k.flavour}`, [...(groups.get(`${k.series} ${k.flavour}`) ?? []), k]);
    for (const [g, ks] of groups) {
      const [series, flavour] = g.split(' ') as [string, string];
      out.push(
        `  ${d.arch.padEnd(7)} ${series.padEnd(5)} ${flavour.padEnd(8)} ${versions(ks, d.suiteOf)}   e.g. ${seriesName(series, flavour)} (the newest)`,
      );
    }
    const orphans = [...new Set(d.index.imageOnly.map((x) => shortVersion(x.abi)))];
    if (orphans.length) out.push(`  ${d.arch.padEnd(7)} image only, no headers (cannot be used): ${orphans.join(' ')}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 'done';
}
