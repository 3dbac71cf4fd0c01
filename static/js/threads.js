/**
 * The thread beside the network: its first message, the replies (live), following, replying and
 * marking (or unmarking) the accepted answer. Replies arrive as network events like any message;
 * the room does not list them, this panel does, and the first message in the room shows the count.
 */

import { api, describeError } from './api.js';
import { socket } from './app.js';
import { user } from './config.js';
import { t } from './i18n.js';
import { messageArticle } from './message-view.js';
import { keepToastsClearOfThread } from './notifications.js';
import { redecoratePost, threadSummary } from './posts.js';
import { newClientId } from './socket.js';

const byId = (id) => document.getElementById(id);

export class ThreadPanel {
  constructor({ network, announce }) {
    this.network = network;
    this.announce = announce;
    this.panel = byId('thread-panel');
    this.body = byId('thread-body');
    this.rootBox = byId('thread-root');
    this.replies = byId('thread-replies');
    this.followButton = byId('thread-follow');
    this.form = byId('thread-form');
    this.input = byId('thread-input');
    this.status = byId('thread-status');
    this.thread = null;
    this.opener = null;

    byId('thread-close').addEventListener('click', () => this.close());
    this.panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.defaultPrevented) this.close();
    });
    this.followButton.addEventListener('click', () => this.toggleFollow());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.reply();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.reply();
      }
    });
    this.replies.addEventListener('click', (event) => {
      const accept = event.target.closest('[data-accept]');
      if (accept) this.accept(Number(accept.dataset.accept));
      const unmark = event.target.closest('[data-unmark]');
      if (unmark) this.unmark(Number(unmark.dataset.unmark));
    });
    document.addEventListener('click', (event) => {
      const button = event.target.closest('[data-open-thread]');
      if (button) {
        this.opener = button;
        this.open(Number(button.dataset.openThread));
      }
    });
    socket.addEventListener('event', (event) => this.onEvent(event.detail));
  }

  rootArticle(messageId) {
    return document.querySelector(`#message-list [data-message-id="${messageId}"]`);
  }

  async open(messageId) {
    try {
      this.thread = await api(`/api/messages/${messageId}/thread`);
    } catch (error) {
      this.status.textContent = describeError(error);
      return;
    }
    this.render();
    this.body.scrollTop = 0;
    this.showPanel(messageId);
    byId('thread-title').focus();
  }

  close() {
    this.thread = null;
    this.showPanel(null);
    this.opener?.focus();
  }

  /** Which thread is open, for the page: notifications.js shows no toast for what it shows. */
  showPanel(rootId) {
    this.panel.hidden = rootId === null;
    if (rootId === null) delete this.panel.dataset.rootId;
    else this.panel.dataset.rootId = String(rootId);
    // The room and the toasts make room for the panel (app.css) while it is open.
    document.body.classList.toggle('has-thread-panel', rootId !== null);
    if (rootId !== null) keepToastsClearOfThread();
  }

  /** Near the newest reply (or after replying): stay there as replies arrive. */
  atNewest() {
    return this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight < 80;
  }

  /** The reply whose accept or unmark button has focus: it gets the focus back after a render. */
  focusedReply() {
    const control = document.activeElement?.closest?.('[data-accept], [data-unmark]');
    if (!control || !this.replies.contains(control)) return null;
    return Number(control.dataset.accept ?? control.dataset.unmark);
  }

  focusReplyControl(replyId) {
    const article = byId(`thread-reply-${replyId}`);
    (article?.querySelector('[data-accept], [data-unmark]') ?? article)?.focus();
  }

  render() {
    const { root, replies } = this.thread;
    const article = messageArticle(root, { inThread: true });
    article.id = `thread-root-${root.id}`;
    article.querySelector('.message__author').id = `thread-root-${root.id}-author`;
    article.setAttribute('aria-labelledby', `thread-root-${root.id}-author`);
    this.rootBox.replaceChildren(article);
    this.replies.replaceChildren();
    for (const reply of replies) this.appendReply(reply);
    this.renderFollow();
  }

  replyArticle(reply) {
    const article = messageArticle(reply, { own: reply.author?.id === user.id, inThread: true });
    article.id = `thread-reply-${reply.id}`;
    const authorId = `thread-reply-${reply.id}-author`;
    article.querySelector('.message__author').id = authorId;
    article.setAttribute('aria-labelledby', authorId);
    const { root } = this.thread;
    if (root.kind === 'question') {
      const accepted = root.accepted_answer?.id === reply.id;
      article.classList.toggle('message--accepted', accepted);
      if (accepted) {
        const label = document.createElement('p');
        label.className = 'post__accepted';
        label.textContent = t('accepted_answer');
        article.append(label);
        if (this.thread.can_accept) {
          const button = document.createElement('button');
          button.type = 'button';
          button.className = 'utrecht-button utrecht-button--secondary-action post__unmark';
          button.dataset.unmark = String(reply.id);
          button.textContent = t('unmark_answer');
          article.append(button);
        }
      } else if (this.thread.can_accept) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'utrecht-button utrecht-button--secondary-action post__accept';
        button.dataset.accept = String(reply.id);
        button.textContent = t('accept_answer');
        article.append(button);
      }
    }
    return article;
  }

  appendReply(reply) {
    if (this.replies.querySelector(`#thread-reply-${reply.id}`)) return;
    this.replies.append(this.replyArticle(reply));
  }

  renderFollow() {
    this.followButton.textContent = t(this.thread.following ? 'thread_unfollow' : 'thread_follow');
    this.followButton.setAttribute('aria-pressed', String(this.thread.following));
  }

  async toggleFollow() {
    const following = !this.thread.following;
    try {
      await api(`/api/messages/${this.thread.root.id}/follow`, { method: 'POST', body: { following } });
      this.thread.following = following;
      this.renderFollow();
      this.announce?.(t(following ? 'thread_followed' : 'thread_unfollowed'));
    } catch (error) {
      this.status.textContent = describeError(error);
    }
  }

  async reply() {
    const body = this.input.value.trim();
    if (!body || !this.thread) return;
    try {
      await api(`/api/networks/${this.network.id}/messages`, {
        method: 'POST',
        body: { client_id: newClientId(), body, thread_root_id: this.thread.root.id },
      });
      this.input.value = '';
      this.status.textContent = '';
      this.thread.following = true;
      this.renderFollow();
    } catch (error) {
      this.status.textContent = describeError(error);
    }
  }

  async accept(answerId) {
    await this.changeAnswer(answerId, { method: 'POST', body: { answer_id: answerId } }, 'answer_accepted');
  }

  /** Take the accepted answer away: the question is open again, here and on every open page. */
  async unmark(answerId) {
    await this.changeAnswer(answerId, { method: 'DELETE' }, 'answer_unmarked');
  }

  async changeAnswer(replyId, request, announcement) {
    try {
      const result = await api(`/api/messages/${this.thread.root.id}/accept`, request);
      this.applyAnswered(result.message);
      // The pressed button is replaced: focus goes to the one that undoes it.
      this.focusReplyControl(replyId);
      this.status.textContent = '';
      this.announce?.(t(announcement));
    } catch (error) {
      this.status.textContent = describeError(error);
    }
  }

  /** A question's accepted answer was marked, changed or taken away (here or live). */
  applyAnswered(question) {
    const article = this.rootArticle(question.id);
    if (article) redecoratePost(article, question);
    if (this.thread?.root.id === question.id) {
      const focused = this.focusedReply();
      this.thread.root = question;
      this.render();
      if (focused !== null) this.focusReplyControl(focused);
    }
  }

  onEvent(frame) {
    if (frame.network_id !== this.network.id || !frame.message) return;
    if (frame.kind === 'question.answered') {
      this.applyAnswered(frame.message);
      return;
    }
    if (frame.kind !== 'message.created' || !frame.thread) return;
    const { root_id: rootId } = frame.thread;
    const article = this.rootArticle(rootId);
    if (article) {
      article.querySelector('.post__thread')?.replaceWith(
        threadSummary({
          id: rootId,
          reply_count: frame.thread.reply_count,
          last_reply: frame.thread.last_reply,
        }),
      );
    }
    if (this.thread?.root.id === rootId) {
      const stick = frame.message.author?.id === user.id || this.atNewest();
      this.thread.replies.push(frame.message);
      this.appendReply(frame.message);
      if (stick) this.body.scrollTop = this.body.scrollHeight;
    }
  }
}
