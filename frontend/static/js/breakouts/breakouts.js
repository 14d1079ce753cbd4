'use strict';
/**
 * Breakout groups on the room page (templates/room/_breakouts.html; protocol in
 * docs/protocol.md, "Breakout groups").
 *
 * In a main room: your group and a link to it (the page moves there by itself when the
 * host opens the groups), the countdown, the host's message, and the groups' notes once
 * they close. In a group's room: the group, the countdown, the host's message; when the
 * group closes (or you are moved) the page goes where the server says. The countdown runs
 * on the server's clock (the snapshot's `now`), so every screen shows the same time.
 * The host's panel (host.js) is loaded only for people the snapshot says may manage.
 * The plan arrives whole once, then as changes with a version (./plan.js); a page that
 * missed a change asks for the whole plan again (`breakouts.get`). An attendee's plan has
 * no one else's name: the report-back lists each group by name, with its notes.
 */

/**
 * @typedef {import('./plan.js').Member} Member
 * @typedef {import('./plan.js').FullPlan} FullPlan
 */

import {connection, model} from '../room/live.js';
import {subscribe} from '../room/bus.js';
import {byId, el, t} from '../room/dom.js';
import {planApply, planFromFull, planNeedsWhole, planView} from './plan.js';

const root = byId('breakouts');
const isGroup = root.dataset.kind === 'group';
const me = Number(byId('room').dataset.userId || 0);
/** Server time minus this browser's time, in ms (from the snapshot's `now`). */
let offset = 0;
/** @type {import('./plan.js').Plan|null} */
let plan = null;
/** Changes that arrived while the whole plan was on its way (applied after it, in order). @type {any[]|null} */
let waiting = null;
let canManage = false;
/** @type {any} */
let group = null;
let leaving = false;
/** @type {{render: (plan: FullPlan) => void}|null} */
let hostPanel = null;
let autoMoved = false;

/** @param {string} url */
function go(url) {
  if (leaving) return;
  leaving = true;
  window.location.assign(url);
}

/** @param {string} text */
function status(text) { byId('breakouts-status').textContent = text; }

function countdown() {
  const box = byId('breakouts-countdown');
  const closes = isGroup ? group?.closes_at : (plan?.state === 'open' ? plan.closes_at : null);
  if (!closes) { box.hidden = true; return; }
  const left = Math.max(0, Math.round((Date.parse(closes) - (Date.now() + offset)) / 1000));
  const text = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
  box.hidden = false;
  box.textContent = t('Time left: {time}').replace('{time}', text);
  box.setAttribute('aria-label', box.textContent);
  // The server closes the groups on time; if this page missed it, go back a little later.
  if (isGroup && left === 0 && group?.parent) setTimeout(() => go(group.parent.url), 5000);
}
setInterval(countdown, 1000);

/** @param {any} data */
function showMessage(data) {
  const box = byId('breakouts-message');
  box.hidden = false;
  box.textContent = t('Message from {name}: {text}').replace('{name}', data.by?.name || '').replace('{text}', data.text);
}

function renderGroupRoom() {
  root.hidden = !group || !group.group;
  if (!group || !group.group) return;
  byId('breakouts-heading').textContent = t('Your breakout group') + ': ' + group.group.name;
  const mine = byId('breakouts-mine');
  mine.hidden = false;
  mine.replaceChildren(
    el('span', {text: t('With:') + ' ' + group.members.map((/** @type {Member} */ m) => m.name).join(', ') + '. '}),
    el('a', {href: group.parent.url, text: t('Back to the main room')}),
  );
  countdown();
}

/** Ask for the whole plan (a change was missed, or names are missing); changes wait meanwhile. */
function fetchWholePlan() {
  if (waiting) return;
  waiting = [];
  connection.send('breakouts.get').catch((error) => { waiting = null; status(error?.message || String(error)); });
}

/** @param {FullPlan} full */
function receiveWholePlan(full) {
  const queued = waiting || [];
  waiting = null;
  if (!plan || full.version >= plan.version) plan = planFromFull(full);
  for (const change of queued) planApply(plan, change);
  renderMainRoom();
}

/** @param {any} change */
function receiveChange(change) {
  if (waiting) { waiting.push(change); return; }
  if (!plan) return;
  const outcome = planApply(plan, change);
  if (planNeedsWhole(plan, outcome, canManage)) {
    fetchWholePlan();
    return;
  }
  if (outcome === 'applied') {
    if (change.state === 'open') autoMoved = false;
    renderMainRoom();
  }
}

function renderMainRoom() {
  if (!plan) return;
  const mineBox = byId('breakouts-mine');
  const view = planView(plan);
  const mine = view.groups.find((g) => g.id === plan?.where.get(me));
  root.hidden = plan.state === 'none' && !canManage;
  if (plan.state === 'ready') status(t('The host has split the room into groups; they open soon.'));
  else if (plan.state === 'open') status(t('The breakout groups are open.'));
  else if (plan.state === 'closed') status(t('The breakout groups have closed.'));
  else status('');
  mineBox.hidden = !mine || plan.state === 'closed';
  if (mine) {
    mineBox.replaceChildren(
      el('span', {text: t('Your group: {name}.').replace('{name}', mine.name) + ' '}),
      plan.state === 'open' ? el('a', {href: mine.url, class: 'button', text: t('Join your group')}) : null,
    );
  }
  const reports = byId('breakouts-reports');
  reports.hidden = plan.state !== 'closed';
  if (plan.state === 'closed') {
    // The host's page knows everyone's name; an attendee's knows the groups (and marks its own).
    /** @param {import('./plan.js').Group} g */
    const heading = (g) => canManage ? g.name + ' (' + g.members.map((m) => m.name).join(', ') + ')'
      : g.id === mine?.id ? t('{name} (your group)').replace('{name}', g.name) : g.name;
    byId('breakouts-report-list').replaceChildren(...view.groups.map((g) => el('div', {class: 'breakouts-report', dataset: {group: String(g.id)}}, [
      el('h4', {text: heading(g)}),
      el('pre', {text: g.report || t('No notes were written.')}),
    ])));
  }
  countdown();
  if (hostPanel) hostPanel.render(view);
  // Everyone goes to their group when it opens (the host and co-hosts visit instead).
  if (plan.state === 'open' && mine && !canManage && !autoMoved && !model.room.ended) {
    autoMoved = true;
    go(mine.url);
  }
}

async function loadHostPanel() {
  if (hostPanel || !canManage) return;
  const module = await import(root.dataset.hostModule || './host.js');
  hostPanel = module.mountHostPanel(byId('breakouts-host'), connection, (/** @type {any} */ error) => status(error?.message || String(error)));
  if (plan && hostPanel) hostPanel.render(planView(plan));
}

subscribe('room:snapshot', (/** @type {any} */ snapshot) => {
  const part = isGroup ? snapshot.breakout : snapshot.breakouts;
  if (!part || !part.now) return;
  offset = Date.parse(part.now) - Date.now();
  if (isGroup) {
    group = part;
    renderGroupRoom();
  } else {
    plan = planFromFull(part);
    waiting = null;
    canManage = Boolean(part.can_manage);
    renderMainRoom();
    loadHostPanel().catch((error) => status(String(error)));
  }
});

subscribe('room:event', (/** @type {any} */ event) => {
  const data = event.data || {};
  switch (event.type) {
    case 'breakouts.changed':
      if (!isGroup) receiveChange(data);
      break;
    case 'presence':
      // The host's list of people in no group grows as people arrive.
      if (!isGroup && canManage && plan && (plan.state === 'ready' || plan.state === 'open')) {
        let added = false;
        for (const card of data.joined || []) {
          if (card.role === 'host' || plan.where.has(card.user_id)) continue;
          plan.where.set(card.user_id, 0);
          plan.people.set(card.user_id, {id: card.user_id, name: card.name, school: card.school, country: card.country});
          added = true;
        }
        if (added) renderMainRoom();
      }
      break;
    case 'breakout.message': showMessage(data); root.hidden = false; break;
    case 'breakout.moved': if (data.user_id === me) { status(t('The host moved you to another group.')); go(data.url); } break;
    case 'breakout.closed':
      status(t('The group has closed: back to the main room…'));
      go(data.return_url);
      break;
    default: break;
  }
});

subscribe('room:message', (/** @type {any} */ message) => {
  if (message.type === 'breakouts.state' && message.plan && !isGroup) receiveWholePlan(message.plan);
});
