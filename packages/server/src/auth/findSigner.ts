import type { Context } from '../context.ts';
import { openRobotSecret } from '../keys/index.ts';
import { getSigningRobot, liveSecrets, type SigningRobot } from './queries/getSigningRobot.ts';

/**
 * The robot `robotId` with a live secret that `matches`, or null. What this process read in the
 * last few seconds is tried first; when none of its secrets matches, the robot is read again (a
 * secret issued since, perhaps through another process, is looked up before refusing).
 */
export async function findSigner(ctx: Context, robotId: string, matches: (secrets: string[]) => boolean): Promise<SigningRobot | null> {
  const now = ctx.clock.now();
  let signer = ctx.recentRobots.get(robotId);
  if (!signer || !matches(liveSecrets(signer, now))) {
    signer = await getSigningRobot(ctx.db, { robotId, now });
    // Kept opened for the few seconds it is cached: a signature check opens nothing.
    if (signer) {
      signer = { ...signer, secrets: signer.secrets.map((s) => ({ ...s, secret: openRobotSecret(ctx.keys, robotId, s.secret) })) };
      ctx.recentRobots.set(robotId, signer);
    }
  }
  return signer && matches(liveSecrets(signer, now)) ? signer : null;
}
