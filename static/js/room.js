/**
 * The network room: history pages and live events in one list kept in seq order, our own messages
 * while they are pending, the composer, and joining or leaving.
 */

import { describeError } from './api.js';
import { socket } from './app.js';
import { Composer, MentionAutocomplete } from './composer.js';
import { maxBodyChars, readJson, user } from './config.js';
import { HistoryPager, ScrollLoader } from './history.js';
import { formatList, t, tn } from './i18n.js';
import {
  handleCopyLinks,
  markContinuation,
  messageArticle,
  pendingArticle,
  setPendingState,
} from './message-view.js';
import { joinNetwork, leaveNetwork } from './networks.js';
import { TypedPostChooser } from './question-composer.js';
import { ThreadPanel } from './threads.js';

const NEAR_BOTTOM_PX = 120;

const room = readJson('bwt-room');
let network = room.network;
const highlightSeq = Number.isInteger(room.highlight_seq) ? room.highlight_seq : null;

const byId = (id) => document.getElementById(id);
const scroller = byId('message-scroller');
const log = byId('message-list');
const pendingList = byId('pending-list');
const historyStart = byId('history-start');
const jumpButton = byId('jump-latest');
const notice = byId('room-notice');
const announcer = byId('room-announcer');
const joinButton = byId('join-button');
const leaveButton = byId('leave-button');
const joinPromptButton = byId('join-prompt-button');
const memberCount = byId('member-count');
const composerForm = byId('composer-form');
const joinPrompt = byId('join-prompt');
const textarea = byId('composer');

/** Index of the first element of sorted `values` greater than `value`. */
function upperBound(values, value) {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (values[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The rendered messages, one per seq, in seq order whatever order they arrive in. */
class MessageList {
  constructor() {
    this.seqs = [];
    this.articles = new Map();
  }

  has(seq) {
    return this.articles.has(seq);
  }

  get(seq) {
    return this.articles.get(seq) ?? null;
  }

  get newestSeq() {
    return this.seqs.length ? this.seqs[this.seqs.length - 1] : null;
  }

  nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  clear() {
    this.seqs = [];
    this.articles.clear();
    log.replaceChildren();
  }

  insert(message) {
    if (!Number.isInteger(message?.seq) || this.articles.has(message.seq)) return null;
    const article = messageArticle(message, { own: message.author?.id === user.id });
    const index = upperBound(this.seqs, message.seq);
    const next = index < this.seqs.length ? this.articles.get(this.seqs[index]) : null;
    log.insertBefore(article, next);
    this.seqs.splice(index, 0, message.seq);
    this.articles.set(message.seq, article);
    markContinuation(article.previousElementSibling, article);
    markContinuation(article, next);
    return article;
  }

  /** Insert a page at once; aria-busy keeps screen readers from reading a whole page as new. */
  insertPage(messages) {
    log.setAttribute('aria-busy', 'true');
    try {
      for (const message of messages) this.insert(message);
    } finally {
      log.setAttribute('aria-busy', 'false');
    }
  }

  /** Older messages go above what the reader sees: keep that where it is. */
  insertOlder(messages) {
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    this.insertPage(messages);
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }
}

const list = new MessageList();
const pager = new HistoryPager(network.id);
/** client_id → {article, body, seq}: our messages that the list does not show yet */
const pending = new Map();
let following = false;
let unseen = 0;

// ---- notices ----

function announce(text) {
  announcer.textContent = '';
  // A fresh text node makes screen readers read the same text twice in a row, too.
  requestAnimationFrame(() => {
    announcer.textContent = text;
  });
}

function showNotice(text, kind = 'warning') {
  const alert = document.createElement('div');
  alert.className = `utrecht-alert utrecht-alert--${kind}`;
  const message = document.createElement('p');
  message.className = 'utrecht-alert__message';
  message.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'utrecht-button utrecht-button--subtle';
  close.textContent = t('notice_close');
  close.addEventListener('click', () => {
    alert.remove();
    textarea.focus();
  });
  alert.append(message, close);
  notice.replaceChildren(alert);
}

function clearNotice() {
  notice.replaceChildren();
}

// ---- history and live stream ----

function updateHistoryEdges() {
  olderLoader.setEnabled(pager.hasMoreBefore);
  newerLoader.setEnabled(pager.hasMoreAfter);
  historyStart.hidden = pager.hasMoreBefore;
  updateJumpButton();
}

function updateJumpButton() {
  if (!pager.atLiveEnd) {
    jumpButton.textContent = t('jump_latest');
    jumpButton.hidden = false;
  } else if (unseen > 0 && !list.nearBottom()) {
    jumpButton.textContent = tn('new_messages', unseen);
    jumpButton.hidden = false;
  } else {
    unseen = 0;
    jumpButton.hidden = true;
  }
}

function startFollowing() {
  if (following) return;
  following = true;
  socket.follow(network.id, pager.lastSeq ?? list.newestSeq ?? 0);
}

async function showLatest() {
  const page = await pager.latest();
  list.clear();
  list.insertPage(page.messages ?? []);
  list.scrollToBottom();
  updateHistoryEdges();
  startFollowing();
  if (highlightSeq !== null && location.pathname !== `/n/${network.slug}`) {
    history.replaceState(null, '', `/n/${network.slug}`);
  }
}

async function showAround(seq) {
  const page = await pager.around(seq);
  list.insertPage(page.messages ?? []);
  updateHistoryEdges();
  const target = list.get(seq);
  if (target) {
    target.classList.add('message--highlight');
    target.tabIndex = -1;
    target.scrollIntoView({ block: 'center' });
    target.focus({ preventScroll: true });
  } else {
    list.scrollToBottom();
    showNotice(t('message_not_found'), 'info');
  }
  if (pager.atLiveEnd) startFollowing();
}

const olderLoader = new ScrollLoader({
  scroller,
  button: byId('load-older'),
  load: async () => {
    const page = await pager.older();
    if (!page) return false;
    list.insertOlder(page.messages ?? []);
    updateHistoryEdges();
    return (page.messages ?? []).length > 0;
  },
});

const newerLoader = new ScrollLoader({
  scroller,
  button: byId('load-newer'),
  load: async () => {
    const page = await pager.newer();
    if (!page) return false;
    list.insertPage(page.messages ?? []);
    updateHistoryEdges();
    if (pager.atLiveEnd) startFollowing();
    return (page.messages ?? []).length > 0;
  },
});

function onLiveMessage(message) {
  const own = message.author?.id === user.id;
  const stick = own || list.nearBottom();
  const article = list.insert(message);
  settlePending(message);
  if (!article) return;
  if (stick) {
    list.scrollToBottom();
  } else {
    unseen += 1;
    updateJumpButton();
  }
}

socket.addEventListener('event', (event) => {
  const frame = event.detail;
  if (frame.network_id !== network.id) return;
  // Edits, deletions and reactions come with later features; only new messages are shown now.
  // Replies belong to their thread (threads.js), which also handles question.answered.
  if (frame.kind === 'message.created' && frame.message && !frame.message.thread_root_id) {
    onLiveMessage(frame.message);
  }
});

socket.addEventListener('server-error', (event) => {
  const frame = event.detail;
  if (frame.ref === 'subscribe') showNotice(describeError(frame.code), 'error');
});

scroller.addEventListener('scroll', () => {
  if (unseen > 0 && list.nearBottom()) updateJumpButton();
});

jumpButton.addEventListener('click', async () => {
  if (pager.atLiveEnd) {
    list.scrollToBottom();
    unseen = 0;
    updateJumpButton();
    textarea.focus();
    return;
  }
  try {
    await showLatest();
    textarea.focus();
  } catch (error) {
    showNotice(describeError(error), 'error');
  }
});

// ---- our own messages ----

function queueMessage(body) {
  const clientId = socket.send(network.id, body);
  const article = pendingArticle(clientId, body, {
    display_name: user.display_name,
    username: user.username,
    organisation: user.organisation,
  });
  pendingList.append(article);
  pending.set(clientId, { article, body, seq: null });
  list.scrollToBottom();
}

function removePending(clientId) {
  const entry = pending.get(clientId);
  if (!entry) return;
  entry.article.remove();
  pending.delete(clientId);
}

/** A stored message has arrived: the pending copy of it goes. */
function settlePending(message) {
  if (message.client_id && pending.has(message.client_id)) {
    removePending(message.client_id);
    return;
  }
  for (const [clientId, entry] of pending) {
    if (entry.seq === message.seq) removePending(clientId);
  }
}

function failedActions(clientId, entry) {
  const actions = document.createElement('div');
  actions.className = 'message__actions';
  const restore = document.createElement('button');
  restore.type = 'button';
  restore.className = 'utrecht-button utrecht-button--secondary-action';
  restore.textContent = t('message_restore');
  restore.addEventListener('click', () => {
    removePending(clientId);
    composer.setText(entry.body);
    textarea.focus();
  });
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'utrecht-button utrecht-button--subtle';
  remove.textContent = t('message_remove');
  remove.addEventListener('click', () => {
    removePending(clientId);
    textarea.focus();
  });
  actions.append(restore, remove);
  return actions;
}

socket.addEventListener('ack', (event) => {
  const ack = event.detail;
  if (ack.network_id !== network.id) return;
  const entry = pending.get(ack.client_id);
  if (entry) {
    entry.seq = ack.seq;
    if (list.has(ack.seq)) removePending(ack.client_id);
    else setPendingState(entry.article, 'stored');
  }
  const missed = ack.unnotified_mentions ?? [];
  if (missed.length > 0) {
    const names = formatList(missed.map((username) => `@${username}`));
    showNotice(tn('unnotified_mentions', missed.length, { names }), 'warning');
  }
});

socket.addEventListener('send-delayed', (event) => {
  const entry = pending.get(event.detail.clientId);
  if (entry) setPendingState(entry.article, 'delayed');
});

socket.addEventListener('send-failed', (event) => {
  const { clientId, code } = event.detail;
  const entry = pending.get(clientId);
  if (!entry) return;
  setPendingState(entry.article, 'failed', describeError(code));
  entry.article.append(failedActions(clientId, entry));
  if (code === 'not_a_member') {
    network = { ...network, is_member: false };
    renderMembership();
  }
});

// ---- membership ----

function renderMembership() {
  joinButton.hidden = network.is_member;
  leaveButton.hidden = !network.is_member;
  memberCount.textContent = tn('members', network.member_count ?? 0);
  composerForm.hidden = !network.is_member;
  joinPrompt.hidden = network.is_member;
  // The thread panel's reply form follows membership too (it is rendered once with the page).
  const threadForm = document.getElementById('thread-form');
  if (threadForm) threadForm.hidden = !network.is_member;
}

async function changeMembership(joining, button) {
  if (button.getAttribute('aria-disabled') === 'true') return;
  button.setAttribute('aria-disabled', 'true');
  try {
    network = { ...network, ...(await (joining ? joinNetwork(network.id) : leaveNetwork(network.id))) };
    renderMembership();
    announce(t(joining ? 'network_joined' : 'network_left', { name: network.name }));
    (joining ? textarea : joinButton).focus();
  } catch (error) {
    showNotice(describeError(error), 'error');
  } finally {
    button.removeAttribute('aria-disabled');
  }
}

joinButton.addEventListener('click', () => changeMembership(true, joinButton));
joinPromptButton?.addEventListener('click', () => changeMembership(true, joinPromptButton));
leaveButton.addEventListener('click', () => changeMembership(false, leaveButton));

// ---- composer ----

const autocomplete = new MentionAutocomplete({
  textarea,
  listbox: byId('mention-suggestions'),
  status: byId('mention-status'),
  networkId: network.id,
});

const composer = new Composer({
  form: composerForm,
  textarea,
  counter: byId('composer-count'),
  maxChars: maxBodyChars,
  autocomplete,
  onInvalid: (text) => showNotice(text, 'error'),
  onSend: (body) => {
    if (!network.is_member) {
      showNotice(describeError('not_a_member'), 'error');
      return false;
    }
    clearNotice();
    if (typedPost.active()) {
      typedPost.send(body).catch((error) => {
        composer.setText(body);
        showNotice(describeError(error), 'error');
      });
      return true;
    }
    if (pager.atLiveEnd) {
      queueMessage(body);
      return true;
    }
    // Reading an old permalink: go to the live end first, where the message will appear.
    showLatest().then(
      () => queueMessage(body),
      (error) => {
        composer.setText(body);
        showNotice(describeError(error), 'error');
      },
    );
    return true;
  },
});

handleCopyLinks(log, announce);

const typedPost = new TypedPostChooser({ network, textarea });
const threadPanel = new ThreadPanel({ network, announce });
handleCopyLinks(threadPanel.panel, announce);

// The room's skip link goes straight to whatever takes input: the composer, or joining.
document.querySelector('a[href="#room-footer"]')?.addEventListener('click', (event) => {
  event.preventDefault();
  (composerForm.hidden ? joinPromptButton : textarea).focus();
});

// ---- start ----

async function start() {
  renderMembership();
  try {
    if (highlightSeq !== null) await showAround(highlightSeq);
    else await showLatest();
    if (Number.isInteger(room.open_thread)) await threadPanel.open(room.open_thread);
  } catch (error) {
    console.error('Loading the room failed', error);
    showNotice(describeError(error), 'error');
  } finally {
    log.setAttribute('aria-busy', 'false');
  }
}

start();
