/** The push capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { createPushDispatcher, type PushDispatcher } from './dispatcher.ts';
