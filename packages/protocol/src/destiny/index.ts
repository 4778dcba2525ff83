/** DESTINY's wire protocol (docs/destiny.md): its models as TypeBox schemas, and its robot signature. */
export * from './models.ts';
export * from './signing.ts';
