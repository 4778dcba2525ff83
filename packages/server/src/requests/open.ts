import { requestOpenStatuses } from '@refinery/protocol';

/**
 * SQL: the requests row (`alias`, or unqualified) is open, `received` or `processing`. Written
 * into each statement as a literal, not passed as a parameter, so that the partial indexes on
 * open requests match it.
 */
export const requestIsOpen = (alias?: string): string => `${alias ? `${alias}.` : ''}status in (${requestOpenStatuses.map((s) => `'${s}'`).join(', ')})`;
