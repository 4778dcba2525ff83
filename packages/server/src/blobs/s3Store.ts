import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import type { BlobStore } from './store.ts';

/** Blobs in an S3-compatible store (`s3://bucket/prefix`, credentials and region from the usual AWS settings). */
export class S3BlobStore implements BlobStore {
  /** A put is an upload, and robots read the object from S3 directly. */
  readonly writesSoon = false;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(url: string, client = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL) })) {
    const parsed = new URL(url);
    this.bucket = parsed.host;
    this.prefix = parsed.pathname.replace(/^\/+|\/+$/g, '');
    this.client = client;
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, body: string | Readable | AsyncIterable<string | Uint8Array>): Promise<number> {
    if (typeof body === 'string') {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: body, ContentType: 'application/x-ndjson' }));
      return Buffer.byteLength(body);
    }
    let bytes = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          bytes += buf.length;
          yield buf;
        }
      })(),
    );
    await new Upload({ client: this.client, params: { Bucket: this.bucket, Key: this.key(key), Body: counted, ContentType: 'application/x-ndjson' } }).done();
    return bytes;
  }

  async get(key: string): Promise<Readable | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return out.Body as Readable;
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  async signedUrl(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string> {
    const command = method === 'GET' ? new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }) : new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key) });
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
  }
}
