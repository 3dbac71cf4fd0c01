/**
 * The message composer: Enter sends, Shift+Enter starts a new line, and "@" plus letters opens a
 * list of members to mention (the ARIA combobox pattern: arrows move, Enter or Tab picks, Escape
 * closes).
 */

import { api } from './api.js';
import { t, tn } from './i18n.js';

const SEARCH_DELAY_MS = 150;
// "@" at the start or after a space or opening punctuation (not inside an e-mail address), then
// the letters typed so far, right before the caret.
const MENTION_BEFORE_CARET = /(?:^|[\s([{"'“‘])@([\p{L}\p{N}_.-]{1,64})$/u;

export class MentionAutocomplete {
  constructor({ textarea, listbox, status, networkId }) {
    this.textarea = textarea;
    this.listbox = listbox;
    this.status = status;
    this.networkId = networkId;
    this.members = [];
    this.active = -1;
    this.token = null;
    this.timer = null;
    this.controller = null;

    textarea.addEventListener('input', () => this.update());
    textarea.addEventListener('click', () => this.update());
    textarea.addEventListener('keyup', (event) => {
      if (event.key === 'ArrowLeft' || event.key === 'ArrowRight' || event.key === 'Home' || event.key === 'End') {
        this.update();
      }
    });
    textarea.addEventListener('blur', () => this.close());
    // Keep the focus in the textarea when an option is clicked.
    listbox.addEventListener('mousedown', (event) => event.preventDefault());
    listbox.addEventListener('click', (event) => {
      const option = event.target.closest('[role="option"]');
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  get isOpen() {
    return !this.listbox.hidden;
  }

  /** The "@query" right before the caret, or null. */
  currentToken() {
    const { value, selectionStart, selectionEnd } = this.textarea;
    if (selectionStart !== selectionEnd) return null;
    const match = value.slice(0, selectionStart).match(MENTION_BEFORE_CARET);
    if (!match) return null;
    const query = match[1];
    return { start: selectionStart - query.length - 1, end: selectionStart, query };
  }

  update() {
    const token = this.currentToken();
    if (!token) {
      this.token = null;
      this.close();
      return;
    }
    if (this.token && this.token.start === token.start && this.token.query === token.query) return;
    this.token = token;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.search(token), SEARCH_DELAY_MS);
  }

  async search(token) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    let members;
    try {
      const answer = await api(`/api/networks/${this.networkId}/members`, {
        query: { q: token.query },
        signal: controller.signal,
      });
      members = Array.isArray(answer) ? answer : (answer?.members ?? []);
    } catch (error) {
      if (error.name !== 'AbortError') {
        console.warn('Member search failed', error);
        this.close();
      }
      return;
    }
    if (controller !== this.controller || this.token !== token) return;
    if (document.activeElement !== this.textarea) return;
    this.show(members);
  }

  show(members) {
    this.members = members;
    this.listbox.replaceChildren(...members.map((member, index) => this.optionElement(member, index)));
    if (members.length === 0) {
      this.close();
      this.announce(t('mention_none'));
      return;
    }
    this.listbox.hidden = false;
    this.textarea.setAttribute('aria-expanded', 'true');
    this.setActive(0);
    this.announce(tn('mention_results', members.length));
  }

  optionElement(member, index) {
    const option = document.createElement('li');
    option.id = `mention-option-${index}`;
    option.className = 'mention-suggestion utrecht-listbox__option';
    option.setAttribute('role', 'option');
    option.setAttribute('aria-selected', 'false');
    option.dataset.index = String(index);
    option.dataset.username = member.username;

    const name = document.createElement('span');
    name.className = 'mention-suggestion__name';
    name.textContent = member.display_name ?? member.username;
    const detail = document.createElement('span');
    detail.className = 'mention-suggestion__detail';
    const organisation = member.organisation?.name;
    detail.textContent = organisation ? `@${member.username} · ${organisation}` : `@${member.username}`;
    option.append(name, detail);
    return option;
  }

  setActive(index) {
    const options = this.listbox.querySelectorAll('[role="option"]');
    if (!options.length) return;
    this.active = (index + options.length) % options.length;
    options.forEach((option, position) => {
      option.setAttribute('aria-selected', position === this.active ? 'true' : 'false');
    });
    const current = options[this.active];
    this.textarea.setAttribute('aria-activedescendant', current.id);
    current.scrollIntoView({ block: 'nearest' });
  }

  close() {
    clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = null;
    if (this.listbox.hidden && !this.listbox.firstChild) return;
    this.listbox.hidden = true;
    this.listbox.replaceChildren();
    this.textarea.setAttribute('aria-expanded', 'false');
    this.textarea.removeAttribute('aria-activedescendant');
    this.members = [];
    this.active = -1;
  }

  /** Handle a key in the textarea; true when the list used it. */
  handleKeydown(event) {
    if (!this.isOpen) return false;
    switch (event.key) {
      case 'ArrowDown':
        this.setActive(this.active + 1);
        break;
      case 'ArrowUp':
        this.setActive(this.active - 1);
        break;
      case 'Enter':
      case 'Tab':
        if (event.shiftKey) return false;
        this.pick(this.active);
        break;
      case 'Escape':
        this.close();
        event.stopPropagation();
        break;
      default:
        return false;
    }
    event.preventDefault();
    return true;
  }

  pick(index) {
    const member = this.members[index];
    const token = this.currentToken() ?? this.token;
    if (!member || !token) return;
    this.textarea.focus();
    this.textarea.setRangeText(`@${member.username} `, token.start, token.end, 'end');
    this.token = null;
    this.close();
    this.textarea.dispatchEvent(new Event('input', { bubbles: true }));
  }

  announce(text) {
    if (!this.status) return;
    this.status.textContent = text;
  }
}

export class Composer {
  constructor({ form, textarea, counter, maxChars, autocomplete, onSend, onInvalid }) {
    this.form = form;
    this.textarea = textarea;
    this.counter = counter;
    this.maxChars = maxChars;
    this.onSend = onSend;
    this.onInvalid = onInvalid;

    textarea.addEventListener('keydown', (event) => {
      if (autocomplete?.handleKeydown(event)) return;
      if (event.key !== 'Enter' || event.shiftKey || event.altKey || event.isComposing) return;
      event.preventDefault();
      this.submit();
    });
    textarea.addEventListener('input', () => {
      this.resize();
      this.updateCounter();
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.resize();
  }

  submit() {
    const body = this.textarea.value.trim();
    if (!body) {
      this.textarea.focus();
      return;
    }
    // The server counts code points, as does spreading a string.
    if ([...body].length > this.maxChars) {
      this.onInvalid?.(t('error_body_too_long'));
      return;
    }
    if (this.onSend(body) === false) return;
    this.setText('');
    this.textarea.focus();
  }

  setText(text) {
    this.textarea.value = text;
    this.resize();
    this.updateCounter();
  }

  resize() {
    const { textarea } = this;
    textarea.style.height = 'auto';
    const borders = textarea.offsetHeight - textarea.clientHeight;
    textarea.style.height = `${textarea.scrollHeight + borders}px`;
  }

  updateCounter() {
    if (!this.counter) return;
    const remaining = this.maxChars - [...this.textarea.value.trim()].length;
    if (remaining > this.maxChars * 0.1) {
      this.counter.textContent = '';
      this.counter.dataset.over = 'false';
      return;
    }
    this.counter.dataset.over = remaining < 0 ? 'true' : 'false';
    this.counter.textContent = remaining < 0 ? tn('chars_over', -remaining) : tn('chars_left', remaining);
  }
}
