/**
 * Every shell command in README.md and docs/*.md runs as written: each line of a ```sh, ```bash,
 * ```shell or ```console block is checked against what it invokes. A `projector` (or
 * `node dist/cli/main.js`) command must exist and know every `--option` the line uses; an
 * `npm run` script must exist in package.json (and, where it runs `projector`, know the options
 * passed after `--`); a `bash scripts/….sh` line must name a subcommand the script has. Programs
 * that cannot be run here are listed in UNCHECKED with the reason; any other program fails the test,
 * so the docs cannot drift into commands nobody can run.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runProjector } from '../support/processes.js';
import { DOCS, ROOT } from '../support/docs.js';

const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
const CLI_PATH = 'dist/cli/main.js';

/** Programs the docs may name that this test cannot run, and why. */
const UNCHECKED: Readonly<Record<string, string>> = {
  kubectl:
    'needs a Kubernetes cluster; test/int/helm.int.test.ts renders and validates the chart (a `-- node dist/cli/main.js …` tail is checked as a projector command)',
  helm: 'no helm binary on the development machines; scripts/helm.sh runs Helm’s library on the chart in test/int/helm.int.test.ts',
  docker:
    'no Docker engine on the development machines; docker-compose.yml uses the image the Dockerfile builds',
  psql: 'an operator’s session against their own database',
};

const SHELL_FENCES = new Set(['sh', 'bash', 'shell', 'console']);

interface DocLine {
  readonly where: string;
  readonly line: string;
}

/** The command lines of a Markdown file's shell blocks (prompt stripped, `\` continuations joined). */
function commandLines(file: string): DocLine[] {
  const lines = read(file).split('\n');
  const found: DocLine[] = [];
  let fence: string | undefined;
  let pending: { start: number; text: string } | undefined;
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const open = /^```(\w*)/.exec(line);
    if (fence === undefined) {
      if (open) fence = open[1] ?? '';
      return;
    }
    if (line === '```') {
      fence = undefined;
      return;
    }
    if (!SHELL_FENCES.has(fence)) return;
    let text = line;
    if (pending === undefined) {
      if (fence === 'console') {
        if (!text.startsWith('$ ')) return; // output
        text = text.slice(2);
      } else if (text.startsWith('$ ')) text = text.slice(2);
      if (text === '' || text.startsWith('#')) return;
    }
    const joined = pending ? `${pending.text} ${text}` : text;
    const start = pending?.start ?? index + 1;
    if (joined.endsWith('\\')) pending = { start, text: joined.slice(0, -1).trimEnd() };
    else {
      pending = undefined;
      found.push({ where: `${file}:${start}`, line: joined });
    }
  });
  return found;
}

const LINES = DOCS.flatMap(commandLines);

interface Parsed {
  /** Simple commands: the words between `&&`, `||`, `|` and `;`. */
  readonly commands: string[][];
  /** The text of every `$( … )`, each a command line of its own. */
  readonly substitutions: string[];
}

/** Enough of a shell's word splitting for documentation: quotes, `$( … )`, operators, comments. */
function parse(line: string): Parsed {
  const commands: string[][] = [[]];
  const substitutions: string[] = [];
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) commands.at(-1)!.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      if (close < 0) throw new Error(`unclosed ${c} in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, close);
      i = close;
    } else if (c === '$' && line[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j += 1) {
        if (line[j] === '(') depth += 1;
        if (line[j] === ')' && --depth === 0) break;
      }
      substitutions.push(line.slice(i + 2, j));
      word = (word ?? '') + line.slice(i, j + 1);
      i = j;
    } else if (c === '<' || c === '>') {
      end();
      const redirect = /^[<>]+(?:&\d+)?/.exec(line.slice(i))![0];
      commands.at(-1)!.push(redirect);
      i += redirect.length - 1;
    } else if (/\s/.test(c)) end();
    else if (c === '#' && word === undefined) break;
    else if (c === '&' || c === '|' || c === ';') {
      end();
      if (line[i + 1] === c) i += 1;
      commands.push([]);
    } else word = (word ?? '') + c;
  }
  end();
  return { commands: commands.filter((c) => c.length > 0), substitutions };
}

const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string> };

/** Options a `projector` invocation uses, and its subcommand (undefined: the overview). */
interface CliUse {
  readonly args: readonly string[];
}

/** The case labels of a script's `case "${1:-}" in` block: its subcommands. */
function subcommandsOf(script: string): string[] | undefined {
  const text = read(script);
  const start = text.search(/^case "\$\{1:-\}" in/m);
  if (start < 0) return undefined;
  const block = text.slice(start, text.indexOf('\nesac', start));
  return [...block.matchAll(/^\s*([a-z][a-z|-]*)\)/gm)].flatMap((m) => m[1]!.split('|'));
}

/** What an npm script runs of `projector`: the subcommand its extra arguments go to, if any. */
function cliOfScript(script: string): { sub: string | undefined } | undefined {
  const inline = new RegExp(`${CLI_PATH.replace(/\./g, '\\.')}(?:\\s+([a-z]+))?\\s*$`).exec(script);
  if (inline) return { sub: inline[1] };
  const file = /^bash (scripts\/\S+\.sh)$/.exec(script)?.[1];
  if (file && existsSync(path.join(ROOT, file))) {
    const exec = new RegExp(`${CLI_PATH.replace(/\./g, '\\.')}\\s+([a-z]+)\\s+"\\$@"`).exec(read(file));
    if (exec) return { sub: exec[1] };
  }
  return undefined;
}

/**
 * The problems of one simple command (empty when it checks out). `projector` invocations are not
 * run here but collected into `cli`, since they need a process each.
 */
function checkCommand(words: readonly string[], cli: CliUse[], unchecked: string[]): string[] {
  const rest = [...words];
  while (rest.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0]!)) rest.shift();
  // Redirections and their targets are the shell's business.
  const args: string[] = [];
  for (let i = 0; i < rest.length; i += 1) {
    const word = rest[i]!;
    if (/^[<>]+$/.test(word)) i += 1;
    else if (!/^[<>]/.test(word)) args.push(word);
  }
  const [program, ...tail] = args;
  if (program === undefined) return [];
  if (program === 'export') {
    const bad = tail.filter((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
    return bad.length === 0 ? [] : [`export of something that is not NAME=value: ${bad.join(' ')}`];
  }
  if (program === 'projector') {
    cli.push({ args: tail });
    return [];
  }
  if (program === 'node' && tail[0] === CLI_PATH) {
    cli.push({ args: tail.slice(1) });
    return [];
  }
  if (program === 'npm') return checkNpm(tail, cli, unchecked);
  if (program === 'bash') return checkScript(tail, cli, unchecked);
  if (program in UNCHECKED) {
    unchecked.push(program);
    const dashDash = tail.indexOf('--');
    if (program === 'kubectl' && dashDash >= 0) return checkCommand(tail.slice(dashDash + 1), cli, unchecked);
    return [];
  }
  return [`unrecognised command "${program}": make it checkable here, or list it in UNCHECKED with a reason`];
}

function checkNpm(args: readonly string[], cli: CliUse[], unchecked: string[]): string[] {
  const [verb, ...rest] = args;
  if (verb === 'ci')
    return existsSync(path.join(ROOT, 'package-lock.json')) ? [] : ['npm ci without package-lock.json'];
  if (verb === 'test') return 'test' in packageJson.scripts ? [] : ['package.json has no "test" script'];
  if (verb !== 'run') return [`npm ${verb ?? ''}: not a command these docs use`];
  const flagsEnd = rest.findIndex((w) => !w.startsWith('-'));
  const name = rest[flagsEnd];
  if (name === undefined) return ['npm run without a script name'];
  const script = packageJson.scripts[name];
  if (script === undefined) return [`package.json has no "${name}" script`];
  const dashDash = rest.indexOf('--');
  const extra = dashDash >= 0 ? rest.slice(dashDash + 1) : [];
  const target = cliOfScript(script);
  if (target) {
    cli.push({ args: target.sub === undefined ? extra : [target.sub, ...extra] });
    return [];
  }
  // A script that is one script invocation (`bash scripts/stack.sh up`) is checked as one.
  const single = parse(script);
  if (single.commands.length === 1 && single.commands[0]![0] === 'bash' && extra.length === 0) {
    return checkCommand(single.commands[0]!, cli, unchecked).map((p) => `npm run ${name}: ${p}`);
  }
  return [];
}

function checkScript(args: readonly string[], cli: CliUse[], unchecked: string[]): string[] {
  const [file, sub, ...rest] = args;
  if (file === undefined) return ['bash without a script'];
  if (!existsSync(path.join(ROOT, file))) return [`no script ${file}`];
  if (file === 'scripts/with-node.sh') {
    if (sub === undefined || !/^\d+$/.test(sub))
      return [`${file} takes a Node.js major first, not "${sub ?? ''}"`];
    return checkCommand(rest, cli, unchecked);
  }
  const subcommands = subcommandsOf(file);
  if (subcommands === undefined) return [];
  if (sub === undefined) return [`${file} needs a subcommand: ${subcommands.join(', ')}`];
  return subcommands.includes(sub) ? [] : [`${file} has no subcommand "${sub}" (${subcommands.join(', ')})`];
}

/** `projector <sub> --help` (or the overview), once per subcommand. */
const helps = new Map<string, Promise<{ code: number | null; text: string }>>();
function helpOf(sub: string | undefined): Promise<{ code: number | null; text: string }> {
  const key = sub ?? '';
  let help = helps.get(key);
  if (!help) {
    help = runProjector(sub === undefined ? ['--help'] : [sub, '--help']).then((run) => ({
      code: run.code,
      text: run.stdout + run.stderr,
    }));
    helps.set(key, help);
  }
  return help;
}

async function checkCli(use: CliUse): Promise<string[]> {
  const [first, ...rest] = use.args;
  if (first === '--version' || first === '--help') {
    const run = await runProjector([first]);
    return run.code === 0 ? [] : [`projector ${first} exited ${run.code}`];
  }
  const overview = await helpOf(undefined);
  const commands = [...overview.text.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
  if (first === undefined || first.startsWith('-') || !commands.includes(first)) {
    return [`"${first ?? ''}" is not a projector command (${commands.join(', ')})`];
  }
  const help = await helpOf(first);
  const problems: string[] = [];
  if (help.code !== 0) problems.push(`projector ${first} --help exited ${help.code}`);
  for (const option of rest.filter((a) => a.startsWith('--'))) {
    const name = option.split('=')[0]!;
    if (name !== '--help' && !new RegExp(`${name}(?![\\w-])`).test(help.text)) {
      problems.push(`projector ${first} has no option ${name}`);
    }
  }
  // A command with actions (`dlq list`, `dlq replay`) names them in its usage lines.
  const actions = [...help.text.matchAll(new RegExp(`^projector ${first} ([a-z]+)`, 'gm'))].map((m) => m[1]!);
  const action = rest.find((a) => !a.startsWith('-'));
  if (actions.length > 0 && (action === undefined || !actions.includes(action))) {
    problems.push(`projector ${first} needs one of ${actions.join(', ')}, not "${action ?? ''}"`);
  }
  return problems;
}

async function check(line: string): Promise<{ problems: string[]; unchecked: string[] }> {
  const cli: CliUse[] = [];
  const unchecked: string[] = [];
  const problems: string[] = [];
  const pending = [line];
  while (pending.length > 0) {
    const { commands, substitutions } = parse(pending.pop()!);
    pending.push(...substitutions);
    for (const words of commands) problems.push(...checkCommand(words, cli, unchecked));
  }
  for (const use of cli) problems.push(...(await checkCli(use)));
  return { problems, unchecked };
}

describe('the commands in README.md and docs/', () => {
  it('finds them, the README’s two first among them', () => {
    expect(LINES.length).toBeGreaterThan(40);
    const readme = LINES.filter((l) => l.where.startsWith('README.md:')).map((l) =>
      l.line.replace(/\s+#.*$/, ''),
    );
    expect(readme.slice(0, 2)).toEqual(['npm ci && npm run demo', 'npm ci && npm run stack:up && npm test']);
  });

  it.each(LINES.map((l) => [`${l.where}  ${l.line}`, l.line] as const))('%s', async (_, line) => {
    const { problems } = await check(line);
    expect(problems).toEqual([]);
  });

  it('checks what it recognises, and can tell a bad command from a good one', async () => {
    expect((await check('projector lag --since 1h --fail-over 3')).problems).toEqual([]);
    expect((await check('projector lag --frobnicate')).problems).toEqual([
      'projector lag has no option --frobnicate',
    ]);
    expect((await check('projector dlq purge')).problems).toEqual([
      'projector dlq needs one of list, replay, not "purge"',
    ]);
    expect((await check('projector frobnicate')).problems[0]).toMatch(/not a projector command/);
    expect((await check('npm run no-such-script')).problems).toEqual([
      'package.json has no "no-such-script" script',
    ]);
    expect((await check('npm run bench -- --no-such-option')).problems).toEqual([
      'projector bench has no option --no-such-option',
    ]);
    expect((await check('bash scripts/stack.sh sideways')).problems[0]).toMatch(
      /has no subcommand "sideways"/,
    );
    expect((await check('X=$(bash scripts/citus.sh nowhere) npm test')).problems[0]).toMatch(
      /no subcommand "nowhere"/,
    );
    expect((await check('curl http://localhost:9464/metrics')).problems[0]).toMatch(
      /unrecognised command "curl"/,
    );
    const kubectl = await check('kubectl exec deploy/x -- node dist/cli/main.js lag --bogus');
    expect(kubectl).toEqual({ problems: ['projector lag has no option --bogus'], unchecked: ['kubectl'] });
  });
});
