import type { Readable } from 'node:stream';

/** Where batch files, results, reports and manifests live. Keys look like `batches/<id>/items.jsonl`. */
export interface BlobStore {
  /** Streams `body` to `key`; the blob appears whole or not at all. Returns the bytes written. */
  put(key: string, body: Readable | AsyncIterable<string | Uint8Array>): Promise<number>;
  /** A stream of the blob, or null when there is none. */
  get(key: string): Promise<Readable | null>;
  delete(key: string): Promise<void>;
  /** A URL that lets anyone holding it GET or PUT this key until it expires. */
  signedUrl(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string>;
}

/** Signed URLs live this long (SPEC: they expire; DESTINY used one hour). */
export const signedUrlSeconds = 3600;

export const blobKeys = {
  items: (batchId: string) => `batches/${batchId}/items.jsonl`,
  results: (batchId: string) => `batches/${batchId}/results.jsonl`,
  report: (batchId: string) => `batches/${batchId}/report.jsonl`,
  manifest: (requestId: string) => `requests/${requestId}/manifest.jsonl`,
};
