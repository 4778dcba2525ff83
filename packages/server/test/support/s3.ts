import { createRequire } from 'node:module';
import type S3rverClass from '@20minutes/s3rver';
import { S3BlobStore, type S3Options } from '../../src/blobs/s3Store.ts';
import { tempDir } from './backends.ts';

// The AWS SDK's nine-line warning about Node.js 20 once per test file is noise here (Refinery logs it as one line).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * s3rver checks the signature of a request to a bucket itself (DeleteObjects: `POST /bucket/?delete`)
 * against the path without its last slash, where the AWS SDK signs the path it sends, so it
 * refuses every such request. Its authentication is wrapped, before s3rver is loaded, to check
 * those against the path as sent (its virtual-host branch builds `/` + bucket + mount path); every
 * other request is checked as before.
 */
function loadS3rver(): typeof S3rverClass {
  const require = createRequire(import.meta.url);
  const authentication = require.resolve('@20minutes/s3rver/lib/middleware/authentication.js');
  type Middleware = (ctx: { path: string; params: { bucket?: string; key?: string }; state: { vhost?: boolean }; mountPath?: string }, next: () => Promise<unknown>) => Promise<unknown>;
  const original = require(authentication) as () => Middleware;
  require.cache[authentication]!.exports = () => {
    const check = original();
    return (ctx: Parameters<Middleware>[0], next: () => Promise<unknown>) => {
      if (!ctx.params.bucket || ctx.params.key || ctx.path !== `/${ctx.params.bucket}/`) return check(ctx, next);
      const { vhost } = ctx.state;
      const { mountPath } = ctx;
      ctx.state.vhost = true;
      ctx.mountPath = '/';
      return check(ctx, () => {
        ctx.state.vhost = vhost;
        ctx.mountPath = mountPath;
        return next();
      });
    };
  };
  return require('@20minutes/s3rver') as typeof S3rverClass;
}
const S3rver = loadS3rver();

/** The keys s3rver accepts: any other is refused, as AWS would refuse it. */
export const localS3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** The settings a `refinery serve` process needs to use this server, the bucket under `prefix`. */
  env(prefix: string): Record<string, string>;
  /** An S3 store on this server, under `prefix`. */
  store(prefix: string, options?: Pick<S3Options, 'now'>): S3BlobStore;
  stop(): Promise<void>;
}

/**
 * A local S3-speaking server (s3rver, in this process) on a free loopback port, with one bucket,
 * its objects in a temporary directory. It checks signatures and the expiry of signed URLs.
 */
export async function startLocalS3(): Promise<LocalS3> {
  const dir = await tempDir('refinery-s3-');
  const bucket = 'refinery-test';
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir.path, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped = false;
  return {
    endpoint,
    bucket,
    env: (prefix) => ({
      REFINERY_BLOB_URL: `s3://${bucket}/${prefix}`,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: localS3Credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: localS3Credentials.secretAccessKey,
    }),
    store: (prefix, options = {}) => new S3BlobStore(`s3://${bucket}/${prefix}`, { endpoint, region: 'us-east-1', credentials: localS3Credentials, ...options }),
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      await dir.remove();
    },
  };
}
