import type { FastifyPluginAsync, FastifyRequest, FastifyTypeProvider, RawServerDefault } from 'fastify';
import fp from 'fastify-plugin';
import type { Static, TSchema } from 'typebox';

/**
 * Route handlers get the types of what they take (params, query string, headers, body) from
 * their TypeBox schemas, as @fastify/type-provider-typebox gives them. What they answer is held to
 * its response schema when it is serialized, not by TypeScript: rows carry `Date`s that the
 * serializer writes as the RFC 3339 strings the schemas (shared with the SDK) describe.
 */
export interface TypeBoxInputs extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: unknown;
}

/** A route plugin whose handlers are typed from their schemas. */
export type RoutePlugin<Options extends Record<string, unknown> = Record<never, never>> = FastifyPluginAsync<Options, RawServerDefault, TypeBoxInputs>;

/** The name the authentication plugin registers under: every route plugin depends on it. */
export const authenticationPluginName = 'refinery-authentication';

/**
 * A capability's routes as a plugin with a name (`refinery-<name>`) and its dependencies (the
 * authentication, unless its routes check their own signed URLs), kept encapsulated: what it adds
 * (hooks, an error handler) stays with its own routes.
 */
export function routePlugin<Options extends Record<string, unknown>>(name: string, plugin: RoutePlugin<Options>, dependencies = [authenticationPluginName]) {
  return fp(plugin, { name: `refinery-${name}`, dependencies, encapsulate: true, fastify: '5.x' });
}

/**
 * The body a route's own content-type parser made, which its schema (kept for the OpenAPI
 * document) does not describe: a stream (records, blob uploads), or record ids packed as they
 * streamed in (docs/large-requests.md).
 */
export const parsedBody = <T>(request: FastifyRequest): T => request.body as T;
