import type { ParseArgsOptionDescriptor } from 'node:util';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { CompletionSource, Verb } from './verb.ts';

/** Where completion looks things up: the cluster as the caller, and the kubeconfig. */
export interface CompletionLookup {
  grants(namespace: string): Promise<readonly AccessGrant[]>;
  policies(): Promise<readonly string[]>;
  namespaces(): Promise<readonly string[]>;
  contexts(): readonly string[];
}

export interface Candidate {
  value: string;
  description?: string;
}

export interface Completion {
  candidates: Candidate[];
  /** Nothing of our own: let the shell complete file names. */
  files: boolean;
}

export interface CommandTable {
  verbs: Verb[];
  /** Options every verb takes, and what their values complete to. */
  common: Record<string, ParseArgsOptionDescriptor>;
  commonValues: Record<string, CompletionSource>;
  /** Commands outside the verb table (`portal`, `completion`). */
  others: Candidate[];
}

const describeGrant = (g: AccessGrant): string =>
  [g.status?.phase ?? 'New', g.spec.subject?.name, g.spec.reason].filter(Boolean).join(' · ');

/**
 * Pure but for `lookup`: the candidates for the last of `words` (the word being
 * completed, possibly empty), given the words before it. A lookup that fails
 * (no cluster, no permission) completes to nothing rather than to an error.
 */
export async function complete(
  words: string[],
  table: CommandTable,
  lookup: CompletionLookup,
): Promise<Completion> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const optionsOf = (v: Verb | undefined) => ({ ...table.common, ...(v?.options ?? {}) });
  const find = (name: string) =>
    table.verbs.find((v) => v.name === name || v.aliases?.includes(name));

  // Walk what was typed: the verb, the namespace, and whether a value is due.
  let verb: Verb | undefined;
  let first: string | undefined;
  let namespace: string | undefined;
  let valueOf: string | undefined;
  let positionals = 0;
  for (const w of before) {
    if (valueOf) {
      if (valueOf === 'namespace') namespace = w;
      valueOf = undefined;
      continue;
    }
    const option = optionNamed(w, optionsOf(verb));
    if (option) {
      if (option.takesValue && !w.includes('=')) valueOf = option.name;
      else if (option.name === 'namespace') namespace = w.slice(w.indexOf('=') + 1);
      continue;
    }
    if (w.startsWith('-')) continue;
    if (first === undefined) {
      first = w;
      verb = find(w);
    } else positionals++;
  }
  if (first !== undefined && !verb) return { candidates: [], files: false };
  const sourceOf = (option: string) => verb?.values?.[option] ?? table.commonValues[option];

  const pick = async (source: CompletionSource | undefined, prefix = '') =>
    prefixed(await candidatesOf(source, namespace, lookup), current.slice(prefix.length), prefix);

  if (valueOf) return result(await pick(sourceOf(valueOf)), sourceOf(valueOf) === 'file');
  const inline = /^(--[^=]+)=/.exec(current);
  if (inline) {
    const option = optionNamed(inline[1]!, optionsOf(verb));
    const source = option ? sourceOf(option.name) : undefined;
    return result(await pick(source, `${inline[1]}=`), source === 'file');
  }
  if (current.startsWith('-')) {
    const names = Object.entries(optionsOf(verb)).map(([name]) => ({ value: `--${name}` }));
    return result(prefixed(names, current));
  }
  if (first === undefined) {
    const verbs = [
      ...table.verbs.map((v) => ({ value: v.name, description: v.summary })),
      ...table.others,
    ];
    return result(prefixed(verbs, current));
  }
  return result(positionals === 0 ? await pick(verb?.args) : []);
}

function result(candidates: Candidate[], files = false): Completion {
  return { candidates, files };
}

function prefixed(all: Candidate[], typed: string, prefix = ''): Candidate[] {
  return all
    .filter((c) => c.value.startsWith(typed))
    .map((c) => ({ ...c, value: prefix + c.value }));
}

/** The option a word names (`-n`, `--namespace`, `--namespace=x`), if any. */
function optionNamed(
  word: string,
  options: Record<string, ParseArgsOptionDescriptor>,
): { name: string; takesValue: boolean } | undefined {
  const long = /^--([^=]+)/.exec(word)?.[1];
  const short = /^-([^-])$/.exec(word)?.[1];
  const entry = Object.entries(options).find(
    ([name, o]) => name === long || (short !== undefined && o.short === short),
  );
  return entry && { name: entry[0], takesValue: entry[1].type === 'string' };
}

async function candidatesOf(
  source: CompletionSource | undefined,
  namespace: string | undefined,
  lookup: CompletionLookup,
): Promise<Candidate[]> {
  if (source === undefined || source === 'file') return [];
  if (typeof source !== 'string') return source.map((value) => ({ value }));
  try {
    switch (source) {
      case 'grant':
      case 'pending-grant': {
        const grants = await lookup.grants(namespace ?? '');
        return grants
          .filter((g) => source === 'grant' || (g.status?.phase ?? 'Pending') === 'Pending')
          .map((g) => ({ value: g.metadata.name ?? '', description: describeGrant(g) }));
      }
      case 'policy':
        return (await lookup.policies()).map((value) => ({ value }));
      case 'namespace':
        return (await lookup.namespaces()).map((value) => ({ value }));
      case 'context':
        return lookup.contexts().map((value) => ({ value }));
    }
  } catch {
    // No cluster, or not allowed to list: nothing to offer, and no noise in the shell.
    return [];
  }
}

/**
 * The answer in cobra's `__complete` format, which kubectl expects of a plugin's
 * `kubectl_complete-<name>`: one `value<TAB>description` per line, then
 * `:<directive>` (4: no file names; 0: the shell's default, file names).
 */
export function cobraFormat(c: Completion): string {
  const lines = c.candidates.map((x) =>
    x.description ? `${x.value}\t${x.description.replace(/\s+/g, ' ')}` : x.value,
  );
  return [...lines, `:${c.files ? 0 : 4}`].join('\n');
}

/** The scripts `timebox completion SHELL` prints; each asks `timebox __complete`. */
export function completionScript(shell: string, prog: string): string | undefined {
  const fn = `_${prog.replace(/[^A-Za-z0-9]/g, '_')}`;
  switch (shell) {
    case 'bash':
      return `# ${prog} completion for bash: source <(${prog} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" out line
  local -a words=("\${COMP_WORDS[@]:1:COMP_CWORD-1}")
  out=$(${prog} __complete "\${words[@]}" "$cur" 2>/dev/null) || return
  COMPREPLY=()
  while IFS= read -r line; do
    case "$line" in
      :0) compopt -o default 2>/dev/null ;;
      :*) ;;
      *) COMPREPLY+=("\${line%%$'\\t'*}") ;;
    esac
  done <<<"$out"
}
complete -F ${fn} ${prog}
`;
    case 'zsh':
      return `#compdef ${prog}
# ${prog} completion for zsh: source <(${prog} completion zsh)
${fn}() {
  local -a cands
  local line files=0
  for line in "\${(@f)$(${prog} __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null)}"; do
    case "$line" in
      :0) files=1 ;;
      :*) ;;
      *) cands+=("\${\${line%%$'\\t'*}//:/\\\\:}:\${line#*$'\\t'}") ;;
    esac
  done
  (( files )) && _files
  _describe -t values '${prog}' cands
}
compdef ${fn} ${prog}
`;
    case 'fish':
      return `# ${prog} completion for fish: ${prog} completion fish | source
complete -c ${prog} -f -a '(${prog} __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null | string match -v -r "^:")'
`;
    default:
      return undefined;
  }
}
