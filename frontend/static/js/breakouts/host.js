'use strict';
/**
 * The host's breakout panel (loaded by breakouts.js only for the host and co-hosts; the
 * server checks every message again). Split at random mixing schools and countries, or
 * into empty groups filled by hand; move anyone with the "Move to" list beside their
 * name, before or while the groups are open; open for a number of minutes; send a
 * message to every group; visit a group; close them all.
 */

/**
 * @typedef {import('./plan.js').FullPlan} Plan
 * @typedef {import('./plan.js').Member} Member
 */

import {el, t, countryBadge} from '../room/dom.js';

/**
 * @param {HTMLElement} box
 * @param {import('../room/protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 */
export function mountHostPanel(box, connection, onError) {
  /** @param {string} type @param {object} [fields] */
  const send = (type, fields = {}) => connection.send(type, fields).catch(onError);

  const mode = /** @type {HTMLSelectElement} */ (el('select', {id: 'breakouts-mode'}, [
    el('option', {value: 'mixed', text: t('At random, mixing schools and countries')}),
    el('option', {value: 'manual', text: t('By hand (empty groups)')}),
  ]));
  const size = /** @type {HTMLInputElement} */ (el('input', {id: 'breakouts-size', type: 'number', min: '2', max: '50', value: '4', required: true}));
  const splitForm = el('form', {class: 'breakouts-form', id: 'breakouts-split-form'}, [
    el('div', {class: 'field'}, [el('label', {for: 'breakouts-mode', text: t('How')}), mode]),
    el('div', {class: 'field'}, [el('label', {for: 'breakouts-size', text: t('People per group')}), size]),
    el('button', {type: 'submit', text: t('Split into groups')}),
  ]);
  splitForm.addEventListener('submit', (event) => {
    event.preventDefault();
    send('breakouts.split', {mode: mode.value, group_size: Number(size.value)});
  });

  const minutes = /** @type {HTMLInputElement} */ (el('input', {id: 'breakouts-minutes', type: 'number', min: '1', max: '240', value: '10', required: true}));
  const openForm = el('form', {class: 'breakouts-form', id: 'breakouts-open-form'}, [
    el('div', {class: 'field'}, [el('label', {for: 'breakouts-minutes', text: t('Minutes')}), minutes]),
    el('button', {type: 'submit', text: t('Open the groups')}),
  ]);
  openForm.addEventListener('submit', (event) => {
    event.preventDefault();
    send('breakouts.open', {minutes: Number(minutes.value)});
  });

  const text = /** @type {HTMLInputElement} */ (el('input', {id: 'breakouts-text', maxlength: '500', required: true}));
  const broadcastForm = el('form', {class: 'breakouts-form', id: 'breakouts-broadcast-form', autocomplete: 'off'}, [
    el('div', {class: 'field'}, [el('label', {for: 'breakouts-text', text: t('Message to every group')}), text]),
    el('button', {type: 'submit', text: t('Send to all groups')}),
  ]);
  broadcastForm.addEventListener('submit', (event) => {
    event.preventDefault();
    send('breakouts.broadcast', {text: text.value}).then(() => { text.value = ''; });
  });

  const closeButton = el('button', {type: 'button', class: 'danger', id: 'breakouts-close', text: t('Close all groups'),
    onclick: () => send('breakouts.close')});
  const list = el('div', {id: 'breakouts-plan'});
  box.replaceChildren(el('h3', {text: t('Manage groups')}), splitForm, openForm, broadcastForm, closeButton, list);

  /**
   * @param {Plan} plan
   * @param {Member} person
   * @param {number} current
   */
  function moveSelect(plan, person, current) {
    const select = /** @type {HTMLSelectElement} */ (el('select', {'aria-label': t('Move {name} to').replace('{name}', person.name),
      dataset: {userId: String(person.id)}}, [
      el('option', {value: '0', text: t('No group')}),
      ...plan.groups.map((g) => el('option', {value: String(g.id), text: g.name})),
    ]));
    select.value = String(current);
    select.addEventListener('change', () => send('breakouts.move', {user_id: person.id, group_id: Number(select.value)}));
    return select;
  }

  /**
   * @param {Plan} plan
   * @param {Member[]} people
   * @param {number} current
   */
  function members(plan, people, current) {
    return el('ul', {class: 'breakouts-members'}, people.map((p) => el('li', {}, [
      el('span', {text: p.name}), p.school ? el('span', {class: 'muted', text: p.school}) : null, countryBadge(p.country || ''),
      plan.state === 'closed' ? null : moveSelect(plan, p, current),
    ])));
  }

  return {
    /** @param {Plan} plan */
    render(plan) {
      const open = plan.state === 'open';
      splitForm.hidden = open;
      openForm.hidden = plan.state !== 'ready';
      broadcastForm.hidden = !open;
      closeButton.hidden = !open;
      if (plan.state === 'none' || plan.state === 'closed') { list.replaceChildren(); return; }
      list.replaceChildren(
        el('ul', {class: 'breakouts-groups'}, plan.groups.map((g) => el('li', {dataset: {group: String(g.id)}}, [
          el('h4', {text: `${g.name} (${g.members.length})`}),
          members(plan, g.members, g.id),
          open ? el('a', {href: g.url, target: '_blank', rel: 'noopener', text: t('Visit {name}').replace('{name}', g.name)}) : null,
        ]))),
        plan.unassigned.length ? el('h4', {text: t('Not in a group')}) : null,
        plan.unassigned.length ? members(plan, plan.unassigned, 0) : null,
      );
    },
  };
}
