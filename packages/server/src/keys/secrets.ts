import { randomBytes } from 'node:crypto';
import type { Keyring } from './keyring.ts';

// Secrets are sealed bound to what they belong to: a sealed secret copied onto another row does not open.
export const sealRobotSecret = (keys: Keyring, robotId: string, secret: string) => keys.seal(secret, `robot secret ${robotId}`);
export const openRobotSecret = (keys: Keyring, robotId: string, sealed: string) => keys.open(sealed, `robot secret ${robotId}`);
export const sealWebhookSecret = (keys: Keyring, apiKeyId: string, secret: string) => keys.seal(secret, `webhook secret ${apiKeyId}`);
export const openWebhookSecret = (keys: Keyring, apiKeyId: string, sealed: string) => keys.open(sealed, `webhook secret ${apiKeyId}`);

/** A Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
