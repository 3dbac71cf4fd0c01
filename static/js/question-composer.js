/**
 * The post type beside the composer (message, question, good example, new policy, lesson) with
 * free tags, and — while a question is typed — earlier similar questions, answered ones first.
 */

import { api } from './api.js';
import { t, tn } from './i18n.js';
import { newClientId } from './socket.js';

const SUGGEST_DELAY_MS = 250;
const byId = (id) => document.getElementById(id);

export class TypedPostChooser {
  constructor({ network, textarea }) {
    this.network = network;
    this.textarea = textarea;
    this.kind = byId('post-kind');
    this.tags = byId('post-tags');
    this.region = byId('similar-questions');
    this.list = byId('similar-questions-list');
    this.status = byId('similar-questions-status');
    this.timer = null;
    this.asked = '';
    this.kind?.addEventListener('change', () => this.onChange());
    textarea.addEventListener('input', () => this.schedule());
  }

  active() {
    return Boolean(this.kind) && this.kind.value !== 'message';
  }

  onChange() {
    const typed = this.active();
    this.tags.closest('.composer__tags').hidden = !typed;
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.suggest(), SUGGEST_DELAY_MS);
  }

  async suggest() {
    const text = this.textarea.value;
    if (this.kind?.value !== 'question' || text.trim().length < 4) {
      this.asked = '';
      this.region.hidden = true;
      this.list.replaceChildren();
      return;
    }
    if (text === this.asked) return;
    this.asked = text;
    let found;
    try {
      found = (await api('/api/similar-questions', { query: { q: text } })).questions ?? [];
    } catch (error) {
      console.warn('Similar questions failed', error);
      return;
    }
    if (text !== this.textarea.value) return; // typed on meanwhile
    this.render(found);
  }

  render(found) {
    this.list.replaceChildren();
    for (const result of found) {
      const item = document.createElement('li');
      item.className = 'similar-question';
      item.dataset.answered = String(result.answered);
      const link = document.createElement('a');
      link.className = 'utrecht-link similar-question__link';
      link.href = result.message.permalink;
      link.textContent = result.message.body.split('\n')[0].slice(0, 200);
      // The same state label as on the question itself, then where it was asked.
      const detail = document.createElement('span');
      detail.className = 'similar-question__detail';
      const state = document.createElement('span');
      state.className = 'post__state';
      state.dataset.answered = String(result.answered);
      state.textContent = t(result.answered ? 'question_answered' : 'question_open');
      detail.append(state, ' ', t('similar_in_network', { network: result.network.name }));
      item.append(link, detail);
      this.list.append(item);
    }
    this.region.hidden = found.length === 0;
    this.status.textContent = found.length ? tn('similar_found', found.length) : '';
  }

  async send(body) {
    const kind = this.kind.value;
    await api(`/api/networks/${this.network.id}/messages`, {
      method: 'POST',
      body: { client_id: newClientId(), body, kind, tags: this.tags.value },
    });
    this.kind.value = 'message';
    this.tags.value = '';
    this.onChange();
  }
}
