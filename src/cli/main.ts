#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionDescriptor } from 'node:util';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { timeboxClient } from '../kube/client.ts';
import { DeniedError, EXIT, PROG, UsageError, type Ctx } from './context.ts';
import {
  cobraFormat,
  complete,
  completionScript,
  type CommandTable,
  type CompletionLookup,
} from './complete.ts';
import type { CompletionSource, Verb } from './verb.ts';
import { approveVerb, denyVerb } from './verbs/decide.ts';
import { describeVerb } from './verbs/describe.ts';
import { listVerb } from './verbs/list.ts';
import { requestVerb } from './verbs/request.ts';
import { revokeVerb } from './verbs/revoke.ts';

export { EXIT } from './context.ts';

/** Every verb, in the order the help lists them (`portal` is a server of its own). */
const VERBS: Verb[] = [requestVerb, approveVerb, denyVerb, revokeVerb, listVerb, describeVerb];

/** Options every command takes. */
const COMMON: Record<string, ParseArgsOptionDescriptor> = {
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** What the common options' values complete to. */
const COMMON_VALUES: Record<string, CompletionSource> = {
  namespace: 'namespace',
  output: ['json', 'yaml'],
  kubeconfig: 'file',
  context: 'context',
};

/** Commands outside the verb table: servers and shell set-up that need no cluster. */
const OTHERS = [
  { value: 'portal', description: 'run the self-service web portal' },
  { value: 'completion', description: 'print a shell completion script (bash, zsh or fish)' },
];

const COMMANDS: CommandTable = {
  verbs: VERBS,
  common: COMMON,
  commonValues: COMMON_VALUES,
  others: OTHERS,
};

const COMPLETION_HELP = `Usage: ${PROG} completion bash|zsh|fish

Prints a script that completes verbs, options, namespaces, policies and the names
of grants (from the cluster, as you). Load it in your shell's start-up file:

  bash: source <(timebox completion bash)     (needs the bash-completion package)
  zsh:  source <(timebox completion zsh)      (after compinit)
  fish: timebox completion fish | source

As a kubectl plugin, kubectl (1.26 or later) completes \`kubectl timebox\` by itself
through the kubectl_complete-timebox command installed beside kubectl-timebox.`;

const COMMON_HELP = `Common options:
  -n, --namespace NS     namespace of the grant (default: the context's namespace, else default)
  -o, --output FORMAT    json or yaml instead of the human-readable form
  --kubeconfig FILE      kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  --context NAME         kubeconfig context
  -h, --help             help; \`${PROG} VERB --help\` for a verb's options and examples`;

const EXIT_HELP = `Exit codes: 0 success; 1 the cluster refused or failed (the message says why);
2 wrong usage; 3 the request was refused, or denied or failed (with --wait).`;

const HELP = `${PROG}: just-in-time access with Timebox

Usage:
${VERBS.map((v) => `  ${PROG} ${v.usage}`).join('\n')}
  ${PROG} portal --public-url URL --issuer URL --client-id ID   (the web portal; see portal --help)
  ${PROG} completion bash|zsh|fish                              (shell completion)

Verbs:
${[...VERBS.map((v) => [v.name, v.summary]), ...OTHERS.map((o) => [o.value, o.description])]
  .map(([name, summary]) => `  ${name!.padEnd(10)} ${summary}`)
  .join('\n')}

${COMMON_HELP}

${EXIT_HELP}`;

function verbHelp(v: Verb): string {
  return `Usage: ${PROG} ${v.usage}

${v.help}

${COMMON_HELP}

${EXIT_HELP}`;
}

const verbNamed = (name: string) => VERBS.find((v) => v.name === name || v.aliases?.includes(name));

function explain(err: unknown, ctx: Partial<Ctx>): string {
  if (err instanceof ApiException) {
    let message: string;
    try {
      message = (JSON.parse(String(err.body)) as { message?: string }).message ?? '';
    } catch {
      message = String(err.body);
    }
    if (err.code === 404 && /accessgrants/.test(message)) {
      return `${message}; list yours with: ${PROG} ls -n ${ctx.namespace ?? 'default'}`;
    }
    if (err.code === 404 && /the server could not find the requested resource/.test(message)) {
      return 'Timebox is not installed in this cluster (no timebox.dev API); install the CRDs from crds/';
    }
    return message || `the API server answered HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Edit distance, for suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

const nearest = (given: string, among: string[]) =>
  among.map((o) => [o, distance(given, o)] as const).sort((x, y) => x[1] - y[1])[0];

/**
 * parseArgs's "Unknown option" in words: an option of another verb is named as
 * such, with this verb's options; anything else gets the nearest real option.
 */
function unknownOption(message: string, verb: Verb | undefined): string {
  const given = /Unknown option '-{1,2}([^']+)'/.exec(message)?.[1];
  if (!given) return message;
  const own = [...Object.keys(COMMON), ...Object.keys(verb?.options ?? {})];
  const elsewhere = VERBS.some((v) => v !== verb && given in v.options);
  if (verb && elsewhere) {
    const takes = Object.keys(verb.options);
    return `--${given} is not an option of ${verb.name}${takes.length ? `; it takes ${takes.map((o) => `--${o}`).join(', ')}` : ''}`;
  }
  const best = nearest(given, own);
  return `unknown option --${given}${best && best[1] <= 3 ? `; did you mean --${best[0]}?` : ''}`;
}

/** Looks completions up in the cluster of the kubeconfig and context the words name. */
function completionLookup(words: string[]): CompletionLookup {
  const valueOf = (option: string) => {
    const i = words.findIndex((w) => w === `--${option}` || w.startsWith(`--${option}=`));
    return i < 0 ? undefined : words[i]!.includes('=') ? words[i]!.split('=')[1] : words[i + 1];
  };
  const kc = new KubeConfig();
  const kubeconfig = valueOf('kubeconfig');
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const context = valueOf('context');
  if (context) kc.setCurrentContext(context);
  const contextNs = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const client = timeboxClient(kc);
  // A shell waits for this: a cluster that does not answer gives nothing, soon.
  const soon = <T>(p: Promise<T>) =>
    Promise.race([
      p,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('timed out')), 3_000).unref(),
      ),
    ]);
  return {
    grants: async (ns: string) => (await soon(client.grants.list(ns || contextNs))).items,
    policies: async () =>
      (await soon(client.policies.list())).items.map((p) => p.metadata.name ?? ''),
    namespaces: async () =>
      (await soon(kc.makeApiClient(CoreV1Api).listNamespace())).items.map(
        (n) => n.metadata?.name ?? '',
      ),
    contexts: () => kc.getContexts().map((c) => c.name),
  };
}

export async function run(
  argv: string[],
  out = (s: string) => console.log(s),
  err = (s: string) => console.error(s),
  /** Where `__complete` looks names up (tests pass a fake); the cluster by default. */
  lookup?: CompletionLookup,
): Promise<number> {
  let ctx: Partial<Ctx> = {};
  // The portal is a server with options of its own (src/portal/main.ts).
  if (argv[0] === 'portal')
    return (await import('../portal/main.ts')).runPortal(argv.slice(1), out, err);
  if (argv[0] === 'completion') {
    if (argv[1] === '--help' || argv[1] === '-h') {
      out(COMPLETION_HELP);
      return EXIT.ok;
    }
    const script = completionScript(argv[1] ?? '', 'timebox');
    if (!script) {
      err(`error: completion needs a shell: bash, zsh or fish\nsee ${PROG} completion --help`);
      return EXIT.usage;
    }
    out(script.trimEnd());
    return EXIT.ok;
  }
  // The shell asking what the last word may be (cobra's protocol, as kubectl expects).
  if (argv[0] === '__complete') {
    const words = argv.slice(1);
    out(cobraFormat(await complete(words, COMMANDS, lookup ?? completionLookup(words))));
    return EXIT.ok;
  }
  // The verb is the first positional, wherever the options are (`-n payments ls`).
  const first = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: Object.assign({}, COMMON, ...VERBS.map((v) => v.options)),
  }).positionals[0];
  const verb = first === undefined ? undefined : verbNamed(first);
  try {
    if (first !== undefined && !verb) {
      const best = nearest(first, [
        ...VERBS.flatMap((v) => [v.name, ...(v.aliases ?? [])]),
        ...OTHERS.map((o) => o.value),
      ]);
      throw new UsageError(
        `unknown command '${first}'${best && best[1] <= 2 ? `; did you mean ${best[0]}?` : ''}`,
      );
    }
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...COMMON, ...(verb?.options ?? {}) },
    }) as { values: Record<string, unknown>; positionals: string[] };
    if (!verb) {
      out(HELP);
      return values.help ? EXIT.ok : EXIT.usage;
    }
    if (values.help) {
      out(verbHelp(verb));
      return EXIT.ok;
    }
    if (values.output && values.output !== 'json' && values.output !== 'yaml') {
      throw new UsageError(`-o must be json or yaml, not '${values.output}'`);
    }
    const kc = new KubeConfig();
    if (values.kubeconfig) kc.loadFromFile(values.kubeconfig as string);
    else kc.loadFromDefault();
    if (values.context) kc.setCurrentContext(values.context as string);
    if (!kc.getCurrentCluster())
      throw new UsageError('no cluster configured: set KUBECONFIG or pass --kubeconfig');
    const contextNs = kc.getContextObject(kc.getCurrentContext())?.namespace;
    ctx = {
      kc,
      client: timeboxClient(kc),
      namespace: (values.namespace as string | undefined) ?? contextNs ?? 'default',
      ...(values.output ? { output: values.output as 'json' | 'yaml' } : {}),
      out,
      err,
    };
    await verb.run(ctx as Ctx, values, positionals.slice(1));
    return EXIT.ok;
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && /option|argument/i.test(e.message))) {
      err(
        `error: ${e instanceof TypeError ? unknownOption(e.message, verb) : (e as Error).message}\nsee ${PROG} ${verb ? `${verb.name} ` : ''}--help`,
      );
      return EXIT.usage;
    }
    if (e instanceof DeniedError) {
      err(`error: ${e.message}`);
      return EXIT.denied;
    }
    err(`error: ${explain(e, ctx)}`);
    return EXIT.failure;
  }
}

/**
 * Whether this module is the script Node.js was asked to run. Compared as real
 * paths: a checkout under a symlink, or one whose path a URL must escape (a
 * space), made a plain `file://${argv[1]}` comparison fail, and every command
 * then silently did nothing and exited 0.
 */
function runDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// Run directly (`node src/cli/main.ts`); installed, bin/timebox.mjs checks the
// Node.js version first and calls run().
if (runDirectly()) {
  process.exitCode = await run(process.argv.slice(2));
}
