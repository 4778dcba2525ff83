export interface RecordTypeRow {
  type: string;
  full_until_ms: number;
  aged_out_ms: number;
  decay: boolean;
  updated_at: Date;
}

/** Milliseconds as float8, which pg and PGlite both read as a number. */
export const recordTypeColumns = `type, full_until_ms::float8 as full_until_ms, aged_out_ms::float8 as aged_out_ms, decay, updated_at`;
