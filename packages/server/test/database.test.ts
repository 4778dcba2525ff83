import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { describeEachBackend } from './support/harness.ts';

describeEachBackend('database', (h) => {
  it('keeps a prepared statement parsed on its connection, and plans every call of it for its own values', async (t) => {
    const { db } = h().refinery.ctx;
    if (db.kind !== 'postgres') return t.skip('PGlite keeps no statements');
    const sql = `select count(*)::int as n from items where robot_id = $1::uuid -- ${randomUUID()}`;
    await db.transaction(async (tx) => {
      for (let i = 0; i < 8; i++) assert.deepEqual((await tx.query(sql, [randomUUID()], { prepared: true })).rows, [{ n: 0 }]);
      // A generic plan (one plan for any values, kept as the tables grow) is never made.
      const { rows } = await tx.query(`select generic_plans::int, custom_plans::int from pg_prepared_statements where statement = $1::text`, [sql]);
      assert.deepEqual(rows, [{ generic_plans: 0, custom_plans: 8 }]);
    });
  });
});
