import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { destiny } from '@refinery/protocol';

// Known answers from destiny_sdk's own algorithm (auth.create_signature), run by CPython 3.11:
//   timestamp_bytes = f"{timestamp}".encode()
//   hmac.new(secret.encode(), b":".join([body, client_id.bytes, timestamp_bytes]), hashlib.sha256).hexdigest()
// and Python's repr() of each float.
const clientId = '3f2c9a4e-8b1d-4c6e-9f0a-1b2c3d4e5f60';
const secret = '9c1e0a7f3b5d2e8c4a6f1b3d5e7a9c0b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c';
const vectors: Array<{ body: Uint8Array; timestamp: number; text: string; signature: string }> = [
  { body: new Uint8Array(), timestamp: 1796581267.1310565, text: '1796581267.1310565', signature: '8697871517875940909a61f2f3b72867c7470d3b1a1b6ea1e95e62ff5835a12e' },
  {
    body: Buffer.from('{"request_id":"0199c3a1-7f2e-7b3c-9d4e-5f6a7b8c9d0e","error":null}'),
    timestamp: 1718000000,
    text: '1718000000.0',
    signature: 'c9fc3aca12907619db864e4c8d9fdece59923813d6503b2392e92db5bb9b8128',
  },
  { body: Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9]), timestamp: 1718000000.5, text: '1718000000.5', signature: 'fa09e25e3ab00419a81f6c4e6f24e9c7ecfca219620a526c76cb9e90dcccd900' },
  { body: new Uint8Array(), timestamp: 1e16, text: '1e+16', signature: 'd7055fa65415171da921196cc2a110fea29268cd8845f8352f2b297f517c7034' },
  { body: new Uint8Array(), timestamp: 0.0001, text: '0.0001', signature: '27dcdd5442644d9a2022be1bfef99d9abea336d8c7e87677859cd10a218d2cef' },
];

describe("DESTINY's signature, as destiny_sdk makes it", () => {
  it('renders a float timestamp as Python does', () => {
    const python: Array<[number, string]> = [
      [1796581267.1310565, '1796581267.1310565'],
      [1718000000, '1718000000.0'],
      [0.0001, '0.0001'],
      [1.5e-5, '1.5e-05'],
      [1e16, '1e+16'],
      [9999999999999998, '9999999999999998.0'],
      [123456789012345680, '1.2345678901234568e+17'],
      [0.1 + 0.2, '0.30000000000000004'],
      [-2.5, '-2.5'],
      [0, '0.0'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [1234.5e-10, '1.2345e-07'],
    ];
    for (const [x, text] of python) assert.equal(destiny.pythonFloatRepr(x), text, `repr(${x})`);
  });

  it('signs body, the client id as 16 raw bytes and the timestamp text, keyed with the secret as text', () => {
    for (const v of vectors) {
      assert.equal(destiny.pythonFloatRepr(v.timestamp), v.text);
      assert.equal(destiny.destinySignature(secret, v.body, clientId, v.text), v.signature);
      assert.deepEqual(destiny.signDestinyRequest({ clientId, secret, body: v.body, timestamp: v.timestamp }), {
        authorization: `Signature ${v.signature}`,
        'x-client-id': clientId,
        'x-request-timestamp': v.text,
      });
    }
  });

  it('signs the raw body bytes: one byte more, or the id as text, is another signature', () => {
    const [, v] = vectors;
    assert.notEqual(destiny.destinySignature(secret, Buffer.concat([v.body, Buffer.from(' ')]), clientId, v.text), v.signature);
    assert.notEqual(destiny.destinySignature(secret, v.body, clientId, '1718000000'), v.signature);
    assert.notEqual(destiny.destinySignature(Buffer.from(secret, 'hex').toString('latin1'), v.body, clientId, v.text), v.signature);
  });
});
