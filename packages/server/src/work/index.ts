/** The work capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { WorkSignals, notifyRetries, notifyWork, notifyWorkOf, type Retry } from './signals.ts';
