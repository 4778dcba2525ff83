import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built into the server package, which serves it at /ui (packages/server/src/dashboard/static.ts).
export default defineConfig({
  base: '/ui/',
  root: fileURLToPath(new URL('.', import.meta.url)),
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: fileURLToPath(new URL('../server/ui', import.meta.url)), emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  logLevel: 'warn',
});
