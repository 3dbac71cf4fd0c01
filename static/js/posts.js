/**
 * What a message shows beyond its text: its type (question, good example, …), tags, the example
 * marker, the accepted answer of a question and the thread summary. All text goes in as text.
 */

import { t, tn } from './i18n.js';
import { timeElement } from './time.js';

export const POST_KINDS = ['message', 'question', 'good_example', 'new_policy', 'lesson'];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function badges(message) {
  const line = element('p', 'post__badges');
  if (message.kind && message.kind !== 'message') {
    const badge = element('span', `post__kind post__kind--${message.kind}`, t(`kind_${message.kind}`));
    line.append(badge);
    if (message.kind === 'question') {
      const answered = Boolean(message.accepted_answer);
      const state = element('span', 'post__state', t(answered ? 'question_answered' : 'question_open'));
      state.dataset.answered = String(answered);
      line.append(state);
    }
  }
  if (message.is_demo) line.append(element('span', 'post__demo', t('demo_marker')));
  for (const tag of message.tags ?? []) line.append(element('span', 'post__tag', `#${tag}`));
  return line.childElementCount ? line : null;
}

function acceptedAnswer(message) {
  const answer = message.accepted_answer;
  if (!answer) return null;
  const box = element('div', 'post__answer');
  box.dataset.answerId = String(answer.id);
  const heading = element('p', 'post__answer-heading', t('accepted_answer_by', {
    author: answer.author?.display_name ?? '?',
  }));
  const body = element('div', 'post__answer-body');
  body.innerHTML = answer.html;
  box.append(heading, body);
  return box;
}

/** The summary under a thread's first message, and the button that opens the thread. */
export function threadSummary(message) {
  const line = element('p', 'post__thread');
  const button = element('button', 'utrecht-button utrecht-button--subtle post__open-thread');
  button.type = 'button';
  button.dataset.openThread = String(message.id);
  const count = message.reply_count ?? 0;
  button.textContent = count > 0 ? tn('replies', count) : t('reply_in_thread');
  line.append(button);
  if (count > 0 && message.last_reply) {
    const last = element('span', 'post__last-reply', t('last_reply_by', {
      author: message.last_reply.author?.display_name ?? '?',
    }));
    last.append(' ', timeElement(message.last_reply.created_at));
    line.append(last);
  }
  return line;
}

/** Add the post parts to a message article (top-level messages only get a thread summary). */
export function decoratePost(article, message, { inThread = false } = {}) {
  article.dataset.kind = message.kind ?? 'message';
  const body = article.querySelector('.message__body');
  const before = badges(message);
  if (before) article.insertBefore(before, body);
  const answer = acceptedAnswer(message);
  if (answer) article.append(answer);
  if (!inThread && !message.thread_root_id) article.append(threadSummary(message));
}

/** Replace the post parts of an article after its message changed (new reply, answer). */
export function redecoratePost(article, message) {
  for (const part of article.querySelectorAll('.post__badges, .post__answer, .post__thread')) {
    part.remove();
  }
  decoratePost(article, message);
}
