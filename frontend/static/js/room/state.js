'use strict';
/**
 * The room as the client knows it: built from the snapshot, then updated by each event.
 * Every update is an upsert, so an event that repeats what the snapshot already shows
 * changes nothing. No DOM here.
 */

/**
 * @typedef {{user_id: number, name: string, school: string, country: string, role?: string, muted?: boolean, has_floor?: boolean, hand_raised_at?: string|null}} Person
 * @typedef {{id: number, text: string, status: string, votes: number, author_id: number, author_name: string, voted?: boolean}} Question
 * @typedef {{id: number, question: string, multiple: boolean, status: string, options: {id: number, label: string}[], counts: Object<string, number>, voters: number, version: number, my_choice?: number[]}} Poll
 */

export class RoomModel {
  constructor() {
    /** @type {Map<number, Person>} */ this.people = new Map();
    /** @type {Map<number, Person>} */ this.lobby = new Map();
    /** @type {Map<number, Question>} */ this.questions = new Map();
    /** @type {Map<number, Poll>} */ this.polls = new Map();
    /** @type {{user_id: number, name: string, text: string, seq: number, at: string}[]} */ this.chat = [];
    this.room = {locked: false, chat_enabled: true, ended: false};
    this.you = {user_id: 0, name: '', role: 'attendee', permissions: /** @type {string[]} */ ([]), muted: false, has_floor: false, hand_raised: false};
    this.session = {id: 0, title: '', host_id: 0};
    this.unlisted = 0;
  }

  /** @param {any} snapshot */
  applySnapshot(snapshot) {
    this.session = snapshot.session;
    this.room = snapshot.room;
    this.you = snapshot.you;
    this.people = new Map(snapshot.participants.map((p) => [p.user_id, p]));
    /** Present people beyond those listed (large lectures list only some). */
    this.unlisted = Math.max(0, (snapshot.participants_total || 0) - snapshot.participants.length);
    this.questions = new Map(snapshot.questions.map((q) => [q.id, q]));
    this.polls = new Map(snapshot.polls.map((p) => [p.id, p]));
    this.lobby = new Map((snapshot.lobby || []).map((p) => [p.user_id, p]));
    // On a reconnect the snapshot carries only the missed events: keep the chat we have.
    if (snapshot.events_truncated) this.chat = [];
    for (const event of snapshot.events) this.applyEvent(event);
  }

  /** @param {string} permission */
  can(permission) { return this.you.permissions.includes(permission); }

  /** @param {number} userId @param {Partial<Person>} changes */
  updatePerson(userId, changes) {
    const person = this.people.get(userId);
    if (person) Object.assign(person, changes);
    if (userId === this.you.user_id) {
      if ('muted' in changes) this.you.muted = Boolean(changes.muted);
      if ('has_floor' in changes) this.you.has_floor = Boolean(changes.has_floor);
      if ('hand_raised_at' in changes) this.you.hand_raised = Boolean(changes.hand_raised_at);
    }
  }

  /** @param {{type: string, seq?: number, at?: string, data?: any}} event */
  applyEvent(event) {
    const data = event.data || {};
    switch (event.type) {
      case 'presence':
        for (const person of data.joined) this.people.set(person.user_id, person);
        for (const id of data.left) { if (!this.people.delete(id) && this.unlisted) this.unlisted -= 1; }
        break;
      case 'chat.message':
        if (!this.chat.some((m) => m.seq === event.seq)) {
          this.chat.push({user_id: data.user_id, name: data.name, text: data.text, seq: event.seq || 0, at: event.at || ''});
          this.chat.sort((a, b) => a.seq - b.seq);
          if (this.chat.length > 500) this.chat.splice(0, this.chat.length - 500);
        }
        break;
      case 'hand.raised': this.updatePerson(data.user_id, {hand_raised_at: data.at || event.at}); break;
      case 'hand.lowered': this.updatePerson(data.user_id, {hand_raised_at: null}); break;
      case 'floor.granted': this.updatePerson(data.user_id, {has_floor: true, hand_raised_at: null}); break;
      case 'floor.revoked': this.updatePerson(data.user_id, {has_floor: false}); break;
      case 'participant.muted': this.updatePerson(data.user_id, {muted: true}); break;
      case 'participant.unmuted': this.updatePerson(data.user_id, {muted: false}); break;
      case 'participant.removed': this.people.delete(data.user_id); break;
      case 'participant.role':
        this.updatePerson(data.user_id, {role: data.role});
        if (data.user_id === this.you.user_id) {
          this.you.role = data.role;
          if (Array.isArray(data.permissions)) this.you.permissions = data.permissions;
        }
        break;
      case 'question.asked': if (data.question && data.question.id) this.questions.set(data.question.id, {...data.question, voted: this.questions.get(data.question.id)?.voted || false}); break;
      case 'question.voted': { const q = this.questions.get(data.question_id); if (q) q.votes = Math.max(q.votes, data.votes); break; }
      case 'question.answered': case 'question.dismissed': this.questions.delete(data.question_id); break;
      case 'poll.opened': if (data.poll && data.poll.id) this.polls.set(data.poll.id, {...data.poll, my_choice: this.polls.get(data.poll.id)?.my_choice || []}); break;
      case 'poll.closed': if (data.poll) this.polls.set(data.poll.id, {...data.poll, my_choice: this.polls.get(data.poll.id)?.my_choice || []}); break;
      case 'room.locked': this.room.locked = true; break;
      case 'room.unlocked': this.room.locked = false; break;
      case 'room.chat': this.room.chat_enabled = data.enabled; break;
      case 'room.ended': this.room.ended = true; break;
      case 'lobby.waiting': if (data.user) this.lobby.set(data.user.user_id, data.user); break;
      case 'lobby.left': case 'lobby.admitted': case 'lobby.refused': this.lobby.delete(data.user_id); break;
      default: break;
    }
  }

  /** @param {{type: string, data?: any}} message */
  applyEphemeral(message) {
    if (message.type === 'poll.counts') {
      const poll = this.polls.get(message.data.poll_id);
      if (poll && message.data.version >= (poll.version || 0)) {
        poll.counts = message.data.counts;
        poll.voters = message.data.voters;
        poll.version = message.data.version;
      }
    }
  }

  /** People with a raised hand, first raised first. */
  hands() {
    return [...this.people.values()].filter((p) => p.hand_raised_at).sort((a, b) => String(a.hand_raised_at).localeCompare(String(b.hand_raised_at)));
  }
}
