/**
 * The scenario file format as a JSON Schema (draft-07, which the YAML
 * language server understands). It is authored here once; scenarios/schema.json
 * is written from it by `kharness schema` and a unit test keeps the two equal.
 */
import { REPORT_KINDS } from '../analysis/splats.ts';
import { INJECT_KINDS, INJECT_NTH_MAX } from '../inject/kinds.ts';
import { KERNEL_TESTS } from '../ktest/catalog.ts';
import { APIS, CONTEXTS, FACTS, QUERIES } from '../probe/vocabulary.ts';

/** Facts a step may make expectations on (and name in `when:` and comparisons): everything the probe reports. */
export const FACT_NAMES = Object.keys(FACTS);

const scalar = { type: ['number', 'boolean', 'string'] };
const sizeValue = {
  type: ['string', 'integer'],
  description: 'Bytes: a number, a number with a unit (128KiB, 4MiB), or an expression over guest constants (KMALLOC_MAX_SIZE + 1).',
};
const matcher = {
  oneOf: [
    scalar,
    {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: Object.fromEntries(['eq', 'ne', 'gt', 'ge', 'lt', 'le'].map((k) => [k, scalar])),
    },
  ],
};
/**
 * Parts used many times are definitions, named by $ref: a validator made
 * from the schema then checks each with one function instead of a copy per
 * use (with a matcher inlined for every fact, the generated validator was
 * 1.3 MB of JavaScript to compile at every start).
 */
const MATCHER = { $ref: '#/definitions/matcher' };
const SPLAT = { $ref: '#/definitions/splat' };
const EXPECT = { $ref: '#/definitions/expect' };

const splatPattern = {
  oneOf: [
    { type: 'string', enum: [...REPORT_KINDS] },
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      properties: { kind: { type: 'string', enum: [...REPORT_KINDS] }, at: { type: 'string' }, text: { type: 'string' } },
    },
  ],
};
const gfp = {
  description: 'GFP flags by name; a list is OR-ed together. The module resolves the names for its kernel.',
  oneOf: [
    { type: 'string', pattern: '^_*[A-Z][A-Z0-9_]*$' },
    { type: 'array', minItems: 1, items: { type: 'string', pattern: '^_*[A-Z][A-Z0-9_]*$' } },
  ],
};
const name = { type: 'string', pattern: '^[A-Za-z0-9_.+-]{1,32}$' };
const requires = {
  type: 'object',
  additionalProperties: false,
  properties: {
    config: { type: 'array', items: { type: 'string', pattern: '^CONFIG_[A-Z0-9_]+$' } },
    without_config: {
      type: 'array',
      items: { type: 'string', pattern: '^CONFIG_[A-Z0-9_]+$' },
      description: 'Options that must be off (not y or m), e.g. CONFIG_PREEMPT_RT.',
    },
    arch: { type: 'array', items: { type: 'string' } },
    min_version: { type: 'string', pattern: '^\\d+\\.\\d+(\\.\\d+)?$', description: 'Lowest kernel version, e.g. 6.1 or 6.12.100.' },
    max_version: {
      type: 'string',
      pattern: '^\\d+\\.\\d+(\\.\\d+)?$',
      description: 'Highest kernel version: 6.12 means every 6.12.x, 6.12.100 that release and those before it.',
    },
  },
};
const seconds = { type: 'integer', minimum: 1, maximum: 3600, description: 'Seconds it may take (default: the step timeout).' };
const moduleParamsSchema = {
  type: 'object',
  description: "The module's parameters, as insmod takes them (name=value).",
  additionalProperties: { type: ['integer', 'boolean', 'string'] },
};
const allocProps = {
  api: { type: 'string', enum: [...APIS] },
  size: sizeValue,
  order: { type: 'integer', minimum: 0, maximum: 31 },
  gfp,
};

const expectBlock = {
  type: 'object',
  additionalProperties: false,
  properties: {
    when: { type: 'string', description: "A comparison of size expressions; `size` is the step's size." },
    ...Object.fromEntries(FACT_NAMES.map((f) => [f, MATCHER])),
    meminfo: {
      type: 'object',
      description: 'Change of /proc/meminfo fields across the step, in bytes (e.g. VmallocUsed: { ge: size }).',
      additionalProperties: MATCHER,
    },
    dmesg: {
      type: 'object',
      additionalProperties: false,
      properties: { has: { type: 'array', items: SPLAT }, none: { type: 'array', items: SPLAT } },
    },
    crash: SPLAT,
  },
};

export const scenarioSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://kharness.invalid/scenario.schema.json',
  title: 'kharness scenario',
  definitions: { matcher, splat: splatPattern, expect: expectBlock },
  type: 'object',
  additionalProperties: false,
  required: ['name', 'steps'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
    description: { type: 'string' },
    claims: {
      description:
        "The article's claims this scenario tests (../shared/CLAIMS.md ids). A list means each holds when the scenario passes; " +
        'a map says what a pass means for each: holds or fails, or { if_passes, shows, step } where shows is the deciding ' +
        'observation the reports print, e.g. "KMALLOC_MAX_SIZE = {KMALLOC_MAX_SIZE:size}".',
      oneOf: [
        { type: 'array', items: { type: 'string' } },
        {
          type: 'object',
          additionalProperties: {
            oneOf: [
              { type: 'string', enum: ['holds', 'fails'] },
              {
                type: 'object',
                additionalProperties: false,
                required: ['if_passes'],
                properties: {
                  if_passes: { type: 'string', enum: ['holds', 'fails'] },
                  shows: {
                    type: 'string',
                    description:
                      "The deciding observation: text with {expressions} over guest constants and the step's facts ({x:size} prints bytes).",
                  },
                  step: {
                    type: 'string',
                    description: 'The step whose facts the observation reads (default: the first passing step that has them).',
                  },
                },
              },
            ],
          },
        },
      ],
    },
    requires,
    module: {
      type: 'string',
      description:
        'The module directory (Kbuild or Makefile) its module steps load, relative to this file; `kharness run --module DIR` overrides it.',
    },
    boot: {
      type: 'object',
      additionalProperties: false,
      description: 'How the guest boots for this scenario. A scenario with a command line of its own gets a VM of its own.',
      properties: {
        cmdline: {
          description: 'Kernel command-line parameters added for this scenario (init_on_alloc=0), as one string or a list.',
          oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        },
      },
    },
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          name: { type: 'string' },
          requires,
          alloc: {
            type: 'object',
            additionalProperties: false,
            required: ['api'],
            properties: {
              ...allocProps,
              ctx: { type: 'string', enum: [...CONTEXTS] },
              hold: name,
              fill: {
                type: 'integer',
                minimum: 0,
                maximum: 255,
                description: 'Fill the memory with this byte before it is freed, so a later allocation shows whether it was cleared.',
              },
            },
          },
          time: {
            type: 'object',
            additionalProperties: false,
            required: ['api'],
            properties: {
              ...allocProps,
              repeat: { type: 'integer', minimum: 1, maximum: 10000 },
              vs: {
                type: 'string',
                enum: APIS.filter((a) => a !== 'pages'),
                description: 'Time this API too, interleaved in the same loop; its facts are prefixed vs_.',
              },
            },
          },
          query: {
            type: 'string',
            enum: [...QUERIES],
            description: 'Ask the probe about the kernel: constants, its memory zones, or where module code lives.',
          },
          free: name,
          inspect: name,
          pause: {
            type: 'object',
            additionalProperties: false,
            required: ['ms'],
            description:
              'Sleep in the guest for ms milliseconds (a kernel report rate-limited to one a second, like might_sleep, can fire again after 1000).',
            properties: { ms: { type: 'integer', minimum: 1, maximum: 10000 } },
          },
          scan: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'len', 'mark'],
            description:
              'memchr_inv() (the scan behind SLUB poison checks) over a held allocation: len bytes from its start, ' +
              'with everything before `mark` zeroed and one non-zero byte at `mark` (inside the allocation, so a correct scan stops there).',
            properties: { name, len: sizeValue, mark: sizeValue },
          },
          fragment: {
            type: 'object',
            additionalProperties: false,
            required: ['pages'],
            properties: { pages: sizeValue },
          },
          unfragment: { type: 'boolean', const: true },
          kernel_test: {
            type: 'object',
            additionalProperties: false,
            required: ['module'],
            description:
              "Load one of the kernel's own test modules and read its results: each case becomes a result of its own " +
              '(pass, fail, skip, expected-fail, unexpected-pass), with its numbers as facts and its log lines as evidence.',
            properties: {
              module: { type: 'string', enum: Object.keys(KERNEL_TESTS) },
              params: {
                type: 'object',
                description: "Module parameters (the module's own names); kharness's defaults finish in seconds under TCG.",
                additionalProperties: { type: ['integer', 'boolean'] },
              },
              cases: {
                type: 'array',
                minItems: 1,
                items: { type: 'string' },
                description: 'Only these cases (run only them when the module can select cases, else report only them).',
              },
              timeout: {
                type: 'integer',
                minimum: 1,
                maximum: 3600,
                description: 'Seconds the load may take (default: the step timeout).',
              },
            },
          },
          module_load: {
            type: 'object',
            additionalProperties: false,
            description:
              "Load the user's module (kharness run --module DIR, or the scenario's `module:`), built for the target, with its " +
              "parameters. Facts: ok, rc, output (insmod's), text_addr, vmalloc_caller. Kernel reports between its markers are its own.",
            properties: { params: moduleParamsSchema, timeout: seconds },
          },
          module_exec: {
            description: 'A shell command in the guest that exercises the loaded module; its exit code (rc, ok) and output are facts.',
            oneOf: [
              { type: 'string', minLength: 1 },
              {
                type: 'object',
                additionalProperties: false,
                required: ['command'],
                properties: { command: { type: 'string', minLength: 1 }, timeout: seconds },
              },
            ],
          },
          module_unload: {
            description:
              'Unload the module (rmmod). Facts: ok, rc, and the memory it did not give back since its load (mem_available_delta, …).',
            oneOf: [
              { type: 'boolean', const: true },
              { type: 'object', additionalProperties: false, properties: { timeout: seconds } },
            ],
          },
          module_cycles: {
            type: 'object',
            additionalProperties: false,
            required: ['count'],
            description: 'Load, run each exec command, unload: count times, each phase a result of its own.',
            properties: {
              count: { type: 'integer', minimum: 1, maximum: 100 },
              params: moduleParamsSchema,
              exec: {
                oneOf: [
                  { type: 'string', minLength: 1 },
                  { type: 'array', items: { type: 'string', minLength: 1 } },
                ],
              },
              timeout: seconds,
            },
          },
          sweep: {
            type: 'object',
            additionalProperties: false,
            required: ['size'],
            description:
              'Run the step once per size: a list, or from..to multiplying by factor (default 2). `size` in expectations is the current one.',
            properties: {
              size: {
                oneOf: [
                  { type: 'array', minItems: 1, items: sizeValue },
                  {
                    type: 'object',
                    additionalProperties: false,
                    required: ['from', 'to'],
                    properties: { from: sizeValue, to: sizeValue, factor: { type: 'integer', minimum: 2 } },
                  },
                ],
              },
            },
          },
          inject: {
            type: 'object',
            additionalProperties: false,
            required: ['nth'],
            description:
              "Fail the step's Nth allocation (fault injection, fail-nth): armed only for the task that runs the step, " +
              'proven by reading fail-nth back, reset after. Facts: injected, injections, inject_kind, inject_site. ' +
              'Needs a kernel with FAULT_INJECTION (kernels/config/fault-injection.config); elsewhere the step is skipped.',
            properties: {
              nth: { type: 'integer', minimum: 1, maximum: INJECT_NTH_MAX, description: 'Which allocation fails: 1 is the first.' },
              kind: {
                type: 'string',
                enum: [...INJECT_KINDS],
                description: 'Count only slab objects (failslab), only page-allocator pages (fail_page_alloc), or both (any, the default).',
              },
            },
          },
          expect: {
            description: 'One block, or a list of blocks each applied when its `when` condition holds (e.g. "size <= KMALLOC_MAX_SIZE").',
            oneOf: [EXPECT, { type: 'array', minItems: 1, items: EXPECT }],
          },
        },
      },
    },
  },
} as const;
