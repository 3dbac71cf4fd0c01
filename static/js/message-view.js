/**
 * A message as an <article>. Names and organisations go in as text; only `html`, which the server
 * rendered and sanitised, goes in as HTML.
 */

import { t } from './i18n.js';
import { decoratePost } from './posts.js';
import { parseTimestamp, timeElement } from './time.js';

function span(className, text) {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}

function metaLine(author) {
  const meta = document.createElement('div');
  meta.className = 'message__meta';
  meta.append(span('message__author', author?.display_name ?? author?.username ?? '?'));
  const organisation = author?.organisation?.name;
  if (organisation) meta.append(span('message__org', organisation));
  return meta;
}

export function messageArticle(message, { own = false, inThread = false } = {}) {
  const article = document.createElement('article');
  article.className = own ? 'message message--own' : 'message';
  article.id = `m-${message.seq}`;
  article.dataset.seq = String(message.seq);
  article.dataset.messageId = String(message.id);
  if (own) article.dataset.state = 'stored';
  if (message.client_id) article.dataset.clientId = message.client_id;
  if (message.author?.id !== undefined) article.dataset.authorId = String(message.author.id);
  article.dataset.createdAt = message.created_at;

  const meta = metaLine(message.author);
  const authorId = `m-${message.seq}-author`;
  meta.firstElementChild.id = authorId;
  article.setAttribute('aria-labelledby', authorId);

  const permalink = document.createElement('a');
  permalink.className = 'message__permalink';
  permalink.href = message.permalink;
  permalink.append(timeElement(message.created_at));
  permalink.append(span('visually-hidden', ` ${t('permalink_label')}`));
  meta.append(permalink);

  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'message__copy';
  copy.dataset.copyLink = message.permalink;
  copy.textContent = t('copy_link');
  meta.append(copy);

  const body = document.createElement('div');
  body.className = 'message__body';
  body.innerHTML = message.html;

  article.append(meta, body);
  decoratePost(article, message, { inThread });
  return article;
}

const CONTINUATION_MS = 5 * 60 * 1000;

/** Mark `article` as continuing `previous` when both are by one author within a few minutes. */
export function markContinuation(previous, article) {
  if (!article) return;
  let continued = false;
  if (previous?.dataset.authorId && previous.dataset.authorId === article.dataset.authorId) {
    const gap = parseTimestamp(article.dataset.createdAt) - parseTimestamp(previous.dataset.createdAt);
    continued = gap >= 0 && gap < CONTINUATION_MS;
  }
  article.classList.toggle('message--continued', continued);
}

/** Our own message before the server has stored it: the text as typed, with its state. */
export function pendingArticle(clientId, body, author) {
  const article = document.createElement('article');
  article.className = 'message message--own message--pending';
  article.dataset.clientId = clientId;
  article.dataset.state = 'pending';

  const text = document.createElement('div');
  text.className = 'message__body message__text';
  text.textContent = body;

  const state = document.createElement('p');
  state.className = 'message__state';
  state.textContent = t('message_pending');

  article.append(metaLine(author), text, state);
  return article;
}

export function setPendingState(article, state, detail = '') {
  article.dataset.state = state;
  article.classList.toggle('message--failed', state === 'failed');
  const line = article.querySelector('.message__state');
  if (!line) return;
  const label = t(`message_${state}`);
  line.textContent = detail ? `${label}: ${detail}` : label;
}

/** Copy a permalink (as a full URL) for any [data-copy-link] button clicked inside `container`. */
export function handleCopyLinks(container, announce) {
  container.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-copy-link]');
    if (!button || !container.contains(button)) return;
    const url = new URL(button.dataset.copyLink, location.origin).href;
    try {
      await navigator.clipboard.writeText(url);
      button.textContent = t('copied');
      announce?.(t('copied'));
      setTimeout(() => {
        button.textContent = t('copy_link');
      }, 2000);
    } catch (error) {
      console.warn('Copying to the clipboard failed', error);
      announce?.(t('copy_failed'));
    }
  });
}
