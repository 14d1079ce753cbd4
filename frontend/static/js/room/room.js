'use strict';
/** The room page's panels: shows the connection's state, re-renders the panels on each change, connects. */
import {connection, model} from './live.js';
import {subscribe} from './bus.js';
import {byId, t} from './dom.js';
import {renderChat, wireChat} from './chat.js';
import {renderPeople, wireHand} from './people.js';
import {renderQuestions, wireQuestions} from './questions.js';
import {renderPolls, wirePollForm} from './polls.js';

/** Why the socket closed for good, in the person's language (docs/protocol.md, close codes). */
const CLOSE_TEXT = {
  4401: () => t('Please log in again.'),
  4403: () => t('You are not in the audience of this session.'),
  4404: () => t('There is no such session.'),
  4410: () => t('This session has ended.'),
  4423: () => t('The host has locked the room.'),
  4429: () => t('Too many messages were sent; reload the page to rejoin.'),
  4430: () => t('The host removed you from this session.'),
  4431: () => t('The host did not let you in.'),
  1009: () => t('A message was too large.'),
  4400: () => t('Please reload the page.'),
};

/** @param {string} text */
function notice(text) {
  const box = byId('room-notice');
  box.textContent = text;
  box.hidden = !text;
}

/** The server's refusal before closing (an error without id), if any. */
let refusal = '';

/** @param {any} error */
function showError(error) {
  if (error && !error.id && error.message) refusal = error.message;
  if (error && error.code === 'too_large') notice(t('That message is too long to send.'));
  else if (error && error.message) notice(error.message);
}

let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderChat(model);
    renderPeople(model, connection, showError);
    renderQuestions(model, connection, showError);
    renderPolls(model, connection, showError, render);
    const host = model.can('moderate');
    byId('moderation-panel').hidden = !host;
    byId('lock-button').textContent = model.room.locked ? t('Unlock room') : t('Lock room');
    byId('chat-toggle').textContent = model.room.chat_enabled ? t('Turn chat off') : t('Turn chat on');
  });
}

connection.onState = (state, detail = {}) => {
  const line = byId('room-connection');
  line.dataset.state = state;
  const texts = {connecting: t('Connecting…'), open: t('Connected'), lobby: t('In the waiting room'), reconnecting: t('Connection lost — reconnecting…'), closed: t('Disconnected')};
  line.textContent = texts[state] || state;
  byId('room-lobby-wait').hidden = state !== 'lobby';
  if (state === 'open') { byId('room-body').hidden = false; notice(''); }
  if (state === 'closed' && detail.code && CLOSE_TEXT[detail.code]) {
    // A 4403 refusal's own words (e.g. "You are not in this breakout group.") are clearer than the generic line.
    if (!(detail.code === 4403 && refusal)) notice(CLOSE_TEXT[detail.code]());
    byId('room-body').setAttribute('inert', '');
  }
};
// live.js applies what arrives to the model, then publishes it: re-render on each.
subscribe('room:snapshot', render);
subscribe('room:event', render);
subscribe('room:message', render);
connection.onError = showError;

wireChat(connection, showError);
wireQuestions(connection, showError);
wirePollForm(connection, showError);
wireHand(model, connection, showError);
byId('lock-button').addEventListener('click', () => connection.send(model.room.locked ? 'room.unlock' : 'room.lock').catch(showError));
byId('chat-toggle').addEventListener('click', () => connection.send('room.chat', {enabled: !model.room.chat_enabled}).catch(showError));
byId('end-button').addEventListener('click', () => {
  if (window.confirm(t('End the session for everyone?'))) connection.send('room.end').catch(showError);
});
window.addEventListener('pagehide', () => connection.stop());
connection.connect();
