/**
 * Documents read with positions: YAML (and JSON, which YAML reads too) parsed
 * with a line counter, checked against a JSON Schema, every error one line
 * naming file:line:column. Scenarios (scenario/load.ts), the kernel catalog,
 * the parity list and a bisect's state all go through here. Pure: callers read
 * the files.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { DocumentError } from '../errors.ts';
import { compileSchema } from './validators.ts';

export type Path = (string | number)[];
export interface Position {
  file: string;
  line: number;
  column: number;
}
/** Builds the error a caller's document kind throws (ScenarioError for scenarios). */
export type MakeError = (file: string, line: number, column: number, reason: string) => Error;
const documentError: MakeError = (file, line, column, reason) => new DocumentError(file, line, column, reason);

export class Located {
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
    readonly make: MakeError = documentError,
  ) {}

  /** Position of the value at `path`, or of its key when `key` is set. */
  pos(path: Path, key?: string): Position {
    let node: unknown = this.doc.getIn(path, true);
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair) node = pair.key;
    }
    // Walk up until something has a range (a missing key points at its parent).
    let p = [...path];
    while ((!node || !(node as Node).range) && p.length) {
      p = p.slice(0, -1);
      node = this.doc.getIn(p, true);
    }
    const offset = (node as Node | undefined)?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  error(path: Path, reason: string, key?: string): Error {
    const p = this.pos(path, key);
    return this.make(p.file, p.line, p.column, reason);
  }
}

/** Parses YAML (or JSON) keeping positions; the first syntax error is thrown with its line and column. */
export function parseLocated(src: string, file: string, make: MakeError = documentError): Located {
  const lines = new LineCounter();
  const doc = parseDocument(src, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const lp = lines.linePos(e.pos[0]);
    throw make(file, lp.line, lp.col, `YAML: ${e.message.split('\n')[0]!}`);
  }
  return new Located(file, doc, lines, make);
}

export function pointerToPath(pointer: string): Path {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * ajv reports every branch of a oneOf (and an if/then's "if" too); the deepest
 * error is the one a person needs. At one depth, a branch's wrong type says
 * least, and an unknown key is likelier the misspelling of a missing one.
 */
export function pickError(errors: ErrorObject[]): ErrorObject {
  const weight: Record<string, number> = { oneOf: 0, if: 0, type: 1, required: 2 };
  const rank = (e: ErrorObject) => e.instancePath.split('/').length * 10 + (weight[e.keyword] ?? 3);
  return [...errors].sort((a, b) => rank(b) - rank(a))[0]!;
}

export function describeError(e: ErrorObject): { reason: string; key?: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { reason: `unknown key "${String(p.additionalProperty)}"`, key: String(p.additionalProperty) };
    case 'required':
      return { reason: `missing required key "${String(p.missingProperty)}"` };
    case 'enum':
      return { reason: `must be one of: ${(p.allowedValues as unknown[]).join(', ')}` };
    case 'pattern':
      return { reason: `does not match the pattern ${String(p.pattern)}` };
    case 'type':
      return { reason: `must be of type ${String(p.type)}` };
    case 'minItems':
      return { reason: `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}` };
    default:
      return { reason: e.message ?? e.keyword };
  }
}

const compiled = new WeakMap<object, ValidateFunction>();

/** The schema's validator, compiled once per schema object. */
export function validatorOf(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = compileSchema(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** Throws the error of the data's first schema violation (the deepest), at its node; `withPath` prefixes the JSON path. */
export function checkSchema(data: unknown, schema: object, at: Located, withPath = false): void {
  const validate = validatorOf(schema);
  if (validate(data)) return;
  const e = pickError(validate.errors ?? []);
  const d = describeError(e);
  const path = e.instancePath || '/';
  throw at.error(pointerToPath(e.instancePath), withPath ? `${path}: ${d.reason}` : d.reason, d.key);
}

/** YAML text checked against a schema: its data, or a one-line file:line:column error. */
export function parseYamlDocument<T>(text: string, file: string, schema: object): T {
  const at = parseLocated(text, file);
  let data: unknown;
  try {
    data = at.doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new DocumentError(file, 1, 1, `YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  checkSchema(data, schema, at);
  return data as T;
}

/**
 * A JSON file checked against a schema. JSON.parse decides what is JSON; the
 * same text read as YAML gives the positions (JSON is YAML 1.2), and errors
 * name the JSON path as well.
 */
export function parseJsonDocument<T>(text: string, file: string, schema: object): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!;
    const at = /position (\d+)/.exec(msg);
    const lp = new LineCounter();
    parseDocument(text, { lineCounter: lp });
    const { line, col } = at ? lp.linePos(Number(at[1])) : { line: 1, col: 1 };
    throw new DocumentError(file, line, col, `not JSON: ${msg}`);
  }
  const validate = validatorOf(schema);
  if (validate(data)) return data as T;
  let located: Located;
  try {
    located = parseLocated(text, file);
  } catch {
    located = new Located(file, parseDocument('{}'), new LineCounter());
  }
  checkSchema(data, schema, located, true);
  return data as T;
}
