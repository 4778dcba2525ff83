/** The automations capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { saveAutomation, visibleAutomationOf } from './automations.ts';
export { createAutomationConsumer } from './consumer.ts';
export { type AutomationRow } from './queries/automationRow.ts';
export { getAutomation } from './queries/getAutomation.ts';
export { listAutomations } from './queries/listAutomations.ts';
export { provenanceOfRequest } from './queries/provenanceOfRequest.ts';
export { writeRecordsOutbox } from './queries/writeRecordsOutbox.ts';
export { automationRoutes } from './routes.ts';
