import { Ajv, type Options, type SchemaValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS; its default import is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(options: Options): Ajv {
  return addFormats(new Ajv({ allErrors: false, strict: false, useDefaults: true, removeAdditional: false, ...options }));
}

/** `x-lowercase` (the schema of ids): a valid value is taken in lower case, as if sent so. */
function takeInLowerCase(ajv: Ajv): Ajv {
  return ajv.addKeyword({
    keyword: 'x-lowercase',
    type: 'string',
    schemaType: 'boolean',
    modifying: true,
    validate: ((lower: boolean, data: string, _parent, cxt) => {
      if (lower && cxt?.parentData) cxt.parentData[cxt.parentDataProperty] = data.toLowerCase();
      return true;
    }) satisfies SchemaValidateFunction,
  });
}

// Bodies are taken as sent: a wrong type is an error, not something to coerce,
// and an unknown field is an error, not something to drop silently.
const bodyAjv = takeInLowerCase(makeAjv({ coerceTypes: false }));
// Query strings and path parameters arrive as text; numbers in them are coerced.
const textAjv = takeInLowerCase(makeAjv({ coerceTypes: true }));

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : textAjv;
  return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
};

/** An Ajv for validating JSON outside routes (records in a stream, robots' content schemas), with `options` besides. */
export function strictAjv(options: Options = {}): Ajv {
  return makeAjv({ coerceTypes: false, useDefaults: false, ...options });
}
