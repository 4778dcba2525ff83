import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import { canonicalJson, contentHash } from '../src/hashing.ts';

it("an enhancement's content hash is the SHA-256 of its RFC 8785 canonical JSON", () => {
  const content = { z: [3, 'é\n', { y: null, x: true }], a: 1e21, m: -0, '\u20ac': 0.1 };
  // Keys sorted by UTF-16 code units at every level, numbers and strings as ECMAScript prints them.
  const canonical = '{"a":1e+21,"m":0,"z":[3,"é\\n",{"x":true,"y":null}],"€":0.1}';
  assert.equal(canonicalJson(content), canonical);
  assert.equal(contentHash(content), createHash('sha256').update(canonical, 'utf8').digest('hex'));
  // The same content, its keys in another order, hashes the same.
  assert.equal(contentHash({ '\u20ac': 0.1, m: 0, a: 1e21, z: [3, 'é\n', { x: true, y: null }] }), contentHash(content));
});
