// How the page writes money and times: in the reader's locale.

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** A time of day, e.g. 14:03:27. */
export function formatTime(date) {
  return clock.format(date);
}

/**
 * An amount of minor units (the wallet's integers) in currency, e.g. 10500
 * USD → $105.00. The currency tells how many minor units make one.
 */
export function formatMoney(minor, currency, { signed = false } = {}) {
  let format;
  try {
    format = new Intl.NumberFormat(undefined, {
      style: 'currency',
      currency,
      signDisplay: signed ? 'always' : 'auto',
    });
  } catch {
    return `${signed && minor > 0 ? '+' : ''}${minor} ${currency}`; // not an ISO 4217 code
  }
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(minor / 10 ** digits);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A date and time, e.g. 3 Mar 2026, 14:03. */
export function formatDateTime(date) {
  return dateTime.format(date);
}
