// The quiz page: send answers as JSON, or keep them on the device when there is no
// network and send them when it is back (outbox.js). The form still works without this
// script (a plain POST with the same client_id).
'use strict';

import { newClientId, outboxAdd, outboxFlush, outboxRead, outboxUse } from './outbox.js';

const gettext = /** @type {(s: string) => string} */ (
  /** @type {any} */ (window).gettext || ((s) => s)
);

/**
 * @param {string} tag
 * @param {string} [text]
 * @param {string} [className]
 */
function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/**
 * Show an attempt's result in place of anything shown before (so it appears once).
 * @param {HTMLElement} region
 * @param {any} result  the API's ResultOut
 * @param {number} courseId
 */
function showResult(region, result, courseId) {
  const heading = element('h2', gettext('Result of attempt %(n)s').replace('%(n)s', String(result.number)));
  const score = element('p', gettext('Score %(score)s of %(max)s (%(percent)s%).')
    .replace('%(score)s', String(result.score)).replace('%(max)s', String(result.max_score))
    .replace('%(percent)s', String(result.percent)), 'score');
  const verdict = result.status === 'pending'
    ? element('span', ` ${gettext('Waiting for marking.')}`, 'verdict pending')
    : result.passed
      ? element('span', ` ${gettext('Passed.')}`, 'verdict passed')
      : element('span', ` ${gettext('Not passed.')}`, 'verdict failed');
  score.append(verdict);
  const list = element('ol', '', 'result-questions');
  for (const question of result.questions) {
    const item = element('li');
    item.append(element('p', question.prompt));
    for (const option of question.options) {
      if (!option.chosen) continue;
      const line = element('p', `${gettext('Your choice:')} ${option.text}`, option.correct ? 'correct' : 'chosen');
      if (option.correct === true) line.append(' ', element('span', gettext('correct'), 'tag'));
      if (option.correct === false) line.append(' ', element('span', gettext('not correct'), 'tag wrong'));
      if (option.feedback) line.append(element('br'), element('span', option.feedback, 'feedback'));
      item.append(line);
    }
    if (question.kind === 'short') item.append(element('p', gettext('Your answer will be marked by faculty.'), 'muted'));
    list.append(item);
  }
  const link = /** @type {HTMLAnchorElement} */ (element('a', gettext('See the whole attempt')));
  link.href = `/courses/${courseId}/quizzes/${result.question_set_id}/attempts/${result.attempt_id}/`;
  const more = element('p');
  more.append(link);
  if (result.attempts_left > 0) {
    const again = /** @type {HTMLAnchorElement} */ (element('a', gettext('Answer again')));
    again.href = window.location.pathname;
    more.append(' · ', again);
  }
  region.replaceChildren(heading, score, list, more);
  region.hidden = false;
}

/**
 * The answers in the form, one entry per question.
 * @param {HTMLFormElement} form
 */
function answersIn(form) {
  return Array.from(form.querySelectorAll('fieldset.question')).map((fieldset) => {
    const set = /** @type {HTMLElement} */ (fieldset);
    const text = fieldset.querySelector('textarea');
    return {
      question_id: Number(set.dataset.question),
      options: Array.from(fieldset.querySelectorAll('input:checked')).map((input) => Number(/** @type {HTMLInputElement} */ (input).value)),
      text: text ? text.value : '',
    };
  });
}

/** @param {HTMLElement} root */
function start(root) {
  outboxUse(root.dataset.user || 'anonymous');
  const courseId = Number(root.dataset.course);
  const setId = Number(root.dataset.set);
  const status = /** @type {HTMLElement} */ (root.querySelector('.quiz-status'));
  const region = /** @type {HTMLElement} */ (root.querySelector('.quiz-result'));
  const form = root.querySelector('form.quiz-form');
  const tokenInput = document.querySelector('input[name="csrfmiddlewaretoken"]');
  const csrfToken = tokenInput instanceof HTMLInputElement ? tokenInput.value : '';

  /**
   * @param {import('./outbox.js').QueuedAttempt} attempt
   * @param {import('./outbox.js').SendResult} result
   */
  function settled(attempt, result) {
    if (attempt.set_id !== setId) return; // another quiz's answers: sent, shown on its own page
    if (result.ok) {
      status.textContent = gettext('Your answers were sent.');
      showResult(region, result.body, courseId);
    } else {
      status.textContent = result.message || gettext('The server did not accept these answers.');
    }
  }

  async function flush() {
    const waiting = await outboxFlush(csrfToken, settled);
    const mine = outboxRead().filter((queued) => queued.set_id === setId).length;
    if (waiting && mine) {
      status.textContent = gettext('Saved on this device. Your answers will be sent when you are online again.');
    }
  }

  if (form instanceof HTMLFormElement) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const clientInput = /** @type {HTMLInputElement} */ (form.querySelector('input[name="client_id"]'));
      outboxAdd({
        client_id: clientInput.value || newClientId(),
        set_id: setId,
        answered_at: new Date().toISOString(),
        answers: answersIn(form),
      });
      // Queued: this attempt is the learner's, whatever the network does next.
      form.hidden = true;
      status.textContent = gettext('Sending…');
      flush();
    });
  }
  window.addEventListener('online', () => { flush(); });
  window.setInterval(() => { if (outboxRead().length && navigator.onLine) flush(); }, 30000);
  if (outboxRead().length) flush();
  root.dataset.ready = '1'; // the submit handler is on: answers no longer leave as a plain form
}

const root = document.querySelector('article.quiz[data-set]');
if (root instanceof HTMLElement) start(root);
