import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Logger } from 'pino';
import { ConfigError } from '../config.ts';
import { inLargeWrites } from './largeWrites.ts';
import type { BlobStore } from './store.ts';

export interface S3Options {
  /** An S3-compatible server's URL; its buckets are then addressed by path. Unset: AWS. */
  endpoint?: string | null;
  /** Unset: the AWS SDK's own (AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role, …). */
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The time signed URLs are signed at. */
  now?: () => Date;
}

/** Keys one DeleteObjects call takes at most (S3's limit). */
const keysPerDelete = 1000;

/** The start-up check's S3 calls, each given this long. */
const checkMs = 20_000;
/** `/readyz`'s call. */
const pingMs = 5_000;

type S3Failure = { name?: string; message?: string; code?: string; errors?: Array<{ message?: string }>; $metadata?: { httpStatusCode?: number } };

/** The store did not answer (no HTTP answer at all), rather than answered no. */
function unanswered(err: unknown): boolean {
  const e = err as S3Failure;
  return e.$metadata?.httpStatusCode === undefined && (e.code !== undefined || e.errors !== undefined || e.name === 'TimeoutError' || e.name === 'AbortError');
}

/** Why an S3 call failed, in a few words: the network's error, or S3's answer and its status. */
function whyFailed(err: unknown): string {
  const e = err as S3Failure;
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no answer in time';
    return e.message || e.errors?.map((x) => x.message).join('; ') || String(err);
  }
  // An answer without a body (HEAD) has only its status; the SDK calls it "UnknownError".
  const said = e.message && e.message !== 'UnknownError' ? `${e.name}: ${e.message}` : e.name !== 'Unknown' ? e.name : null;
  return said ? `${said} (HTTP ${status})` : `HTTP ${status}`;
}

const refusedCredentials = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'AuthorizationHeaderMalformed', 'InvalidClientTokenId']);

/**
 * Blobs in an S3-compatible store (`s3://bucket/prefix`). What Refinery writes asks for SSE-S3
 * (`ServerSideEncryption: AES256`); the presigned PUT URLs robots upload results to do not, for
 * S3 would then refuse an upload without that header: those objects rely on the bucket's default
 * encryption, which AWS applies to every new object (docs/encryption.md).
 */
export class S3BlobStore implements BlobStore {
  /** A put is an upload, and robots read the object from S3 directly. */
  readonly writesSoon = false;
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly now: () => Date;
  /** The start-up check's object, written and deleted; `ping` looks for it, finding it missing. */
  private readonly checkKey = `refinery-check/${randomUUID()}`;

  constructor(url: string, options: S3Options = {}) {
    const parsed = new URL(url);
    this.bucket = parsed.host;
    this.prefix = parsed.pathname.replace(/^\/+|\/+$/g, '');
    this.now = options.now ?? (() => new Date());
    this.description = `S3 ${url}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.client = new S3Client({
      endpoint: options.endpoint ?? undefined,
      forcePathStyle: Boolean(options.endpoint),
      region: options.region,
      credentials: options.credentials,
      // Otherwise a presigned PUT URL carries the checksum of an empty body, and S3 refuses the robot's upload.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5_000 },
    });
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private where(key: string): string {
    return `s3://${this.bucket}/${this.key(key)}`;
  }

  async put(key: string, body: string | Readable | AsyncIterable<string | Uint8Array>): Promise<number> {
    if (typeof body === 'string') {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: body, ContentType: 'application/x-ndjson', ServerSideEncryption: 'AES256' }));
      return Buffer.byteLength(body);
    }
    let bytes = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of inLargeWrites(body)) {
          bytes += chunk.length;
          yield chunk;
        }
      })(),
    );
    await new Upload({ client: this.client, params: { Bucket: this.bucket, Key: this.key(key), Body: counted, ContentType: 'application/x-ndjson', ServerSideEncryption: 'AES256' } }).done();
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

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += keysPerDelete) {
      const objects = keys.slice(i, i + keysPerDelete).map((key) => ({ Key: this.key(key) }));
      // Quiet: the answer lists only the keys S3 could not delete (a key with no object is deleted).
      const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } }));
      const failed = out.Errors ?? [];
      if (failed.length > 0) {
        const [first] = failed;
        throw new Error(`S3 could not delete ${failed.length} of ${objects.length} objects, s3://${this.bucket}/${first.Key} first: ${first.Code}: ${first.Message}`);
      }
    }
  }

  async signedUrl(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string> {
    const command = method === 'GET' ? new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }) : new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key) });
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds, signingDate: this.now() });
  }

  /**
   * The start-up check: credentials and region are there, and the store writes, reads and
   * deletes a test object, and then calls it missing (404, not 403: the credentials may list the
   * bucket, so a blob not there yet reads as missing). Throws a ConfigError of one line.
   */
  async check(): Promise<void> {
    const missing = [];
    const credentials = await this.client.config.credentials().then(() => null, (err: Error) => err);
    if (credentials) missing.push('no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)');
    const region = await this.client.config.region().then(() => null, (err: Error) => err);
    if (region) missing.push('no AWS region (set AWS_REGION; for an S3-compatible server, the region it expects, often us-east-1)');
    if (missing.length) throw new ConfigError(`REFINERY_BLOB_URL is ${this.description} but there are ${missing.join(' and ')}`, { cause: credentials ?? region });

    const body = `Refinery's start-up check; deleted at once\n`;
    const step = async (doing: string, call: () => Promise<unknown>) => {
      try {
        await call();
      } catch (err) {
        const name = (err as S3Failure).name ?? '';
        const why = whyFailed(err);
        let message: string;
        if (unanswered(err)) message = `the S3 store ${this.description} does not answer: ${why}`;
        else if (name === 'NoSuchBucket') message = `the S3 bucket "${this.bucket}" does not exist (${this.description})`;
        else if (refusedCredentials.has(name)) message = `S3 refuses the AWS credentials (${this.description}): ${why}`;
        else message = `S3 could not ${doing} ${this.where(this.checkKey)}: ${why}; Refinery needs s3:PutObject, s3:GetObject and s3:DeleteObject under the prefix and s3:ListBucket on the bucket`;
        throw new ConfigError(message, { cause: err });
      }
    };
    const object = { Bucket: this.bucket, Key: this.key(this.checkKey) };
    const signal = () => ({ abortSignal: AbortSignal.timeout(checkMs) });
    await step('write', () => this.client.send(new PutObjectCommand({ ...object, Body: body }), signal()));
    await step('read', async () => {
      const read = await this.client.send(new GetObjectCommand(object), signal());
      const text = await read.Body!.transformToString();
      if (text !== body) throw new Error(`it gave back ${JSON.stringify(text.slice(0, 80))}, not what was written`);
    });
    await step('delete', () => this.client.send(new DeleteObjectCommand(object), signal()));
    const gone = await this.client.send(new HeadObjectCommand(object), signal()).then(
      () => 'it is still there',
      (err: S3Failure) => (err.$metadata?.httpStatusCode === 404 ? null : whyFailed(err)),
    );
    if (gone) throw new ConfigError(`S3 does not call a deleted object missing (${this.where(this.checkKey)}: ${gone}); Refinery needs s3:ListBucket on the bucket, so that a blob not there yet reads as missing`);
  }

  /** The store answers, with these credentials: the check's object, deleted at start, reads as missing. */
  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(this.checkKey) }), { abortSignal: AbortSignal.timeout(pingMs) });
    } catch (err) {
      if ((err as S3Failure).$metadata?.httpStatusCode === 404) return;
      throw new Error(whyFailed(err), { cause: err });
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/**
 * The S3 store of the configuration, checked (`check`): a wrong setting stops the start with one
 * line. On Node.js before 22 the AWS SDK would print a warning of nine lines at its first client
 * (before that line, too); it is logged as one line instead, once the store is known to work.
 */
export async function openS3BlobStore(blobUrl: string, endpoint: string | null, log: Logger): Promise<S3BlobStore> {
  const oldNode = Number(process.versions.node.split('.')[0]) < 22 && process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined;
  if (oldNode) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const store = new S3BlobStore(blobUrl, { endpoint });
  try {
    await store.check();
  } catch (err) {
    store.close();
    throw err;
  }
  if (oldNode) log.warn({ node: process.version }, 'the AWS SDK versions published after the first week of January 2027 need Node.js 22 or later');
  return store;
}
