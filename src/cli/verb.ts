import type { ParseArgsOptionDescriptor } from 'node:util';
import type { Ctx } from './context.ts';

/**
 * What a word completes to, looked up in the cluster or the kubeconfig when the
 * shell asks (`timebox __complete`): a fixed list, or one of these sources.
 */
export type CompletionSource =
  'grant' | 'pending-grant' | 'policy' | 'namespace' | 'context' | 'file' | readonly string[];

/** One verb of the CLI: its own options, help and examples, and what it does. */
export interface Verb {
  name: string;
  aliases?: string[];
  /** One line for the overview. */
  summary: string;
  /** The synopsis, after the program's name. */
  usage: string;
  /** What to know, and examples, for `<verb> --help`. */
  help: string;
  options: Record<string, ParseArgsOptionDescriptor>;
  /** What the verb's NAME argument completes to. */
  args?: CompletionSource;
  /** What an option's value completes to, by option. */
  values?: Record<string, CompletionSource>;
  run(ctx: Ctx, values: Record<string, unknown>, positionals: string[]): Promise<void>;
}
