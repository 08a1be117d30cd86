/**
 * A parser for `WWW-Authenticate` (RFC 9110 §11.6.1, §11.2): one or more
 * challenges, each a scheme with comma-separated `name=value` parameters
 * whose quoted values may themselves hold commas and escaped quotes, e.g.
 * `Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"`.
 */

/** One challenge: a lower-cased scheme and its lower-cased parameter names. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), where used instead of params. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/** Parses a `WWW-Authenticate` value; unparseable tails are ignored. */
export function parseChallenges(header: string | null): Challenge[] {
  if (header === null) return [];
  const scanner = new Scanner(header);
  const challenges: Challenge[] = [];

  for (;;) {
    scanner.skip(/[\s,]/);
    if (scanner.done()) break;
    const scheme = scanner.token();
    if (scheme === '') break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    scanner.skip(/[ \t]/);

    const token68 = scanner.token68();
    if (token68 !== undefined) {
      challenge.token68 = token68;
      continue;
    }
    // Parameters until the next challenge (a token not followed by "=").
    for (;;) {
      const mark = scanner.pos;
      scanner.skip(/[\s,]/);
      const name = scanner.token();
      scanner.skip(/[ \t]/);
      if (name === '' || !scanner.eat('=')) {
        scanner.pos = mark;
        break;
      }
      scanner.skip(/[ \t]/);
      challenge.params[name.toLowerCase()] = scanner.value();
    }
  }

  return challenges;
}

class Scanner {
  pos = 0;
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.pos >= this.text.length;
  }

  skip(chars: RegExp): void {
    while (!this.done() && chars.test(this.text[this.pos]!)) this.pos++;
  }

  eat(char: string): boolean {
    if (this.text[this.pos] !== char) return false;
    this.pos++;
    return true;
  }

  token(): string {
    const start = this.pos;
    this.skip(TCHAR);
    return this.text.slice(start, this.pos);
  }

  /** A token68 stands alone: followed by the end or a comma, never by "=x". */
  token68(): string | undefined {
    const start = this.pos;
    this.skip(TOKEN68_CHAR);
    if (this.pos === start) return undefined;
    this.skip(/=/);
    const end = this.pos;
    this.skip(/[ \t]/);
    if (this.done() || this.text[this.pos] === ',') {
      const candidate = this.text.slice(start, end);
      // "name=" followed by a comma is an empty parameter, not a token68.
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+=$/.test(candidate)) return candidate;
    }
    this.pos = start;
    return undefined;
  }

  /** A quoted string (with backslash escapes) or a bare token. */
  value(): string {
    if (!this.eat('"')) return this.token();
    let out = '';
    while (!this.done()) {
      const char = this.text[this.pos++]!;
      if (char === '"') return out;
      if (char === '\\' && !this.done()) out += this.text[this.pos++]!;
      else out += char;
    }
    return out;
  }
}
