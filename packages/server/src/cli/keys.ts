import { Command, Option } from 'commander';
import { roles } from '@refinery/protocol';
import { connected, withClient, type CommonFlags } from './connection.ts';
import { note, print, printJson, printTable } from './output.ts';

/** `refinery keys …` (admin key). */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('make, list and revoke API keys (admin key); rotate the master key');

  keys
    .command('rotate-master')
    .description(
      're-wrap every data key under a new master key (REFINERY_NEW_MASTER_KEY or REFINERY_NEW_MASTER_KEY_FILE; embedded: one is made), ' +
        'reading the database and current master key as `refinery serve` does; resumes where it stopped (docs/encryption.md)',
    )
    .option('--data-dir <dir>', 'embedded mode: the data directory (REFINERY_DATA_DIR; default ./refinery-data); Refinery must be stopped')
    // Loaded when it runs: it opens the database, as `serve` does.
    .action(async (flags: { dataDir?: string }) => (await import('../keys/rotateCommand.ts')).rotateMasterCommand(flags));

  connected(keys.command('create'))
    .description('make an API key; prints it as JSON (the key is shown once)')
    .requiredOption('--name <name>', 'what the key is for')
    .addOption(new Option('--role <role>', 'what it may do').choices(roles).default('requester'))
    .action(
      withClient(async (client, flags: { name: string; role: (typeof roles)[number] }) => {
        const key = await client.createApiKey({ name: flags.name, role: flags.role });
        printJson(key);
        note(`\nAPI key "${key.name}" (${key.role}) made. It is shown only this once: keep it.`);
        note(`  export REFINERY_API_KEY=${key.key}`);
      }),
    );

  connected(keys.command('list'))
    .description('list the API keys not revoked (never their values)')
    .action(
      withClient(async (client, flags: CommonFlags) => {
        const { data } = await client.listApiKeys();
        if (flags.json) return printJson(data);
        printTable([['ID', 'NAME', 'ROLE', 'CREATED'], ...data.map((k) => [k.id, k.name, k.role, k.created_at])]);
      }),
    );

  connected(keys.command('revoke'))
    .description('revoke an API key: refused at once through the Refinery process that revokes it, within 5 s through any other')
    .argument('<id>', 'key id (see `refinery keys list`)')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        const key = await client.revokeApiKey(id);
        if (flags.json) return printJson(key);
        print(`API key "${key.name}" (${key.role}) is revoked (since ${key.revoked_at}).`);
        print('Refinery refuses it at once through the process that revoked it, and within 5 s through any other.');
      }),
    );
}
