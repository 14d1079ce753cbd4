'use strict';
/** Participants, raised hands, the lobby and the host's controls for each person. */
import {byId, countryBadge, el, t} from './dom.js';

/**
 * A room role in the person's language. Literal t() calls, so the catalogue has each
 * (t(p.role) had nothing to extract, and roles stayed English in fr/pt/ar).
 * @param {string} role
 */
export function roleLabel(role) {
  const labels = {
    host: () => t('host'), presenter: () => t('presenter'), attendee: () => t('attendee'),
    supervisor: () => t('supervisor'), trainee: () => t('trainee'), observer: () => t('observer'),
    captioner: () => t('captioner'),
  };
  return labels[role] ? labels[role]() : role;
}

/**
 * @param {import('./state.js').RoomModel} model
 * @param {import('./protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 */
export function renderPeople(model, connection, onError) {
  const host = model.can('moderate');
  const act = (type, fields) => () => connection.send(type, fields).catch(onError);
  const people = [...model.people.values()].sort((a, b) => a.name.localeCompare(b.name));
  byId('people-count').textContent = String(people.length + model.unlisted);
  byId('people-list').replaceChildren(...people.map((p) => {
    const me = p.user_id === model.you.user_id;
    const staged = model.session.kind !== 'consult';  // a consult has no floor and no presenters
    const controls = host && !me && p.role !== 'host' ? el('span', {class: 'controls'}, [
      !staged ? null : p.has_floor
        ? el('button', {type: 'button', class: 'secondary', onclick: act('floor.revoke', {user_id: p.user_id}), text: t('Take the floor back')})
        : el('button', {type: 'button', class: 'secondary', onclick: act('floor.grant', {user_id: p.user_id}), text: t('Give the floor')}),
      el('button', {type: 'button', class: 'secondary', onclick: act(p.muted ? 'moderation.unmute' : 'moderation.mute', {user_id: p.user_id}), text: p.muted ? t('Unmute') : t('Mute')}),
      !staged ? null : el('button', {type: 'button', class: 'secondary', onclick: act('role.set', {user_id: p.user_id, role: p.role === 'presenter' ? 'attendee' : 'presenter'}), text: p.role === 'presenter' ? t('Make attendee') : t('Make presenter')}),
      !staged ? null : el('button', {type: 'button', class: 'secondary', onclick: act('role.set', {user_id: p.user_id, role: p.role === 'captioner' ? 'attendee' : 'captioner'}), text: p.role === 'captioner' ? t('Stop captioning') : t('Make captioner')}),
      el('button', {type: 'button', class: 'danger', onclick: () => { if (window.confirm(t('Remove this person from the session?'))) act('moderation.remove', {user_id: p.user_id})(); }, text: t('Remove')}),
    ]) : null;
    return el('li', {dataset: {userId: String(p.user_id)}}, [
      el('bdi', {class: 'person-name', text: p.name}), me ? ` (${t('you')})` : '', ' ',
      el('span', {class: 'muted', text: p.school || ''}), ' ', countryBadge(p.country), ' ',
      p.role && p.role !== 'attendee' ? el('span', {class: 'badge role', text: roleLabel(p.role)}) : null,
      p.hand_raised_at ? el('span', {class: 'badge hand', text: '✋', title: t('Hand raised')}) : null,
      p.has_floor ? el('span', {class: 'badge', text: t('speaking')}) : null,
      p.muted ? el('span', {class: 'badge', text: t('muted')}) : null,
      controls,
    ]);
  }));
  const hands = model.hands();
  const handList = byId('hand-list');  // absent in a consult (no hands to raise)
  if (handList) handList.replaceChildren(...(hands.length ? hands.map((p) => el('li', {}, [
    el('span', {text: p.name}), ' ',
    host ? el('button', {type: 'button', class: 'secondary', onclick: act('floor.grant', {user_id: p.user_id}), text: t('Give the floor')}) : null,
    host ? el('button', {type: 'button', class: 'secondary', onclick: act('hand.lower', {user_id: p.user_id}), text: t('Lower')}) : null,
  ])) : [el('li', {class: 'muted', text: t('No raised hands')})]));
  const lobbyPanel = byId('lobby-panel');
  lobbyPanel.hidden = !host || model.lobby.size === 0;
  byId('lobby-list').replaceChildren(...[...model.lobby.values()].map((p) => el('li', {}, [
    el('span', {text: p.name}), ' ', el('span', {class: 'muted', text: p.school || ''}), ' ', countryBadge(p.country), ' ',
    el('button', {type: 'button', onclick: act('lobby.admit', {user_id: p.user_id}), text: t('Admit')}), ' ',
    el('button', {type: 'button', class: 'secondary', onclick: act('lobby.refuse', {user_id: p.user_id}), text: t('Refuse')}),
  ])));
  const hand = byId('hand-button');
  if (hand) {
    hand.textContent = model.you.hand_raised ? t('Lower hand') : t('Raise hand');
    hand.setAttribute('aria-pressed', String(model.you.hand_raised));
  }
  byId('my-role').textContent = `${t('Your role')}: ${roleLabel(model.you.role)}` + (model.you.muted ? ` · ${t('muted by the host')}` : '') + (model.you.has_floor ? ` · ${t('you have the floor')}` : '');
}

/**
 * @param {import('./state.js').RoomModel} model
 * @param {import('./protocol.js').RoomConnection} connection
 * @param {(error: any) => void} onError
 */
export function wireHand(model, connection, onError) {
  const hand = byId('hand-button');
  if (!hand) return;
  hand.addEventListener('click', () => {
    connection.send(model.you.hand_raised ? 'hand.lower' : 'hand.raise').catch(onError);
  });
}
