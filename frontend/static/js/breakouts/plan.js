'use strict';
/**
 * The breakout plan as the page holds it, and the changes the room sends to it
 * (docs/protocol.md, "Breakout groups"). No DOM here.
 *
 * The whole plan comes in the snapshot and in the reply to `breakouts.get`; after that,
 * each `breakouts.changed` event carries only what changed (who moved where, which group
 * changed) with `base_version` → `version`. A change applies only to the version it was
 * made from; any other means a change was missed, and the page asks for the whole plan.
 * Changes are idempotent (they set, never add), so a plan a little newer than its
 * version loses nothing when a change it already has is applied again.
 *
 * An attendee's plan has the groups and only the attendee in theirs: a new split arrives
 * as ids, and the attendee's page needs no one's name (it shows its own group and, once
 * closed, each group's name and notes). Only the host's page, which lists everyone, asks
 * for the whole plan to learn names (`planNeedsWhole`); were attendees to ask too, a
 * close at 1,000 people would make 1,000 requests of 82 KB each.
 */

/**
 * @typedef {{id: number, name: string, school?: string, country?: string}} Member
 * @typedef {{id: number, number: number, name: string, url: string, members: Member[], report: string}} Group
 * @typedef {{version: number, split: number, state: string, opened_at: string|null, closes_at: string|null, groups: Group[], unassigned: Member[], can_manage?: boolean, now?: string}} FullPlan
 * @typedef {{id: number, number?: number, name?: string, url?: string, report?: string, members?: number[]}} GroupChange
 * @typedef {{version: number, base_version: number, split: number, state: string, opened_at: string|null, closes_at: string|null,
 *   replace: boolean, groups: GroupChange[], unassigned: number[], moves: [number, number][], people: Member[]}} PlanChange
 * @typedef {{id: number, number: number, name: string, url: string, report: string}} GroupInfo
 * @typedef {{version: number, split: number, state: string, opened_at: string|null, closes_at: string|null,
 *   groups: GroupInfo[], where: Map<number, number>, people: Map<number, Member>}} Plan
 */

/**
 * @param {FullPlan} full
 * @returns {Plan}
 */
export function planFromFull(full) {
  /** @type {Map<number, number>} */
  const where = new Map();
  /** @type {Map<number, Member>} */
  const people = new Map();
  const groups = full.groups.map((g) => {
    for (const member of g.members) { where.set(member.id, g.id); people.set(member.id, member); }
    return {id: g.id, number: g.number, name: g.name, url: g.url, report: g.report || ''};
  });
  for (const member of full.unassigned) { where.set(member.id, 0); people.set(member.id, member); }
  return {version: full.version || 0, split: full.split, state: full.state, opened_at: full.opened_at,
    closes_at: full.closes_at, groups, where, people};
}

/**
 * Apply one change in place. Returns 'applied', 'old' (already have it) or 'gap'
 * (a change between was missed: ask for the whole plan).
 * @param {Plan} plan
 * @param {PlanChange} change
 * @returns {'applied'|'old'|'gap'}
 */
export function planApply(plan, change) {
  if (change.version <= plan.version) return 'old';
  if (change.base_version !== plan.version) return 'gap';
  if (change.replace) {
    plan.where = new Map();
    plan.groups = change.groups.map((g) => {
      for (const id of g.members || []) plan.where.set(id, g.id);
      return {id: g.id, number: g.number || 0, name: g.name || '', url: g.url || '', report: g.report || ''};
    });
    for (const id of change.unassigned) plan.where.set(id, 0);
  } else {
    for (const g of change.groups) {
      const known = plan.groups.find((x) => x.id === g.id);
      if (known) Object.assign(known, Object.fromEntries(Object.entries(g).filter(([key]) => key !== 'members')));
    }
  }
  for (const [id, groupId] of change.moves) plan.where.set(id, groupId);
  for (const person of change.people) plan.people.set(person.id, person);
  Object.assign(plan, {version: change.version, split: change.split, state: change.state,
    opened_at: change.opened_at, closes_at: change.closes_at});
  return 'applied';
}

/**
 * Whether every person placed in the plan has a known name (else ask for the whole plan).
 * @param {Plan} plan
 */
export function planHasEveryName(plan) {
  for (const id of plan.where.keys()) if (!plan.people.has(id)) return false;
  return true;
}

/**
 * Whether the page must ask for the whole plan after applying a change: a change was
 * missed ('gap'), or, on the host's page only (it lists everyone to move them), a person
 * whose name it does not know. An attendee's page never asks for names.
 * @param {Plan} plan
 * @param {'applied'|'old'|'gap'} outcome what `planApply` returned
 * @param {boolean} canManage the host's or a co-host's page
 */
export function planNeedsWhole(plan, outcome, canManage) {
  if (outcome === 'gap') return true;
  return outcome === 'applied' && canManage && !planHasEveryName(plan);
}

/**
 * The plan as lists to show: each group with its members' cards, the people in no group.
 * @param {Plan} plan
 * @returns {FullPlan}
 */
export function planView(plan) {
  /** @param {number} groupId */
  const membersOf = (groupId) => [...plan.where].filter(([, g]) => g === groupId)
    .map(([id]) => plan.people.get(id) || {id, name: '…'})
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    version: plan.version, split: plan.split, state: plan.state, opened_at: plan.opened_at, closes_at: plan.closes_at,
    groups: plan.groups.map((g) => ({...g, members: membersOf(g.id)})),
    unassigned: plan.state === 'closed' ? [] : membersOf(0),
  };
}
