'use strict';
/** Questions to the host, ranked by up-votes (one per person). */
import {byId, el, t} from './dom.js';

/**
 * @param {import('./state.js').RoomModel} model
 * @param {import('./protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 */
export function renderQuestions(model, connection, onError) {
  const host = model.can('moderate');
  const questions = [...model.questions.values()].sort((a, b) => b.votes - a.votes || a.id - b.id);
  byId('question-list').replaceChildren(...(questions.length ? questions.map((q) => el('li', {dataset: {questionId: String(q.id)}}, [
    el('span', {class: 'question-votes', text: String(q.votes), title: t('Up-votes')}), ' ',
    el('span', {class: 'question-text', text: q.text}), ' ',
    el('span', {class: 'muted', text: `— ${q.author_name}`}), ' ',
    el('button', {
      type: 'button', class: 'secondary', disabled: q.voted || !model.can('vote'), 'aria-pressed': String(Boolean(q.voted)),
      onclick: () => connection.send('question.upvote', {question_id: q.id}).then(() => { q.voted = true; }).catch(onError),
      text: q.voted ? t('Voted') : t('Up-vote'),
    }),
    host ? el('button', {type: 'button', class: 'secondary', onclick: () => connection.send('question.answer', {question_id: q.id}).catch(onError), text: t('Answered')}) : null,
    host ? el('button', {type: 'button', class: 'secondary', onclick: () => connection.send('question.dismiss', {question_id: q.id}).catch(onError), text: t('Dismiss')}) : null,
  ])) : [el('li', {class: 'muted', text: t('No open questions')})]));
}

/**
 * @param {import('./protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 */
export function wireQuestions(connection, onError) {
  const form = /** @type {HTMLFormElement} */ (byId('question-form'));
  const input = /** @type {HTMLInputElement} */ (byId('question-text'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    connection.send('question.ask', {text}).catch((error) => { input.value = text; onError(error); });
  });
}
