import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config.ts';

/**
 * Where request bodies are staged before they reach the database: under the data directory in
 * embedded mode (emptied at start; nothing else uses it), else the system's temporary directory.
 */
export function spoolDir(config: Config): string {
  return config.databaseUrl ? tmpdir() : join(config.dataDir, 'tmp');
}

/** Empties the embedded spool directory at start: what a crash between a spool's open and its unlink left. */
export async function clearSpoolDir(config: Config): Promise<void> {
  if (!config.databaseUrl) await rm(spoolDir(config), { recursive: true, force: true });
}

export interface Spool {
  write(text: string): Promise<void>;
  /** Everything written, from the start. */
  read(): Readable;
  close(): Promise<void>;
}

/**
 * A temporary file of its own, removed from its directory as soon as it is open: it lives while
 * it is open, and a process that dies, however it dies, leaves nothing behind.
 */
export async function openSpool(config: Config): Promise<Spool> {
  const dir = spoolDir(config);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `refinery-${randomBytes(8).toString('hex')}.spool`);
  const file = await open(path, 'w+', 0o600);
  await unlink(path).catch(async (err) => {
    await file.close();
    throw err;
  });
  return {
    async write(text) {
      await file.write(text);
    },
    read: () => file.createReadStream({ start: 0, autoClose: false }),
    close: () => file.close(),
  };
}
