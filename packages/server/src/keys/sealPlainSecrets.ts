import type { Db } from '../db/index.ts';
import type { Keyring } from './keyring.ts';
import { listPlainSecrets, storeSealedSecrets } from './queries/plainSecrets.ts';
import { sealRobotSecret, sealWebhookSecret } from './secrets.ts';

const pageSize = 1000;

/** Seals the robot and webhook secrets stored before encryption at rest (at start); returns how many. */
export async function sealPlainSecrets(db: Db, keys: Keyring): Promise<number> {
  let sealed = 0;
  for (;;) {
    const plain = await listPlainSecrets(db, { limit: pageSize });
    if (plain.robot.length === 0 && plain.webhook.length === 0) return sealed;
    await storeSealedSecrets(db, {
      robot: plain.robot.map((r) => ({ id: r.id, sealed: sealRobotSecret(keys, r.owner, r.secret) })),
      webhook: plain.webhook.map((w) => ({ id: w.id, sealed: sealWebhookSecret(keys, w.id, w.secret) })),
    });
    sealed += plain.robot.length + plain.webhook.length;
  }
}
