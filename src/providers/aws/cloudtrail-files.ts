import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Logger } from '../../log/logger.ts';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { ProviderActivitySource, ProviderRequest } from '../kind.ts';
import { shapeOf } from './cloudtrail-shape.ts';
import { accountOfPath, requestsOf } from './cloudtrail.ts';

const unzip = promisify(gunzip);

/*
 * CloudTrail delivers a file per account and region about every 5 minutes,
 * gzipped, typically well under 10 MiB unpacked (a record is some 1.2 KiB, with
 * 5 to 15 objects and arrays and a few dozen members). The limits below are
 * several times that and keep one file's parse (the text, then what JSON.parse
 * builds: about 60 bytes per object or array, 8 per other value) near 250 MiB at
 * worst, inside the operator's memory limit (512 MiB by default): a file past
 * them is refused before it is parsed, not read in the hope it fits.
 */
/** Packed (or plain JSON) size of a file. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
/** Unpacked text: gunzip stops here (a gzip bomb). */
export const MAX_TEXT_BYTES = 64 * 1024 * 1024;
/** Records in one file. */
export const MAX_RECORDS = 200_000;
/** Objects and arrays in one file: 64 MiB of `{},` would be 22 million. */
export const MAX_CONTAINERS = 1_000_000;
/** Values of any kind in one file. */
export const MAX_VALUES = 4_000_000;
/** A file that cannot be read this many times (torn, foreign) is given up on. */
const MAX_ATTEMPTS = 3;

/** Why a file was left unread. */
export type SkipReason = 'layout' | 'size' | 'records' | 'unreadable';

/** A file refused for good, without retrying. */
class Refused extends Error {
  readonly reason: SkipReason;
  constructor(reason: SkipReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The text of a gzipped file, refused past {@link MAX_TEXT_BYTES}. */
async function unpack(packed: Buffer): Promise<Buffer> {
  try {
    return await unzip(packed, { maxOutputLength: MAX_TEXT_BYTES });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new Refused('size', `unpacks to more than ${MAX_TEXT_BYTES} bytes`);
    throw err;
  }
}

/**
 * Follows CloudTrail log files as CloudTrail delivers them to S3
 * (`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`), in a directory the
 * bucket is synced or mounted to. Like `tail -F` for a directory: files there at
 * start are taken as read, and each file that appears afterwards is read once.
 * Only files at CloudTrail's own paths are read, each for the account its path
 * names; any other file is counted in `skipped`, logged once and left alone.
 * Digest files are skipped: their signatures are not checked, so the directory
 * must be writable by the delivery (the sync job) alone.
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
  /** Files left unread, by reason, and records refused as logged for another account than their file's. */
  readonly skipped: Record<SkipReason | 'foreignRecords', number> = {
    layout: 0,
    size: 0,
    records: 0,
    unreadable: 0,
    foreignRecords: 0,
  };
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
        const tries = err instanceof Refused ? MAX_ATTEMPTS : (this.failures.get(name) ?? 0) + 1;
        this.failures.set(name, tries);
        if (tries >= MAX_ATTEMPTS) {
          const reason = err instanceof Refused ? err.reason : 'unreadable';
          this.skipped[reason]++;
          this.o.log.warn('skipping a file that is not a CloudTrail log', {
            file: name,
            reason,
            err: err instanceof Refused ? err.message : err,
          });
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
    const account = accountOfPath(relative(this.o.dir, path).split(sep).join('/'));
    if (account === undefined)
      throw new Refused('layout', 'not at AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/');
    const st = await stat(path);
    if (st.size > MAX_FILE_BYTES)
      throw new Refused('size', `${st.size} bytes, more than ${MAX_FILE_BYTES}`);
    // Not kept once unpacked: the packed bytes need not outlive gunzip.
    const text = name.endsWith('.gz') ? await unpack(await readFile(path)) : await readFile(path);
    const caps = { records: MAX_RECORDS, containers: MAX_CONTAINERS, values: MAX_VALUES };
    const shape = shapeOf(text, caps);
    if (shape.records > caps.records)
      throw new Refused('records', `more than ${caps.records} records`);
    if (shape.containers > caps.containers)
      throw new Refused('records', `more than ${caps.containers} JSON objects and arrays`);
    if (shape.values > caps.values)
      throw new Refused('records', `more than ${caps.values} JSON values`);
    const stats = { foreign: 0 };
    const requests = requestsOf(JSON.parse(text.toString('utf8')), account, stats);
    if (stats.foreign) {
      this.skipped.foreignRecords += stats.foreign;
      this.o.log.warn('CloudTrail records logged for another account than their file’s; ignored', {
        file: name,
        account,
        records: stats.foreign,
      });
    }
    return requests;
  }
}
