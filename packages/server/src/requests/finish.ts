// The requests capability's face for the fan-in: code elsewhere that moves items (imports, hand-ins,
// push deliveries, the maintenance services, retention) finishes the requests those items leave with nothing
// open through these two, in that order: finishRequestsIfDone in the transaction that moved the
// items, afterRequestsFinished once it has committed (manifests, webhooks, metrics).
export { finishRequestsIfDone } from './queries/finishRequestsIfDone.ts';
export { afterRequestsFinished } from './manifests.ts';
