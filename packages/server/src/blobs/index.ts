/** The blobs capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { FileBlobStore, fileBlobRoot } from './fileStore.ts';
export { blobRoutes } from './routes.ts';
export { type S3BlobStore } from './s3Store.ts';
export { blobExists, blobKeys, signedUrlSeconds, type BlobStore } from './store.ts';
