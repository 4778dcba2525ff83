import { Command } from 'commander';
import type { RecordTypeOut } from '@refinery/protocol';
import { connected, withClient, type CommonFlags } from './connection.ts';
import { duration } from './options.ts';
import { print, printJson, printTable } from './output.ts';

/** `refinery record-types …`: retention policies (docs/retention.md). */
export function registerRecordTypeCommands(program: Command): void {
  const types = program.command('record-types').description("record types' retention: when their records age out, and decay before (setting it needs an admin key)");

  connected(types.command('list'))
    .description('the record types that carry a retention policy')
    .action(
      withClient(async (client, flags: CommonFlags) => {
        const { data } = await client.listRecordTypes();
        if (flags.json) return printJson(data);
        if (data.length === 0) return print('No record type has a retention policy: records never age out. Set one with: refinery record-types set TYPE --aged-out P365D');
        printTable([['TYPE', 'FULL UNTIL', 'AGED OUT', 'DECAY', 'UPDATED'], ...data.map(recordTypeRow)]);
      }),
    );

  connected(types.command('show'))
    .description("a record type's retention policy")
    .argument('<type>', 'record type, e.g. reference')
    .action(
      withClient(async (client, type: string, flags: CommonFlags) => {
        const recordType = await client.getRecordType(type);
        if (flags.json) return printJson(recordType);
        printRecordType(recordType);
      }),
    );

  connected(types.command('set'))
    .description("set a record type's retention policy")
    .argument('<type>', 'record type, e.g. reference')
    .requiredOption('--aged-out <duration>', 'age from which its records are expired for new requests and then removed, ISO 8601 (P365D) or seconds', duration)
    .option('--full-until <duration>', 'fully available until this age (default: --aged-out)', duration)
    .option('--decay', 'between --full-until and --aged-out, deny new items with a probability growing from 0 to 1')
    .action(
      withClient(async (client, type: string, flags: CommonFlags & { agedOut: string; fullUntil?: string; decay?: boolean }) => {
        const recordType = await client.setRecordTypeRetention(type, { aged_out: flags.agedOut, full_until: flags.fullUntil, decay: flags.decay });
        if (flags.json) return printJson(recordType);
        printRecordType(recordType);
      }),
    );

  connected(types.command('encrypt'))
    .description("store a record type's content encrypted from now on; its records stored before are encrypted in the background (docs/encryption.md); it cannot be undone")
    .argument('<type>', 'record type, e.g. reference')
    .action(
      withClient(async (client, type: string, flags: CommonFlags) => {
        const recordType = await client.encryptRecordType(type);
        if (flags.json) return printJson(recordType);
        const pending = recordType.encryption?.records_pending ?? 0;
        print(`Records of type ${recordType.type} are stored encrypted${pending > 0 ? `; ${pending} stored before are being encrypted (see: refinery record-types show ${type})` : ''}.`);
      }),
    );

  connected(types.command('clear'))
    .description("remove a record type's retention policy: its records never age out")
    .argument('<type>', 'record type, e.g. reference')
    .action(
      withClient(async (client, type: string, flags: CommonFlags) => {
        const recordType = await client.setRecordTypeRetention(type, null);
        if (flags.json) return printJson(recordType);
        print(`Records of type ${recordType.type} never age out now.`);
      }),
    );
}

function recordTypeRow(t: RecordTypeOut): string[] {
  return t.retention
    ? [t.type, t.retention.full_until, t.retention.aged_out, t.retention.decay ? 'yes' : 'no', t.updated_at ?? '—']
    : [t.type, '—', 'never', '—', t.updated_at ?? '—'];
}

function printRecordType(t: RecordTypeOut): void {
  if (t.encryption) print(`Content encrypted${t.encryption.status === 'encrypting' ? `; ${t.encryption.records_pending} records stored before still being encrypted` : ''}.`);
  if (!t.retention) return print(`Records of type ${t.type} never age out (no retention policy).`);
  printTable([
    ['type', t.type],
    ['full until', t.retention.full_until],
    ['aged out', t.retention.aged_out],
    ['decay', t.retention.decay ? `yes, between ${t.retention.full_until} and ${t.retention.aged_out}` : 'no'],
    ['updated', t.updated_at ?? '—'],
  ]);
}
