/** The mentions inbox (#mention-list): newest first, unread marked, live additions, mark as read. */

import { api, describeError } from './api.js';
import { socket } from './app.js';
import { t } from './i18n.js';
import { setUnreadCount, shareUnreadCount, unreadCount } from './notifications.js';
import { timeElement } from './time.js';

const PAGE_SIZE = 30;

const list = document.getElementById('mention-list');
const empty = document.getElementById('mentions-empty');
const moreButton = document.getElementById('load-more-mentions');
const markAllButton = document.getElementById('mark-all-read');
const status = document.getElementById('mentions-status');

const shown = new Set();
let oldestId = null;

function say(text, kind = '') {
  status.textContent = text;
  status.dataset.kind = kind;
}

function textSpan(className, text) {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}

function setRead(item, read) {
  item.dataset.read = read ? 'true' : 'false';
  item.querySelector('.mention-item__unread').hidden = read;
}

function mentionItem(notification) {
  const message = notification.message ?? {};
  const item = document.createElement('li');
  item.className = 'mention-item';
  item.id = `mention-${notification.id}`;
  item.dataset.notificationId = String(notification.id);

  const meta = document.createElement('p');
  meta.className = 'mention-item__meta';
  meta.append(
    textSpan('mention-item__unread', t('mention_unread')),
    textSpan('message__author', message.author?.display_name ?? '?'),
  );
  if (message.author?.organisation?.name) meta.append(textSpan('message__org', message.author.organisation.name));
  // The inbox holds replies in followed threads too: say which of the two each item is.
  const where = notification.kind === 'reply' ? 'reply_in_network' : 'mention_in_network';
  meta.append(textSpan('mention-item__network', t(where, { network: notification.network?.name ?? '?' })));
  meta.append(timeElement(message.created_at ?? notification.created_at));

  const body = document.createElement('div');
  body.className = 'message__body';
  // Rendered and sanitised by the server.
  body.innerHTML = message.html ?? '';

  const link = document.createElement('a');
  link.className = 'mention-item__link utrecht-link';
  link.href = message.permalink;
  link.textContent = t('mention_open', { network: notification.network?.name ?? '' });

  item.append(meta, body, link);
  setRead(item, Boolean(notification.read));
  return item;
}

function render(notifications, { prepend = false } = {}) {
  const items = [];
  for (const notification of notifications) {
    if (shown.has(notification.id)) continue;
    shown.add(notification.id);
    items.push(mentionItem(notification));
    if (!prepend && (oldestId === null || notification.id < oldestId)) oldestId = notification.id;
  }
  if (prepend) list.prepend(...items);
  else list.append(...items);
  empty.hidden = shown.size > 0;
}

async function loadMore() {
  list.setAttribute('aria-busy', 'true');
  try {
    const answer = await api('/api/mentions', { query: { before_id: oldestId, limit: PAGE_SIZE } });
    const mentions = answer.mentions ?? [];
    render(mentions);
    if (Number.isInteger(answer.unread)) setUnreadCount(answer.unread);
    moreButton.hidden = mentions.length < PAGE_SIZE;
  } catch (error) {
    say(describeError(error), 'error');
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

async function markRead(body, options = {}) {
  const answer = await api('/api/mentions/read', { method: 'POST', body, ...options });
  if (Number.isInteger(answer?.unread)) shareUnreadCount(answer.unread);
  return answer;
}

markAllButton.addEventListener('click', async () => {
  try {
    await markRead({ all: true });
    for (const item of list.querySelectorAll('.mention-item')) setRead(item, true);
    say(t('mentions_all_read'), 'ok');
  } catch (error) {
    say(describeError(error), 'error');
  }
});

// Opening a mention marks it read; keepalive lets the request finish while the page changes.
list.addEventListener('click', (event) => {
  const link = event.target.closest('.mention-item__link');
  if (!link) return;
  const item = link.closest('.mention-item');
  if (item.dataset.read === 'true') return;
  setRead(item, true);
  setUnreadCount(unreadCount() - 1);
  markRead({ ids: [Number(item.dataset.notificationId)] }, { keepalive: true }).catch((error) =>
    console.warn('Marking a mention read failed', error),
  );
});

moreButton.addEventListener('click', loadMore);

socket?.addEventListener('notification', (event) => render([event.detail], { prepend: true }));

loadMore();
