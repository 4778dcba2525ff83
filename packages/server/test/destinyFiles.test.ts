import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromDestinyIdentifier, toDestinyIdentifier } from '../src/destiny/identifiers.ts';
import { whyUnstorable } from '../src/db/storableJson.ts';
import { judgeDestinyLine, validationEntry } from '../src/destiny/results.ts';
import { refineryFields } from '../src/destiny/robots.ts';
import { destiny } from '@refinery/protocol';

const reference = '01a24c9b-6e35-7cd9-ba2f-570787cb6edb';
const other = '01a24c9b-6e35-7cd9-ba2f-570787cb6ede';
const inBatch = new Map([[reference, 'request']]);
const allTypes = new Set(refineryFields({ name: 'r', description: '', owner: '', entitlements: ['raw_enhancement_writer'] }).produces.map((p) => p.type));
const noRaw = new Set(refineryFields({ name: 'r', description: '', owner: '' }).produces.map((p) => p.type));

const enhancement = (content: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ reference_id: reference, source: 'robot', visibility: 'public', content, ...extra });

/** One valid content of every enhancement type, from DESTINY's documented models. */
const contents: Record<destiny.EnhancementType, unknown> = {
  bibliographic: {
    enhancement_type: 'bibliographic',
    title: 'A title',
    authorship: [{ display_name: 'Ada Lovelace', orcid: null, position: 'first' }],
    publication_date: '2020-01-31',
    publication_year: 2020,
    pagination: { volume: '3', first_page: 'A1' },
    publication_venue: { display_name: 'A journal', venue_type: 'journal', issn: ['1234-5678'] },
  },
  abstract: { enhancement_type: 'abstract', process: 'uninverted', abstract: 'An abstract.' },
  annotation: {
    enhancement_type: 'annotation',
    annotations: [
      { annotation_type: 'boolean', scheme: 'openalex:topic', label: 'climate', value: true, score: null, data: {} },
      { annotation_type: 'score', scheme: 'meta:toy', label: 'toy', score: 0.5 },
    ],
  },
  location: { enhancement_type: 'location', locations: [{ is_oa: true, version: 'publishedVersion', landing_page_url: 'https://example.org/a', license: 'cc-by' }] },
  reference_association: {
    enhancement_type: 'reference_association',
    association_type: 'cites',
    associated_reference_ids: [{ identifier_type: 'doi', identifier: '10.1234/abc' }, other],
  },
  linked_data: { enhancement_type: 'linked_data', vocabulary_uri: 'https://vocab.example.org/v1', data: { '@context': 'https://vocab.example.org/v1', '@type': 'Study' } },
  full_text: { enhancement_type: 'full_text', file_url: 'https://files.example.org/a.pdf', mime_type: 'application/pdf', byte_size: 1024, sha256_checksum: 'a'.repeat(64) },
  raw: { enhancement_type: 'raw', source_export_date: '2026-01-01T00:00:00Z', description: 'as exported', data: { anything: [1, 2] } },
};

describe('DESTINY result file lines, judged', () => {
  it('accepts an Enhancement of every DESTINY type, keeping its source and visibility', () => {
    for (const [type, content] of Object.entries(contents)) {
      const verdict = judgeDestinyLine(enhancement(content, { id: other, created_at: '2026-01-01T00:00:00Z', derived_from: [other.toUpperCase()] }), 1, inBatch, allTypes);
      assert.ok('accept' in verdict, `${type}: ${JSON.stringify(verdict)}`);
      assert.deepEqual(
        [verdict.accept.record_id, verdict.accept.type, verdict.accept.content, verdict.accept.source, verdict.accept.visibility, verdict.accept.derived_from],
        [reference, type, content, 'robot', 'public', [other]],
      );
    }
  });

  it('takes a LinkedRobotError as the robot failing that reference', () => {
    assert.deepEqual(judgeDestinyLine(JSON.stringify({ message: 'no DOI', reference_id: reference.toUpperCase() }), 1, inBatch, allTypes), {
      robotError: 'no DOI',
      recordId: reference,
      retryable: false,
    });
  });

  it("refuses, in DESTINY's words, what DESTINY refuses", () => {
    const cases: Array<[string, string, string | RegExp, string | undefined]> = [
      ['not JSON', '{"reference_id":', /^Entry 3 could not be parsed: it is not JSON/, undefined],
      ['not JSON, with a NUL byte the message would quote', '\ufffd{\u0000}', /^Entry 3 could not be parsed: it is not JSON \(.*\\u0000.*\)\.$/, undefined],
      ['an array', '[]', 'Entry 3 could not be parsed: it is not a JSON object.', undefined],
      ['an unknown enhancement type', enhancement({ enhancement_type: 'sentiment', value: 1 }), /^Entry 3 could not be parsed: content\.enhancement_type "sentiment" is not one of DESTINY's enhancement types/, reference],
      ['no visibility', JSON.stringify({ reference_id: reference, source: 's', content: contents.abstract }), /^Entry 3 could not be parsed: as an Enhancement, .*visibility/, reference],
      ['an annotation without annotations', enhancement({ enhancement_type: 'annotation', annotations: [] }), /annotations must NOT have fewer than 1 items\.$/, reference],
      ['a scheme with a slash', enhancement({ enhancement_type: 'annotation', annotations: [{ annotation_type: 'score', scheme: 'a/b', label: 'x', score: 1 }] }), /scheme must match pattern/, reference],
      ['a score annotation without its score', enhancement({ enhancement_type: 'annotation', annotations: [{ annotation_type: 'score', scheme: 's', label: 'x' }] }), /score/, reference],
      ['linked data without @context', enhancement({ enhancement_type: 'linked_data', vocabulary_uri: 'https://v.example.org', data: {} }), /@context/, reference],
      ['a location that is no URL', enhancement({ enhancement_type: 'location', locations: [{ landing_page_url: 'ftp://x' }] }), /landing_page_url/, reference],
      ['a reference of another batch', JSON.stringify({ reference_id: other, source: 's', visibility: 'public', content: contents.abstract }), 'Reference not in batch enhancement request.', other],
      ['a robot error for another batch', JSON.stringify({ reference_id: other, message: 'x' }), 'Reference not in batch enhancement request.', other],
      // What PostgreSQL cannot store, which DESTINY's models let through.
      ['a NUL character', enhancement({ ...(contents.abstract as object), abstract: 'a\u0000b' }), /^Entry 3 could not be parsed: content\.abstract holds a NUL character .*\.$/, reference],
      ['a lone surrogate in a robot error', JSON.stringify({ reference_id: reference, message: 'gone \ud800' }), /^Entry 3 could not be parsed: message holds a lone surrogate/, reference],
      ['a number too large', enhancement(contents.raw).replace('"data":{"anything":[1,2]}', '"data":{"n":1e400}'), /^Entry 3 could not be parsed: content\.data\.n is a number too large to store/, reference],
      ['nesting too deep', enhancement(contents.raw).replace('[1,2]', '['.repeat(3000) + ']'.repeat(3000)), /^Entry 3 could not be parsed: content\.data\.anything(\[0\])+ is nested deeper than 512 levels\.$/, reference],
    ];
    for (const [what, line, message, recordId] of cases) {
      const verdict = judgeDestinyLine(line, 3, inBatch, allTypes);
      assert.ok('reject' in verdict, `${what}: ${JSON.stringify(verdict)}`);
      if (typeof message === 'string') assert.equal(verdict.reject, message, what);
      else assert.match(verdict.reject, message, what);
      assert.equal(whyUnstorable(verdict.reject), null, `${what}: the message can be stored`);
      assert.equal(verdict.recordId, recordId, what);
    }
    const raw = judgeDestinyLine(enhancement(contents.raw), 1, inBatch, noRaw);
    assert.deepEqual(raw, { reject: 'Robot is not entitled to return raw enhancements.', recordId: reference });
  });

  it('writes the validation result file as RobotResultValidationEntry lines', () => {
    assert.deepEqual(validationEntry({ line: 1, record_id: reference, outcome: 'imported' }), { reference_id: reference });
    assert.deepEqual(validationEntry({ line: 1, record_id: reference, outcome: 'discarded', message: 'same' }), { reference_id: reference, error: 'Exact duplicate enhancement already exists on reference.' });
    assert.deepEqual(validationEntry({ record_id: reference, outcome: 'missing', message: 'never answered' }), { reference_id: reference, error: 'Requested reference not in enhancement result.' });
    assert.deepEqual(validationEntry({ line: 2, outcome: 'rejected', message: 'Entry 2 could not be parsed: x.' }), { error: 'Entry 2 could not be parsed: x.' });
  });
});

describe("DESTINY's identifiers and Refinery's", () => {
  it('map each way without loss', () => {
    const refinery = [
      { type: 'doi', value: '10.1234/abc.def' },
      { type: 'doi', value: 'not a doi' },
      { type: 'pm_id', value: '12345' },
      { type: 'pm_id', value: '0123' },
      { type: 'pm_id', value: '1234567890123456' },
      { type: 'eric', value: 'ED123456' },
      { type: 'pro_quest', value: '998877' },
      { type: 'open_alex', value: 'W2741809807' },
      { type: 'open_alex', value: 'w1' },
      { type: 'isbn', value: '978-3-16-148410-0' },
      { type: 'pmid', value: '12345' },
    ];
    const mapped = refinery.map(toDestinyIdentifier);
    assert.deepEqual(mapped.slice(0, 4), [
      { identifier_type: 'doi', identifier: '10.1234/abc.def' },
      { identifier_type: 'other', identifier: 'not a doi', other_identifier_name: 'doi' },
      { identifier_type: 'pm_id', identifier: 12345 },
      { identifier_type: 'other', identifier: '0123', other_identifier_name: 'pm_id' },
    ]);
    assert.deepEqual(mapped.map(fromDestinyIdentifier), refinery);
    const back = [{ identifier_type: 'other', identifier: 'x', other_identifier_name: 'has spaces' }] as const;
    assert.throws(() => fromDestinyIdentifier(back[0]), /no Refinery form/);
  });
});
