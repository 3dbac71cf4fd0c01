/** The admin page: the sign-up e-mail domains, adding networks and changing them. */

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
