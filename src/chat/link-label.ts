/**
 * What a link reads as on every platform: its label and, always, the host it goes to. A link's
 * label may come from a model (an agent's finding) or a sender; with the host beside it, a link
 * can never read as something other than where it goes (`Official docs (evil.example.net)`).
 */

/** `label (host)`, cut to `max` keeping the host whole; null when the URL is not http(s). */
export function linkLabel(label: string, url: string, max = 120): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
  const host = parsed.host;
  const suffix = ` (${host})`;
  const text = label.trim();
  if (text.endsWith(suffix) && text.length <= max) return text;
  const room = Math.max(0, max - suffix.length);
  const cut = text.length > room ? `${text.slice(0, Math.max(0, room - 1))}…` : text;
  return `${cut}${suffix}`.slice(-max);
}
