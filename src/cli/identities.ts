// `--identities` of `dvpipe import` and `dvpipe extract`, read one way: a count (how many application
// users the app runs with, e.g. its DATAVERSE_CLIENT_IDS count) or a comma-separated list of them
// (managed identity client ids; emulator user names on a loopback URL).
import { InvalidArgumentError } from 'commander';

export interface IdentitiesOption {
  /** How many: the number given, or the list's length. */
  readonly count: number;
  /** The identities named, when a list was given. */
  readonly list?: readonly string[];
}

/** A client id (a GUID) or an emulator user name: letters, digits and `.`, `_`, `@`, `-`. */
const identityName = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;

const expected =
  'expected a count (a whole number from 1) or a comma-separated list of client ids ' +
  '(emulator user names on a loopback URL)';

/** Throws a message naming the option and the value; commander prints it and the CLI exits 2. */
export function parseIdentities(text: string): IdentitiesOption {
  const value = text.trim();
  if (/^\d+$/.test(value)) {
    const count = Number(value);
    if (count >= 1 && Number.isSafeInteger(count)) return { count };
    throw new InvalidArgumentError(`${expected}; got '${text}' (at least one identity)`);
  }
  const list = value.split(',').map((part) => part.trim());
  // A number in a list is a mistyped count, not a name.
  const bad = list.find((name) => !identityName.test(name) || /^[\d.]+$/.test(name));
  if (bad !== undefined) {
    const what = bad === '' ? 'an empty entry' : `'${bad}'`;
    throw new InvalidArgumentError(`${expected}; got '${text}' (${what} is neither)`);
  }
  const unique = [...new Set(list)];
  return { count: unique.length, list: unique };
}

/** Emulator users standing for `count` identities: `dvpipe-1` ... `dvpipe-<count>` (one is plain `dvpipe`). */
export function emulatorUsersFor(count: number): string[] {
  return count === 1 ? ['dvpipe'] : Array.from({ length: count }, (_, i) => `dvpipe-${i + 1}`);
}
