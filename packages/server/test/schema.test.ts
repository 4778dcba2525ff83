import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { migratedSchema, pgDump, schemaPath } from '../../../scripts/schema.ts';
import { availableBackends, testDatabaseUrl } from './support/backends.ts';

it('packages/server/src/db/schema.sql is the schema of a freshly migrated database (npm run schema makes it)', async (t) => {
  if (!(await availableBackends()).some((b) => b.name === 'postgres')) return t.skip('PostgreSQL does not answer');
  if (!existsSync(pgDump)) return t.skip(`${pgDump} is absent (TEST_POSTGRES_BIN names another folder)`);
  assert.equal(await migratedSchema(testDatabaseUrl), readFileSync(schemaPath, 'utf8'), 'schema.sql is out of date: run npm run schema');
});
