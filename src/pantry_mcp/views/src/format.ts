// How numbers, amounts and dates read in the views.

export interface Amount {
  quantity?: number | null;
  unit?: string | null;
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}

/** 0..1 coverage as a whole percentage. */
export function percent(coverage: number | null | undefined): number {
  if (typeof coverage !== "number" || !Number.isFinite(coverage)) return 0;
  return Math.round(clamp01(coverage) * 100);
}

export function minutesText(minutes: number | null | undefined): string | null {
  if (typeof minutes !== "number" || !Number.isFinite(minutes) || minutes <= 0) return null;
  return `${Math.round(minutes)} min`;
}

/** A shopping-list number: whole from 10 up, one decimal from 1, two below (4.93 -> 4.9). */
function numberText(quantity: number): string {
  const size = Math.abs(quantity);
  const places = size >= 10 ? 0 : size >= 1 ? 1 : 2;
  const factor = 10 ** places;
  const rounded = Math.round(quantity * factor) / factor;
  if (rounded === 0 && quantity !== 0) return String(Number(quantity.toPrecision(1)));
  return String(rounded);
}

/** As the server writes amounts: "400 g", "2" (pieces), "to taste". */
/** Counted units read in the plural beyond one ("7 cloves"); measures do not ("2 tbsp"). */
const PLURALS: Record<string, string> = {
  clove: "cloves",
  slice: "slices",
  can: "cans",
  bunch: "bunches",
  sprig: "sprigs",
  stalk: "stalks",
  sheet: "sheets",
  handful: "handfuls",
  pinch: "pinches",
  cup: "cups",
};

export function amountText(amount: Amount): string {
  if (typeof amount.quantity !== "number") return "to taste";
  const number = numberText(amount.quantity);
  if (!amount.unit || amount.unit === "piece") return number;
  const unit = amount.quantity > 1 ? (PLURALS[amount.unit] ?? amount.unit) : amount.unit;
  return `${number} ${unit}`;
}

export function amountsText(amounts: Amount[] | undefined, toTaste: boolean | undefined): string {
  const list = (amounts ?? []).map(amountText);
  if (list.length === 0) return toTaste ? "to taste" : "";
  return list.join(", ");
}

export function capitalize(text: string): string {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseDate(iso: string): Date | null {
  const match = ISO_DATE.exec(iso);
  if (!match) return null;
  return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
}

function englishLocale(locale: string | undefined): string {
  return locale && /^en(-|$)/i.test(locale) ? locale : "en-GB";
}

function formatDate(iso: string, locale: string | undefined, options: Intl.DateTimeFormatOptions): string | null {
  const date = parseDate(iso);
  if (!date) return null;
  try {
    return new Intl.DateTimeFormat(englishLocale(locale), options).format(date);
  } catch {
    return new Intl.DateTimeFormat("en-GB", options).format(date);
  }
}

/** "4 Dec" (or "Dec 4" for en-US). */
export function shortDate(iso: string, locale?: string): string {
  return formatDate(iso, locale, { day: "numeric", month: "short" }) ?? iso;
}

export function weekdayOf(iso: string, locale?: string): string {
  return formatDate(iso, locale, { weekday: "long" }) ?? "";
}

/** "1–7 Dec" style span of two ISO dates. */
export function spanText(start: string | undefined, end: string | undefined, locale?: string): string {
  if (!start) return "";
  if (!end || end === start) return shortDate(start, locale);
  return `${shortDate(start, locale)} – ${shortDate(end, locale)}`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** Today as YYYY-MM-DD in the person's own time zone (the host's, else the browser's). */
export function localToday(timeZone?: string, now: Date = new Date()): string {
  if (timeZone) {
    try {
      const parts = new Intl.DateTimeFormat("en-US", {
        timeZone,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
      }).formatToParts(now);
      const get = (type: string): string => parts.find((part) => part.type === type)?.value ?? "";
      const text = `${get("year")}-${get("month")}-${get("day")}`;
      if (ISO_DATE.test(text)) return text;
    } catch {
      // an unknown time zone: fall back to the browser's
    }
  }
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
