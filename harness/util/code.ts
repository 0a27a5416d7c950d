/**
 * What identifies the running program's code: a hash of the compiled files'
 * hashes, set by bin/kharness.js through main(). Absent (tests run the
 * sources), results of code such as a parsed scenario are not cached, since
 * nothing would tell an edited parser's output from the old one's.
 */
let code: string | undefined;

export function setCodeIdentity(id: string | undefined): void {
  code = id;
}

export function codeIdentity(): string | undefined {
  return code;
}
