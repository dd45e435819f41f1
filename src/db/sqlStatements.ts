/**
 * Splits a migration file into its statements. Citus forwards a DDL command on a distributed table
 * to the shards with the whole query string it arrived in, and refuses one holding several
 * commands (`cannot insert multiple commands into a prepared statement`), so migrations are sent
 * one statement per query on every platform.
 *
 * A lexer, not a parser: it knows where a `;` cannot end a statement — inside comments (`--`,
 * nested `/* *\/`), string literals ('…', E'…' with backslash escapes), quoted identifiers ("…")
 * and dollar-quoted bodies ($$…$$, $tag$…$tag$).
 */
export class SqlSplitError extends Error {
  override readonly name = 'SqlSplitError';
}

const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/**
 * The statements of `sql` without their terminating `;` and the comments before them, trimmed;
 * comment-only parts are dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = -1;
  let i = 0;
  const lineOf = (at: number) => sql.slice(0, at).split('\n').length;

  const finish = (end: number) => {
    if (start >= 0) statements.push(sql.slice(start, end).trim());
    start = -1;
  };

  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
      continue;
    }
    if (ch === '/' && next === '*') {
      i = skipBlockComment(sql, i, lineOf);
      continue;
    }
    if (ch === ';') {
      finish(i);
      i++;
      continue;
    }
    if (start < 0 && !/\s/.test(ch)) start = i;
    if (ch === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? ' ');
      i = skipQuoted(sql, i, "'", escapes, lineOf);
      continue;
    }
    if (ch === '"') {
      i = skipQuoted(sql, i, '"', false, lineOf);
      continue;
    }
    if (ch === '$' && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? ' ')) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 64))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        if (end === -1)
          throw new SqlSplitError(`dollar-quoted body ${tag} opened on line ${lineOf(i)} is never closed`);
        i = end + tag.length;
        continue;
      }
    }
    i++;
  }
  finish(sql.length);
  return statements;
}

function skipBlockComment(sql: string, from: number, lineOf: (at: number) => number): number {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  throw new SqlSplitError(`comment opened on line ${lineOf(from)} is never closed`);
}

function skipQuoted(
  sql: string,
  from: number,
  quote: string,
  backslashEscapes: boolean,
  lineOf: (at: number) => number,
): number {
  let i = from + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  throw new SqlSplitError(
    `${quote === "'" ? 'string' : 'quoted identifier'} opened on line ${lineOf(from)} is never closed`,
  );
}
