'use strict';
/** Polls: vote, live counts, results that stay; the host opens and closes them. */
import {byId, el, t} from './dom.js';

/**
 * @param {import('./state.js').RoomModel} model
 * @param {import('./protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 * @param {() => void} rerender
 */
export function renderPolls(model, connection, onError, rerender) {
  const polls = [...model.polls.values()].sort((a, b) => b.id - a.id);
  byId('poll-create').hidden = !model.can('poll');
  // Re-rendering must not undo a choice the person is making: keep what is ticked.
  /** @type {Map<number, Set<number>>} */
  const ticked = new Map();
  for (const form of byId('poll-list').querySelectorAll('form[data-poll-id]')) {
    const values = [...form.querySelectorAll('input:checked')].map((input) => Number(/** @type {HTMLInputElement} */ (input).value));
    ticked.set(Number(/** @type {HTMLElement} */ (form).dataset.pollId), new Set(values));
  }
  byId('poll-list').replaceChildren(...polls.map((poll) => {
    const open = poll.status === 'open';
    const total = Object.values(poll.counts || {}).reduce((sum, n) => sum + n, 0) || 0;
    const name = `poll-${poll.id}`;
    const choice = ticked.get(poll.id) || new Set(poll.my_choice || []);
    const form = el('form', {class: 'poll', dataset: {pollId: String(poll.id)}}, [
      el('fieldset', {}, [
        el('legend', {text: poll.question + (open ? '' : ` (${t('closed')})`)}),
        ...poll.options.map((option) => {
          const count = (poll.counts || {})[String(option.id)] || 0;
          const share = total ? Math.round((count / total) * 100) : 0;
          const id = `${name}-${option.id}`;
          return el('div', {class: 'poll-option'}, [
            el('input', {type: poll.multiple ? 'checkbox' : 'radio', name, id, value: String(option.id), checked: choice.has(option.id), disabled: !open || !model.can('vote')}),
            el('label', {for: id, text: option.label}),
            el('meter', {min: '0', max: String(total || 1), value: String(count), 'aria-hidden': 'true'}),
            el('span', {class: 'poll-count', dataset: {optionId: String(option.id)}, text: `${count} (${share}%)`}),
          ]);
        }),
        el('p', {class: 'muted', text: `${poll.voters || 0} ${t('voters')}`}),
        open && model.can('vote') ? el('button', {type: 'submit', text: t('Vote')}) : null,
        open && model.can('poll') ? el('button', {type: 'button', class: 'secondary', onclick: () => connection.send('poll.close', {poll_id: poll.id}).catch(onError), text: t('Close the poll')}) : null,
      ]),
    ]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const picked = [...form.querySelectorAll('input:checked')].map((input) => Number(/** @type {HTMLInputElement} */ (input).value));
      if (!picked.length) return;
      connection.send('poll.vote', {poll_id: poll.id, option_ids: picked}).then(() => { poll.my_choice = picked; rerender(); }).catch(onError);
    });
    return form;
  }));
}

/**
 * @param {import('./protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 */
export function wirePollForm(connection, onError) {
  const form = /** @type {HTMLFormElement} */ (byId('poll-form'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const options = String(data.get('options') || '').split('\n').map((s) => s.trim()).filter(Boolean);
    connection.send('poll.create', {question: String(data.get('question') || '').trim(), options, multiple: data.get('multiple') === 'on'})
      .then(() => { form.reset(); /** @type {HTMLDetailsElement} */ (byId('poll-create')).open = false; })
      .catch(onError);
  });
}
