/**
 * `npm run lint:rooms` (part of `npm test`): each capability of the server (a folder of
 * packages/server/src) is used by the others only through its index.ts, its one public face.
 */
module.exports = {
  forbidden: [
    {
      name: 'capability-internals',
      severity: 'error',
      comment: "Another capability's internals: import what it exports from its index.ts instead",
      from: { path: '^packages/server/src/([^/]+)/' },
      // A module loaded lazily for its weight (PGlite, the S3 client) is imported by its own path.
      to: { path: '^packages/server/src/[^/]+/', pathNot: ['^packages/server/src/$1/', '^packages/server/src/[^/]+/index\\.ts$'], dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'capability-internals-from-root',
      severity: 'error',
      comment: "The server's root files (app.ts, refinery.ts, …) also use a capability through its index.ts",
      from: { path: '^packages/server/src/[^/]+\\.ts$' },
      to: { path: '^packages/server/src/[^/]+/', pathNot: '^packages/server/src/[^/]+/index\\.ts$', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'no-cycles-between-capabilities',
      severity: 'error',
      from: { path: '^packages/server/src/' },
      to: { circular: true, viaOnly: { pathNot: '^packages/server/src/([^/]+)/.+' } },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^packages/server/src/',
  },
};
