/** The events capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { eventRoutes } from './routes.ts';
export { createEventSender } from './sender.ts';
