import type { ParseArgsOptionDescriptor } from 'node:util';
import type { Ctx } from './context.ts';

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
  run(ctx: Ctx, values: Record<string, unknown>, positionals: string[]): Promise<void>;
}
