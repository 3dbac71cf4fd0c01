/** The admin page: the sign-up e-mail domains, adding networks, changing them and their moderators. */

import { api, describeError } from './api.js';
import { t } from './i18n.js';

function say(element, text, kind) {
  element.textContent = text;
  element.dataset.kind = kind;
}

// ---- sign-up domains ----

const domainsForm = document.getElementById('domains-form');
const domainsField = document.getElementById('signup-domains');
const domainsStatus = document.getElementById('domains-status');

domainsForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const domains = domainsField.value
    .split(/[\s,;]+/)
    .map((domain) => domain.trim().toLowerCase().replace(/^@/, ''))
    .filter(Boolean);
  try {
    const answer = await api('/api/admin/signup-domains', { method: 'PUT', body: { domains } });
    const saved = Array.isArray(answer) ? answer : (answer?.domains ?? domains);
    domainsField.value = saved.join('\n');
    say(domainsStatus, t('admin_domains_saved'), 'ok');
  } catch (error) {
    say(domainsStatus, describeError(error), 'error');
  }
});

// ---- networks ----

function networkPayload(form) {
  const data = new FormData(form);
  return {
    name: String(data.get('name') ?? '').trim(),
    description: String(data.get('description') ?? '').trim(),
    is_private: data.get('is_private') === 'on',
  };
}

const networkList = document.getElementById('admin-networks');

networkList.addEventListener('submit', async (event) => {
  const form = event.target.closest('form[data-network-id]');
  if (!form) return;
  event.preventDefault();
  const status = form.querySelector('.status-line');
  try {
    const network = await api(`/api/admin/networks/${form.dataset.networkId}`, {
      method: 'PATCH',
      body: networkPayload(form),
    });
    const legend = form.querySelector('legend');
    if (legend && network?.name) legend.textContent = network.name;
    const heading = form.closest('.admin-network')?.querySelector('.admin-moderators__heading');
    if (heading && network?.name) heading.textContent = t('admin_moderators_of', { name: network.name });
    say(status, t('admin_network_saved'), 'ok');
  } catch (error) {
    say(status, describeError(error), 'error');
  }
});

const addForm = document.getElementById('add-network-form');
const addStatus = document.getElementById('add-network-status');

addForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const slug = String(new FormData(addForm).get('slug') ?? '').trim();
  try {
    const network = await api('/api/admin/networks', {
      method: 'POST',
      body: { slug, ...networkPayload(addForm) },
    });
    addForm.reset();
    const link = document.createElement('a');
    link.className = 'utrecht-link';
    link.href = `/n/${network.slug ?? slug}`;
    link.textContent = network.name;
    addStatus.replaceChildren(`${t('admin_network_added')} `, link);
    addStatus.dataset.kind = 'ok';
  } catch (error) {
    say(addStatus, describeError(error), 'error');
  }
});

// ---- moderators ----

function moderatorItem(networkId, moderator) {
  const item = document.createElement('li');
  item.className = 'admin-moderators__item';
  item.dataset.username = moderator.username;
  const name = document.createElement('span');
  name.id = `network-${networkId}-moderator-${moderator.username}`;
  name.textContent = `${moderator.display_name} (@${moderator.username})`;
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'utrecht-button utrecht-button--secondary-action';
  remove.dataset.removeModerator = moderator.username;
  remove.setAttribute('aria-describedby', name.id);
  remove.textContent = t('admin_moderator_remove');
  item.append(name, ' ', remove);
  return item;
}

function renderModerators(section, networkId, moderators) {
  section.querySelector('.admin-moderators__list').replaceChildren(
    ...moderators.map((moderator) => moderatorItem(networkId, moderator)),
  );
  section.querySelector('.admin-moderators__none').hidden = moderators.length > 0;
}

async function changeModerator(section, username, moderator) {
  const form = section.querySelector('form[data-moderators-for]');
  const networkId = form.dataset.moderatorsFor;
  const status = form.querySelector('.status-line');
  const path = `/api/admin/networks/${networkId}/moderators/${encodeURIComponent(username)}`;
  try {
    const answer = await api(path, { method: moderator ? 'PUT' : 'DELETE' });
    renderModerators(section, networkId, answer.moderators);
    const who = answer.moderators.find((item) => item.username === username.toLowerCase());
    const name = who ? who.display_name : `@${username}`;
    say(status, t(moderator ? 'admin_moderator_added' : 'admin_moderator_removed', { name }), 'ok');
    return true;
  } catch (error) {
    say(status, describeError(error), 'error');
    return false;
  }
}

networkList.addEventListener('submit', async (event) => {
  const form = event.target.closest('form[data-moderators-for]');
  if (!form) return;
  event.preventDefault();
  const field = form.elements.username;
  const username = field.value.trim().replace(/^@/, '');
  if (!username) return;
  if (await changeModerator(form.closest('.admin-moderators'), username, true)) field.value = '';
});

networkList.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-remove-moderator]');
  if (!button) return;
  const section = button.closest('.admin-moderators');
  // The button goes with its row: focus stays in the section, on the field to add another.
  if (await changeModerator(section, button.dataset.removeModerator, false)) {
    section.querySelector('input[name="username"]').focus();
  }
});
