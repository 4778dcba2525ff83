import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { errors } from '../errors.ts';
import type { FileBlobStore } from './fileStore.ts';
import { parsedBody, routePlugin } from '../http/index.ts';

/** Largest results file a robot may upload to the embedded store. */
export const maxUploadBytes = 2 * 1024 * 1024 * 1024;

const BlobQuery = Type.Object(
  { method: Type.Optional(Type.String()), expires: Type.Optional(Type.String()), signature: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

/** The embedded blob store's HTTP face: GET and PUT, authorised by the URL's own signature. */
export const blobRoutes = routePlugin<{ store: FileBlobStore }>('blobs', async (app, { store }) => {
  // Uploads stream straight to disk, whatever their content type: the route takes the body as it comes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  function keyOf(url: string): string {
    const path = url.split('?')[0].replace(/^\/v1\/blobs\//, '');
    const key = path.split('/').map(decodeURIComponent).join('/');
    if (key === '' || key.split('/').some((part) => part === '' || part === '.' || part === '..')) throw errors.notFound('blob');
    return key;
  }

  /** onRequest: the URL's own signature, for `method` (a HEAD is a GET's), checked before anything else. */
  const signedFor = (method: 'GET' | 'PUT') => async (request: FastifyRequest<{ Querystring: { expires?: string; signature?: string } }>) => {
    const query = request.query;
    const problem = store.checkSignature(keyOf(request.url), method, query.expires, query.signature);
    if (problem) throw errors.forbidden(problem);
  };

  app.get('/v1/blobs/*', {
    config: { access: 'signedUrl' },
    onRequest: signedFor('GET'),
    schema: {
      tags: ['blobs'],
      summary: 'Download a blob through its signed URL',
      querystring: BlobQuery,
      response: { 200: { content: { 'application/x-ndjson': { schema: Type.String({ description: 'The file, JSON Lines.' }) } } } },
    },
    handler: async (request, reply) => {
      const key = keyOf(request.url);
      const stream = await store.get(key);
      if (!stream) throw errors.notFound('blob');
      return reply.type('application/x-ndjson').send(stream);
    },
  });

  app.put('/v1/blobs/*', {
    config: { access: 'signedUrl' },
    onRequest: signedFor('PUT'),
    schema: {
      tags: ['blobs'],
      summary: 'Upload a blob through its signed URL',
      querystring: BlobQuery,
      response: { 200: Type.Object({ key: Type.String(), bytes: Type.Integer() }) },
    },
    handler: async (request, reply) => {
      const key = keyOf(request.url);
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > maxUploadBytes) throw errors.payloadTooLarge(`uploads may be at most ${maxUploadBytes} bytes`);
      let received = 0;
      const body = parsedBody<Readable | undefined>(request) ?? Readable.from([]);
      const limited = (async function* () {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (received > maxUploadBytes) throw errors.payloadTooLarge(`uploads may be at most ${maxUploadBytes} bytes`);
          yield chunk;
        }
      })();
      const bytes = await store.put(key, limited);
      return reply.status(200).send({ key, bytes });
    },
  });
}, []);
