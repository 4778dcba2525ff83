/** The cli capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { registerClientCommands } from './client-commands.ts';
