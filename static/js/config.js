/** The page's server-provided configuration (#bwt-config): user, language, socket path, limits. */

function readJson(id) {
  const element = document.getElementById(id);
  if (!element) return {};
  try {
    return JSON.parse(element.textContent);
  } catch (error) {
    console.error(`#${id} does not hold valid JSON`, error);
    return {};
  }
}

export const config = readJson('bwt-config');

export const user = config.user ?? null;

export const lang = config.lang === 'en' ? 'en' : 'nl';

/** The BCP 47 locale for Intl formatting in the interface language. */
export const locale = lang === 'nl' ? 'nl-NL' : 'en-GB';

export const maxBodyChars = Number(config.max_body_chars) || 10000;

export { readJson };
