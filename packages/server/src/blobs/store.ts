import type { Readable } from 'node:stream';

/** Where batch files, results, reports and manifests live. Keys look like `batches/<time>/<id>.items.jsonl`. */
export interface BlobStore {
  /**
   * Streams `body` to `key` (or writes it, when it is a string: a blob that is one page, made in
   * memory already); the blob appears whole or not at all. Returns the bytes written.
   * `soon` (only where `writesSoon`): a string is written once the event loop has finished what it
   * is doing now, so that an answer naming the blob goes out first; a `get` of it waits meanwhile.
   */
  put(key: string, body: string | Readable | AsyncIterable<string | Uint8Array>, options?: { soon?: boolean }): Promise<number>;
  /**
   * True when `put` takes `soon`: the blob can be read only through this process (the embedded
   * store's own route), which can hold a read until the write is done. False for S3, whose blobs
   * robots read directly.
   */
  readonly writesSoon: boolean;
  /** A stream of the blob, or null when there is none. */
  get(key: string): Promise<Readable | null>;
  /** Whether the blob is there, without reading it (a store without it is asked with `get`: blobExists). */
  exists?(key: string): Promise<boolean>;
  /**
   * Deletes these blobs (any number: S3 takes them a thousand a call). A key with no blob is not an
   * error, so a deletion cut short is simply repeated.
   */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** A URL that lets anyone holding it GET or PUT this key until it expires. */
  signedUrl(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string>;
  /** Where the blobs are, for the start-up banner and `/readyz`. */
  readonly description: string;
  /** Resolves when a store kept elsewhere (S3) answers; rejects saying why not. */
  ping?(): Promise<void>;
  /** Lets go of connections. */
  close?(): void;
}

/** Whether `store` holds a blob at `key`. */
export async function blobExists(store: BlobStore, key: string): Promise<boolean> {
  if (store.exists) return store.exists(key);
  const blob = await store.get(key);
  blob?.destroy();
  return blob !== null;
}

/** Signed URLs live this long (SPEC: they expire; DESTINY used one hour). */
export const signedUrlSeconds = 3600;

/**
 * A batch's files sit side by side in a folder shared with the batches leased around the same
 * time: the first 8 hex digits of a UUIDv7 are the top of its millisecond timestamp, so a new
 * folder every 65.5 s. With a folder per batch every lease made one, on the dispatch path
 * (docs/internals/0006-blob-files-on-the-dispatch-path.md).
 * Manifests are kept the same way, by their request's id (a folder per request made one per
 * manifest). A manifest's key is stored with its request, so those written before stay where
 * they are.
 */
const timeFolderKey = (top: string, id: string, file: string) => `${top}/${id.slice(0, 8)}/${id}.${file}.jsonl`;
const batchKey = (batchId: string, file: string) => timeFolderKey('batches', batchId, file);

export const blobKeys = {
  items: (batchId: string) => batchKey(batchId, 'items'),
  results: (batchId: string) => batchKey(batchId, 'results'),
  report: (batchId: string) => batchKey(batchId, 'report'),
  manifest: (requestId: string) => timeFolderKey('requests', requestId, 'manifest'),
};
