import assert from 'node:assert/strict';
import { it } from 'node:test';
import { leaseFairness } from '../src/batches/fairness.ts';
import { describeEachBackend, references } from './support/harness.ts';
import { advance, createRequest, leaseRecords } from './support/lifecycle.ts';

const minute = 60_000;

// Priorities (docs/priorities.md): critical before high before normal before low, older first
// within a priority; and an item that has waited past leaseFairness.overdueAfterMs is served
// ahead of any priority, so a steady stream of urgent work starves nothing.
describeEachBackend(
  'priorities',
  (h) => {
    it('leases hand out critical, high, normal, low in that order, older requests first within a priority', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(6));
      // Created in a mixed order, a second apart (well inside the overdue threshold).
      const order: Array<[string, string]> = [
        ['normal', ids[0]],
        ['low', ids[1]],
        ['critical', ids[2]],
        ['normal', ids[3]],
        ['high', ids[4]],
        ['critical', ids[5]],
      ];
      for (const [priority, id] of order) {
        await createRequest(h(), { robot_id: robot.id, record_ids: [id], priority });
        advance(h(), 1000);
      }
      const leased: string[] = [];
      for (;;) {
        const batch = await leaseRecords(h(), robot, 1);
        if (!batch) break;
        assert.equal(batch.item_count, 1);
        leased.push(...batch.recordIds);
      }
      assert.deepEqual(leased, [ids[2], ids[5], ids[4], ids[0], ids[3], ids[1]]);
    });

    it('within one request, items are leased in the order of its record ids', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(4));
      await createRequest(h(), { robot_id: robot.id, record_ids: [ids[2], ids[0], ids[3], ids[1]], priority: 'high' });
      const first = await leaseRecords(h(), robot, 2);
      const second = await leaseRecords(h(), robot, 2);
      assert.deepEqual(first?.recordIds.sort(), [ids[2], ids[0]].sort());
      assert.deepEqual(second?.recordIds.sort(), [ids[3], ids[1]].sort());
    });

    it('under a steady stream of high-priority work a low-priority item still moves once overdue, and only then', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const [lowRecord] = await h().importRecords(references(1));
      await createRequest(h(), { robot_id: robot.id, record_ids: [lowRecord], priority: 'low' });
      // Every minute two more high-priority items arrive and a lease takes two: the high backlog
      // never empties, so strict priority alone would never reach the low item.
      const rounds = leaseFairness.overdueAfterMs / minute + 3;
      let leasedInRound: number | null = null;
      for (let round = 0; round < rounds; round++) {
        const high = await h().importRecords(references(2));
        await createRequest(h(), { robot_id: robot.id, record_ids: high, priority: 'high' });
        const batch = await leaseRecords(h(), robot, 2);
        assert.equal(batch?.item_count, 2, `round ${round}: a full lease`);
        if (batch!.recordIds.includes(lowRecord)) {
          leasedInRound = round;
          // The overdue slot is one of the two: the other still goes to high-priority work.
          assert.equal(batch!.recordIds.filter((id) => id !== lowRecord).length, 1);
          break;
        }
        advance(h(), minute);
      }
      assert.equal(leasedInRound, leaseFairness.overdueAfterMs / minute, 'the low item is leased in the first lease after it became overdue');
    });

    it('overdue items go oldest first whatever their priority, and a lease of one takes the overdue item', async () => {
      const robot = await h().createRobot({ lease: 'PT1H' });
      const ids = await h().importRecords(references(3));
      await createRequest(h(), { robot_id: robot.id, record_ids: [ids[0]], priority: 'low' });
      advance(h(), 1000);
      await createRequest(h(), { robot_id: robot.id, record_ids: [ids[1]], priority: 'normal' });
      advance(h(), leaseFairness.overdueAfterMs);
      await createRequest(h(), { robot_id: robot.id, record_ids: [ids[2]], priority: 'critical' });
      assert.deepEqual((await leaseRecords(h(), robot, 1))?.recordIds, [ids[0]]);
      assert.deepEqual((await leaseRecords(h(), robot, 1))?.recordIds, [ids[1]]);
      assert.deepEqual((await leaseRecords(h(), robot, 1))?.recordIds, [ids[2]]);
    });
  },
  { manualClock: true },
);
