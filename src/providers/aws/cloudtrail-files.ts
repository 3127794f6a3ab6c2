import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Logger } from '../../log/logger.ts';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { ProviderActivitySource, ProviderRequest } from '../kind.ts';
import { accountOfPath, requestsOf } from './cloudtrail.ts';

const unzip = promisify(gunzip);

/** CloudTrail delivers files of a few MiB; anything far larger is not one. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Nor does one unpack to more than this (a gzip bomb). */
const MAX_TEXT_BYTES = 512 * 1024 * 1024;
/** A file that cannot be read this many times (torn, foreign) is given up on. */
const MAX_ATTEMPTS = 3;

/**
 * Follows CloudTrail log files as CloudTrail delivers them to S3
 * (`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`), in a directory the
 * bucket is synced or mounted to. Like `tail -F` for a directory: files there at
 * start are taken as read, and each file that appears afterwards is read once.
 * Digest files are skipped.
 */
export class CloudTrailFiles implements ProviderActivitySource {
  readonly name = 'cloudtrail-files';
  private readonly o: {
    dir: string;
    clock: Clock;
    log: Logger;
    sink: (requests: ProviderRequest[]) => void;
    pollMs?: number;
    /** Read the files already there too (tests, a first run over recorded files). */
    fromStart?: boolean;
  };
  /** The files of the last listing that are done with: bounded by what the directory holds. */
  private known = new Set<string>();
  private readonly failures = new Map<string, number>();
  private timer: Timer | undefined;
  private stopped = false;

  constructor(o: CloudTrailFiles['o']) {
    this.o = o;
  }

  async start(): Promise<void> {
    if (!this.o.fromStart) this.known = new Set(await this.list());
    this.schedule();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    return Promise.resolve();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.after(this.o.pollMs ?? 60_000, () => {
      void this.poll()
        .catch((err: unknown) =>
          this.o.log.warn('reading CloudTrail files failed; retrying', { err }),
        )
        .finally(() => this.schedule());
    });
  }

  private async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.o.dir, { recursive: true });
    } catch {
      return []; // not there yet (a sync that has not run): the next poll looks again
    }
    return names
      .filter((n) => /\.json(\.gz)?$/.test(n) && !n.split(sep).includes('CloudTrail-Digest'))
      .sort();
  }

  /** Reads the files that appeared since the last poll; exposed for tests. Returns how many requests. */
  async poll(): Promise<number> {
    const listed = await this.list();
    const next = new Set<string>();
    let n = 0;
    for (const name of listed) {
      if (this.stopped) break;
      if (this.known.has(name)) {
        next.add(name);
        continue;
      }
      try {
        const requests = await this.read(name);
        n += requests.length;
        if (requests.length) this.o.sink(requests);
        next.add(name);
        this.failures.delete(name);
      } catch (err) {
        const tries = (this.failures.get(name) ?? 0) + 1;
        this.failures.set(name, tries);
        if (tries >= MAX_ATTEMPTS) {
          this.o.log.warn('skipping a file that is not a CloudTrail log', { file: name, err });
          next.add(name);
          this.failures.delete(name);
        }
      }
    }
    this.known = next;
    return n;
  }

  private async read(name: string): Promise<ProviderRequest[]> {
    const path = join(this.o.dir, name);
    const st = await stat(path);
    if (st.size > MAX_FILE_BYTES) throw new Error(`${st.size} bytes: too large`);
    const raw = await readFile(path);
    const text = (
      name.endsWith('.gz') ? await unzip(raw, { maxOutputLength: MAX_TEXT_BYTES }) : raw
    ).toString('utf8');
    const rel = relative(this.o.dir, path).split(sep).join('/');
    return requestsOf(JSON.parse(text), accountOfPath(rel));
  }
}
