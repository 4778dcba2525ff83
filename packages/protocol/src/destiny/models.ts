/**
 * DESTINY's models (destiny_sdk 0.16, `libs/sdk/src/destiny_sdk/` of destiny-evidence/destiny-repository),
 * as TypeBox schemas: what Refinery's DESTINY-compatible API reads and writes (docs/destiny.md).
 * Written from the documented pydantic models: fields a model does not name are ignored, as
 * pydantic ignores them; a union tagged by a field (`enhancement_type`, `identifier_type`,
 * `annotation_type`) needs that field. Patterns are the SDK's, which pydantic searches for
 * anywhere in the string, as a JSON Schema `pattern` is.
 */
import Type, { type Static, type TSchema } from 'typebox';

/** A union chosen by the value of `tag` (JSON Schema `oneOf` with OpenAPI's `discriminator`). */
function Tagged<T extends TSchema[]>(tag: string, variants: [...T], description?: string) {
  return Type.Unsafe<Static<T[number]>>({ type: 'object', required: [tag], discriminator: { propertyName: tag }, oneOf: variants, ...(description && { description }) });
}
const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
const Enum = <const T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

/**
 * `destiny_sdk.UUID`: a UUID of version 4 or 7 (the SDK's pydantic `UUID4 | UUID7`, from 0.9.0), in
 * the one form Refinery reads ids in (8-4-4-4-12, either case), taken in lower case as every id.
 */
export const Uuid = Type.String({
  format: 'uuid',
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[47][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$',
  'x-lowercase': true,
  description: 'UUID, version 4 or 7.',
});
/** pydantic's `HttpUrl`: absolute http(s), at most 2083 characters. */
export const HttpUrl = Type.String({ format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://', maxLength: 2083 });
const Dict = Type.Object({}, { additionalProperties: true });

export const visibilities = ['public', 'restricted', 'hidden'] as const;
export const Visibility = Enum(visibilities);

// ── Identifiers (`identifiers.py`) ───────────────────────────────────────────
export const identifierTypes = ['doi', 'eric', 'pm_id', 'pro_quest', 'open_alex', 'other'] as const;
export type IdentifierType = (typeof identifierTypes)[number];
/** The patterns of the identifier types that have one (`pm_id` is a positive integer, `other` any text). */
export const identifierPatterns = { doi: '^10\\.\\d{4,9}/\\S+$', eric: 'E[D|J][0-9]+$', pro_quest: '^[0-9]+$', open_alex: '^W\\d+$' } as const;

const identifier = <K extends string, V extends TSchema>(type: K, value: V) => Type.Object({ identifier: value, identifier_type: Type.Literal(type) });
export const ExternalIdentifier = Tagged('identifier_type', [
  identifier('doi', Type.String({ pattern: identifierPatterns.doi })),
  identifier('eric', Type.String({ pattern: identifierPatterns.eric })),
  identifier('pm_id', Type.Integer({ minimum: 1 })),
  identifier('pro_quest', Type.String({ pattern: identifierPatterns.pro_quest })),
  identifier('open_alex', Type.String({ pattern: identifierPatterns.open_alex })),
  Type.Object({ identifier: Type.String(), identifier_type: Type.Literal('other'), other_identifier_name: Type.String() }),
]);
export type ExternalIdentifier = Static<typeof ExternalIdentifier>;

// ── Enhancement content (`enhancements.py`) ──────────────────────────────────
/** Every `enhancement_type` DESTINY knows. A robot returns `raw` only with the `raw_enhancement_writer` entitlement. */
export const enhancementTypes = ['bibliographic', 'abstract', 'annotation', 'location', 'reference_association', 'linked_data', 'full_text', 'raw'] as const;
export type EnhancementType = (typeof enhancementTypes)[number];

const content = <K extends EnhancementType, P extends Record<string, TSchema>>(type: K, fields: P) => Type.Object({ enhancement_type: Type.Literal(type), ...fields });

const Authorship = Type.Object({ display_name: Type.String(), orcid: Nullable(Type.String()), position: Enum(['first', 'middle', 'last'] as const) });
const Pagination = Type.Object({ volume: Nullable(Type.String()), issue: Nullable(Type.String()), first_page: Nullable(Type.String()), last_page: Nullable(Type.String()) });
const PublicationVenue = Type.Object({
  display_name: Nullable(Type.String()),
  venue_type: Nullable(Enum(['journal', 'repository', 'conference', 'ebook_platform', 'book_series', 'other'] as const)),
  issn: Nullable(Type.Array(Type.String())),
  issn_l: Nullable(Type.String()),
  host_organization_name: Nullable(Type.String()),
});
const IsoDate = Type.String({ format: 'date' });
export const BibliographicMetadataEnhancement = content('bibliographic', {
  authorship: Nullable(Type.Array(Authorship)),
  cited_by_count: Nullable(Type.Integer()),
  created_date: Nullable(IsoDate),
  updated_date: Nullable(IsoDate),
  publication_date: Nullable(IsoDate),
  publication_year: Nullable(Type.Integer()),
  publisher: Nullable(Type.String()),
  title: Nullable(Type.String()),
  pagination: Nullable(Pagination),
  publication_venue: Nullable(PublicationVenue),
});
export const AbstractContentEnhancement = content('abstract', { process: Enum(['uninverted', 'closed_api', 'other'] as const), abstract: Type.String() });

const scheme = Type.String({ pattern: '^[^/]+$', description: 'No "/".' });
export const BooleanAnnotation = Type.Object({
  annotation_type: Type.Literal('boolean'),
  scheme,
  label: Type.String(),
  value: Type.Boolean(),
  score: Nullable(Type.Number()),
  data: Type.Optional(Dict),
});
export const ScoreAnnotation = Type.Object({ annotation_type: Type.Literal('score'), scheme, label: Type.String(), score: Type.Number(), data: Type.Optional(Dict) });
export const AnnotationEnhancement = content('annotation', { annotations: Type.Array(Tagged('annotation_type', [BooleanAnnotation, ScoreAnnotation]), { minItems: 1 }) });

const Location = Type.Object({
  is_oa: Nullable(Type.Boolean()),
  version: Nullable(Enum(['publishedVersion', 'acceptedVersion', 'submittedVersion', 'other'] as const)),
  landing_page_url: Nullable(HttpUrl),
  pdf_url: Nullable(HttpUrl),
  license: Nullable(Type.String()),
  extra: Nullable(Dict),
});
export const LocationEnhancement = content('location', { locations: Type.Array(Location, { minItems: 1 }) });

export const ReferenceAssociationEnhancement = content('reference_association', {
  associated_reference_ids: Type.Array(Type.Union([ExternalIdentifier, Uuid]), { minItems: 1, description: 'External identifiers, or the repository ids of references.' }),
  association_type: Enum(['cites', 'is_cited_by', 'is_similar_to'] as const),
});
export const LinkedDataEnhancement = content('linked_data', {
  vocabulary_uri: HttpUrl,
  data: Type.Object({ '@context': Type.Unknown() }, { additionalProperties: true, description: 'JSON-LD; `@context` is required.' }),
});
export const FullTextEnhancement = content('full_text', {
  file_url: HttpUrl,
  mime_type: Type.String({ minLength: 1 }),
  byte_size: Nullable(Type.Integer({ minimum: 0 })),
  sha256_checksum: Nullable(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
});
export const RawEnhancement = content('raw', {
  source_export_date: Type.String({ format: 'date-time' }),
  description: Type.String(),
  metadata: Type.Optional(Dict),
  // "data must be populated on a raw enhancement": not null, false, 0, "" or empty.
  data: Type.Unsafe<unknown>({ not: { enum: [null, false, 0, '', [], {}] } }),
});

export const EnhancementContent = Tagged('enhancement_type', [
  BibliographicMetadataEnhancement,
  AbstractContentEnhancement,
  AnnotationEnhancement,
  LocationEnhancement,
  ReferenceAssociationEnhancement,
  LinkedDataEnhancement,
  FullTextEnhancement,
  RawEnhancement,
]);
export type EnhancementContent = Static<typeof EnhancementContent>;

export const Enhancement = Type.Object({
  id: Nullable(Uuid),
  reference_id: Uuid,
  source: Type.String({ description: 'Provenance, e.g. the robot\'s name.' }),
  visibility: Visibility,
  robot_version: Nullable(Type.String()),
  derived_from: Nullable(Type.Array(Uuid)),
  content: EnhancementContent,
  created_at: Nullable(Type.String({ format: 'date-time' })),
});
export type Enhancement = Static<typeof Enhancement>;

// ── References (`references.py`) ─────────────────────────────────────────────
export const Reference = Type.Object({
  visibility: Type.Optional(Visibility),
  id: Uuid,
  identifiers: Nullable(Type.Array(ExternalIdentifier)),
  enhancements: Nullable(Type.Array(Enhancement)),
});
export type Reference = Static<typeof Reference>;

// ── Robots, batches and requests (`robots.py`) ───────────────────────────────
export const RobotError = Type.Object({ message: Type.String({ maxLength: 4000 }) });
/** One reference the robot could not enhance: a line of its result file. */
export const LinkedRobotError = Type.Object({ message: Type.String(), reference_id: Uuid });
export type LinkedRobotError = Static<typeof LinkedRobotError>;

/** A line of the validation result file: `reference_id` alone means imported. */
export const RobotResultValidationEntry = Type.Object({ reference_id: Nullable(Uuid), error: Nullable(Type.String()) });
export type RobotResultValidationEntry = Static<typeof RobotResultValidationEntry>;

export const RobotEnhancementBatch = Type.Object({
  id: Uuid,
  reference_storage_url: Type.String({ description: 'Signed GET: one Reference a line (JSONL).' }),
  result_storage_url: Type.String({ description: 'Signed PUT: one Enhancement or LinkedRobotError a line (JSONL).' }),
  extra_fields: Type.Union([Dict, Type.Null()]),
  validation_result_url: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Refinery: signed GET of the validation result file, once the results are imported.' })),
});
export type RobotEnhancementBatch = Static<typeof RobotEnhancementBatch>;

export const RobotEnhancementBatchResult = Type.Object({ request_id: Uuid, error: Type.Optional(Type.Union([RobotError, Type.Null()])) });
export type RobotEnhancementBatchResult = Static<typeof RobotEnhancementBatchResult>;

const nullableUrl = Type.Union([Type.String(), Type.Null()]);
export const RobotEnhancementBatchRead = Type.Object({
  id: Uuid,
  robot_id: Uuid,
  source: Type.Union([Type.String(), Type.Null()]),
  reference_data_url: nullableUrl,
  result_storage_url: nullableUrl,
  validation_result_url: nullableUrl,
  error: Type.Union([Type.String(), Type.Null()]),
});
export type RobotEnhancementBatchRead = Static<typeof RobotEnhancementBatchRead>;

export const enhancementRequestStatuses = ['received', 'accepted', 'processing', 'rejected', 'partial_failed', 'failed', 'importing', 'indexing', 'indexing_failed', 'completed'] as const;
export type EnhancementRequestStatus = (typeof enhancementRequestStatuses)[number];

export const EnhancementRequestIn = Type.Object({
  robot_id: Uuid,
  reference_ids: Type.Array(Uuid, { minItems: 1, uniqueItems: true }),
  source: Nullable(Type.String({ maxLength: 1000 })),
});
export type EnhancementRequestIn = Static<typeof EnhancementRequestIn>;

export const EnhancementRequestRead = Type.Object({
  id: Uuid,
  robot_id: Uuid,
  reference_ids: Type.Array(Uuid),
  source: Type.Union([Type.String(), Type.Null()]),
  request_status: Enum(enhancementRequestStatuses),
  reference_data_url: nullableUrl,
  result_storage_url: nullableUrl,
  validation_result_url: nullableUrl,
  error: Type.Union([Type.String(), Type.Null()]),
});
export type EnhancementRequestRead = Static<typeof EnhancementRequestRead>;

/** `SearchEnhancementRequestIn`: every reference a Lucene-style `search_query` matches, for `robot_id`. */
export const SearchEnhancementRequestIn = Type.Object({
  robot_id: Uuid,
  search_query: Type.String({ minLength: 1, description: 'A Lucene-style query (docs/queries.md); unprefixed fields are the reference\'s content (`title:"…"`).' }),
  source: Nullable(Type.String({ maxLength: 1000 })),
});
export type SearchEnhancementRequestIn = Static<typeof SearchEnhancementRequestIn>;

/** `SearchResultTotal`: a dry run's count; `is_lower_bound` when it stopped at the cap. */
export const SearchResultTotal = Type.Object({ count: Type.Integer({ minimum: 0 }), is_lower_bound: Type.Boolean() });
export type SearchResultTotal = Static<typeof SearchResultTotal>;

/** `EnhancementRequestSearchStatus`: the search phase, which in Refinery is the writing of the request's items. */
export const searchStatuses = ['pending', 'searching', 'completed', 'failed'] as const;

/** `PendingEnhancementStatus`: the statuses `enhancement_status_counts` counts. */
export const pendingEnhancementStatuses = ['pending', 'processing', 'importing', 'indexing', 'indexing_failed', 'completed', 'discarded', 'failed', 'expired'] as const;

/** `SearchEnhancementRequestRead`: a search-based request, its search and its enhancements. */
export const SearchEnhancementRequestRead = Type.Object({
  id: Uuid,
  robot_id: Uuid,
  source: Type.Union([Type.String(), Type.Null()]),
  search_status: Enum(searchStatuses),
  request_status: Enum(enhancementRequestStatuses),
  n_matched: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  n_enhancements_requested: Type.Integer({ minimum: 0 }),
  enhancement_status_counts: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type SearchEnhancementRequestRead = Static<typeof SearchEnhancementRequestRead>;

export const entitlements = ['full_text', 'raw_enhancement_writer'] as const;
export type Entitlement = (typeof entitlements)[number];

/** `RobotIn` (extra fields refused). `base_url`: the push era's field, for a robot Refinery pushes its batches to. */
export const RobotIn = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.String({ maxLength: 2000 }),
    owner: Type.String({ maxLength: 200 }),
    entitlements: Type.Optional(Type.Array(Enum(entitlements), { uniqueItems: true })),
    base_url: Nullable(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, description: 'Push: Refinery POSTs each batch (RobotRequest) to `<base_url>/batch/`.' })),
  },
  { additionalProperties: false },
);
export type RobotIn = Static<typeof RobotIn>;

export const Robot = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  owner: Type.String(),
  entitlements: Type.Array(Enum(entitlements)),
  base_url: Type.Union([Type.String(), Type.Null()]),
});
export type Robot = Static<typeof Robot>;

export const ProvisionedRobot = Type.Object({ ...Robot.properties, client_secret: Type.String({ description: 'Shown once: the HMAC key.' }) });
export type ProvisionedRobot = Static<typeof ProvisionedRobot>;

/** The push era: a batch POSTed to a robot's `<base_url>/batch/`. */
export const RobotRequest = Type.Object({ id: Uuid, reference_storage_url: Type.String(), result_storage_url: Type.String(), extra_fields: Type.Union([Dict, Type.Null()]) });
export type RobotRequest = Static<typeof RobotRequest>;
/** The push era: a pushed robot's answer, inline or posted to `/v1/enhancement-requests/{request_id}/result/`. */
export const RobotResult = Type.Object({ request_id: Uuid, error: Type.Optional(Type.Union([RobotError, Type.Null()])) });
export type RobotResult = Static<typeof RobotResult>;
