/**
 * A network's history in keyset pages: older with before_seq, newer with after_seq, and a page
 * centred on a permalink with around_seq. ScrollLoader loads the next page when its button scrolls
 * into view (or is pressed, for keyboard users).
 */

import { api } from './api.js';

export const PAGE_SIZE = 50;

export function fetchHistoryPage(networkId, params = {}) {
  return api(`/api/networks/${networkId}/messages`, { query: { limit: PAGE_SIZE, ...params } });
}

export class HistoryPager {
  constructor(networkId) {
    this.networkId = networkId;
    this.reset();
  }

  reset() {
    this.oldestSeq = null;
    this.newestSeq = null;
    this.hasMoreBefore = false;
    this.hasMoreAfter = false;
    this.lastSeq = null;
    this.inFlight = { older: null, newer: null };
    this.generation = (this.generation ?? 0) + 1;
  }

  /** The newest page: afterwards the pager is at the live end. */
  async latest() {
    this.reset();
    const page = await this.fetch({});
    this.record(page, 'both');
    this.hasMoreAfter = false;
    return page;
  }

  /** A page centred on `seq` (a permalink). */
  async around(seq) {
    this.reset();
    const page = await this.fetch({ around_seq: seq });
    this.record(page, 'both');
    return page;
  }

  /** The page before the oldest loaded message, or null when there is none or one is loading. */
  older() {
    if (!this.hasMoreBefore || this.oldestSeq === null || this.inFlight.older) return null;
    return this.track('older', { before_seq: this.oldestSeq });
  }

  newer() {
    if (!this.hasMoreAfter || this.newestSeq === null || this.inFlight.newer) return null;
    return this.track('newer', { after_seq: this.newestSeq });
  }

  get atLiveEnd() {
    return !this.hasMoreAfter;
  }

  async track(direction, params) {
    const generation = this.generation;
    const request = this.fetch(params);
    this.inFlight[direction] = request;
    try {
      const page = await request;
      // A jump to the latest page while this one was loading makes it stale.
      if (generation !== this.generation) return null;
      this.record(page, direction);
      return page;
    } finally {
      if (generation === this.generation) this.inFlight[direction] = null;
    }
  }

  fetch(params) {
    return fetchHistoryPage(this.networkId, params);
  }

  record(page, direction) {
    const seqs = (page.messages ?? []).map((message) => message.seq);
    if (seqs.length) {
      const low = Math.min(...seqs);
      const high = Math.max(...seqs);
      this.oldestSeq = this.oldestSeq === null ? low : Math.min(this.oldestSeq, low);
      this.newestSeq = this.newestSeq === null ? high : Math.max(this.newestSeq, high);
    }
    if (direction === 'older' || direction === 'both') this.hasMoreBefore = Boolean(page.has_more_before);
    if (direction === 'newer' || direction === 'both') this.hasMoreAfter = Boolean(page.has_more_after);
    if (Number.isInteger(page.last_seq)) this.lastSeq = page.last_seq;
  }
}

/**
 * Calls `load()` when `button` comes within reach of the visible part of `scroller`, and again
 * after each load while it stays there (an IntersectionObserver reports changes only).
 */
export class ScrollLoader {
  constructor({ scroller, button, load }) {
    this.scroller = scroller;
    this.button = button;
    this.load = load;
    this.busy = false;
    this.enabled = false;
    button.addEventListener('click', () => this.run());
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) this.run();
      },
      { root: scroller, rootMargin: '300px 0px' },
    );
    this.observer.observe(button);
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    this.button.hidden = !enabled;
  }

  inReach() {
    if (this.button.hidden) return false;
    const box = this.button.getBoundingClientRect();
    const view = this.scroller.getBoundingClientRect();
    return box.bottom >= view.top - 300 && box.top <= view.bottom + 300;
  }

  async run() {
    if (!this.enabled || this.busy) return;
    this.busy = true;
    // aria-disabled rather than disabled: a disabled button would drop the keyboard focus.
    this.button.setAttribute('aria-disabled', 'true');
    this.button.setAttribute('aria-busy', 'true');
    let loaded = false;
    try {
      loaded = await this.load();
    } catch (error) {
      console.error('Loading history failed', error);
    } finally {
      this.busy = false;
      this.button.removeAttribute('aria-disabled');
      this.button.removeAttribute('aria-busy');
    }
    if (loaded && this.inReach()) requestAnimationFrame(() => this.run());
  }
}
