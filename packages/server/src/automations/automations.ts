import type { FastifyRequest } from 'fastify';
import type { AutomationIn, AutomationOut, AutomationTrigger, RecordFilter } from '@refinery/protocol';
import { callerOwns } from '../auth/index.ts';
import type { Context } from '../context.ts';
import type { Queryable } from '../db/index.ts';
import { errors } from '../errors.ts';
import { newId } from '../ids.ts';
import { checkFilter, parseQuery } from '../records/index.ts';
import { getRobot, type RobotRow } from '../robots/index.ts';
import { describeCycle, findCycle } from './cycles.ts';
import type { AutomationRow } from './queries/automationRow.ts';
import { getAutomation } from './queries/getAutomation.ts';
import { automationTotals } from './queries/automationTotals.ts';
import { insertAutomation } from './queries/insertAutomation.ts';
import { replaceAutomation } from './queries/replaceAutomation.ts';
import { listAutomationGraph } from './queries/listAutomationGraph.ts';
import { lockAutomations } from './queries/lockAutomations.ts';
import { setAutomationActive } from './queries/setAutomationActive.ts';

/** The filter an automation's `query` or `filter` says, checked as a search's is (400 `invalid_query` with where); null for neither. */
export function automationFilter(ctx: Pick<Context, 'config'>, body: { query?: string; filter?: unknown }): RecordFilter | null {
  if (body.query !== undefined && body.filter !== undefined) throw errors.invalidRequest('send a query string (`query`) or a filter (`filter`), not both');
  if (body.query !== undefined) return parseQuery(body.query, ctx.config.queryMaxClauses);
  if (body.filter !== undefined) return checkFilter(body.filter, ctx.config.queryMaxClauses);
  return null;
}

/** The robot must exist and be active (422 otherwise); with `records`, accept that type. */
async function checkRobot(db: Queryable, p: { id: string; now: Date; recordsType?: string }): Promise<RobotRow> {
  const robot = await getRobot(db, { id: p.id, now: p.now });
  if (!robot) throw errors.of('unknown_robot', `no robot has id ${p.id}`);
  if (!robot.active) throw errors.of('robot_paused', `robot "${robot.name}" is paused; it takes no new requests`);
  if (p.recordsType !== undefined && !robot.accepts.includes(p.recordsType)) {
    throw errors.of('type_not_accepted', `robot "${robot.name}" does not accept records of type "${p.recordsType}" (it accepts ${robot.accepts.join(', ')})`);
  }
  return robot;
}

/** Refuses (422 `automation_cycle`) an active automation that would close a cycle; called holding lockAutomations. */
async function refuseCycle(db: Queryable, automation: Pick<AutomationRow, 'id' | 'robot_id' | 'enhancements_type' | 'enhancements_robot_id'>, robot: RobotRow): Promise<void> {
  const self = { ...automation, robot_name: robot.name, produces: robot.produces.map((p) => p.type) };
  const cycle = findCycle(self, await listAutomationGraph(db));
  if (cycle) throw errors.automationCycle(describeCycle(cycle), cycle.map((a) => ({ automation_id: a.id, robot_id: a.robot_id })));
}

/** What an automation is, checked: made from AutomationIn (automationSpec) or from DESTINY's RobotAutomationIn. */
export interface AutomationSpec {
  robot_id: string;
  trigger: AutomationTrigger;
  query: string | null;
  filter: RecordFilter | null;
  active: boolean;
  /** The percolator query it was added with through DESTINY's routes. */
  destinyQuery?: unknown;
}

export function automationSpec(ctx: Pick<Context, 'config'>, body: AutomationIn): AutomationSpec {
  return { robot_id: body.robot_id, trigger: body.trigger, query: body.query ?? null, filter: automationFilter(ctx, body), active: body.active ?? true };
}

/**
 * Adds an automation, or with `replacing` puts another in its place (its waiting matches dropped):
 * its robot active (422), no cycle closed (422), all before anything is written; the check and the
 * write hold the automations' lock, so that two added at once cannot close a cycle together.
 */
export async function saveAutomation(ctx: Pick<Context, 'clock' | 'db'>, spec: AutomationSpec, createdBy: string, replacing?: AutomationRow): Promise<AutomationRow> {
  const now = ctx.clock.now();
  const { records, enhancements } = spec.trigger;
  return ctx.db.transaction(async (tx) => {
    const robot = await checkRobot(tx, { id: spec.robot_id, now, recordsType: records?.type });
    if (enhancements?.robot_id && !(await getRobot(tx, { id: enhancements.robot_id, now }))) {
      throw errors.of('unknown_robot', `trigger.enhancements.robot_id: no robot has id ${enhancements.robot_id}`);
    }
    const row = {
      id: replacing?.id ?? newId(),
      robot_id: spec.robot_id,
      created_by: replacing?.created_by ?? createdBy,
      records_type: records?.type ?? null,
      enhancements_type: enhancements?.type ?? null,
      enhancements_robot_id: enhancements?.robot_id ?? null,
      query: spec.query,
      filter: spec.filter,
      active: spec.active,
      destiny_query: spec.destinyQuery ?? null,
    };
    await lockAutomations(tx);
    if (row.active) await refuseCycle(tx, row, robot);
    return replacing ? (await replaceAutomation(tx, { ...row, now }))! : insertAutomation(tx, { ...row, now });
  });
}

/** Pauses or resumes; resuming checks the robot and for a cycle again, as adding does. */
export async function setActive(ctx: Pick<Context, 'clock' | 'db'>, automation: AutomationRow, active: boolean): Promise<AutomationRow> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    if (active && !automation.active) {
      const robot = await checkRobot(tx, { id: automation.robot_id, now });
      await lockAutomations(tx);
      await refuseCycle(tx, automation, robot);
    }
    return (await setAutomationActive(tx, { id: automation.id, active, now }))!;
  });
}

export function automationOut(row: AutomationRow): Omit<AutomationOut, 'triggered'> {
  const { records_type, enhancements_type, enhancements_robot_id, destiny_query: _destiny, ...rest } = row;
  return {
    ...rest,
    trigger: {
      ...(records_type !== null && { records: { type: records_type } }),
      ...(enhancements_type !== null && { enhancements: { type: enhancements_type, ...(enhancements_robot_id && { robot_id: enhancements_robot_id }) } }),
    },
  } as unknown as Omit<AutomationOut, 'triggered'>;
}

export async function automationWithTotals(ctx: Pick<Context, 'db'>, row: AutomationRow): Promise<AutomationOut> {
  return { ...automationOut(row), triggered: await automationTotals(ctx.db, { id: row.id }) } as AutomationOut;
}

/** The automation `id`, if the caller may see it: the key that made it, or an admin; anyone else gets 404 (`what` names it). */
export async function visibleAutomationOf(ctx: Pick<Context, 'db'>, request: FastifyRequest, id: string, what = 'automation'): Promise<AutomationRow> {
  const row = await getAutomation(ctx.db, { id });
  if (!row || !callerOwns(request, row.created_by)) throw errors.notFound(what);
  return row;
}
